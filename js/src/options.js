// The option objects of the methods: a name a method does not take is refused (a typo, or an
// option of the opposite direction that would otherwise check nothing). `KeySeal.create`'s options
// are checked in Rust (wasm/src/options.rs).
import { InvalidArgumentError } from './errors.js';

/** What a misplaced option name most likely meant, per method kind. */
const MEANT = {
  open: { context: 'requireContext', sign: 'requireSigned' },
  seal: { requireContext: 'context', requireSigned: 'sign' },
};

/**
 * Refuses option names `method` does not take: a typo, or `context` given to decrypt, which would
 * otherwise check nothing (the natural mistake for `requireContext`).
 */
export function known(options, allowed, method, kind) {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object') throw new InvalidArgumentError(`${method}: options must be an object`);
  for (const k of Object.keys(options)) {
    if (allowed.includes(k)) continue;
    const meant = MEANT[kind]?.[k];
    throw new InvalidArgumentError(meant
      ? `${method}: unknown option '${k}'; did you mean '${meant}'?`
      : `${method}: unknown option '${k}' (it takes ${allowed.map((a) => `'${a}'`).join(', ')})`);
  }
  return options;
}


const SERVICE = { id: 1, kind: 1, urls: 1, keyId: 1, identity: 1, region: 1, endpoint: 1, credentials: 1 };
/** Every option `KeySeal.create` takes, nested objects by their own names (js/types/index.d.ts). */
const CREATE = {
  keyService: SERVICE,
  keyId: 1,
  escrow: [SERVICE],
  token: 1,
  cache: { maxAgeMs: 1, maxMessages: 1, maxBytes: 1, maxEntries: 1 },
  timeoutMs: 1,
  deadlineMs: 1,
  retry: { attemptTimeoutMs: 1, deadlineMs: 1, maxRounds: 1, backoffBaseMs: 1, backoffMaxMs: 1, breakerThreshold: 1, breakerCooldownMs: 1 },
  wrapMode: 1,
  allowPlaintextKeys: 1,
  segmentSize: 1,
  reason: 1,
  engine: 1,
  p256: 1,
  transport: 1,
  decrypt: { allowKeyIds: 1, acceptPublicKeyEntries: 1 },
  onEvent: 1,
  traceparent: 1,
};

/** Edit distance of two short names (for "did you mean"). */
function distance(a, b) {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

function unknownOption(path, name, allowed) {
  const near = allowed
    .map((a) => [a, a.toLowerCase() === name.toLowerCase() ? 0 : distance(a, name)])
    .filter(([a, d]) => d <= 2 || a.startsWith(name) || name.startsWith(a))
    .sort((x, y) => x[1] - y[1])[0];
  const hint = near ? `did you mean '${near[0]}'?` : `it takes ${allowed.map((a) => `'${a}'`).join(', ')}`;
  return new InvalidArgumentError(`invalid argument: ${path}.${name}: unknown option; ${hint}`);
}

/**
 * Refuses option names `KeySeal.create` does not take, at every level (a typo such as `cahce`
 * must not be silently ignored). Values are checked by the core (wasm/src/options.rs).
 */
export function checkCreateOptions(options, shape = CREATE, path = 'options') {
  if (options === undefined || options === null || typeof options !== 'object' || Array.isArray(options)) return;
  const allowed = Object.keys(shape);
  for (const [k, v] of Object.entries(options)) {
    const sub = shape[k];
    if (sub === undefined) throw unknownOption(path, k, allowed);
    if (Array.isArray(sub) && Array.isArray(v)) v.forEach((x, i) => checkCreateOptions(x, sub[0], `${path}.${k}[${i}]`));
    else if (typeof sub === 'object' && !Array.isArray(sub)) checkCreateOptions(v, sub, `${path}.${k}`);
  }
}
