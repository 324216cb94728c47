/** Deterministic test bytes (xorshift32): the same seed gives the same bytes on every run. */

/** A generator of pseudo-random bytes that keeps its state between calls. */
export function xorshiftBytes(seed: number): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out[i] = x & 0xff;
    }
    return out;
  };
}

/** `n` pseudo-random bytes from `seed`. */
export function pseudoRandomBytes(seed: number, n: number): Uint8Array {
  return xorshiftBytes(seed)(n);
}
