// The one place that parses and formats hex: 64-bit values as 0x-prefixed lowercase hex
// strings (cases.md), byte strings as plain hex.

export interface Hex64 {
  lo: number;
  hi: number;
}

const HEX64 = /^0x[0-9a-fA-F]{1,16}$/;

/** "0x..." -> halves (lo and hi as int32). Throws on a malformed string. */
export function parseHex64(s: string): Hex64 {
  if (!HEX64.test(s)) throw new Error(`'${s}' is not a 0x-prefixed hex number of at most 64 bits`);
  const digits = s.slice(2).padStart(16, "0");
  return { hi: parseInt(digits.slice(0, 8), 16) | 0, lo: parseInt(digits.slice(8), 16) | 0 };
}

/** "0x..." -> number; the value must fit in 53 bits (addresses, sizes). */
export function parseHexNumber(s: string): number {
  const v = parseHex64(s);
  const hi = v.hi >>> 0;
  if (hi >= 1 << 21) throw new Error(`'${s}' is too large for an address`);
  return hi * 4294967296 + (v.lo >>> 0);
}

/** Halves -> "0x..." (lowercase, no leading zeros). */
export function hex64(lo: number, hi: number): string {
  const h = hi >>> 0;
  const l = lo >>> 0;
  if (h === 0) return `0x${l.toString(16)}`;
  return `0x${h.toString(16)}${l.toString(16).padStart(8, "0")}`;
}

/** A non-negative integer or a signed 64-bit RIP/address number -> "0x..." (two's complement). */
export function hexNumber(n: number): string {
  if (n >= 0) return hex64(n % 4294967296, Math.floor(n / 4294967296));
  return hex64(n % 4294967296 | 0, Math.floor(n / 4294967296) | 0);
}

/** Plain hex bytes (whitespace allowed between bytes) -> bytes. */
export function parseBytes(s: string): Uint8Array {
  const t = s.replace(/\s+/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(t)) throw new Error("not a string of hex bytes");
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function formatBytes(b: ArrayLike<number>): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += (b[i]! & 0xff).toString(16).padStart(2, "0");
  return s;
}
