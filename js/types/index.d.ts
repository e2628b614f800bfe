/** Bytes in, bytes out. Strings are UTF-8 encoded. */
export type Input = Uint8Array | ArrayBuffer | ArrayBufferView | string;

/**
 * The bytes keyseal returns: a `Uint8Array` over a plain `ArrayBuffer` — under TypeScript ≥ 5.7
 * `Uint8Array<ArrayBuffer>`, so results go straight into `fetch(u, { body })`, `new Blob([…])`,
 * `new Response(…)` and `crypto.subtle.digest(…)`; under older TypeScript plain `Uint8Array`.
 * (Written as the type of `Uint8Array#slice`, which is exactly that in every TypeScript version.)
 */
export type Bytes = ReturnType<Uint8Array['slice']>;

/** A key-service operation, as events, metrics and errors name it. */
export type KeyServiceOp = 'generate' | 'generate_batch' | 'wrap' | 'unwrap' | 'rewrap' | 'rewrap_batch' | 'public_key';

/** The operations the `token` callback is asked for (`public_key` needs no token). */
export type TokenOp = Exclude<KeyServiceOp, 'public_key'>;

/** Encryption context: UTF-8 key/value pairs, stored in clear and bound into the wrapped key. */
export type EncryptionContext = Record<string, string>;

/** Every stable error code, the same in every runtime. */
export type KeySealErrorCode =
  | 'DECRYPTION_FAILED' | 'INVALID_FORMAT' | 'UNSUPPORTED_VERSION' | 'UNSUPPORTED_SUITE'
  | 'LIMIT_EXCEEDED' | 'CONTEXT_MISMATCH' | 'INVALID_ARGUMENT' | 'RANDOM_UNAVAILABLE'
  | 'ACCESS_DENIED' | 'KEY_DISABLED' | 'KEY_NOT_FOUND' | 'THROTTLED' | 'KMS_UNAVAILABLE'
  | 'TIMEOUT' | 'PROTOCOL_ERROR' | 'DOWNGRADE_REFUSED' | 'IDENTITY_MISMATCH' | 'NO_USABLE_ENTRY' | 'INTERNAL';

/**
 * One key service: the primary (`keyService`) or an escrow/DR service (`escrow`), of any kind
 * (docs/KEY-SERVICES.md). Unknown option names are refused.
 */
export type KeyServiceOptions = KeysealServiceOptions | AwsKmsServiceOptions | KaclsServiceOptions;

/** A key service speaking the keyseal protocol (`keyseal-kms` or another implementation of PROTOCOL.md). */
export interface KeysealServiceOptions {
  /** The kind of key service (default `'keyseal'`). */
  kind?: 'keyseal';
  /**
   * Required. The name written into every object's wrapped-key entry; decrypt finds the service by
   * it, so every app that reads the same objects must use the same id (e.g. `'acme'`).
   */
  id: string;
  /**
   * Base URLs ending in `/v1` (`https`, or `http` on loopback only), tried in order (failover).
   * Checked by `create`: another scheme, a query, credentials or a missing `/v1` is refused.
   */
  urls: string[] | string;
  /**
   * Key id at this service (`tenant/name`). For the primary, give either this or the top-level
   * `keyId` (both is refused). Required for escrow services.
   */
  keyId?: string;
  /**
   * The service's identity public key (base64 of the 65-byte SEC1 point, `keyseal-kms identity
   * show`). When set, every answer and public key must be signed by it (PROTOCOL.md §6.3), so an
   * active TLS-terminating proxy cannot hand out data keys of its own (`IdentityMismatchError`),
   * and escrow wraps never send the data key over the connection.
   */
  identity?: string;
}

/** AWS KMS as the key service (`kind: 'aws-kms'`): requests signed with SigV4, the context as AWS's `EncryptionContext`. */
export interface AwsKmsServiceOptions {
  /** The kind of key service. */
  kind: 'aws-kms';
  /** Required. Written into every object's entry, as for every kind. */
  id: string;
  /** The AWS region requests are signed for (`us-east-1`). */
  region: string;
  /** An endpoint other than `https://kms.{region}.amazonaws.com` (FIPS, VPC endpoint, a local emulator on loopback). */
  endpoint?: string;
  /** Asked once per key-service call, so refreshed temporary credentials are picked up; a throw is `ACCESS_DENIED`. */
  credentials: () => AwsCredentials | Promise<AwsCredentials>;
  /** The key: an ARN, key id or alias (for the primary, this or the top-level `keyId`). */
  keyId?: string;
}

