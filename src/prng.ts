// A small seeded PRNG: a given seed replays the same ids, addresses, ERROR outcomes and test cases.

export type Rng = () => number;

/** mulberry32: fast, 32-bit state, good enough for test fixtures (not for secrets). */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomHex(rng: Rng, chars: number): string {
  let out = '';
  while (out.length < chars) out += Math.floor(rng() * 0x100000000).toString(16).padStart(8, '0');
  return out.slice(0, chars);
}

/** A version-4-shaped UUID drawn from the seeded stream. */
export function randomUuid(rng: Rng): string {
  const h = randomHex(rng, 32);
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
