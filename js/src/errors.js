// Errors thrown by keyseal: one class per stable code, all subclasses of KeySealError.
// The same codes in every runtime (they come from the Rust core's Error::code()).

export class KeySealError extends Error {
  /** @type {string} */
  static code = 'INTERNAL';
  constructor(message, options) {
    super(message, options);
    this.name = this.constructor.name;
    this.code = this.constructor.code;
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

const BY_CODE = Object.fromEntries(
  [
    DecryptionFailedError, InvalidFormatError, UnsupportedVersionError, UnsupportedSuiteError,
    LimitExceededError, ContextMismatchError, InvalidArgumentError, RandomUnavailableError,
    AccessDeniedError, KeyDisabledError, KeyNotFoundError, ThrottledError, KmsUnavailableError,
    TimeoutError, ProtocolError, DowngradeRefusedError, NoUsableEntryError, IdentityMismatchError,
  ].map((C) => [C.code, C]),
);

/** Every code a KeySealError can carry. */
export const ERROR_CODES = Object.freeze([...Object.keys(BY_CODE), 'INTERNAL']);

/** Turns an error from the wasm core (an Error with `code`) into the matching subclass. */
export function fromCore(e) {
  if (e instanceof KeySealError) return e;
  const C = (e && BY_CODE[e.code]) || KeySealError;
  const message = e && e.message ? e.message : String(e);
  return new C(message, { cause: e });
}