/**
 * A Google Workspace client-side encryption KACLS as the key service (`kind: 'kacls'`): the data key
 * is made in the SDK and wrapped by the KACLS's `/wrap`, under two JWTs the app supplies; the
 * resource name is one value of the message's context. A KACLS answers `/unwrap` with the data key
 * in clear inside TLS (no sealed answer): `acceptPlaintextKeyAnswers: true` says you accept that.
 */
export interface KaclsServiceOptions {
  /** The kind of key service. */
  kind: 'kacls';
  /** Required. Written into every object's entry, as for every kind. */
  id: string;
  /** The KACLS URL (`https://kacls.example.com/v1`; `http` on loopback only), equal to the `kacls_url` its authorization tokens name. */
  urls: string[] | string;
  /** The context key whose value is the KACLS `resource_name` (1–128 bytes), e.g. `'object'`. */
  resourceNameKey: string;
  /** Required, must be `true`: a KACLS answers data keys in clear inside TLS, not sealed to this client. */
  acceptPlaintextKeyAnswers: true;
  /** A JWT from your IdP saying who the user is (audience of the KACLS's authentication tokens); asked once per call; a throw is `ACCESS_DENIED`. */
  authentication: (asked: { service: string; op: 'wrap' | 'unwrap' }) => string | Promise<string>;
  /** A JWT from your authorization issuer: this user may `op` the resource `resourceName` at this KACLS (`kacls_url`); Google's roles: `writer` to wrap, `reader` to unwrap, `migrator` to rewrap (rotation). */
  authorization: (asked: { service: string; op: 'wrap' | 'unwrap' | 'rewrap'; resourceName: string }) => string | Promise<string>;
  /** The name your app gives this KACLS key, written into entries and checked on decrypt like any key id (a KACLS has no key ids); for the primary, this or the top-level `keyId`. */
  keyId?: string;
}

/** Credentials of an AWS principal allowed `kms:GenerateDataKey`, `kms:Encrypt`, `kms:Decrypt` and `kms:ReEncrypt*` on the key. */
export interface AwsCredentials {
  /** The access key id. */
  accessKeyId: string;
  /** The secret access key. */
  secretAccessKey: string;
  /** The session token of temporary credentials. */
  sessionToken?: string;
}

/** Which wrapped-key entries `decrypt` uses (SECURITY.md). */
export interface DecryptOptions {
  /**
   * Key ids accepted besides each service's configured `keyId`: exact ids or prefixes ending in
   * `*` (`'acme/*'`), e.g. the key objects were rotated to. Entries of other key ids are skipped
   * without a key-service call.
   */
  allowKeyIds?: string[];
  /**
   * Accept `hpke-p256` (public-key) entries. Default: only when this instance's `wrapMode` is
   * `'public-key'`. Public-key mode authenticates no sender: anyone with the key's public key can
   * make such an entry.
   */
  acceptPublicKeyEntries?: boolean;
}

/**
 * The data-key cache. Encrypt reuses a data key only for the same key id and the same context
 * (the key service binds the context into the wrapped key), so per-record contexts miss it;
 * decrypt reuses an unwrapped key for the same wrapped key and context.
 */
export interface CacheOptions {
  /** Longest a data key is used after generate/unwrap, in ms (≥ 0); bounds how long a revoked key keeps working here. Default 60000. */
  maxAgeMs?: number;
  /** Most messages per cached data key. Default 10000. */
  maxMessages?: number;
  /** Most plaintext bytes per cached data key. Default 2^30. */
  maxBytes?: number;
  /** Most cached keys. Default 1000. */
  maxEntries?: number;
}

/** The resilience policy of every key-service call (retries over the URL list, backoff, circuit breaker). */
export interface RetryOptions {
  /** Longest one HTTP attempt may take, in ms (default 5000). Same setting as the top-level `timeoutMs`: giving both is refused. */
  attemptTimeoutMs?: number;
  /** Longest a whole call (every attempt and backoff) may take, then `TimeoutError`, in ms (default 15000). Same setting as the top-level `deadlineMs`: giving both is refused. */
  deadlineMs?: number;
  /** Rounds over the URL list before giving up (default 3). */
  maxRounds?: number;
  /** First backoff ceiling in ms, doubled per round; the wait is random below it (full jitter; default 50). */
  backoffBaseMs?: number;
  /** Largest backoff ceiling in ms (default 2000). */
  backoffMaxMs?: number;
  /** Consecutive failures that open a URL's circuit (default 5). */
  breakerThreshold?: number;
  /** How long an open circuit stays open before one probe is let through, in ms (default 10000). */
  breakerCooldownMs?: number;
}

/**
 * What `onEvent` receives: one event per key-service HTTP attempt (`kmsCall`, with its operation
 * `generate`, `generate_batch`, `wrap`, `unwrap`, `rewrap`, `rewrap_batch` or `public_key`), per
 * circuit that opens, per cache lookup and purge, and per encrypt or decrypt outcome.
 */
