// Renders bench/run.mjs results as the generated part of docs/BENCHMARKS.md: machine facts, the
// command, the date, per-runtime tables (median of the runs, min–max), ratios against raw
// WebCrypto and each peer, and every performance goal (the `goals` table below: throughput against
// raw WebCrypto and the ESDK, package size, key-service calls, rotation, flat stream memory) with
// its figure and verdict.

const KiB = 1024;
const MiB = 1024 * 1024;
const sizeName = (s) => (s >= MiB ? `${s / MiB} MiB` : `${s / KiB} KiB`);
const int = (n) => Math.round(n).toLocaleString('en-US');
const num = (n, d = 1) => (n >= 100 ? int(n) : n.toFixed(d));
const ratio = (a, b) => (b > 0 ? a / b : NaN);
const x = (r) => (Number.isFinite(r) ? `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}×` : 'n/a');
const KS = 'keyseal (auto)';

/** "median (min–max)" of ops/s for small payloads, MB/s for the rest. */
function cell(entry, size) {
  if (!entry) return '—';
  const m = size < 64 * KiB ? entry.ops : entry.mbps;
  return `${num(m.median)} (${num(m.min)}–${num(m.max)})`;
}
const med = (tp, size, name, op) => {
  const e = tp?.[size]?.[`${name}|${op}`];
  return e ? (size < 64 * KiB ? e.ops.median : e.mbps.median) : NaN;
};
const subjectsOf = (tp) => [...new Set(Object.values(tp).flatMap((row) => Object.keys(row).map((k) => k.split('|')[0])))];

function throughputTable(run) {
  const tp = run.throughput;
  const sizes = Object.keys(tp).map(Number);
  const head = sizes.flatMap((s) => [`${sizeName(s)} seal`, `${sizeName(s)} open`]);
  const unit = sizes.map((s) => (s < 64 * KiB ? 'ops/s' : 'MB/s'));
  const out = [`| ${run.runtime} | ${head.join(' | ')} |`, `|---|${head.map(() => '---:').join('|')}|`];
  out.push(`| *unit* | ${unit.flatMap((u) => [u, u]).join(' | ')} |`);
  for (const name of subjectsOf(tp)) {
    out.push(`| ${name} | ${sizes.flatMap((s) => ['seal', 'open'].map((op) => cell(tp[s][`${name}|${op}`], s))).join(' | ')} |`);
  }
  return out.join('\n');
}

function ratioTable(run) {
  const tp = run.throughput;
  const sizes = Object.keys(tp).map(Number);
  const head = sizes.flatMap((s) => [`${sizeName(s)} seal`, `${sizeName(s)} open`]);
  const out = [`| keyseal (auto) ÷ … (${run.runtime}) | ${head.join(' | ')} |`, `|---|${head.map(() => '---:').join('|')}|`];
  for (const name of subjectsOf(tp).filter((n) => n !== KS)) {
    out.push(`| ${name} | ${sizes.flatMap((s) => ['seal', 'open'].map((op) => x(ratio(med(tp, s, KS, op), med(tp, s, name, op))))).join(' | ')} |`);
  }
  return out.join('\n');
}

