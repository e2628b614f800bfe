// The page and the worker side of every bundler example. The example's own entry files import
// `keyseal` and create the worker with `new Worker(new URL('./worker.js', import.meta.url),
// { type: 'module' })` — the form the bundlers recognise — and hand both in here.
//
// The page reads the key service from its query string (?kms=URL&token=TOKEN), runs the checks in
// the page, then the same checks in the worker, shows them, and leaves the outcome in
// `window.__keysealChecks` = { passed, failed, results } for the test driver.
import { runChecks } from './checks.js';

function inWorker(makeWorker, kms) {
  return new Promise((resolve) => {
    const fail = (detail) => resolve([{ name: 'worker: ran', ok: false, detail }]);
    let worker;
    try {
      worker = makeWorker();
    } catch (e) {
      fail(String(e));
      return;
    }
    const timer = setTimeout(() => { worker.terminate(); fail('no answer within 60 s'); }, 60_000);
    worker.onmessage = (e) => { clearTimeout(timer); worker.terminate(); resolve(e.data.results); };
    worker.onerror = (e) => { clearTimeout(timer); worker.terminate(); fail(e.message || 'worker error'); };
    worker.postMessage({ kms });
  });
}

export async function runPage(keyseal, makeWorker) {
  const q = new URLSearchParams(location.search);
  const kms = { url: q.get('kms'), token: q.get('token') };
  const results = await runChecks(keyseal, kms, 'page');
  if (makeWorker) results.push(...await inWorker(makeWorker, kms));
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  const list = document.createElement('ul');
  for (const r of results) {
    const li = document.createElement('li');
    li.textContent = `${r.ok ? 'ok' : 'FAILED'} ${r.name}${r.detail ? ` — ${r.detail}` : ''}`;
    list.append(li);
  }
  document.body.append(list);
  window.__keysealChecks = { passed, failed, results };
  console.log(`keyseal checks: ${passed} passed, ${failed} failed`);
}

export function serveWorker(keyseal) {
  self.onmessage = async (e) => {
    self.postMessage({ results: await runChecks(keyseal, e.data.kms, 'worker') });
  };
}