export type KeySealEvent =
  | {
      /** One HTTP attempt to a key service. */
      type: 'kmsCall';
      /** The key service's id. */
      service: string;
      /** The base URL tried. */
      url: string;
      /** The operation. */
      op: KeyServiceOp;
      /** Whether the attempt got a usable answer. */
      ok: boolean;
      /** The error code of a failed attempt, else null. */
      code: KeySealErrorCode | null;
      /** The HTTP status, or null when none arrived (network error, timeout). */
      status: number | null;
      /** Time of the attempt in ms. */
      latencyMs: number;
      /** 1 for the first attempt of a call, then 2, 3… */
      attempt: number;
      /** The W3C trace id the attempt was sent under (from `traceparent`), or null. */
      traceId: string | null;
      /** The attempt's own span id (the parent id in the `traceparent` it sent), or null. */
      spanId: string | null;
    }
  | {
      /** A URL's circuit opened after consecutive failures: it is skipped until its cooldown ends. */
      type: 'circuitOpen';
      /** The key service's id. */
      service: string;
      /** The URL whose circuit opened. */
      url: string;
    }
  | {
      /** A data-key cache lookup. */
      type: 'cacheHit' | 'cacheMiss';
      /** Which cache. */
      cache: 'encrypt' | 'decrypt';
      /** The key id looked up. */
      keyId: string;
    }
  | {
      /** Cached data keys were dropped. */
      type: 'cachePurged';
      /** The key id, or null for all. */
      keyId: string | null;
      /** `purge()` was called, or the key service reported the key disabled. */
      reason: 'purge' | 'key_disabled';
    }
  | {
      /** One encrypt or decrypt finished. */
      type: 'encrypt' | 'decrypt';
      /** Whether it succeeded. */
      ok: boolean;
      /** The error code of a failure, else null. */
      code: KeySealErrorCode | null;
      /** Plaintext bytes. */
      bytes: number;
    };

/** The options of `KeySeal.create`. Unknown option names (at any level) are refused with `InvalidArgumentError`. */
export interface KeySealOptions {
  /** The primary key service. */
  keyService: KeyServiceOptions;
  /**
   * Key id for new data keys at the primary service (`tenant/name`), also read back by decrypt.
   * Needed to encrypt; an instance that only decrypts may omit it and name the key ids it reads in
   * `decrypt.allowKeyIds` instead (one of the two is required).
   */
  keyId?: string;
  /** More services (escrow, DR): every new message gets an entry for each; decrypt fails over to them. */
  escrow?: (KeyServiceOptions & {
    /** Required for escrow services: written into their entries. */
    id: string;
    /** Required for escrow services: the key id at that service. */
    keyId: string;
  })[];
  /**
   * Returns the caller's access token (JWT) for a keyseal key-service call; `service` tells which
   * service (primary or escrow) it is for. Needed whenever a `keyseal` kind service is configured
   * (without it, calls carry no token and are refused); `aws-kms` and `kacls` services take their
   * own credentials and tokens.
   */
  token?: (request: {
    /** The key service's `id`. */
    service: string;
    /** The key id the call is about. */
    keyId: string;
    /** The operation. */
    op: TokenOp;
  }) => string | Promise<string>;
  /** Data-key cache, or `false` for none. */
  cache?: CacheOptions | false;
  /** Per-attempt timeout in ms (default 5000); shorthand of `retry.attemptTimeoutMs` (giving both is refused). */
  timeoutMs?: number;
  /** Whole-call deadline including retries, in ms (default 15000); shorthand of `retry.deadlineMs` (giving both is refused). */
  deadlineMs?: number;
  /** Retries, backoff and circuit breaker of key-service calls. */
  retry?: RetryOptions;
  /** `key-service` (default): /generate per data key. `public-key`: HPKE to the key's public JWK, no call on encrypt. */
  wrapMode?: 'key-service' | 'public-key';
  /** Accept a plaintext data key from a service that cannot seal to our recipient key. Default false. */
  allowPlaintextKeys?: boolean;
  /** Plaintext bytes per segment for new messages (64 … 16 MiB, default 65536). */
  segmentSize?: number;
  /** Sent as `reason` to the key service (audit log). */
  reason?: string;
  /**
   * The engine of primitives (AES-256-GCM, HKDF, and with `p256: 'auto'` P-256 too); all give the
   * same bytes. `auto` (default): the platform's, for every size — node:crypto (OpenSSL) in the
   * Node entry (Node, Bun), `crypto.subtle` elsewhere — with the SDK in JS; where neither exists,
   * the SDK's Rust core in wasm (fetched then). `wasm`: the Rust core in wasm with its wasm
   * AES-GCM engine (and its own `auto`: the platform's AES-GCM for messages of 16 KiB and more
   * and for streams). `webcrypto`: always `crypto.subtle` (create fails where it is absent).
   * `node`: always node:crypto (Node entry only).
   */
  engine?: 'auto' | 'wasm' | 'webcrypto' | 'node';
  /**
   * P-256 engine for the key-service calls (the recipient key of each `/generate` and `/unwrap`,
   * identity signatures); all give the same bytes. `auto` (default): the `engine`'s — node:crypto
   * in the Node entry (Node, Bun), else `crypto.subtle` where the runtime has it, else `wasm` (the
   * `p256` crate). `webcrypto`/`node`: only that platform (create fails where it is absent); a
   * choice other than the `engine`'s, or `wasm`, runs the instance on the Rust core in wasm.
   */
  p256?: 'auto' | 'wasm' | 'webcrypto' | 'node';
  /**
   * How key-service requests go out. `auto` (default): node:http(s) on Node's global agents in the
   * Node entry (a third of `fetch`'s CPU per call), the global `fetch` elsewhere. `fetch`: always
   * the global `fetch` (e.g. to go through an undici dispatcher you installed). `node`: node:http(s)
   * (Node entry only; create fails elsewhere). Redirects are never followed either way.
   */
  transport?: 'auto' | 'fetch' | 'node';
  /** Which wrapped-key entries decrypt uses (default: each service's own `keyId`, no public-key entries). */
  decrypt?: DecryptOptions;
  /** Receives every key-service call, cache hit/miss, purge and encrypt/decrypt outcome. */
  onEvent?: (event: KeySealEvent) => void;
  /**
   * The caller's current W3C trace context (a `traceparent` value, e.g. from OpenTelemetry's active
   * span), asked at every key-service attempt: the request is sent as a child span of it (same
   * trace id, a fresh span id) and its `kmsCall` event carries both ids. Return `undefined` for none.
   */
  traceparent?: () => string | undefined;
}

