/** Bytes in, bytes out. Strings are UTF-8 encoded. */
export type Input = Uint8Array | ArrayBuffer | ArrayBufferView | string;

/** Encryption context: UTF-8 key/value pairs, stored in clear and bound into the wrapped key. */
export type EncryptionContext = Record<string, string>;

/** Every stable error code, the same in every runtime. */
export type KeySealErrorCode =
  | 'DECRYPTION_FAILED' | 'INVALID_FORMAT' | 'UNSUPPORTED_VERSION' | 'UNSUPPORTED_SUITE'
  | 'LIMIT_EXCEEDED' | 'CONTEXT_MISMATCH' | 'INVALID_ARGUMENT' | 'RANDOM_UNAVAILABLE'
  | 'ACCESS_DENIED' | 'KEY_DISABLED' | 'KEY_NOT_FOUND' | 'THROTTLED' | 'KMS_UNAVAILABLE'
  | 'TIMEOUT' | 'PROTOCOL_ERROR' | 'DOWNGRADE_REFUSED' | 'IDENTITY_MISMATCH' | 'NO_USABLE_ENTRY' | 'INTERNAL';

/** One key service: the primary (`keyService`) or an escrow/DR service (`escrow`). */
export interface KeyServiceOptions {
  /** Written into each wrapped-key entry; decrypt uses it to find the service. Default `default`. */
  id?: string;
  /** Base URLs ending in `/v1`, tried in order (failover). */
  urls: string[] | string;
  /** Key id at this service (`tenant/name`); defaults to the top-level `keyId` for the primary. */
  keyId?: string;
  /**
   * The service's identity public key (base64 of the 65-byte SEC1 point, `keyseal-kms identity
   * show`). When set, every answer and public key must be signed by it (PROTOCOL.md §6.3), so an
   * active TLS-terminating proxy cannot hand out data keys of its own (`IdentityMismatchError`),
   * and escrow wraps never send the data key over the connection.
   */
  identity?: string;
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
  /** Longest a data key is used after generate/unwrap; bounds how long a revoked key keeps working here. Default 60000. */
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
  /** Longest one HTTP attempt may take (default 5000 ms). The top-level `timeoutMs` wins when both are set. */
  attemptTimeoutMs?: number;
  /** Longest a whole call (every attempt and backoff) may take, then `TimeoutError` (default 15000 ms). The top-level `deadlineMs` wins when both are set. */
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
      op: string;
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

/** The options of `KeySeal.create`. */
export interface KeySealOptions {
  /** The primary key service. */
  keyService: KeyServiceOptions;
  /** Key id for new data keys at the primary service. */
  keyId?: string;
  /** More services (escrow, DR): every new message gets an entry for each; decrypt fails over to them. */
  escrow?: (KeyServiceOptions & {
    /** Required for escrow services: written into their entries. */
    id: string;
    /** Required for escrow services: the key id at that service. */
    keyId: string;
  })[];
  /** Returns the caller's access token (JWT) for a key-service call; `service` tells which service (primary or escrow) it is for. */
  token: (request: { service: string; keyId: string; op: 'generate' | 'wrap' | 'unwrap' | 'rewrap' | 'rewrap_batch' | 'generate_batch' }) => string | Promise<string>;
  /** Data-key cache, or `false` for none. */
  cache?: CacheOptions | false;
  /** Per-attempt timeout (default 5000 ms); wins over `retry.attemptTimeoutMs`. */
  timeoutMs?: number;
  /** Whole-call deadline including retries (default 15000 ms); wins over `retry.deadlineMs`. */
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
   * AES-256-GCM engine; all give the same bytes. `auto` (default): for messages of at least 16 KiB
   * and for streams, the platform's AES-GCM with several segments in flight — node:crypto
   * (OpenSSL) in the Node entry (Node, Bun), `crypto.subtle` elsewhere — and the wasm engine below
   * that and wherever neither exists. `wasm`: always the wasm engine. `webcrypto`: always
   * `crypto.subtle` (create fails where it is absent). `node`: always node:crypto (Node entry only).
   */
  engine?: 'auto' | 'wasm' | 'webcrypto' | 'node';
  /**
   * P-256 engine for the key-service calls (the recipient key of each `/generate` and `/unwrap`,
   * identity signatures); all give the same bytes. `auto` (default): node:crypto in the Node entry
   * (Node, Bun), else `crypto.subtle` where the runtime has it, else `wasm` (the `p256` crate; also
   * the fallback when the platform cannot make a key). `webcrypto`/`node`: only that platform
   * (create fails where it is absent).
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
  /** Key-service figures by operation (`generate`, `unwrap`, …). */
  keyService: Record<string, OpMetrics>;
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
    /** `kms` (wrapped by a key service), `hpke-p256` (sealed offline to a key's public key) or a kind this version does not know. */
    kind: 'kms' | 'hpke-p256' | 'unknown';
    /** The key service's id (`keyService.id` of the writer). */
    keyServiceId: string;
    /** The key id at that service. */
    keyId: string;
    /** The key version, where the entry's kind of key service lets it be read; else null. */
    keyVersion: number | null;
    /** Length of the wrapped key in bytes. */
    wrappedLen: number;
    /** The wrapped key (not secret: only its key service can open it). */
    wrapped: Uint8Array;
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
  writeHeader(newHeader: Uint8Array, bodyOffset: number): Promise<void>;
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
    /** Why it failed. */
    code: KeySealErrorCode;
    /** The error's message. */
    message: string;
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
  /** Checks the options and builds an instance (loads the wasm once per realm; no key-service call). */
  static create(options: KeySealOptions): Promise<KeySeal>;
  /**
   * Seals `data` under `context`. `sign: true`: a signed message (FORMAT.md §6.5) — only a
   * principal allowed to generate data keys can make one that verifies; readers cannot.
   */
  encrypt(data: Input, options?: { context?: EncryptionContext; sign?: boolean }): Promise<Uint8Array>;
  /**
   * Opens a sealed message. A signed message's signature is always verified. `requireSigned: true`
   * refuses an unsigned message (`DowngradeRefusedError`) and public-key entries.
   */
  decrypt(sealed: Input, options?: { requireContext?: EncryptionContext; requireSigned?: boolean }): Promise<Uint8Array>;
  /** `decrypt`, then UTF-8 decoding (`InvalidArgumentError` when the plaintext is not UTF-8). */
  decryptText(sealed: Input, options?: { requireContext?: EncryptionContext; requireSigned?: boolean }): Promise<string>;
  /** Seals what is written into one message; use as `blob.stream().pipeThrough(ks.encryptStream({ context }))`. */
  encryptStream(options?: { context?: EncryptionContext; sign?: boolean; onProgress?: (p: StreamProgress) => void }): TransformStream<Input, Uint8Array>;
  /**
   * Opens a sealed stream; plaintext only per authenticated segment (errors: DecryptionFailedError on
   * truncation, reorder, extension, tamper). For a signed message the segments are
   * reader-authenticated as they come and the stream errors at its end unless the signature
   * verifies: treat the plaintext as writer-authenticated only once the stream ended without error.
   */
  decryptStream(options?: { requireContext?: EncryptionContext; requireSigned?: boolean; onProgress?: (p: StreamProgress) => void }): TransformStream<Uint8Array | ArrayBuffer, Uint8Array>;
  /** Reads the header and only the segments covering the range. */
  decryptRange(source: RangeSource, options?: RangeOptions): Promise<Uint8Array>;
  /** Header-only rewrap through the key services' /rewrap; new object = header ‖ old.subarray(bodyOffset). */
  rewrap(
    sealedOrHeader: RangeSource,
    options?: { toKeyId?: string; size?: number },
  ): Promise<{
    /** The new header. */
    header: Uint8Array;
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
      /** Objects per round: their headers go to the key services together, in `/rewrap-batch` requests of up to 100 (default 100). */
      batchSize?: number;
      /** Called after each round with the counts so far. */
      onProgress?: (p: { seen: number; done: number; skipped: number; failed: number }) => void;
    },
  ): Promise<RewrapAllResult>;
  /** Header facts; `sealedLength` = the whole message's length when `sealed` is only its first bytes. */
  inspect(sealed: Input, options?: InspectOptions): HeaderInfo;
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
  openWithDataKey(sealed: Input, dataKey: Input, options?: { requireContext?: EncryptionContext; engine?: 'wasm' | 'webcrypto' }): Promise<Uint8Array>;
  /**
   * Seals with a given data key and message id (32 bytes each) and the given entries (wrapped keys,
   * hex): byte-for-byte reproducible, for test vectors. The caller MUST never reuse a message id
   * with the same data key.
   */
  sealWithDataKeyAssumingUniqueMessageId(
    dataKey: Input, messageId: Input, segmentSize: number, contextPairs: [string, string][],
    entries: { kind: string; key_service_id: string; key_id: string; wrapped: string }[], plaintext: Input,
    options?: { engine?: 'wasm' | 'webcrypto'; /** suite 2: hex of the signing key's 32-byte scalar */ signingSecret?: string },
  ): Promise<Uint8Array>;
  /** The verification key (base64 of the SEC1 public key, FORMAT.md §3.4) of a signing key given as the hex of its scalar. */
  verificationKey(signingSecret: string): Promise<string>;
  /** Diagnostics: the wasm module's linear memory in bytes (`memory.buffer.byteLength`); it only grows. */
  wasmMemoryBytes(): Promise<number>;
  /** Every error code the Rust core can produce (each has an error class here). */
  errorCodes(): Promise<KeySealErrorCode[]>;
};

