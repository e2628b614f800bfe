// Debian's headless Chromium through playwright-core, as every browser test, the demo test and the
// benchmarks start it. Running as root, Chromium refuses to start without --no-sandbox; without the
// background-networking flags it keeps dialling Google hosts, which this machine's closed network
// refuses (slow starts, console noise).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './paths.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROME_ARGS = ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/** Launches Chromium (`CHROMIUM` overrides the binary); `extraArgs` are appended to the flags. */
export async function launchChromium({ extraArgs = [], timeout = 60_000 } = {}) {
  const { chromium } = await import(pathToFileURL(join(ROOT, 'node_modules/playwright-core/index.mjs')).href);
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROME_ARGS, ...extraArgs], timeout });
}
