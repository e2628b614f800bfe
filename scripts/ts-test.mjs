// The TypeScript user's view of the package (scripts/ts-test.sh; docs/BUILDING.md "Type tests"):
//  1. js/test/types/*.ts — type tests of pkg/dist/index.d.ts (`@ts-expect-error` lines must fail)
//  2. every ```ts block of README.md and pkg-config/README.md, extracted as it is written
// are type-checked under `strict` by every TypeScript in COMPILERS, with module resolution
// `nodenext` and `bundler`; then each README snippet is run by Node against a real keyseal-kms in
// development mode, with the KEYSEAL_KMS_URL / KEYSEAL_KMS_IDENTITY / KEYSEAL_DEV_TOKEN it prints, and
// moto's AWS KMS server (AWS_* and KEYSEAL_AWS_* variables) for the aws-kms snippet.
// Prints "ts: N passed, M failed" (one test per compiler × resolution, one per snippet run).
//
// usage: node scripts/ts-test.mjs KMS_BIN
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { startMoto } from '../js/test/support/moto.mjs';
import { kaclsIssuers, startKacls, tokenServer } from '../js/test/support/kacls.mjs';
import { killAll } from '../js/test/support/processes.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const KMS_BIN = resolve(process.argv[2] ?? join(ROOT, 'target/debug/keyseal-kms'));
/** The oldest TypeScript the package supports, the one the repo builds with, and the newest release. */
const COMPILERS = ['typescript-5.6', 'typescript', 'typescript-7'];
const RESOLUTIONS = {
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { module: 'esnext', moduleResolution: 'bundler' },
};
const READMES = ['README.md', 'pkg-config/README.md'];

let passed = 0, failed = 0;
const ok = (name) => { passed++; console.log(`ok   ${name}`); };
const bad = (name, detail) => { failed++; console.log(`FAIL ${name}\n${detail}`); };

// ----------------------------------------------------------------------------------------------
// a consumer project: the package as `keyseal`, @types/node, the fixtures and the snippets
const work = mkdtempSync(join(tmpdir(), 'keyseal-ts-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
mkdirSync(join(work, 'node_modules'));
symlinkSync(join(ROOT, 'pkg'), join(work, 'node_modules/keyseal'));
symlinkSync(join(ROOT, 'node_modules/@types'), join(work, 'node_modules/@types'));
writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'keyseal-ts-test', private: true, type: 'module' }));
mkdirSync(join(work, 'types'));
for (const f of readdirSync(join(ROOT, 'js/test/types'))) if (f.endsWith('.ts')) copyFileSync(join(ROOT, 'js/test/types', f), join(work, 'types', f));

mkdirSync(join(work, 'readme'));
const snippets = [];
for (const readme of READMES) {
  const text = readFileSync(join(ROOT, readme), 'utf8');
  const re = /^```ts\n([\s\S]*?)^```$/gm;
  let m, n = 0;
  while ((m = re.exec(text))) {
    n++;
    const line = text.slice(0, m.index).split('\n').length;
    const file = `${readme.replace(/[/.]/g, '-')}-${n}.ts`;
    // a snippet is a module (top-level await) even when it imports nothing
    writeFileSync(join(work, 'readme', file), `${m[1]}\nexport {};\n`);
    snippets.push({ file, where: `${readme}:${line}` });
  }
}
if (snippets.length === 0) bad('README snippets', 'no ```ts block found');

