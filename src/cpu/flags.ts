// Lazy arithmetic flags (the scheme of Bochs' lazy_flags.h).
//
// An arithmetic instruction records three 32-bit words instead of computing six flags:
//   res    the low 32 bits of the result, sign-extended from the operand size
//   resHi  the high 32 bits of a 64-bit result (for narrower sizes: res >> 31)
//   aux    the carry (or borrow) vector, folded so that
//            bit 31 = carry out of the most significant bit          -> CF
//            bit 30 = carry out of the bit below it (CF ^ OF)       -> OF = b31 ^ b30
//            bit 3  = carry out of bit 3                           -> AF
//          plus two correction fields used when flags are set explicitly:
//            bit 0      = SD, flips SF
//            bits 8..15 = PDB, xored into the low result byte before the parity lookup
// ZF, SF and PF come from the result; CF, OF and AF from the carry vector.

export const CF = 1 << 0;
export const PF = 1 << 2;
export const AF = 1 << 4;
export const ZF = 1 << 6;
export const SF = 1 << 7;
export const TF = 1 << 8;
export const IF = 1 << 9;
export const DF = 1 << 10;
export const OF = 1 << 11;
export const IOPL = 3 << 12;
export const NT = 1 << 14;
export const RF = 1 << 16;
export const VM = 1 << 17;
export const AC = 1 << 18;
export const VIF = 1 << 19;
export const VIP = 1 << 20;
export const ID = 1 << 21;

/** The six status flags that live in the lazy state. */
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;
/** RFLAGS bits that exist; the rest are reserved (bit 1 always reads 1). */
export const RFLAGS_DEFINED = ARITH_FLAGS | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;
export const RFLAGS_FIXED1 = 1 << 1;

/** 1 where the byte has even parity (PF = 1). */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i;
  b ^= b >> 4;
  b ^= b >> 2;
  b ^= b >> 1;
  PARITY[i] = (b & 1) ^ 1;
}

/** aux word for explicitly chosen CF, OF, AF (each 0 or 1). */
export function auxOf(cf: number, of: number, af: number): number {
  return (cf << 31) | ((cf ^ of) << 30) | (af << 3);
}

/** Fold an 8-, 16- or 32-bit carry/borrow vector into the aux word. */
export function aux8(v: number): number {
  return ((v << 24) & 0xc0000000) | (v & 8);
}
export function aux16(v: number): number {
  return ((v << 16) & 0xc0000000) | (v & 8);
}
export function aux32(v: number): number {
  return v & 0xc0000008;
}
/** 64-bit: CF/OF from the high word's vector, AF from the low word's. */
export function aux64(vLo: number, vHi: number): number {
  return (vHi & 0xc0000000) | (vLo & 8);
}

/** Carry-out vector of a + b (+ carry in) = r, valid for any carry in. */
export function addCout(a: number, b: number, r: number): number {
  return (a & b) | ((a | b) & ~r);
}
/** Borrow-out vector of a - b (- borrow in) = r. */
export function subBout(a: number, b: number, r: number): number {
  return (~a & b) | ((~a ^ b) & r);
}

/** The lazy flag words, held by the CPU. */
export class LazyFlags {
  res = 0;
  resHi = 0;
  aux = 0;

  cf(): number {
    return this.aux >>> 31;
  }
  of(): number {
    return ((this.aux ^ (this.aux << 1)) >>> 31);
  }
  af(): number {
    return (this.aux >>> 3) & 1;
  }
  zf(): number {
    return (this.res | this.resHi) === 0 ? 1 : 0;
  }
  sf(): number {
    return ((this.resHi >>> 31) ^ this.aux) & 1;
  }
  pf(): number {
    return PARITY[(this.res ^ (this.aux >>> 8)) & 0xff]!;
  }

  /** The six status flags in RFLAGS bit positions. */
  get(): number {
    return (
      this.cf() |
      (this.pf() << 2) |
      (this.af() << 4) |
      (this.zf() << 6) |
      (this.sf() << 7) |
      (this.of() << 11)
    );
  }

  /** Make the lazy state read back exactly the status flags in `f` (RFLAGS positions). */
  set(f: number): void {
    const zf = (f >> 6) & 1;
    const pf = (f >> 2) & 1;
    // A non-zero result of 1 has odd parity; a zero result has even parity.
    this.res = zf ? 0 : 1;
    this.resHi = 0;
    const pdb = zf ? pf ^ 1 : pf;
    this.aux = auxOf(f & 1, (f >> 11) & 1, (f >> 4) & 1) | (pdb << 8) | ((f >> 7) & 1);
  }

  /** Replace CF only, keeping the other five. */
  setCf(cf: number): void {
    const of = this.of();
    this.aux = (this.aux & 0x3fffffff) | (cf << 31) | ((cf ^ of) << 30);
  }

  /** Replace CF and OF, keeping ZF SF PF AF. */
  setCfOf(cf: number, of: number): void {
    this.aux = (this.aux & 0x3fffffff) | (cf << 31) | ((cf ^ of) << 30);
  }

  /** Condition code cc (0..15, the low nibble of Jcc/SETcc/CMOVcc) is true. SDM Vol. 1 B.1 */
  cond(cc: number): boolean {
    let r: number;
    switch (cc >> 1) {
      case 0: r = this.of(); break; // O
      case 1: r = this.cf(); break; // B / C
      case 2: r = this.zf(); break; // E / Z
      case 3: r = this.cf() | this.zf(); break; // BE
      case 4: r = this.sf(); break; // S
      case 5: r = this.pf(); break; // P
      case 6: r = this.sf() ^ this.of(); break; // L
      default: r = (this.sf() ^ this.of()) | this.zf(); break; // LE
    }
    return (r ^ (cc & 1)) === 1;
  }
}
