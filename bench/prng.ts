/** A small seeded generator (xorshift128+ on 32-bit halves): same seed, same tree, on every run. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  /** Log-uniform integer in [min, max]: many small values, a few large ones. */
  logInt(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  /** Fills `length` bytes with pseudo-random (incompressible) data. */
  bytes(length: number): Buffer;
}

export function createRng(seed: number): Rng {
  // splitmix32 to spread the seed over the four words of state
  let s = seed >>> 0;
  const split = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split() | 1;
  let b = split();
  let c = split();
  let d = split();
  const word = (): number => {
    // xoshiro128** (32-bit)
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  const next = (): number => word() / 4294967296;
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    logInt: (min, max) =>
      Math.min(
        max,
        Math.floor(Math.exp(Math.log(min) + next() * (Math.log(max + 1) - Math.log(min)))),
      ),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    bytes(length) {
      const words = new Uint32Array(Math.ceil(length / 4));
      for (let i = 0; i < words.length; i++) words[i] = word();
      return Buffer.from(words.buffer, 0, length);
    },
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