/** Every error the package throws: a subclass per stable `code`, the same in every runtime. */
export declare class KeySealError extends Error {
  /** The code of this class. */
  static readonly code: KeySealErrorCode;
  /** The stable, machine-readable code. */
  readonly code: KeySealErrorCode;
}
/** `DECRYPTION_FAILED`: the message does not authenticate (tampered, truncated, reordered, wrong key or a bad signature); one opaque error for every such failure. */
export declare class DecryptionFailedError extends KeySealError {}
/** `INVALID_FORMAT`: the bytes are not a keyseal message (or a header is malformed). */
export declare class InvalidFormatError extends KeySealError {}
/** `UNSUPPORTED_VERSION`: a format version this release does not read. */
export declare class UnsupportedVersionError extends KeySealError {}
/** `UNSUPPORTED_SUITE`: a suite this release does not read. */
export declare class UnsupportedSuiteError extends KeySealError {}
/** `LIMIT_EXCEEDED`: a size over the format's limits (segment size, entries, context). */
export declare class LimitExceededError extends KeySealError {}
/** `CONTEXT_MISMATCH`: the message's context lacks a pair `requireContext` asks for (or the key service found the wrapped key bound to another context). */
export declare class ContextMismatchError extends KeySealError {}
/** `INVALID_ARGUMENT`: a bad option or argument; the message names it. */
export declare class InvalidArgumentError extends KeySealError {}
/** `RANDOM_UNAVAILABLE`: the platform has no cryptographic randomness. */
export declare class RandomUnavailableError extends KeySealError {}
/** `ACCESS_DENIED`: the key service refused the token (missing, expired, wrong tenant or role) or the token callback failed. */
export declare class AccessDeniedError extends KeySealError {}
/** `KEY_DISABLED`: the key is disabled or scheduled for destruction at the key service. */
export declare class KeyDisabledError extends KeySealError {}
/** `KEY_NOT_FOUND`: the key service has no such key (or version). */
export declare class KeyNotFoundError extends KeySealError {}
/** `THROTTLED`: the key service asked to slow down and retries ran out. */
export declare class ThrottledError extends KeySealError {}
/** `KMS_UNAVAILABLE`: no key service answered (network, 5xx, open circuits) within the retry policy. */
export declare class KmsUnavailableError extends KeySealError {}
/** `TIMEOUT`: the call's deadline passed. */
export declare class TimeoutError extends KeySealError {}
/** `PROTOCOL_ERROR`: the key service answered something the protocol does not allow (bad JSON, a redirect, a wrapped key that does not open). */
export declare class ProtocolError extends KeySealError {}
/** `DOWNGRADE_REFUSED`: a plaintext data key where a sealed one was asked for, or an unsigned message under `requireSigned`. */
export declare class DowngradeRefusedError extends KeySealError {}
/** `NO_USABLE_ENTRY`: the message has no wrapped-key entry this instance may use (other key service ids or key ids: see `decrypt.allowKeyIds`). */
export declare class NoUsableEntryError extends KeySealError {}
/** `IDENTITY_MISMATCH`: an answer or public key is not signed by the pinned key-service identity (a substituting proxy). */
export declare class IdentityMismatchError extends KeySealError {}
/** Every stable error code, in a fixed order. */
export declare const ERROR_CODES: readonly KeySealErrorCode[];
/** Internal: turns an error of the wasm core into its `KeySealError` subclass (anything else becomes `INTERNAL`). */
export declare function fromCore(e: unknown): KeySealError;
