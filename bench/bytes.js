// Byte helpers shared by the benchmarks (runtime-neutral: Node and the bench page).

export const MiB = 1024 * 1024;

/** `n` random bytes (crypto.getRandomValues, 64 KiB at a time). */
export function fill(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
}
