// The provider's HTTP API, as the page uses it. The provider only ever receives sealed bytes.

async function json(r) {
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(body.message || `HTTP ${r.status}`), { name: 'ProviderError' });
  return body;
}

export const config = () => fetch('/demo/config', { cache: 'no-store' }).then(json);
export const status = () => fetch('/demo/status', { cache: 'no-store' }).then(json);
export const list = () => fetch('/api/objects', { cache: 'no-store' }).then(json).then((b) => b.objects);
export const remove = (id) => fetch(`/api/objects/${encodeURIComponent(id)}`, { method: 'DELETE' }).then(json);

/** Security-team actions the demo server performs: rotate | disable | enable | primary/stop | primary/start. */
export const control = (action) => fetch(`/demo/control/${action}`, { method: 'POST' }).then(json);

/**
 * Uploads a Blob with upload progress. XMLHttpRequest, because fetch has no upload progress and
 * Chromium streams fetch request bodies only over HTTP/2 (the demo server speaks HTTP/1.1); a Blob
 * built from the sealed stream is backed by disk in Chromium when large, so memory stays bounded.
 */
export function upload(id, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', `/api/objects/${encodeURIComponent(id)}`);
    x.setRequestHeader('content-type', 'application/octet-stream');
    x.upload.onprogress = (e) => onProgress?.(e.loaded, blob.size);
    x.onload = () => (x.status < 300 ? resolve(JSON.parse(x.responseText)) : reject(Object.assign(new Error(`upload failed: HTTP ${x.status} ${x.responseText}`), { name: 'ProviderError' })));
    x.onerror = () => reject(Object.assign(new Error('upload failed: network error'), { name: 'ProviderError' }));
    x.send(blob);
  });
}

/** The stored object as a stream, and its size. */
export async function download(id) {
  const r = await fetch(`/api/objects/${encodeURIComponent(id)}`, { cache: 'no-store' });
  if (!r.ok) await json(r);
  return { body: r.body, size: Number(r.headers.get('content-length')) };
}

/** Bytes [start, end) through an HTTP Range request (what readHeader and decryptRange use). */
export async function readRange(id, start, end) {
  const r = await fetch(`/api/objects/${encodeURIComponent(id)}`, { headers: { Range: `bytes=${start}-${end - 1}` }, cache: 'no-store' });
  if (r.status !== 206 && r.status !== 200) await json(r);
  return new Uint8Array(await r.arrayBuffer());
}

/** Replaces the header, keeping the body; the provider answers with the body's SHA-256 before/after. */
export function writeHeader(id, header, bodyOffset) {
  return fetch(`/api/objects/${encodeURIComponent(id)}/header?bodyOffset=${bodyOffset}`, {
    method: 'PUT', body: header, headers: { 'content-type': 'application/octet-stream' },
  }).then(json);
}