function goals(d) {
  const rows = [];
  const add = (goal, figure, met, why) => rows.push({ goal, figure, met, why });
  const big = 64 * MiB;
  for (const [label, min, peer] of [['64 MiB ≥ 0.8× raw WebCrypto', 0.8, 'raw WebCrypto'], ['64 MiB ≥ 3× ESDK browser (default suite)', 3, 'ESDK browser 0x0578']]) {
    const figs = [];
    let ok = true;
    let measured = true;
    for (const run of [d.node, d.chromium]) {
      for (const op of ['seal', 'open']) {
        const r = ratio(med(run.throughput, big, KS, op), med(run.throughput, big, peer, op));
        if (!Number.isFinite(r)) { measured = false; continue; }
        figs.push(`${run.runtime.split(' ')[0]} ${op} ${x(r)}`);
        if (r < min) ok = false;
      }
    }
    add(label, measured ? figs.join(', ') : 'not measured (`--quick`)', measured ? ok : null,
      'keyseal cuts 64 KiB segments (one cipher call, nonce and tag each) where the raw figure makes 1 MiB calls with no format; in Node it runs node:crypto (OpenSSL) per segment, in Chromium crypto.subtle with 8 segments in flight. Run-to-run spread on this shared 2-core machine is ±30 % (see min–max), so single verdicts near 0.8× flip between runs; a larger `segmentSize` narrows the gap. In Node the seal also returns one fresh 64 MiB buffer, and the first write to each of its pages is the cost: on this VM a 64 MiB `set` into new memory takes about 40 ms, into memory already touched 7 ms, while the raw figure\'s 1 MiB results reuse memory the allocator freed (a seal into a buffer the caller reuses, or `encryptStream`, avoids it).');
  }
  {
    const figs = [];
    let ok = true;
    for (const run of [d.node, d.chromium]) {
      for (const op of ['seal', 'open']) {
        const r = ratio(med(run.throughput, KiB, KS, op), med(run.throughput, KiB, 'ESDK browser 0x0578', op));
        figs.push(`${run.runtime.split(' ')[0]} ${op} ${x(r)}`);
        if (!(r >= 5)) ok = false;
      }
    }
    add('1 KiB records: ops/s ≥ 5× ESDK browser', figs.join(', '), ok, '');
  }
  const pkg = d.size.keysealAsLoaded.gzip;
  add('package ≤ 100 KiB gzip (as loaded: wasm + JS)', `${int(pkg)} B (${(pkg / KiB).toFixed(1)} KiB)`, pkg <= 100 * KiB,
    'the wasm carries the whole SDK policy (key-service client, retries, caches, metrics, HPKE, JSON), not just AES-GCM; see "Package size: why the 100 KiB goal is missed" below.');
  for (const run of [d.node, d.chromium].filter((r) => r.perRecord)) {
    const best = run.perRecord.reduce((a, b) => (b.concurrent.opsPerSec > a.concurrent.opsPerSec ? b : a));
    const name = run.runtime.split(' ')[0];
    add(`${name}: ≥ 1,500 per-record-context encrypts/s (1 KiB, local key service)`,
      run.perRecord.map((r) => `${r.engine}: ${int(r.sequential.opsPerSec)}/s one at a time, ${int(r.concurrent.opsPerSec)}/s with ${r.concurrent.inFlight} in flight`).join('; '),
      best.concurrent.opsPerSec >= 1500,
      'an encrypt alone is one `/generate` round trip; concurrent encrypts share `/generate-batch` requests (up to 50 contexts each, PROTOCOL.md §3.2.1), which is what the in-flight figures show. What bounds the rate: the key service\'s own work per request (token check, a P-256 key pair and ECDH for the HPKE seal and the identity signature, in aws-lc-rs since the key-service work, the wraps and audit rows; see "Key service" below) on the same 2 cores as the client, and in Chromium about 1 ms of main-thread time per `fetch`.');
    const cpu = run.perRecord.filter((r) => r.sequential.cpuMsPerCall !== undefined);
    if (cpu.length) {
      const platform = cpu.reduce((a, b) => (b.sequential.cpuMsPerCall < a.sequential.cpuMsPerCall ? b : a));
      add(`${name}: client CPU ≤ 0.5 ms per key-service round trip`,
        cpu.map((r) => `${r.engine}: ${r.sequential.cpuMsPerCall.toFixed(2)} ms`).join(', '),
        platform.sequential.cpuMsPerCall <= 0.5,
        'process CPU (all threads, user + system) per per-record encrypt, one at a time, with the key-service requests on node:http (the Node entry\'s default transport; `fetch` cost 0.6–0.9 ms more per call). The `node` engine leaves about 0.2 ms of OpenSSL P-256 (a key pair and an ECDH), 0.2–0.3 ms of the wasm SDK (JSON, HKDF, the 1 KiB seal, the header) and node:http itself; the kernel\'s loopback work for each send counts as system time here. Fewer round trips (one `/generate` for many contexts) is the remaining lever.');
    }
  }
  if (d.chromium.coldStart) {
    const cs = d.chromium.coldStart;
    // The goal's figure: import → KeySeal ready, plus an encrypt whose data key is cached (the
    // first encrypt's key-service round trip is the network's, reported beside it).
    const coldMs = cs.createMs + cs.cachedEncryptMs;
    const wasmKB = Math.round((d.size.shipped.find((f) => f.file.endsWith('.wasm'))?.bytes ?? 0) / 1000);
    add('Chromium cold start ≤ 30 ms (import → first encrypt with a cached key)', `import + create ${cs.createMs.toFixed(1)} ms, + an encrypt with the key cached ${cs.cachedEncryptMs.toFixed(2)} ms = **${coldMs.toFixed(1)} ms**; the first encrypt, with its \`/generate\`, done at ${cs.firstEncryptMs.toFixed(1)} ms`,
      coldMs <= 30,
      `a first visit (fresh browser context, empty caches): the browser entry, one module since this round (it was nine, three levels deep), and the ${wasmKB} KB .wasm fetched uncompressed from the loopback page server, the wasm compiled (streaming) and instantiated; \`KeySeal.create\` itself takes about 0.1 ms once the wasm is in. What is left is fetching and compiling the wasm, so its size is the lever (see the package row).`);
  }
  if (d.workerd?.coldStart) {
    const w = d.workerd.coldStart;
    add('workerd cold start (report: fresh isolate → first request done)', `first request ${w.firstRequestMs.toFixed(1)} ms (wasm instantiated, \`KeySeal.create\`, one 1 KiB encrypt with one \`/generate\`); the next request, key cached, ${w.cachedRequestMs.toFixed(1)} ms (miniflare's dispatch from Node included)`,
      'report', 'measured from Node through miniflare: workerd freezes its own clocks during CPU work, so the figure includes one loopback HTTP dispatch per request.');
  }
  const c = d.node.calls;
  add('≤ 1 key-service call per 10,000 encrypts (cache on)', `${c.calls} call(s) for ${int(c.count)} encrypts of ${sizeName(c.size)} with one context`, c.calls <= 1, '');
  // Two rotations: one data key per object (the context names the object, as the demo and the
  // edge worker do) and objects sharing one context (and so, with the cache, one wrapped key).
  const rotRow = (r) => `${x(r.reencryptMs / r.rewrapMs)} in time (${int(r.rewrapMs)} ms vs ${(r.reencryptMs / 1000).toFixed(2)} s), ${x(r.reencryptBytesWritten / r.headerBytesWritten)} fewer bytes written`;
  for (const [label, r, why] of [
    ['one data key per object', d.node.rotation, 'the client\'s CPU bounds it, not the key service: in a profile of the same measurement (1,000 objects, Node\'s inspector profiler) the Node process spends about 35–45 µs per object (in the wasm about 12 µs: the header parse, the question\'s digest, the `/rewrap-batch` JSON and the rebuilt header; the rest JavaScript: promises per read and write, the answers as objects, the store\'s own callbacks), the key service 10–20 µs (unwrap, wrap and audit row per item, one token check and one audit transaction per batch of 100), against about 3 ms to decrypt and re-encrypt a 1 MiB object at concurrency 8 on these 2 cores. This round removed a quadratic lookup (the rewrap memo scanned every remembered answer), two of three header parses and a copy per header, and overlaps the next round\'s reads with this round\'s rewrap; the bytes-written ratio (the storage-side gain: re-encryption reads and rewrites every body byte) is far above 100×.'],
    ['objects sharing a data key', d.node.rotation.shared, 'see the row above.'],
  ]) {
    if (!r) continue;
    add(`header rewrap ≥ 100× faster than re-encryption (${int(r.objects)} × 1 MiB in memory, ${label})`, rotRow(r), r.reencryptMs / r.rewrapMs >= 100, why);
  }
  // Flat = no growth once the stream is running: every checkpoint (64 MiB, 256 MiB, 1 GiB) reads
  // the same linear memory size. The wasm engine's first segments grow it once, at the start.
  for (const m of d.chromium.memory) {
    const at = m.readings.slice(1).map((r) => r.bytes);
    add(`flat stream memory (Chromium, ${m.engine} engine, ${sizeName(m.total)})`,
      `wasm memory ${int(m.readings[0].bytes)} B at start, ${m.readings.slice(1).map((r) => `${int(r.bytes)} B at ${sizeName(r.at)}`).join(', ')}`,
      at.length > 0 && at.every((b) => b === at[0]), '');
  }
  const out = ['| goal | measured | verdict |', '|---|---|---|'];
  for (const r of rows) {
    const verdict = r.met === null ? 'not measured' : r.met === 'report' ? 'reported (no goal)' : r.met ? '**met**' : `**missed**${r.why ? `: ${r.why}` : ''}`;
    out.push(`| ${r.goal} | ${r.figure} | ${verdict} |`);
  }
  return out.join('\n');
}