/** Figures of one key-service operation (e.g. `generate`). */
export interface OpMetrics {
  /** HTTP attempts. */
  calls: number;
  /** Failed attempts by error code. */
  errors: Partial<Record<KeySealErrorCode, number>>;
  /** Median latency over the most recent 2048 attempts, in ms; null before the first. */
  p50Ms: number | null;
  /** 95th percentile latency, in ms. */
  p95Ms: number | null;
  /** 99th percentile latency, in ms. */
  p99Ms: number | null;
}

/** What `metrics()` returns: the client-side SLIs of this instance since it was created. */
export interface Metrics {
  /** Key-service figures by operation (`generate`, `unwrap`, …); an operation appears once called. */
  keyService: Partial<Record<KeyServiceOp, OpMetrics>>;
  /** Data-key cache hits (encrypt and decrypt caches). */
  cacheHits: number;
  /** Data-key cache misses. */
  cacheMisses: number;
  /** hits / (hits + misses); null before the first lookup. */
  cacheHitRatio: number | null;
  /** Successful encrypts (whole messages and streams). */
  encryptOk: number;
  /** Failed encrypts by error code. */
  encryptFailed: Partial<Record<KeySealErrorCode, number>>;
  /** Successful decrypts. */
  decryptOk: number;
  /** Failed decrypts by error code. */
  decryptFailed: Partial<Record<KeySealErrorCode, number>>;
  /** ok / (ok + failed); null before the first decrypt. */
  decryptSuccessRate: number | null;
  /**
   * Time to revoke: from the moment the key service says a key was disabled to this instance's
   * first refusal of it, in ms (the cache's `maxAgeMs` bounds it); null until it happened.
   */
  lastTimeToRevokeMs: number | null;
}

/** Header facts of a sealed message (FORMAT.md §3), read without any key service. */
export interface HeaderInfo {
  /** Format version (1). */
  version: number;
  /** Suite: 1 (unsigned) or 2 (signed, FORMAT.md §6.5). */
  suite: number;
  /** The message id, hex. */
  messageId: string;
  /** Plaintext bytes per segment. */
  segmentSize: number;
  /** The encryption context, in clear. */
  context: EncryptionContext;
  /** One wrapped copy of the data key per key service. */
  entries: {
    /** `kms` (wrapped by a keyseal key service), `hpke-p256` (sealed offline to a key's public key), `aws-kms` (an AWS KMS `CiphertextBlob`), `kacls` (a Google CSE KACLS `wrapped_key`) or a kind this version does not know. */
    kind: 'kms' | 'hpke-p256' | 'aws-kms' | 'kacls' | 'unknown';
    /** The key service's id (`keyService.id` of the writer). */
    keyServiceId: string;
    /** The key id at that service. */
    keyId: string;
    /** The key version, where the entry's kind of key service lets it be read; else null. */
    keyVersion: number | null;
    /** Length of the wrapped key in bytes. */
    wrappedLen: number;
    /** The wrapped key (not secret: only its key service can open it). */
    wrapped: Bytes;
  }[];
  /** Header length in bytes: the body starts here. */
  headerLen: number;
  /** Plaintext length, when the whole message (or `sealedLength`) is known; else null. */
  plaintextLen: number | null;
  /** Number of segments, likewise. */
  segmentCount: number | null;
}


