// A small, fast, seeded pseudo-random generator (xoshiro128**, seeded through splitmix32),
// so synthetic checkpoints are reproducible bit for bit on every platform. Not for
// cryptography.

/** splitmix32 step: a well-mixed 32-bit value from a 32-bit state. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over the UTF-16 code units of a string, for deriving named sub-streams. */
export function hashString(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const TWO_POW_32 = 4294967296;

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare = NaN;

  /**
   * `seed` is any finite number (its integer part, taken modulo 2^53, is used); `stream`
   * names an independent sequence for the same seed (e.g. a tensor name), so values
   * do not depend on the order in which streams are drawn.
   */
  constructor(seed: number, stream = '') {
    const intSeed = Math.trunc(Number.isFinite(seed) ? seed : 0);
    const lo = intSeed >>> 0;
    const hi = Math.floor(Math.abs(intSeed) / TWO_POW_32) >>> 0;
    const st = { s: (lo ^ Math.imul(hi, 0x27d4eb2d) ^ hashString(stream)) | 0 };
    // Fold the high part in a second time through the mixer so seeds 2^32 apart differ.
    st.s = (splitmix32(st) ^ hi ^ hashString(stream, 0x9747b28c)) | 0;
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // the all-zero state is a fixed point
  }

  /** Next uniformly distributed unsigned 32-bit integer (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1), 53 bits of precision. */
  float(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    let u = this.float();
    while (u === 0) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * v;
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Fills `out` with U(lo, hi) (32-bit resolution, enough for float32 weights). */
  fillUniform(out: Float32Array, lo: number, hi: number): Float32Array {
    const scale = (hi - lo) / TWO_POW_32;
    for (let i = 0; i < out.length; i++) out[i] = lo + this.nextU32() * scale;
    return out;
  }

  /** Fills `out` with N(mean, std). */
  fillNormal(out: Float32Array, mean: number, std: number): Float32Array {
    const n = out.length;
    let i = 0;
    if (!Number.isNaN(this.spare) && n > 0) {
      out[i++] = mean + std * this.spare;
      this.spare = NaN;
    }
    for (; i + 1 < n; i += 2) {
      let u = this.nextU32();
      while (u === 0) u = this.nextU32();
      const v = this.nextU32();
      const r = std * Math.sqrt(-2 * Math.log(u / TWO_POW_32));
      const theta = (2 * Math.PI / TWO_POW_32) * v;
      out[i] = mean + r * Math.cos(theta);
      out[i + 1] = mean + r * Math.sin(theta);
    }
    if (i < n) out[i] = mean + std * this.normal();
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
