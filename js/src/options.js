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


// Shapes: a nested object, `[shape]` for an array of them, or the type of a leaf: 'string',
// 'number', 'count' (a whole number ≥ 0), 'boolean', 'function', 'strings' (an array of strings), 'urls' (a string or an array
// of strings), 'cache' (false or an object). Undefined and null mean "not given".
const SERVICE = {
  id: 'string', kind: 'string', urls: 'urls', keyId: 'string', identity: 'string',
  region: 'string', endpoint: 'string', credentials: 'function', // aws-kms
  resourceNameKey: 'string', acceptPlaintextKeyAnswers: 'boolean', authentication: 'function', authorization: 'function', // kacls
};
const CACHE = { maxAgeMs: 'number', maxMessages: 'count', maxBytes: 'count', maxEntries: 'count' };
/** Every option `KeySeal.create` takes (js/types/index.d.ts). */
const CREATE = {
  keyService: SERVICE,
  keyId: 'string',
  escrow: [SERVICE],
  token: 'function',
  cache: 'cache',
  timeoutMs: 'count',
  deadlineMs: 'count',
  retry: { attemptTimeoutMs: 'count', deadlineMs: 'count', maxRounds: 'count', backoffBaseMs: 'count', backoffMaxMs: 'count', breakerThreshold: 'count', breakerCooldownMs: 'count' },
  wrapMode: 'string',
  allowPlaintextKeys: 'boolean',
  segmentSize: 'count',
  reason: 'string',
  engine: 'string',
  p256: 'string',
  transport: 'string',
  decrypt: { allowKeyIds: 'strings', acceptPublicKeyEntries: 'boolean' },
  onEvent: 'function',
  traceparent: 'function',
};

const describe = (v) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);
const strings = (v) => Array.isArray(v) && v.every((x) => typeof x === 'string');
const LEAF = {
  string: [(v) => typeof v === 'string', 'a string'],
  number: [(v) => typeof v === 'number' && Number.isFinite(v), 'a finite number'],
  count: [(v) => Number.isSafeInteger(v) && v >= 0, 'a whole number ≥ 0'],
  boolean: [(v) => typeof v === 'boolean', 'true or false'],
  function: [(v) => typeof v === 'function', 'a function'],
  strings: [strings, 'an array of strings'],
  urls: [(v) => typeof v === 'string' || strings(v), 'a URL or an array of URLs'],
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

const wrongType = (path, want, v) => new InvalidArgumentError(`invalid argument: ${path}: must be ${want} (got ${describe(v)})`);

/**
 * Checks the names and types of `KeySeal.create`'s options at every level, naming the option's
 * path (a typo such as `cahce` must not be silently ignored). Values (URLs, ranges, enums) are
 * checked by the core (wasm/src/options.rs).
 */
export function checkCreateOptions(options, shape = CREATE, path = 'options') {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options)) throw wrongType(path, 'an object', options);
  const allowed = Object.keys(shape);
  for (const [k, v] of Object.entries(options)) {
    const sub = shape[k];
    const at = `${path}.${k}`;
    if (sub === undefined) throw unknownOption(path, k, allowed);
    if (v === undefined || v === null) continue;
    if (Array.isArray(sub)) {
      if (!Array.isArray(v)) throw wrongType(at, 'an array', v);
      v.forEach((x, i) => checkCreateOptions(x, sub[0], `${at}[${i}]`));
    } else if (sub === 'cache') {
      if (v !== false) checkCreateOptions(v, CACHE, at);
    } else if (typeof sub === 'object') {
      checkCreateOptions(v, sub, at);
    } else if (!LEAF[sub][0](v)) {
      throw wrongType(at, LEAF[sub][1], v);
    }
  }
}