/** Progress of a stream: bytes processed so far; `done` on the last call. */
export interface StreamProgress {
  /** Plaintext bytes through the stream so far. */
  plaintextBytes: number;
  /** Sealed bytes through the stream so far. */
  sealedBytes: number;
  /** Set on the last call. */
  done?: boolean;
}

/**
 * Where `decryptRange` (and `rewrap`) read from. A reader function or object gets `end` EXCLUSIVE
 * and must return exactly `end - start` bytes (HTTP: `Range: bytes=start-(end-1)`).
 */
export type RangeSource =
  | Uint8Array | ArrayBuffer | ArrayBufferView | Blob
  | ((start: number, end: number) => Promise<Uint8Array | ArrayBuffer> | Uint8Array | ArrayBuffer)
  | {
      /** Total sealed length in bytes. */
      size: number;
      /** Returns exactly bytes `[start, end)` of the sealed message. */
      read(start: number, end: number): Promise<Uint8Array | ArrayBuffer> | Uint8Array | ArrayBuffer;
    };

/** Options of `decryptRange`. */
export interface RangeOptions {
  /** First plaintext byte (default 0). */
  offset?: number;
  /** Plaintext bytes wanted (default: to the end). The range is clamped to the plaintext. */
  length?: number;
  /** Total sealed length; required when `source` is a reader function. */
  size?: number;
  /** Pairs the message's context must contain, else `ContextMismatchError`. */
  requireContext?: EncryptionContext;
  /**
   * Refused (`InvalidArgumentError`): a ranged read does not read every segment, so it cannot
   * verify a signature; its plaintext is reader-authenticated only (FORMAT.md §6.5).
   */
  requireSigned?: false;
}

/** One object for `rewrapAll`. */
export interface RewrapObject {
  /** The caller's name for the object (reported in `failed`). */
  id: string;
  /** The object's header, or any prefix of the object that contains it. */
  readHeader(): Promise<Uint8Array | ArrayBuffer>;
  /** Store `newHeader ‖ old.subarray(bodyOffset)` (the body is unchanged). */
  writeHeader(newHeader: Bytes, bodyOffset: number): Promise<void>;
}

/** What `rewrapAll` did. */
export interface RewrapAllResult {
  /** Objects rewritten in this run. */
  done: number;
  /** Objects already on the target (skipped). */
  skipped: number;
  /** Objects that failed (the backlog left): run again to resume. */
  failed: {
    /** The object's `id`. */
    id: string;
    /**
     * Why it failed: a keyseal error code, or `STORAGE_FAILED` when the object's own
     * `readHeader`/`writeHeader` threw (its error is the `cause`).
     */
    code: KeySealErrorCode | 'STORAGE_FAILED';
    /** The error's message. */
    message: string;
    /** The error that was thrown (for `STORAGE_FAILED`, the storage code's own error). */
    cause: unknown;
  }[];
  /** Newest version of the target key when the run started. */
  targetVersion: number;
}

/**
 * The SDK: seals and opens messages under data keys from the customer's key services, with caches,
 * failover, rotation and metrics. Make one with `KeySeal.create(options)` and share it.
 */
