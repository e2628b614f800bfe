// Debian's headless Chromium through playwright-core, as every browser test and benchmark here
// starts it (TOOLCHAIN.md: as root --no-sandbox is needed, and without the background-networking
// flags Chromium keeps dialling Google hosts this machine's closed network refuses).
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROME_ARGS = ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/** Launches Chromium (`CHROMIUM` overrides the binary); `extraArgs` are appended to the flags. */
export async function launchChromium({ extraArgs = [], timeout = 60_000 } = {}) {
  const { chromium } = await import(pathToFileURL(join(ROOT, 'node_modules/playwright-core/index.mjs')).href);
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROME_ARGS, ...extraArgs], timeout });
}