function nativeTable(native) {
  if (!native) return '_Native figures not collected (run through `make bench`)._';
  const out = ['| payload | seal | open |', '|---|---:|---:|'];
  const bySize = new Map();
  for (const r of native) {
    const xs = [...r.ops_per_sec].sort((a, b) => a - b);
    const m = xs[xs.length >> 1];
    const v = r.size < 64 * KiB ? `${int(m)} ops/s (${int(xs[0])}–${int(xs[xs.length - 1])})` : `${num((m * r.size) / 1e6)} MB/s (${num((xs[0] * r.size) / 1e6)}–${num((xs[xs.length - 1] * r.size) / 1e6)})`;
    bySize.set(r.size, { ...bySize.get(r.size), [r.op]: v });
  }
  for (const [s, v] of bySize) out.push(`| ${sizeName(s)} | ${v.seal} | ${v.open} |`);
  return out.join('\n');
}

export function renderReport(d) {
  const s = d.size;
  const m = d.machine;
  const rot = d.node.rotation;
  return `## Side by side with the peers (\`make bench\`)

Generated by \`make bench\` (\`scripts/bench.sh\` → \`node bench/run.mjs --native … --write docs/BENCHMARKS.md\`) on ${d.date.slice(0, 10)}${d.quick ? ' **with `--quick` (fewer runs and sizes: development only)**' : ''}, in ${Math.round(d.seconds)} s. Machine: ${m.cores} × ${m.cpu}, ${m.memGiB} GiB; ${m.node}; ${m.chromium} (headless, Debian). Each cell is the **median of ${d.runs} runs (min–max)**; runs are interleaved across subjects so machine drift hits all alike; payloads ≥ 8 MiB time one operation per run, smaller ones repeat for 300 ms per run. keyseal runs against a real \`keyseal-kms\` (${m.kmsBuild} build) on 127.0.0.1 with the default cache, so its data key is cached (one key-service call, then none); the peers use local raw AES keyrings / an X25519 identity (no network at all). Throughput is of plaintext bytes.

Subjects:
- **raw WebCrypto**: AES-256-GCM through \`crypto.subtle\` in 1 MiB calls, no format: the limit.
- **keyseal (auto / webcrypto / wasm)**: \`KeySeal.encrypt\` / \`decrypt\` of a whole buffer, 64 KiB segments; \`auto\` is the default: from 16 KiB the platform's AES-GCM (node:crypto in Node, \`crypto.subtle\` in Chromium), the wasm engine below; \`webcrypto\` and \`wasm\` force one engine.
- **ESDK browser 0x0578**: \`@aws-crypto/client-browser\` 4.2, default suite (ECDSA P-384 signed, key commitment) with its default 4 KiB frames, raw AES keyring. **0x0478, 1 MiB frames**: no signature, its best case.
- **ESDK node 0x0578** (Node only): \`@aws-crypto/client-node\` 4.2 (OpenSSL), default suite and frames, raw AES keyring.
- **typage**: \`age-encryption\` 0.3, X25519 recipient, ChaCha20-Poly1305 in 64 KiB chunks (pure JS).

### Node
${throughputTable(d.node)}

${ratioTable(d.node)}

### Chromium
${throughputTable(d.chromium)}

${ratioTable(d.chromium)}

### Native core (Rust, \`cargo bench --bench core\`)
\`keyseal::seal\` / \`open\` with the RustCrypto engine (AES-NI/CLMUL detected at run time), a fresh message id and header per message, 64 KiB segments; median of 5 runs (min–max).

${nativeTable(d.native)}

### Package size
| | bytes | gzip -9 |
|---|---:|---:|
${s.shipped.map((f) => `| keyseal \`${f.file}\` | ${int(f.bytes)} | ${int(f.gzip)} |`).join('\n')}
| **keyseal as loaded** (files above, as shipped) | **${int(s.keysealAsLoaded.bytes)}** | **${int(s.keysealAsLoaded.gzip)}** |
| keyseal, app bundle (esbuild --minify of the browser entry, + .wasm) | ${int(s.keysealBundled.bytes)} | ${int(s.keysealBundled.gzip)} (JS ${int(s.keysealBundled.jsGzip)} + wasm ${int(s.keysealBundled.wasmGzip)}) |
| ESDK browser for raw-AES use (esbuild --minify, \`buffer\` polyfill) | ${int(s.esdk.bytes)} | ${int(s.esdk.gzip)} |
| typage (esbuild --minify) | ${int(s.age.bytes)} | ${int(s.age.gzip)} |

### Key-service calls, rotation, stream memory
- **Key-service calls with the cache on** (Node, default cache: 60 s, 10,000 messages per data key): ${d.node.calls.calls} call(s) for ${int(d.node.calls.count)} encrypts of ${sizeName(d.node.calls.size)} sharing one context (${int(d.node.calls.opsPerSec)} encrypts/s including that call). With a different context per record: ${d.node.calls.perRecord.calls} calls for ${int(d.node.calls.perRecord.count)} encrypts (${int(d.node.calls.perRecord.opsPerSec)} encrypts/s), because the key service binds the context into each wrapped data key, so a cached key only serves its own context; put per-record identifiers in the data or use \`wrapMode: 'public-key'\` (no call on encrypt) for that pattern.
${[d.node, d.chromium].filter((r) => r.perRecord).map((run) => `- **Per-record contexts** (${run.runtime}, ${int(run.perRecord[0].count)} encrypts of ${sizeName(run.perRecord[0].size)}, each under its own context, so each is one \`/generate\`; by P-256 engine, the \`p256\` option): ${run.perRecord.map((r) => `${r.engine} ${int(r.sequential.opsPerSec)}/s one at a time${r.sequential.cpuMsPerCall !== undefined ? ` (${r.sequential.cpuMsPerCall.toFixed(2)} ms client CPU each: ${r.sequential.userMsPerCall.toFixed(2)} user, ${r.sequential.systemMsPerCall.toFixed(2)} system)` : ''}, ${int(r.concurrent.opsPerSec)}/s with ${r.concurrent.inFlight} in flight`).join('; ')}.`).join('\n')}
${[rot, rot.shared].filter(Boolean).map((r) => `- **Rotation, ${r.sharedContext ? 'one context shared by all objects (one data key and wrapped key for all, by the default cache; the rewrap asks the key service once: src/rewrap_memo.rs)' : 'a context naming each object (one data key each)'}** (Node, ${int(r.objects)} objects × 1 MiB in memory, \`keyseal-kms key rotate\` on the live service, concurrency ${r.concurrency}): header-only \`rewrapAll\` **${(r.rewrapMs / 1000).toFixed(2)} s** (${int(r.objects / (r.rewrapMs / 1000))} objects/s), wrote ${int(r.headerBytesWritten)} B of headers, every body byte-identical (checked); decrypt + re-encrypt of the same objects **${(r.reencryptMs / 1000).toFixed(2)} s**, wrote ${int(r.reencryptBytesWritten)} B.`).join('\n')}
${d.chromium.memory.map((mm) => `- **Stream memory** (Chromium, \`encryptStream\` → \`decryptStream\`, ${mm.engine} engine, ${sizeName(mm.total)} generated in 1 MiB chunks): wasm linear memory ${mm.readings.map((r) => `${int(r.bytes)} B at ${r.at ? sizeName(r.at) : 'start'}`).join(', ')}; ${(mm.total / 1e6 / mm.seconds).toFixed(1)} MB/s through both streams.`).join('\n')}

### Goals
${goals(d)}
`;
}