export declare class KeySeal {
  private constructor();
  /** Checks the options and builds an instance (no key-service call; the wasm is loaded, once per realm, only for an instance the options or the runtime route to the Rust core). */
  static create(options: KeySealOptions): Promise<KeySeal>;
  /**
   * Seals `data` under `context`. `sign: true`: a signed message (FORMAT.md §6.5) — only a
   * principal allowed to generate data keys can make one that verifies; readers cannot.
   */
  encrypt(data: Input, options?: EncryptOptions): Promise<Bytes>;
  /**
   * Opens a sealed message. A signed message's signature is always verified. `requireSigned: true`
   * refuses an unsigned message (`DowngradeRefusedError`) and public-key entries.
   */
  decrypt(sealed: Input, options?: DecryptCallOptions): Promise<Bytes>;
  /**
   * `decrypt`, also resolving to the header facts of the message that opened — its context, key
   * ids and versions — so callers need not parse it again.
   */
  decryptWithHeader(sealed: Input, options?: DecryptCallOptions): Promise<{
    /** The plaintext. */
    plaintext: Bytes;
    /** The header facts, as `inspect` gives them. */
    header: HeaderInfo;
  }>;
  /** `decrypt`, then UTF-8 decoding (`InvalidArgumentError` when the plaintext is not UTF-8). */
  decryptText(sealed: Input, options?: DecryptCallOptions): Promise<string>;
  /** Seals what is written into one message; use as `blob.stream().pipeThrough(ks.encryptStream({ context }))`. */
  encryptStream(options?: EncryptOptions & {
    /** Called after each chunk and once at the end. */
    onProgress?: (p: StreamProgress) => void;
  }): TransformStream<Input, Bytes>;
  /**
   * Opens a sealed stream; plaintext only per authenticated segment (errors: DecryptionFailedError on
   * truncation, reorder, extension, tamper). For a signed message the segments are
   * reader-authenticated as they come and the stream errors at its end unless the signature
   * verifies: treat the plaintext as writer-authenticated only once the stream ended without error.
   */
  decryptStream(options?: DecryptCallOptions & {
    /** Called after each chunk and once at the end. */
    onProgress?: (p: StreamProgress) => void;
  }): DecryptStream;
  /** Reads the header and only the segments covering the range. */
  decryptRange(source: RangeSource, options?: RangeOptions): Promise<Bytes>;
  /** Header-only rewrap through the key services' /rewrap; new object = header ‖ old.subarray(bodyOffset). */
  rewrap(
    sealedOrHeader: RangeSource,
    options?: { toKeyId?: string; size?: number },
  ): Promise<{
    /** The new header. */
    header: Bytes;
    /** Where the unchanged body starts in the old object. */
    bodyOffset: number;
  }>;
  /** Idempotent, resumable rewrap of many objects. */
  rewrapAll(
    objects: Iterable<RewrapObject> | AsyncIterable<RewrapObject>,
    options?: {
      toKeyId?: string;
      /** Header reads and writes in flight (default 4). */
      concurrency?: number;
      /** Objects per round: their headers go to the key services together, in `/rewrap-batch` requests of up to 100 sent at once (default 200). */
      batchSize?: number;
      /** Called after each round with the counts so far. */
      onProgress?: (p: { seen: number; done: number; skipped: number; failed: number }) => void;
    },
  ): Promise<RewrapAllResult>;
  /**
   * Header facts, key versions as this instance's services read them; `sealedLength` = the whole
   * message's length when `sealed` is only its first bytes. Async, like the top-level `inspect`.
   */
  inspect(sealed: Input, options?: InspectOptions): Promise<HeaderInfo>;
  /** The engine `encrypt`/`decrypt` use for a message of `byteLength` bytes (`Infinity`: the streams). */
  engineFor(byteLength: number): 'wasm' | 'webcrypto' | 'node';
  /** The P-256 engine of the key-service calls (options `p256`). */
  p256Engine(): 'wasm' | 'webcrypto' | 'node';
  /** Drops cached data keys of `keyId` (or all): the next use asks the key service again. Returns how many were dropped. */
  purge(keyId?: string): number;
  /** The client-side SLIs of this instance. */
  metrics(): Metrics;
  /** The same in the Prometheus text exposition format (`keyseal_*` metrics), for a scrape endpoint. */
  metricsText(): string;
}

/** Options of `encrypt` and `encryptStream`. */
export interface EncryptOptions {
  /** The encryption context: stored in clear, bound into the wrapped key; a reader can require pairs of it. */
  context?: EncryptionContext;
  /** A signed message (format suite 2): only a principal allowed to generate data keys can make one that verifies. */
  sign?: boolean;
}

/** Options of `decrypt`, `decryptWithHeader`, `decryptText` and `decryptStream`. (`context` is refused here: it is `requireContext`.) */
export interface DecryptCallOptions {
  /** Pairs the message's context must contain, else `ContextMismatchError` (its `contextKey` names the first that differs). */
  requireContext?: EncryptionContext;
  /** Refuse an unsigned message (`DowngradeRefusedError`) and public-key entries. */
  requireSigned?: boolean;
}

/** What `decryptStream` returns: the TransformStream, and the header once it was read. */
export interface DecryptStream extends TransformStream<Uint8Array | ArrayBuffer, Bytes> {
  /**
   * The header facts, once the header was read and accepted (context matched, data key
   * obtained); rejects with the stream's error if it ended before that.
   */
  readonly header: Promise<HeaderInfo>;
}

/** Options of `inspect`. */
export interface InspectOptions {
  /**
   * The whole sealed message's length in bytes, when `sealed` is only its first bytes (a stored
   * object's header and the size the store reports): `plaintextLen` and `segmentCount` are then
   * computed without the body; `null` when the length is inconsistent with the header (a cut or
   * extended object).
   */
  sealedLength?: number;
}

