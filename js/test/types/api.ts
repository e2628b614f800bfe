// Type tests of the published declarations (dist/index.d.ts), compiled by scripts/ts-test.sh under
// `strict` with several TypeScript versions and module resolutions. A line marked
// `@ts-expect-error` must fail to type-check (an unused marker is itself an error), so each such
// line is a test that the types refuse something.
import {
  KeySeal, inspect, lowLevel, KeySealError, DecryptionFailedError, ContextMismatchError, KmsUnavailableError,
  type Bytes, type HeaderInfo, type KeySealErrorCode, type KeySealEvent, type KeySealOptions, type Metrics,
  type RewrapAllResult, type TokenOp,
} from 'keyseal';

/** Compile-time equality of two types. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_: T): void {}

declare const ks: KeySeal;
declare const url: string;

export async function byteTypes(): Promise<void> {
  const sealed = await ks.encrypt('hello', { context: { tenant: 'acme' } });
  const plain = await ks.decrypt(sealed, { requireContext: { tenant: 'acme' } });
  // the results go where a BodyInit / BlobPart / BufferSource is wanted, without a cast
  await fetch(url, { method: 'PUT', body: sealed });
  new Blob([sealed, plain]);
  new Response(sealed);
  await crypto.subtle.digest('SHA-256', plain);
  const part = await ks.decryptRange(sealed, { offset: 0, length: 10 });
  new Blob([part]);
  const { header } = await ks.rewrap(sealed, { toKeyId: 'acme/2027' });
  new Blob([header, sealed.subarray(10)]);
  const opened = await lowLevel.openWithDataKey(sealed, new Uint8Array(32));
  new Response(opened);
  const b: Bytes = sealed;
  const u: Uint8Array = b;
  void u;
}

export async function results(): Promise<void> {
  const sealed = await ks.encrypt('x');
  const { plaintext, header } = await ks.decryptWithHeader(sealed);
  new Blob([plaintext]);
  const ctx: Record<string, string> = header.context;
  const v: number | null = header.entries[0].keyVersion;
  void ctx; void v;
  // one inspect, async in both places
  const a: HeaderInfo = await ks.inspect(sealed);
  const b: HeaderInfo = await inspect(sealed);
  void a; void b;
  // @ts-expect-error -- KeySeal#inspect returns a Promise now
  const c: HeaderInfo = ks.inspect(sealed);
  void c;
  const ds = ks.decryptStream({ requireContext: { tenant: 'acme' } });
  const h: HeaderInfo = await ds.header;
  void h;
  const readable: ReadableStream<Bytes> = new Blob([sealed]).stream().pipeThrough(ds);
  void readable;
  const r: RewrapAllResult = await ks.rewrapAll([], { toKeyId: 'acme/2027' });
  const code: KeySealErrorCode | 'STORAGE_FAILED' = r.failed[0].code;
  void code;
}

export async function misplacedOptions(): Promise<void> {
  const sealed = await ks.encrypt('x', { context: { a: 'b' } });
  // @ts-expect-error -- `context` belongs to encrypt; decrypt takes `requireContext`
  await ks.decrypt(sealed, { context: { a: 'b' } });
  // @ts-expect-error -- and the other way round
  await ks.encrypt('x', { requireContext: { a: 'b' } });
  // @ts-expect-error -- context values are strings
  await ks.encrypt('x', { context: { n: 1 } });
}

export function options(): void {
  const ok: KeySealOptions = {
    keyService: { id: 'acme', urls: ['https://kms.acme.example/v1'] },
    keyId: 'acme/default',
    token: ({ op }) => {
      const o: TokenOp = op;
      // every op the callback receives is in the union, and public_key (no token) is not
      expectType<Equal<TokenOp, 'generate' | 'generate_batch' | 'wrap' | 'unwrap' | 'rewrap' | 'rewrap_batch'>>(true);
      return o;
    },
    cache: { maxAgeMs: 60_000 },
    retry: { attemptTimeoutMs: 2000, maxRounds: 2 },
  };
  // a decrypt-only instance needs no keyId
  const reader: KeySealOptions = {
    keyService: { id: 'acme', urls: 'https://kms.acme.example/v1' },
    token: () => 'jwt',
    decrypt: { allowKeyIds: ['acme/*'] },
  };
  // @ts-expect-error -- keyService.id is required
  const noId: KeySealOptions = { keyService: { urls: ['https://kms.acme.example/v1'] }, keyId: 'acme/default', token: () => 'jwt' };
  // @ts-expect-error -- a typo in an option name
  const typo: KeySealOptions = { ...ok, cahce: { maxAgeMs: 1 } };
  // @ts-expect-error -- the undocumented `url` alias is gone
  const alias: KeySealOptions = { ...ok, keyService: { id: 'acme', url: 'https://kms.acme.example/v1' } };
  // @ts-expect-error -- an engine that does not exist
  const engine: KeySealOptions = { ...ok, engine: 'openssl' };
  // AWS KMS: region and credentials required, no urls
  const awsOk: KeySealOptions = {
    keyService: { id: 'acme-aws', kind: 'aws-kms', region: 'eu-west-1', credentials: async () => ({ accessKeyId: 'a', secretAccessKey: 's' }) },
    keyId: 'alias/keyseal',
    escrow: [{ id: 'acme', urls: ['https://kms.acme.example/v1'], keyId: 'acme/escrow' }],
    token: () => '',
  };
  // @ts-expect-error -- an aws-kms service needs credentials
  const awsNoCreds: KeySealOptions = { keyService: { id: 'a', kind: 'aws-kms', region: 'eu-west-1' }, keyId: 'k', token: () => '' };
  const awsUrls: KeySealOptions = {
    // @ts-expect-error -- an aws-kms service has no urls
    keyService: { id: 'a', kind: 'aws-kms', region: 'eu-west-1', credentials: () => ({ accessKeyId: 'a', secretAccessKey: 's' }), urls: ['https://x/v1'] },
    keyId: 'k', token: () => '',
  };
  // Google CSE KACLS: two token callbacks, the resource key, the plaintext-answer acknowledgement; no `token`
  const kaclsOk: KeySealOptions = {
    keyService: {
      id: 'acme-kacls', kind: 'kacls', urls: 'https://kacls.acme.example/v1', resourceNameKey: 'object', acceptPlaintextKeyAnswers: true,
      authentication: async ({ op }) => `authn-${op}`,
      authorization: ({ op, resourceName }) => `authz-${op}-${resourceName}`,
    },
    keyId: 'drive-cse',
  };
  const kaclsNoAck: KeySealOptions = {
    // @ts-expect-error -- acceptPlaintextKeyAnswers must be `true`, not false
    keyService: { id: 'k', kind: 'kacls', urls: 'https://k/v1', resourceNameKey: 'object', acceptPlaintextKeyAnswers: false, authentication: () => 'a', authorization: () => 'z' },
    keyId: 'k',
  };
  const kaclsNoAuthz: KeySealOptions = {
    // @ts-expect-error -- a kacls service needs its authorization callback
    keyService: { id: 'k', kind: 'kacls', urls: 'https://k/v1', resourceNameKey: 'object', acceptPlaintextKeyAnswers: true, authentication: () => 'a' },
    keyId: 'k',
  };
  void reader; void noId; void typo; void alias; void engine; void awsOk; void awsNoCreds; void awsUrls;
  void kaclsOk; void kaclsNoAck; void kaclsNoAuthz;
}

export function errorsAndEvents(e: unknown, ev: KeySealEvent, m: Metrics): void {
  // each class's code is its own literal
  expectType<Equal<DecryptionFailedError['code'], 'DECRYPTION_FAILED'>>(true);
  expectType<Equal<typeof ContextMismatchError.code, 'CONTEXT_MISMATCH'>>(true);
  if (e instanceof KmsUnavailableError) {
    const code: 'KMS_UNAVAILABLE' = e.code;
    const retry: boolean = e.retryable;
    const status: number | null | undefined = e.status;
    void code; void retry; void status;
  }
  if (e instanceof ContextMismatchError) {
    const key: string | undefined = e.contextKey;
    void key;
  }
  if (e instanceof KeySealError) {
    // @ts-expect-error -- not every KeySealError is DECRYPTION_FAILED
    const code: 'DECRYPTION_FAILED' = e.code;
    void code;
  }
  if (ev.type === 'kmsCall') {
    expectType<Equal<typeof ev.op, 'generate' | 'generate_batch' | 'wrap' | 'unwrap' | 'rewrap' | 'rewrap_batch' | 'public_key'>>(true);
  }
  const p99: number | null | undefined = m.keyService.generate?.p99Ms;
  const revoke: number | null = m.lastTimeToRevokeMs;
  void p99; void revoke;
  // @ts-expect-error -- not an operation
  void m.keyService.frobnicate;
}

export function internals(): void {
  // @ts-expect-error -- use KeySeal.create
  new KeySeal();
}

// @ts-expect-error -- the wasm-error translation is internal
export { fromCore } from 'keyseal';
