// The OTLP/HTTP trace receiver of the tracing tests (kms/tests/support/otlp_receiver.py, shared with
// kms/tests/tracing.rs): a Python server on loopback that decodes every export with the official
// OpenTelemetry proto definitions (PyPI opentelemetry-proto, in the venv scripts/bootstrap.sh makes
// at target/otlp-venv) and lists the spans it received (GET /spans?trace_id=HEX).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnTracked } from './processes.mjs';
import { withTimeout } from './net.mjs';
import { ROOT } from './paths.mjs';

export const OTLP_VENV = process.env.KEYSEAL_OTLP_VENV || join(ROOT, 'target/otlp-venv');
const PY = join(OTLP_VENV, 'bin/python');
const RECEIVER = join(ROOT, 'kms/tests/support/otlp_receiver.py');

/** Starts the receiver on a free loopback port → its base URL (`http://127.0.0.1:PORT`). */
export async function startOtlpReceiver() {
  if (!existsSync(PY)) throw new Error(`${OTLP_VENV} missing: run scripts/bootstrap.sh (it makes the OTLP receiver's venv)`);
  const child = spawnTracked(PY, [RECEIVER, '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /OTLP_RECEIVER_URL=(\S+)/.exec(buf);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`OTLP receiver exited (${code}) before listening`)));
  });
  return withTimeout(url, 30_000, 'OTLP receiver start');
}