/** Header facts of a sealed message or its first bytes; no key service involved. */
export declare function inspect(sealed: Input, options?: InspectOptions): Promise<HeaderInfo>;

/**
 * How long the header is, from the first bytes of a message (FORMAT.md §4.3): `{ headerLen }` once
 * the prefix tells it, else `{ needAtLeast }`, the bytes from the start needed to learn more.
 */
export declare function headerLength(prefix: Input): Promise<
  | {
      /** The header's length in bytes. */
      headerLen: number;
      /** Absent once the length is known. */
      needAtLeast?: undefined;
    }
  | {
      /** Absent while the prefix is too short. */
      headerLen?: undefined;
      /** Bytes from the start needed to learn more. */
      needAtLeast: number;
    }
>;

/**
 * Building blocks below the key services, for tests, interop and recovery tools. Nothing here
 * talks to a key service; the caller holds data keys in clear and answers for message-id
 * uniqueness.
 */
export declare const lowLevel: {
  /** Opens a sealed message with its data key in hand (32 bytes). */
  openWithDataKey(sealed: Input, dataKey: Input, options?: {
    /** Pairs the message's context must contain. */
    requireContext?: EncryptionContext;
    /** The AES-GCM engine (default `wasm`). */
    engine?: 'wasm' | 'webcrypto';
  }): Promise<Bytes>;
  /**
   * Seals with a given data key and message id (32 bytes each) and the given entries (wrapped keys,
   * hex): byte-for-byte reproducible, for test vectors. The caller MUST never reuse a message id
   * with the same data key.
   */
  sealWithDataKeyAssumingUniqueMessageId(
    dataKey: Input, messageId: Input, segmentSize: number, contextPairs: [string, string][],
    entries: { kind: string; key_service_id: string; key_id: string; wrapped: string }[], plaintext: Input,
    options?: { engine?: 'wasm' | 'webcrypto'; /** suite 2: hex of the signing key's 32-byte scalar */ signingSecret?: string },
  ): Promise<Bytes>;
  /** The verification key (base64 of the SEC1 public key, FORMAT.md §3.4) of a signing key given as the hex of its scalar. */
  verificationKey(signingSecret: string): Promise<string>;
  /**
   * The Rust reference's `inspect`: the header parser of the Rust core (in wasm, fetched at the
   * first call), for checking another parser against it. The top-level `inspect` is the package's
   * JS parser; both give the same answers and errors (a differential test holds them to it).
   */
  referenceInspect(sealed: Input, options?: InspectOptions): Promise<HeaderInfo>;
  /** The Rust reference's `headerLength`, likewise. */
  referenceHeaderLength(prefix: Input): ReturnType<typeof headerLength>;
  /** Diagnostics: the wasm module's linear memory in bytes (`memory.buffer.byteLength`); it only grows. */
  wasmMemoryBytes(): Promise<number>;
  /** Every error code the Rust core can produce (each has an error class here). */
  errorCodes(): Promise<KeySealErrorCode[]>;
};

