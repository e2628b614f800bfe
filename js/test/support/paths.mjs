// Where things are, for every test runner and tool: the repository root, the built package, the
// npm binaries, and cargo's target directory (CARGO_TARGET_DIR when set, as in a git worktree that
// builds into its own target/, else target/ at the root).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const PKG = join(ROOT, 'pkg');
export const NODE_BIN = join(ROOT, 'node_modules/.bin');
export const TARGET = process.env.CARGO_TARGET_DIR ? resolve(ROOT, process.env.CARGO_TARGET_DIR) : join(ROOT, 'target');

/** A path under cargo's target directory, e.g. `target('debug/examples/open_sealed')`. */
export const target = (rel) => join(TARGET, rel);
