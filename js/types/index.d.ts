/** Bytes in, bytes out. Strings are UTF-8 encoded. */
export type Input = Uint8Array | ArrayBuffer | ArrayBufferView | string;

/** Encryption context: UTF-8 key/value pairs, stored in clear and bound into the wrapped key. */
export type EncryptionContext = Record<string, string>;

/** Every stable error code, the same in every runtime. */
export type KeySealErrorCode =
  | 'DECRYPTION_FAILED' | 'INVALID_FORMAT' | 'UNSUPPORTED_VERSION' | 'UNSUPPORTED_SUITE'
  | 'LIMIT_EXCEEDED' | 'CONTEXT_MISMATCH' | 'INVALID_ARGUMENT' | 'RANDOM_UNAVAILABLE'
  | 'ACCESS_DENIED' | 'KEY_DISABLED' | 'KEY_NOT_FOUND' | 'THROTTLED' | 'KMS_UNAVAILABLE'
  | 'TIMEOUT' | 'PROTOCOL_ERROR' | 'DOWNGRADE_REFUSED' | 'NO_USABLE_ENTRY' | 'INTERNAL';

export interface KeyServiceOptions {
  /** Written into each wrapped-key entry; decrypt uses it to find the service. Default `default`. */
  id?: string;
  /** Base URLs ending in `/v1`, tried in order (failover). */
  urls: string[] | string;
  /** Key id at this service (`tenant/name`); defaults to the top-level `keyId` for the primary. */
  keyId?: string;
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
  token: (request: { service: string; keyId: string; op: 'generate' | 'wrap' | 'unwrap' | 'rewrap' }) => string | Promise<string>;
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
  entries: { kind: 'kms' | 'hpke-p256' | 'unknown'; keyServiceId: string; keyId: string; keyVersion: number | null; wrappedLen: number }[];
  headerLen: number;
  plaintextLen: number | null;
  segmentCount: number | null;
}

export declare class KeySeal {
  private constructor();
  static create(options: KeySealOptions): Promise<KeySeal>;
  encrypt(data: Input, options?: { context?: EncryptionContext }): Promise<Uint8Array>;
  decrypt(sealed: Input, options?: { requireContext?: EncryptionContext }): Promise<Uint8Array>;
  decryptText(sealed: Input, options?: { requireContext?: EncryptionContext }): Promise<string>;
  inspect(sealed: Input): HeaderInfo;
  purge(keyId?: string): number;
  metrics(): Metrics;
  metricsText(): string;
}

export declare function inspect(sealed: Input): Promise<HeaderInfo>;

export declare const lowLevel: {
  openWithDataKey(sealed: Input, dataKey: Input, options?: { requireContext?: EncryptionContext }): Promise<Uint8Array>;
  sealWithDataKeyAssumingUniqueMessageId(
    dataKey: Input, messageId: Input, segmentSize: number, contextPairs: [string, string][],
    entries: { kind: string; key_service_id: string; key_id: string; wrapped: string }[], plaintext: Input,
  ): Promise<Uint8Array>;
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
export declare const ERROR_CODES: readonly KeySealErrorCode[];
export declare function fromCore(e: unknown): KeySealError;
