// Wide integer arithmetic on 32-bit words, exact, without BigInt: the products of MUL and
// IMUL and the quotients of DIV and IDIV. Words are unsigned 32-bit numbers, least
// significant first.

const TWO32 = 4294967296;

/** Unsigned 32 x 32 -> 64: returns the low word, the high word in `w.hi`. */
export const w = { hi: 0 };
export function mulU32(a: number, b: number): number {
  a >>>= 0;
  b >>>= 0;
  const t0 = a * (b & 0xffff); // < 2^48: exact
  const t1 = a * (b >>> 16); // < 2^48: exact
  const t1lo = t1 % 65536;
  const s = t0 + t1lo * 65536; // < 2^49: exact
  const lo = s % TWO32;
  w.hi = Math.floor(s / TWO32) + (t1 - t1lo) / 65536;
  // (t1 - t1lo) / 65536 = floor(t1 / 2^16); the sum is the high word (< 2^32).
  w.hi = w.hi % TWO32;
  return lo;
}

/** Unsigned 64 x 64 -> 128: the four words of the product. */
export function mulU64(aLo: number, aHi: number, bLo: number, bHi: number): [number, number, number, number] {
  const r = [0, 0, 0, 0];
  const a = [aLo >>> 0, aHi >>> 0];
  const b = [bLo >>> 0, bHi >>> 0];
  for (let i = 0; i < 2; i++) {
    let carry = 0;
    for (let j = 0; j < 2; j++) {
      const lo = mulU32(a[i]!, b[j]!);
      const hi = w.hi;
      // r[i+j] + lo + carry < 3 * 2^32: exact.
      const s = r[i + j]! + lo + carry;
      r[i + j] = s % TWO32;
      carry = hi + Math.floor(s / TWO32);
    }
    r[i + 2] = r[i + 2]! + carry;
  }
  return [r[0]!, r[1]!, r[2]! % TWO32, r[3]! % TWO32];
}

/** Signed 64 x 64 -> 128 (two's complement words). */
export function mulS64(aLo: number, aHi: number, bLo: number, bHi: number): [number, number, number, number] {
  const p = mulU64(aLo, aHi, bLo, bHi);
  // Signed product = unsigned product - (a<0 ? b<<64 : 0) - (b<0 ? a<<64 : 0).
  let h0 = p[2];
  let h1 = p[3];
  if ((aHi | 0) < 0) [h0, h1] = sub64(h0, h1, bLo >>> 0, bHi >>> 0);
  if ((bHi | 0) < 0) [h0, h1] = sub64(h0, h1, aLo >>> 0, aHi >>> 0);
  return [p[0], p[1], h0, h1];
}

function sub64(aLo: number, aHi: number, bLo: number, bHi: number): [number, number] {
  let lo = aLo - bLo;
  let borrow = 0;
  if (lo < 0) {
    lo += TWO32;
    borrow = 1;
  }
  let hi = aHi - bHi - borrow;
  if (hi < 0) hi += TWO32;
  return [lo, hi];
}

/**
 * Unsigned division of the 128-bit n (words n0..n3) by the 64-bit d (d0, d1, non-zero).
 * Returns [q0, q1, q2, q3, r0, r1].
 */
export function divU128(
  n0: number, n1: number, n2: number, n3: number, d0: number, d1: number,
): [number, number, number, number, number, number] {
  const n = [n0 >>> 0, n1 >>> 0, n2 >>> 0, n3 >>> 0];
  d0 >>>= 0;
  d1 >>>= 0;
  if (d1 === 0) {
    // Divisor below 2^32: long division by 16-bit digits keeps every step below 2^48.
    const q = [0, 0, 0, 0];
    let rem = 0;
    for (let k = 3; k >= 0; k--) {
      const hiPart = rem * 65536 + (n[k]! >>> 16);
      const qh = Math.floor(hiPart / d0);
      rem = hiPart - qh * d0;
      const loPart = rem * 65536 + (n[k]! & 0xffff);
      const ql = Math.floor(loPart / d0);
      rem = loPart - ql * d0;
      q[k] = qh * 65536 + ql;
    }
    return [q[0]!, q[1]!, q[2]!, q[3]!, rem, 0];
  }
  // Binary restoring division: 128 steps on a 64-bit remainder (kept below 2^65).
  const q = [0, 0, 0, 0];
  let rLo = 0;
  let rHi = 0;
  for (let bit = 127; bit >= 0; bit--) {
    const inBit = (n[bit >>> 5]! >>> (bit & 31)) & 1;
    // r = r * 2 + inBit (r < d < 2^64, so r * 2 < 2^65: track the carry out).
    const carryOut = rHi >>> 31;
    rHi = ((rHi << 1) | (rLo >>> 31)) >>> 0;
    rLo = ((rLo << 1) | inBit) >>> 0;
    if (carryOut === 1 || rHi > d1 || (rHi === d1 && rLo >= d0)) {
      [rLo, rHi] = sub64(rLo, rHi, d0, d1);
      q[bit >>> 5] = (q[bit >>> 5]! | (1 << (bit & 31))) >>> 0;
    }
  }
  return [q[0]!, q[1]!, q[2]!, q[3]!, rLo, rHi];
}

/** Two's complement negation of a 128-bit value in words. */
export function neg128(x: number[]): number[] {
  const out = [0, 0, 0, 0];
  let carry = 1;
  for (let k = 0; k < 4; k++) {
    const s = (~x[k]! >>> 0) + carry;
    out[k] = s % TWO32;
    carry = s >= TWO32 ? 1 : 0;
  }
  return out;
}
