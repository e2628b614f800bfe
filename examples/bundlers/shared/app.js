// The page and the worker side of every bundler example. The example's own entry files import
// `keyseal` and create the worker with `new Worker(new URL('./worker.js', import.meta.url),
// { type: 'module' })` — the form the bundlers recognise — and hand both in here.
//
// The page reads the key service from its query string (?kms=URL&token=TOKEN), runs the checks in
// the page, then the same checks in the worker, shows them, and leaves the outcome in
// `window.__keysealChecks` = { passed, failed, results } for the test driver.
//
// An example may also hand in `registerServiceWorker` (Vite's production build does): the page
// registers a module Service Worker that calls serveServiceWorker(keyseal), waits until it
// controls the page, and asks it over a MessageChannel to run the same checks.
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

async function inServiceWorker(register, kms) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('no answer within 60 s')), 60_000); });
  const ask = async () => {
    const registration = await register();
    const sw = navigator.serviceWorker;
    // the worker calls clients.claim() when it activates
    if (!sw.controller) await new Promise((r) => sw.addEventListener('controllerchange', r, { once: true }));
    const controls = {
      name: `service worker: registered as a module, active and controlling the page (scope ${new URL(registration.scope).pathname})`,
      ok: new URL(sw.controller.scriptURL).pathname === new URL(registration.active.scriptURL).pathname,
    };
    const channel = new MessageChannel();
    const answer = new Promise((r) => { channel.port1.onmessage = (e) => r(e.data.results); });
    sw.controller.postMessage({ kms }, [channel.port2]);
    return [controls, ...await answer];
  };
  try {
    return await Promise.race([ask(), timeout]);
  } catch (e) {
    return [{ name: 'service worker: ran', ok: false, detail: String((e && e.stack) || e) }];
  } finally {
    clearTimeout(timer);
  }
}

export async function runPage(keyseal, makeWorker, registerServiceWorker) {
  const q = new URLSearchParams(location.search);
  const kms = { url: q.get('kms'), token: q.get('token') };
  const results = await runChecks(keyseal, kms, 'page');
  if (makeWorker) results.push(...await inWorker(makeWorker, kms));
  if (registerServiceWorker) results.push(...await inServiceWorker(registerServiceWorker, kms));
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

// In a module Service Worker: take over at once (skipWaiting, clients.claim) so the page that
// registered it is controlled, and answer { kms } messages on the port that came with them.
// Uncaught errors go to the console, where the test driver sees them.
export function serveServiceWorker(keyseal) {
  self.addEventListener('install', () => self.skipWaiting());
  self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));
  self.addEventListener('error', (e) => console.error(`service worker: uncaught ${e.message}`));
  self.addEventListener('unhandledrejection', (e) => console.error(`service worker: unhandled rejection ${e.reason}`));
  self.addEventListener('message', (e) => {
    // waitUntil keeps the worker alive until the checks have answered
    e.waitUntil(runChecks(keyseal, e.data.kms, 'service worker').then((results) => e.ports[0].postMessage({ results })));
  });
}