// ----------------------------------------------------------------------------------------------
// 1 + 2: type-check everything with each compiler and resolution
for (const compiler of COMPILERS) {
  const tsc = join(ROOT, 'node_modules', compiler, 'bin/tsc');
  const version = spawnSync(process.execPath, [tsc, '--version'], { encoding: 'utf8' }).stdout.trim();
  for (const [res, mod] of Object.entries(RESOLUTIONS)) {
    const config = `tsconfig.${res}.json`;
    writeFileSync(join(work, config), JSON.stringify({
      compilerOptions: {
        ...mod, target: 'es2022', lib: ['es2022', 'dom', 'dom.iterable'], types: ['node'],
        strict: true, noEmit: true, skipLibCheck: false, exactOptionalPropertyTypes: false,
        noUncheckedIndexedAccess: false, noFallthroughCasesInSwitch: true, isolatedModules: true,
      },
      include: ['types/*.ts', 'readme/*.ts'],
    }, null, 2));
    const r = spawnSync(process.execPath, [tsc, '-p', config], { cwd: work, encoding: 'utf8' });
    const name = `tsc ${version} (${res}): ${readdirSync(join(work, 'types')).length} type-test file(s), ${snippets.length} README snippet(s)`;
    if (r.status === 0) ok(name);
    else bad(name, `${r.stdout}${r.stderr}`.split('\n').slice(0, 40).join('\n'));
  }
}

// ----------------------------------------------------------------------------------------------
// run every snippet as written, against a dev key service
const ts = createRequire(join(ROOT, 'package.json'))('typescript');
const db = join(work, 'kms.db');
const kms = spawn(KMS_BIN, ['serve', '--db', db, '--listen', '127.0.0.1:0', '--dev'], { stdio: ['ignore', 'pipe', 'pipe'] });
process.on('exit', () => kms.kill('SIGKILL'));
const env = await new Promise((resolveEnv, reject) => {
  let out = '';
  const t = setTimeout(() => reject(new Error(`keyseal-kms printed no URL in 30 s: ${out}`)), 30_000);
  kms.stdout.on('data', (d) => {
    out += d;
    const vars = Object.fromEntries(out.split('\n').filter((l) => /^KEYSEAL_[A-Z_]+=/.test(l)).map((l) => l.split(/=(.*)/s).slice(0, 2)));
    if (vars.KEYSEAL_KMS_URL && vars.KEYSEAL_KMS_IDENTITY && vars.KEYSEAL_DEV_TOKEN) { clearTimeout(t); resolveEnv(vars); }
  });
  kms.on('exit', (c) => reject(new Error(`keyseal-kms exited (${c}): ${out}`)));
});

// AWS KMS for the aws-kms snippet: moto's server, verifying SigV4 with a real access key
const moto = await startMoto([]);
process.on('exit', () => killAll());
Object.assign(env, {
  AWS_REGION: moto.region,
  AWS_ACCESS_KEY_ID: moto.accessKeyId,
  AWS_SECRET_ACCESS_KEY: moto.secretAccessKey,
  KEYSEAL_AWS_ENDPOINT: moto.auth.url,
  KEYSEAL_AWS_KEY_ARN: moto.auth.keys.main,
});

// A KACLS for the kacls snippet: keyseal-kms serving Google's KACLS API, and the token endpoint an
// app's backend would be (js/test/support/kacls.mjs)
const kaclsSetup = kaclsIssuers(work);
const kaclsKms = await startKacls(work, kaclsSetup);
const tokens = await tokenServer(kaclsSetup.mint, kaclsKms.kaclsUrl);
process.on('exit', () => tokens.close());
Object.assign(env, { KEYSEAL_KACLS_URL: kaclsKms.kaclsUrl, KEYSEAL_KACLS_TOKENS: tokens.url });

for (const s of snippets) {
  const src = readFileSync(join(work, 'readme', s.file), 'utf8');
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const out = join(work, 'readme', s.file.replace(/\.ts$/, '.mjs'));
  writeFileSync(out, js);
  const name = `run ${s.where} (node)`;
  const r = await new Promise((done) => {
    const p = spawn(process.execPath, [out], { cwd: work, env: { ...process.env, ...env, TMPDIR: work }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    p.stdout.on('data', (d) => { log += d; });
    p.stderr.on('data', (d) => { log += d; });
    const t = setTimeout(() => { p.kill('SIGKILL'); log += '\n(killed after 60 s)'; }, 60_000);
    p.on('exit', (code) => { clearTimeout(t); done({ code, log }); });
  });
  if (r.code === 0) ok(name);
  else bad(name, r.log.split('\n').slice(-30).join('\n'));
}

console.log(`ts: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
