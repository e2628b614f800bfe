// Errors thrown by keyseal: one class per stable code, all subclasses of KeySealError.
// The same codes in every runtime (they come from the Rust core's Error::code()).

/** Codes of failures that may succeed when the same call is tried again later. */
const RETRYABLE = new Set(['KMS_UNAVAILABLE', 'TIMEOUT', 'THROTTLED']);

export class KeySealError extends Error {
  /** @type {string} */
  static code = 'INTERNAL';
  /**
   * `details`: the structured facts behind the message, where they apply (jose-style): `service`,
   * `op` and `status` of a key-service failure, `contextKey` of a context mismatch.
   */
  constructor(message, options, details) {
    super(message, options);
    this.name = this.constructor.name;
    this.code = this.constructor.code;
    this.retryable = details?.retryable ?? RETRYABLE.has(this.code);
    for (const k of ['service', 'op', 'status', 'contextKey']) {
      if (details && details[k] !== undefined) this[k] = details[k];
    }
  }
}

const make = (name, code) => {
  const C = { [name]: class extends KeySealError { static code = code; } }[name];
  return C;
};

export const DecryptionFailedError = make('DecryptionFailedError', 'DECRYPTION_FAILED');
export const InvalidFormatError = make('InvalidFormatError', 'INVALID_FORMAT');
export const UnsupportedVersionError = make('UnsupportedVersionError', 'UNSUPPORTED_VERSION');
export const UnsupportedSuiteError = make('UnsupportedSuiteError', 'UNSUPPORTED_SUITE');
export const LimitExceededError = make('LimitExceededError', 'LIMIT_EXCEEDED');
export const ContextMismatchError = make('ContextMismatchError', 'CONTEXT_MISMATCH');
export const InvalidArgumentError = make('InvalidArgumentError', 'INVALID_ARGUMENT');
export const RandomUnavailableError = make('RandomUnavailableError', 'RANDOM_UNAVAILABLE');
export const AccessDeniedError = make('AccessDeniedError', 'ACCESS_DENIED');
export const KeyDisabledError = make('KeyDisabledError', 'KEY_DISABLED');
export const KeyNotFoundError = make('KeyNotFoundError', 'KEY_NOT_FOUND');
export const ThrottledError = make('ThrottledError', 'THROTTLED');
export const KmsUnavailableError = make('KmsUnavailableError', 'KMS_UNAVAILABLE');
export const TimeoutError = make('TimeoutError', 'TIMEOUT');
export const ProtocolError = make('ProtocolError', 'PROTOCOL_ERROR');
export const DowngradeRefusedError = make('DowngradeRefusedError', 'DOWNGRADE_REFUSED');
export const NoUsableEntryError = make('NoUsableEntryError', 'NO_USABLE_ENTRY');
export const IdentityMismatchError = make('IdentityMismatchError', 'IDENTITY_MISMATCH');

const CLASSES = [
  DecryptionFailedError, InvalidFormatError, UnsupportedVersionError, UnsupportedSuiteError,
  LimitExceededError, ContextMismatchError, InvalidArgumentError, RandomUnavailableError,
  AccessDeniedError, KeyDisabledError, KeyNotFoundError, ThrottledError, KmsUnavailableError,
  TimeoutError, ProtocolError, DowngradeRefusedError, NoUsableEntryError, IdentityMismatchError,
];

/** Every code a KeySealError can carry. */
export const ERROR_CODES = Object.freeze([...CLASSES.map((C) => C.code), 'INTERNAL']);
