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

export interface RetryOptions {
  attemptTimeoutMs?: number;
  deadlineMs?: number;
  maxRounds?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  breakerThreshold?: number;
  breakerCooldownMs?: number;
}

export type KeySealEvent =
  | { type: 'kmsCall'; service: string; url: string; op: string; ok: boolean; code: KeySealErrorCode | null; status: number | null; latencyMs: number; attempt: number }
  | { type: 'circuitOpen'; service: string; url: string }
  | { type: 'cacheHit' | 'cacheMiss'; cache: 'encrypt' | 'decrypt'; keyId: string }
  | { type: 'cachePurged'; keyId: string | null; reason: 'purge' | 'key_disabled' }
  | { type: 'encrypt' | 'decrypt'; ok: boolean; code: KeySealErrorCode | null; bytes: number };

export interface KeySealOptions {
  /** The primary key service. */
  keyService: KeyServiceOptions;
  /** Key id for new data keys at the primary service. */
  keyId?: string;
  /** More services (escrow, DR): every new message gets an entry for each; decrypt fails over to them. */
  escrow?: (KeyServiceOptions & { id: string; keyId: string })[];
  /** Returns the caller's access token (JWT) for a key-service call; `service` tells which service (primary or escrow) it is for. */
  token: (request: { service: string; keyId: string; op: 'generate' | 'wrap' | 'unwrap' | 'rewrap' | 'rewrap_batch' | 'generate_batch' }) => string | Promise<string>;
  /** Data-key cache, or `false` for none. */
  cache?: CacheOptions | false;
  /** Per-attempt timeout (default 5000 ms). */
  timeoutMs?: number;
  /** Whole-call deadline including retries (default 15000 ms). */
  deadlineMs?: number;
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

export interface OpMetrics {
  calls: number;
  errors: Partial<Record<KeySealErrorCode, number>>;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

export interface Metrics {
  keyService: Record<string, OpMetrics>;
  cacheHits: number;
  cacheMisses: number;
  cacheHitRatio: number | null;
  encryptOk: number;
  encryptFailed: Partial<Record<KeySealErrorCode, number>>;
  decryptOk: number;
  decryptFailed: Partial<Record<KeySealErrorCode, number>>;
  decryptSuccessRate: number | null;
  lastTimeToRevokeMs: number | null;
}

export interface HeaderInfo {
  version: number;
  suite: number;
  messageId: string;
  segmentSize: number;
  context: EncryptionContext;
  entries: {
    kind: 'kms' | 'hpke-p256' | 'unknown';
    keyServiceId: string;
    keyId: string;
    /** The key version, where the entry's kind of key service lets it be read; else null. */
    keyVersion: number | null;
    wrappedLen: number;
    /** The wrapped key (not secret: only its key service can open it). */
    wrapped: Uint8Array;
  }[];
  headerLen: number;
  plaintextLen: number | null;
  segmentCount: number | null;
}


/** Progress of a stream: bytes processed so far; `done` on the last call. */
export interface StreamProgress { plaintextBytes: number; sealedBytes: number; done?: boolean }

/**
 * Where `decryptRange` (and `rewrap`) read from. A reader function or object gets `end` EXCLUSIVE
 * and must return exactly `end - start` bytes (HTTP: `Range: bytes=start-(end-1)`).
 */
export type RangeSource =
  | Uint8Array | ArrayBuffer | ArrayBufferView | Blob
  | ((start: number, end: number) => Promise<Uint8Array | ArrayBuffer> | Uint8Array | ArrayBuffer)
  | { size: number; read(start: number, end: number): Promise<Uint8Array | ArrayBuffer> | Uint8Array | ArrayBuffer };

export interface RangeOptions {
  /** First plaintext byte (default 0). */
  offset?: number;
  /** Plaintext bytes wanted (default: to the end). The range is clamped to the plaintext. */
  length?: number;
  /** Total sealed length; required when `source` is a reader function. */
  size?: number;
  requireContext?: EncryptionContext;
  /**
   * Refused (`InvalidArgumentError`): a ranged read does not read every segment, so it cannot
   * verify a signature; its plaintext is reader-authenticated only (FORMAT.md §6.5).
   */
  requireSigned?: false;
}

/** One object for `rewrapAll`. */
export interface RewrapObject {
  id: string;
  /** The object's header, or any prefix of the object that contains it. */
  readHeader(): Promise<Uint8Array | ArrayBuffer>;
  /** Store `newHeader ‖ old.subarray(bodyOffset)` (the body is unchanged). */
  writeHeader(newHeader: Uint8Array, bodyOffset: number): Promise<void>;
}

export interface RewrapAllResult {
  /** Objects rewritten in this run. */
  done: number;
  /** Objects already on the target (skipped). */
  skipped: number;
  /** Objects that failed (the backlog left): run again to resume. */
  failed: { id: string; code: KeySealErrorCode; message: string }[];
  /** Newest version of the target key when the run started. */
  targetVersion: number;
}

export declare class KeySeal {
  private constructor();
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
  rewrap(sealedOrHeader: RangeSource, options?: { toKeyId?: string; size?: number }): Promise<{ header: Uint8Array; bodyOffset: number }>;
  /** Idempotent, resumable rewrap of many objects. */
  rewrapAll(
    objects: Iterable<RewrapObject> | AsyncIterable<RewrapObject>,
    options?: {
      toKeyId?: string;
      /** Header reads and writes in flight (default 4). */
      concurrency?: number;
      /** Objects per round: their headers go to the key services together, in `/rewrap-batch` requests of up to 100 (default 100). */
      batchSize?: number;
      onProgress?: (p: { seen: number; done: number; skipped: number; failed: number }) => void;
    },
  ): Promise<RewrapAllResult>;
  /** Header facts; `sealedLength` = the whole message's length when `sealed` is only its first bytes. */
  inspect(sealed: Input, options?: InspectOptions): HeaderInfo;
  /** The engine `encrypt`/`decrypt` use for a message of `byteLength` bytes (`Infinity`: the streams). */
  engineFor(byteLength: number): 'wasm' | 'webcrypto' | 'node';
  /** The P-256 engine of the key-service calls (options `p256`). */
  p256Engine(): 'wasm' | 'webcrypto' | 'node';
  purge(keyId?: string): number;
  metrics(): Metrics;
  metricsText(): string;
}

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
export declare function headerLength(prefix: Input): Promise<{ headerLen: number; needAtLeast?: undefined } | { headerLen?: undefined; needAtLeast: number }>;

export declare const lowLevel: {
  openWithDataKey(sealed: Input, dataKey: Input, options?: { requireContext?: EncryptionContext; engine?: 'wasm' | 'webcrypto' }): Promise<Uint8Array>;
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

export declare class KeySealError extends Error {
  static readonly code: KeySealErrorCode;
  readonly code: KeySealErrorCode;
}
export declare class DecryptionFailedError extends KeySealError {}
export declare class InvalidFormatError extends KeySealError {}
export declare class UnsupportedVersionError extends KeySealError {}
export declare class UnsupportedSuiteError extends KeySealError {}
export declare class LimitExceededError extends KeySealError {}
export declare class ContextMismatchError extends KeySealError {}
export declare class InvalidArgumentError extends KeySealError {}
export declare class RandomUnavailableError extends KeySealError {}
export declare class AccessDeniedError extends KeySealError {}
export declare class KeyDisabledError extends KeySealError {}
export declare class KeyNotFoundError extends KeySealError {}
export declare class ThrottledError extends KeySealError {}
export declare class KmsUnavailableError extends KeySealError {}
export declare class TimeoutError extends KeySealError {}
export declare class ProtocolError extends KeySealError {}
export declare class DowngradeRefusedError extends KeySealError {}
export declare class NoUsableEntryError extends KeySealError {}
export declare class IdentityMismatchError extends KeySealError {}
export declare const ERROR_CODES: readonly KeySealErrorCode[];
export declare function fromCore(e: unknown): KeySealError;
