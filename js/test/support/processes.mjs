// Process hygiene for every test runner and tool that starts processes (key services, runtimes,
// workerd, the demo server): each child is tracked from the moment it is spawned, and all of them
// are killed on every way out of the Node process — a normal end, an uncaught error, SIGINT,
// SIGTERM or SIGHUP, or the runner's own time limit (`giveUpAfter`).
//
// KEYSEAL_PIDFILE: when set, the pid of every tracked child (and of any process handed to
// `trackPid`) is appended to that file, so a wrapper script can still kill them when this process
// itself is killed with SIGKILL (e.g. by `timeout -k`). Processes that import this module inherit
// the variable, so grandchildren (the demo server's key services) are listed too.

import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';

const children = new Set();
const foreign = new Set(); // pids we did not spawn ourselves (workerd under miniflare)
const PIDFILE = process.env.KEYSEAL_PIDFILE;

function record(pid) {
  if (PIDFILE && pid) {
    try { appendFileSync(PIDFILE, `${pid}\n`); } catch { /* the wrapper went away: nothing to tell */ }
  }
}

/** True while `child` has neither exited nor been killed by a signal. */
export const running = (child) => child.exitCode === null && child.signalCode === null;

/** Registers `child` for cleanup; returns it. */
export function track(child) {
  children.add(child);
  record(child.pid);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Registers a process this runner did not spawn itself but must not leave behind. */
export function trackPid(pid) {
  foreign.add(pid);
  record(pid);
}

/** `spawn` + `track`. */
export function spawnTracked(cmd, args, options) {
  return track(spawn(cmd, args, options));
}

/** Resolves once `child` has exited (at once if it already has). */
export function exited(child) {
  return running(child) ? new Promise((r) => child.once('exit', () => r())) : Promise.resolve();
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stop(child, { graceMs = 3000 } = {}) {
  if (!running(child)) return;
  const gone = exited(child);
  const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, graceMs);
  try { child.kill('SIGTERM'); } catch { /* gone */ }
  await gone;
  clearTimeout(t);
}

/** SIGKILL to every tracked process, at once (safe to call more than once, and from 'exit'). */
export function killAll() {
  for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
  children.clear();
  for (const pid of foreign) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  foreign.clear();
}

/** SIGTERM to every tracked child, SIGKILL to what is left after `graceMs`. */
export async function stopAll({ graceMs = 1500 } = {}) {
  await Promise.all([...children].map((c) => stop(c, { graceMs })));
  killAll();
}

// A signal ends the runner: by default every child is killed and the process exits with 130.
// A runner that must say something first (its count line) or stop gracefully sets its own handler.
let signalHandler = () => { killAll(); process.exit(130); };
/** Replaces what a SIGINT/SIGTERM/SIGHUP does; `handler(signalName)`. Children are killed on exit anyway. */
export function onSignal(handler) { signalHandler = handler; }

process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, (s) => signalHandler(s));

/**
 * The runner's overall time limit: after `ms`, `onTimeout()` runs (to print the runner's count
 * line), then every child is killed and the process exits with status 1. The timer does not keep
 * the process alive.
 */
export function giveUpAfter(ms, onTimeout = () => {}) {
  const t = setTimeout(() => {
    try { onTimeout(); } finally { killAll(); process.exit(1); }
  }, ms);
  t.unref();
  return t;
}