/** Every error the package throws: a subclass per stable `code`, the same in every runtime. */
export declare class KeySealError extends Error {
  /** The code of this class. */
  static readonly code: KeySealErrorCode;
  /** The stable, machine-readable code (each subclass narrows it to its own literal). */
  readonly code: KeySealErrorCode;
  /** Whether the same call may succeed later (`KMS_UNAVAILABLE`, `TIMEOUT`, `THROTTLED`). */
  readonly retryable: boolean;
  /** A key-service failure: the key service's `id`. */
  readonly service?: string;
  /** A key-service failure: the operation that failed. */
  readonly op?: KeyServiceOp;
  /** A key-service failure: the HTTP status of the answer that ended the call, or null when none arrived (network, timeout). */
  readonly status?: number | null;
  /** `CONTEXT_MISMATCH` found by this client: the context key whose value was missing or different. */
  readonly contextKey?: string;
}
/** `DECRYPTION_FAILED`: the message does not authenticate (tampered, truncated, reordered, wrong key or a bad signature); one opaque error for every such failure. */
export declare class DecryptionFailedError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'DECRYPTION_FAILED';
  /** Always `'DECRYPTION_FAILED'`. */
  readonly code: 'DECRYPTION_FAILED';
}
/** `INVALID_FORMAT`: the bytes are not a keyseal message (or a header is malformed). */
export declare class InvalidFormatError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'INVALID_FORMAT';
  /** Always `'INVALID_FORMAT'`. */
  readonly code: 'INVALID_FORMAT';
}
/** `UNSUPPORTED_VERSION`: a format version this release does not read. */
export declare class UnsupportedVersionError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'UNSUPPORTED_VERSION';
  /** Always `'UNSUPPORTED_VERSION'`. */
  readonly code: 'UNSUPPORTED_VERSION';
}
/** `UNSUPPORTED_SUITE`: a suite this release does not read. */
export declare class UnsupportedSuiteError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'UNSUPPORTED_SUITE';
  /** Always `'UNSUPPORTED_SUITE'`. */
  readonly code: 'UNSUPPORTED_SUITE';
}
/** `LIMIT_EXCEEDED`: a size over the format's limits (segment size, entries, context). */
export declare class LimitExceededError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'LIMIT_EXCEEDED';
  /** Always `'LIMIT_EXCEEDED'`. */
  readonly code: 'LIMIT_EXCEEDED';
}
/** `CONTEXT_MISMATCH`: the message's context lacks a pair `requireContext` asks for (or the key service found the wrapped key bound to another context). */
export declare class ContextMismatchError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'CONTEXT_MISMATCH';
  /** Always `'CONTEXT_MISMATCH'`. */
  readonly code: 'CONTEXT_MISMATCH';
}
/** `INVALID_ARGUMENT`: a bad option or argument; the message names it. */
export declare class InvalidArgumentError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'INVALID_ARGUMENT';
  /** Always `'INVALID_ARGUMENT'`. */
  readonly code: 'INVALID_ARGUMENT';
}
/** `RANDOM_UNAVAILABLE`: the platform has no cryptographic randomness. */
export declare class RandomUnavailableError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'RANDOM_UNAVAILABLE';
  /** Always `'RANDOM_UNAVAILABLE'`. */
  readonly code: 'RANDOM_UNAVAILABLE';
}
/** `ACCESS_DENIED`: the key service refused the token (missing, expired, wrong tenant or role) or the token callback failed. */
export declare class AccessDeniedError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'ACCESS_DENIED';
  /** Always `'ACCESS_DENIED'`. */
  readonly code: 'ACCESS_DENIED';
}
/** `KEY_DISABLED`: the key is disabled or scheduled for destruction at the key service. */
export declare class KeyDisabledError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'KEY_DISABLED';
  /** Always `'KEY_DISABLED'`. */
  readonly code: 'KEY_DISABLED';
}
/** `KEY_NOT_FOUND`: the key service has no such key (or version). */
export declare class KeyNotFoundError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'KEY_NOT_FOUND';
  /** Always `'KEY_NOT_FOUND'`. */
  readonly code: 'KEY_NOT_FOUND';
}
/** `THROTTLED`: the key service asked to slow down and retries ran out. */
export declare class ThrottledError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'THROTTLED';
  /** Always `'THROTTLED'`. */
  readonly code: 'THROTTLED';
}
/** `KMS_UNAVAILABLE`: no key service answered (network, 5xx, open circuits) within the retry policy. */
export declare class KmsUnavailableError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'KMS_UNAVAILABLE';
  /** Always `'KMS_UNAVAILABLE'`. */
  readonly code: 'KMS_UNAVAILABLE';
}
/** `TIMEOUT`: the call's deadline passed. */
export declare class TimeoutError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'TIMEOUT';
  /** Always `'TIMEOUT'`. */
  readonly code: 'TIMEOUT';
}
/** `PROTOCOL_ERROR`: the key service answered something the protocol does not allow (bad JSON, a redirect, a wrapped key that does not open). */
export declare class ProtocolError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'PROTOCOL_ERROR';
  /** Always `'PROTOCOL_ERROR'`. */
  readonly code: 'PROTOCOL_ERROR';
}
/** `DOWNGRADE_REFUSED`: a plaintext data key where a sealed one was asked for, or an unsigned message under `requireSigned`. */
export declare class DowngradeRefusedError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'DOWNGRADE_REFUSED';
  /** Always `'DOWNGRADE_REFUSED'`. */
  readonly code: 'DOWNGRADE_REFUSED';
}
/** `NO_USABLE_ENTRY`: the message has no wrapped-key entry this instance may use (other key service ids or key ids: see `decrypt.allowKeyIds`). */
export declare class NoUsableEntryError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'NO_USABLE_ENTRY';
  /** Always `'NO_USABLE_ENTRY'`. */
  readonly code: 'NO_USABLE_ENTRY';
}
/** `IDENTITY_MISMATCH`: an answer or public key is not signed by the pinned key-service identity (a substituting proxy). */
export declare class IdentityMismatchError extends KeySealError {
  /** The code of this class. */
  static readonly code: 'IDENTITY_MISMATCH';
  /** Always `'IDENTITY_MISMATCH'`. */
  readonly code: 'IDENTITY_MISMATCH';
}
/** Every stable error code, in a fixed order. */
export declare const ERROR_CODES: readonly KeySealErrorCode[];
