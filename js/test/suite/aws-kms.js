// The `aws-kms` kind against moto's server (an independent AWS KMS implementation), with boto3 as an
// independent client for the interop proofs (docs/KEY-SERVICES.md). Server runtimes talk to the
// moto server that verifies SigV4 signatures with a real access key; browsers to the one without
// authentication (its CORS preflights carry no signature). env.aws comes from the harness.

import { assert, eq, bytesEq, enc, randomBytes, toB64, fromB64, toHex, uid } from './support.js';

const BROWSERS = ['chromium', 'chromium-worker'];

export default function register({ test, make, KeySeal, rejects, E, env, CTX, primary, escrow, FAST, lowLevel }) {
  const signed = !BROWSERS.includes(env.runtime);
  const server = signed ? 'auth' : 'noauth';
  const aws = env.aws[server];
  const creds = signed
    ? { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey }
    : { accessKeyId: 'testing', secretAccessKey: 'testing' };
  const awsService = (over = {}) => ({ id: 'acme-aws', kind: 'aws-kms', region: env.aws.region, endpoint: aws.url, credentials: async () => creds, ...over });
  const makeAws = (opts = {}, events) => KeySeal.create({
    keyService: awsService(),
    keyId: aws.keys.main,
    token: () => env.tokens.writer,
    retry: FAST,
    onEvent: events ? (e) => events.push(e) : undefined,
    ...opts,
  });
  /** boto3 through the harness (js/test/support/aws.py). */
  async function boto3(cmd, body) {
    const r = await fetch(`${env.controlUrl}/aws/${cmd}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ server, ...body }) });
    const j = await r.json();
    if (r.status !== 200) throw new Error(`boto3 ${cmd}: ${r.status} ${JSON.stringify(j)}`);
    return j;
  }
  const tag = `aws (${signed ? 'SigV4 verified by moto' : 'moto without auth'})`;

  test(`${tag}: round trip; the entry is an aws-kms CiphertextBlob bound to the context`, async () => {
    const events = [];
    const ks = await makeAws({}, events);
    const pt = randomBytes(3000);
    const sealed = await ks.encrypt(pt, { context: CTX });
    bytesEq(await ks.decrypt(sealed, { requireContext: CTX }), pt, 'plaintext');
    const info = await ks.inspect(sealed);
    eq(info.entries.length, 1, 'one entry');
    eq(info.entries[0].kind, 'aws-kms', 'entry kind');
    eq(info.entries[0].keyServiceId, 'acme-aws', 'service id');
    eq(info.entries[0].keyId, aws.keys.main, 'key id');
    eq(info.entries[0].keyVersion, null, 'AWS has no readable versions');
    const ops = events.filter((e) => e.type === 'kmsCall' && e.ok).map((e) => e.op);
    assert(ops.includes('generate') && ops.includes('unwrap'), `GenerateDataKey and Decrypt were called: ${ops}`);
    await rejects(ks.decrypt(sealed, { requireContext: { tenant: 'globex' } }), E.ContextMismatchError, 'requireContext');
  });

  test(`${tag}: boto3 unwraps keyseal's entry with the same context, and the data key opens the message`, async () => {
    const ks = await makeAws();
    const context = { ...CTX, object: uid() };
    const sealed = await ks.encrypt('opened by boto3', { context });
    const entry = (await ks.inspect(sealed)).entries[0];
    const wrong = await boto3('decrypt', { key: aws.keys.main, ciphertext: toB64(entry.wrapped), context: { ...context, object: 'other' } });
    eq(wrong.error, 'InvalidCiphertextException', 'AWS refuses another context');
    const d = await boto3('decrypt', { key: aws.keys.main, ciphertext: toB64(entry.wrapped), context });
    const plain = await lowLevel.openWithDataKey(sealed, fromB64(d.plaintext), { requireContext: context });
    eq(new TextDecoder().decode(plain), 'opened by boto3', 'plaintext');
  });

  test(`${tag}: an entry made by boto3's GenerateDataKey is accepted; under another context AWS refuses it`, async () => {
    const context = { tenant: 'acme', object: uid() };
    const g = await boto3('generate', { key: aws.keys.main, context });
    const seal = (ctx) => lowLevel.sealWithDataKeyAssumingUniqueMessageId(fromB64(g.plaintext), randomBytes(32), 1024,
      Object.entries(ctx), [{ kind: 'aws-kms', key_service_id: 'acme-aws', key_id: aws.keys.main, wrapped: toHex(fromB64(g.ciphertext)) }],
      enc.encode('made with boto3'));
    const ks = await makeAws({ cache: false });
    eq(await ks.decryptText(await seal(context)), 'made with boto3', 'keyseal opens it');
    // the same CiphertextBlob in a message claiming another context: AWS's Decrypt refuses it
    await rejects(ks.decrypt(await seal({ ...context, object: 'other' })), E.DecryptionFailedError, 'context bound by AWS');
  });

  test(`${tag}: rotation by ReEncrypt through rewrapAll (no data key leaves AWS), idempotent`, async () => {
    const ks = await makeAws({ decrypt: { allowKeyIds: [aws.keys.next] } });
    const store = new Map();
    for (let i = 0; i < 3; i++) store.set(`o${i}`, await ks.encrypt(`object ${i}`, { context: { ...CTX, object: `o${i}` } }));
    const objects = () => [...store.keys()].map((id) => ({
      id,
      readHeader: async () => store.get(id),
      writeHeader: async (h, off) => { const old = store.get(id); const n = new Uint8Array(h.length + old.length - off); n.set(h); n.set(old.subarray(off), h.length); store.set(id, n); },
    }));
    const r1 = await ks.rewrapAll(objects(), { toKeyId: aws.keys.next });
    eq(r1.done, 3, `rewrapped: ${JSON.stringify(r1.failed)}`);
    const r2 = await ks.rewrapAll(objects(), { toKeyId: aws.keys.next });
    eq(r2.skipped, 3, 'second run skips');
    for (const [id, sealed] of store) {
      eq((await ks.inspect(sealed)).entries[0].keyId, aws.keys.next, `${id} on the new key`);
      eq(await ks.decryptText(sealed), `object ${id.slice(1)}`, `${id} opens`);
    }
  });

  test(`${tag}: a key AWS does not have is KEY_NOT_FOUND, with service, op and status`, async () => {
    const missing = aws.keys.main.replace(/key\/.*$/, 'key/00000000-0000-4000-8000-000000000000');
    const ks = await makeAws({ keyId: missing });
    const e = await rejects(ks.encrypt('x', { context: CTX }), E.KeyNotFoundError, 'GenerateDataKey, unknown key');
    eq(e.service, 'acme-aws', 'service');
    eq(e.op, 'generate', 'op');
    eq(e.status, 400, 'status');
    eq(e.retryable, false, 'not retryable');
    assert(/NotFoundException/.test(e.message), e.message);
  });

  // moto enforces no key state and never throttles: these answers come from a stand-in on the
  // harness that answers exactly what AWS documents for each exception (/fault-aws/<name>/<status>)
  const MAPPING = [
    ['DisabledException', 400, 'KeyDisabledError'],
    ['KMSInvalidStateException', 400, 'KeyDisabledError'],
    ['AccessDeniedException', 400, 'AccessDeniedError'],
    ['UnrecognizedClientException', 400, 'AccessDeniedError'],
    ['ExpiredTokenException', 400, 'AccessDeniedError'],
    ['InvalidCiphertextException', 400, 'DecryptionFailedError'],
    ['IncorrectKeyException', 400, 'DecryptionFailedError'],
    ['NotFoundException', 400, 'KeyNotFoundError'],
    ['ThrottlingException', 400, 'ThrottledError'],
    ['KMSInternalException', 500, 'KmsUnavailableError'],
    ['DependencyTimeoutException', 503, 'KmsUnavailableError'],
    ['ValidationException', 400, 'InvalidArgumentError'],
  ];
  test('aws-kms: every AWS KMS exception maps to its keyseal code (Decrypt, stand-in answers)', async () => {
    const context = { tenant: 'acme', object: uid() };
    const sealed = await lowLevel.sealWithDataKeyAssumingUniqueMessageId(randomBytes(32), randomBytes(32), 1024,
      Object.entries(context), [{ kind: 'aws-kms', key_service_id: 'acme-aws', key_id: 'alias/keyseal-main', wrapped: toHex(randomBytes(150)) }],
      enc.encode('x'));
    for (const [name, status, cls] of MAPPING) {
      const events = [];
      const ks = await KeySeal.create({
        keyService: awsService({ endpoint: `${env.faultUrl.replace(/\/fault$/, '')}/fault-aws/${name}/${status}` }),
        keyId: 'alias/keyseal-main', token: () => '', retry: FAST, cache: false, onEvent: (e) => events.push(e),
      });
      const e = await rejects(ks.decrypt(sealed), E[cls], name);
      eq(e.op, 'unwrap', `${name}: op`);
      eq(e.status, status, `${name}: status`);
      const attempts = events.filter((x) => x.type === 'kmsCall').length;
      eq(attempts > 1, e.retryable, `${name}: retried (${attempts} attempts) exactly when retryable`);
    }
  });

  if (signed) {
    test(`${tag}: a wrong secret is ACCESS_DENIED (moto checks the SigV4 signature); a failing credentials callback too`, async () => {
      const bad = await makeAws({ keyService: awsService({ credentials: async () => ({ ...creds, secretAccessKey: 'not-the-secret' }) }) });
      const e = await rejects(bad.encrypt('x', { context: CTX }), E.AccessDeniedError, 'bad signature');
      assert(typeof e.status === 'number' && e.status >= 400 && e.status < 500, `status ${e.status}`);
      const broken = await makeAws({ keyService: awsService({ credentials: async () => { throw new Error('vault sealed'); } }) });
      const e2 = await rejects(broken.encrypt('x', { context: CTX }), E.AccessDeniedError, 'credentials callback throws');
      assert(/vault sealed/.test(e2.message), e2.message);
    });
  }

  test(`${tag}: escrow of another kind — keyseal-kms primary, AWS KMS escrow; decrypt fails over between kinds`, async () => {
    const both = await make({ escrow: [{ ...awsService(), keyId: aws.keys.escrow }], retry: FAST });
    const sealed = await both.encrypt('two kinds', { context: CTX });
    const kinds = (await both.inspect(sealed)).entries.map((e) => e.kind);
    eq(JSON.stringify(kinds), JSON.stringify(['kms', 'aws-kms']), 'entries');
    // the primary is unreachable: the AWS entry opens it
    const failover = await make({ keyService: primary([env.closedUrl]), escrow: [{ ...awsService(), keyId: aws.keys.escrow }], retry: FAST, cache: false });
    eq(await failover.decryptText(sealed), 'two kinds', 'opened through AWS KMS');
    // and the other way round: AWS primary, keyseal-kms escrow; AWS unreachable
    const awsFirst = await makeAws({ escrow: [escrow()] });
    const s2 = await awsFirst.encrypt('two kinds back', { context: CTX });
    const down = await makeAws({ keyService: awsService({ endpoint: env.closedUrl.replace(/\/v1$/, '') }), escrow: [escrow()], cache: false });
    eq(await down.decryptText(s2), 'two kinds back', 'opened through keyseal-kms');
  });

  test('aws-kms options are checked: region, credentials; no urls or identity', async () => {
    const base = { keyId: aws.keys.main, token: () => '' };
    const refused = async (svc, re, what) => {
      const e = await rejects(KeySeal.create({ ...base, keyService: svc }), E.InvalidArgumentError, what);
      assert(re.test(e.message), `${what}: ${e.message}`);
    };
    await refused(awsService({ region: undefined }), /region/, 'no region');
    await refused(awsService({ credentials: undefined }), /credentials/, 'no credentials');
    await refused(awsService({ urls: [env.kmsUrl] }), /not urls/, 'urls');
    await refused(awsService({ endpoint: 'http://kms.example.com' }), /loopback/, 'plain http off loopback');
    await refused({ id: 'x', urls: [env.kmsUrl], region: 'us-east-1' }, /aws-kms/, 'region on a keyseal service');
  });
}
