// MUL, IMUL (one, two and three operands), DIV, IDIV. SDM Vol. 2A/2B.
// MUL/IMUL: CF = OF = the result does not fit the destination; SF ZF AF PF undefined (this
// model derives SF ZF PF from the low half of the result and clears AF). DIV/IDIV: all six
// flags undefined (this model leaves them unchanged); #DE on a zero divisor or a quotient
// that does not fit.

import type { Cpu } from "../cpu.js";
import type { Handler, Insn } from "../decode/insn.js";
import { CpuFault, DE } from "../exceptions.js";
import { resultFlags } from "./alu.js";
import { divU128, mulS64, mulU32, mulU64, neg128, w } from "../int64.js";
import { readE, signExtend } from "./operand.js";

/** CF = OF = the product did not fit; SF ZF PF from the low half; AF cleared. */
function mulFlags(cpu: Cpu, size: number, lo: number, hi: number, overflow: boolean): void {
  const o = overflow ? 1 : 0;
  resultFlags(cpu, size, lo, hi, o, o, 0);
}

/** MUL E (F6/F7 /4): unsigned rAX * E into rDX:rAX (AX for bytes). */
export const mul: Handler = (cpu, i) => {
  const size = i.osize;
  const src = readE(cpu, i, size);
  const srcHi = cpu.rhi;
  switch (size) {
    case 1: {
      const p = (cpu.lo[0]! & 0xff) * src;
      cpu.setReg(2, 0, p, 0);
      mulFlags(cpu, 1, p, 0, p > 0xff);
      break;
    }
    case 2: {
      const p = (cpu.lo[0]! & 0xffff) * src;
      cpu.setReg(2, 0, p, 0);
      cpu.setReg(2, 2, p >>> 16, 0);
      mulFlags(cpu, 2, p, 0, p > 0xffff);
      break;
    }
    case 4: {
      const lo = mulU32(cpu.lo[0]!, src);
      const hi = w.hi;
      cpu.setReg(4, 0, lo, 0);
      cpu.setReg(4, 2, hi, 0);
      mulFlags(cpu, 4, lo, 0, hi !== 0);
      break;
    }
    default: {
      const p = mulU64(cpu.lo[0]!, cpu.hi[0]!, src, srcHi);
      cpu.setReg(8, 0, p[0], p[1]);
      cpu.setReg(8, 2, p[2], p[3]);
      mulFlags(cpu, 8, p[0], p[1], (p[2] | p[3]) !== 0);
    }
  }
};

/**
 * Signed a * b at `size` bytes; returns the low `size` bytes (high half in cpu.rhi for
 * 8), and in `imulHigh` the upper half of the double-width product.
 */
const imulHigh = { lo: 0, hi: 0, fits: true };
function imulCore(cpu: Cpu, size: number, a: number, aHi: number, b: number, bHi: number): number {
  if (size === 8) {
    const p = mulS64(a, aHi, b, bHi);
    const lo = p[0] | 0;
    const hi = p[1] | 0;
    imulHigh.lo = p[2] | 0;
    imulHigh.hi = p[3] | 0;
    // Fits when the upper 64 bits are the sign extension of the lower 64.
    const sign = hi >> 31;
    imulHigh.fits = imulHigh.lo === sign && imulHigh.hi === sign;
    cpu.rhi = hi;
    return lo;
  }
  const sa = signExtend(a, size);
  const sb = signExtend(b, size);
  if (size === 4) {
    // Signed 32 x 32 from the unsigned product, corrected for the signs.
    let lo = mulU32(sa, sb);
    let hi = w.hi;
    if (sa < 0) hi -= sb >>> 0;
    if (sb < 0) hi -= sa >>> 0;
    hi = hi | 0;
    lo = lo | 0;
    imulHigh.lo = hi;
    imulHigh.fits = hi === lo >> 31;
    return lo;
  }
  const p = sa * sb; // |p| < 2^31: exact
  const r = signExtend(p, size);
  imulHigh.lo = size === 1 ? (p >> 8) & 0xff : (p >> 16) & 0xffff;
  imulHigh.fits = r === p;
  return p;
}

/** IMUL E (F6/F7 /5): signed rAX * E into rDX:rAX (AX for bytes). */
export const imul1: Handler = (cpu, i) => {
  const size = i.osize;
  const src = readE(cpu, i, size);
  const srcHi = cpu.rhi;
  const lo = imulCore(cpu, size, cpu.lo[0]!, cpu.hi[0]!, src, srcHi);
  const overflow = !imulHigh.fits;
  if (size === 1) {
    cpu.setReg(2, 0, lo, 0); // AX = the 16-bit product
  } else {
    cpu.setReg(size, 0, lo, cpu.rhi);
    cpu.setReg(size, 2, imulHigh.lo, imulHigh.hi);
  }
  mulFlags(cpu, size, lo, cpu.rhi, overflow);
};

function imulTo(cpu: Cpu, i: Insn, a: number, aHi: number, b: number, bHi: number): void {
  const size = i.osize;
  const lo = imulCore(cpu, size, a, aHi, b, bHi);
  const hi = size === 8 ? cpu.rhi : 0;
  cpu.setReg(size, i.reg, lo, hi);
  mulFlags(cpu, size, lo, hi, !imulHigh.fits);
}

/** IMUL Gv,Ev (0F AF) */
export const imul2: Handler = (cpu, i) => {
  const b = readE(cpu, i, i.osize);
  const bHi = cpu.rhi;
  imulTo(cpu, i, cpu.getReg(i.osize, i.reg), cpu.hi[i.reg]!, b, bHi);
};

/** IMUL Gv,Ev,Iz / Gv,Ev,Ib (69, 6B) */
export const imul3: Handler = (cpu, i) => {
  const a = readE(cpu, i, i.osize);
  imulTo(cpu, i, a, cpu.rhi, i.imm, i.immHi);
};

/** DIV E (F6/F7 /6): unsigned rDX:rAX / E. */
export const div: Handler = (cpu, i) => {
  const size = i.osize;
  const d = readE(cpu, i, size);
  const dHi = size === 8 ? cpu.rhi : 0;
  if (d === 0 && dHi === 0) throw new CpuFault(DE);
  switch (size) {
    case 1: {
      const n = cpu.lo[0]! & 0xffff;
      const q = Math.floor(n / d);
      if (q > 0xff) throw new CpuFault(DE);
      cpu.setReg(2, 0, q | ((n - q * d) << 8), 0);
      break;
    }
    case 2: {
      const n = ((cpu.lo[2]! & 0xffff) << 16 >>> 0) + (cpu.lo[0]! & 0xffff);
      const q = Math.floor(n / d);
      if (q > 0xffff) throw new CpuFault(DE);
      cpu.setReg(2, 0, q, 0);
      cpu.setReg(2, 2, n - q * d, 0);
      break;
    }
    case 4: {
      const r = divU128(cpu.lo[0]!, cpu.lo[2]!, 0, 0, d, 0);
      if (r[1] !== 0) throw new CpuFault(DE);
      cpu.setReg(4, 0, r[0], 0);
      cpu.setReg(4, 2, r[4], 0);
      break;
    }
    default: {
      const r = divU128(cpu.lo[0]!, cpu.hi[0]!, cpu.lo[2]!, cpu.hi[2]!, d, dHi);
      if (r[2] !== 0 || r[3] !== 0) throw new CpuFault(DE);
      cpu.setReg(8, 0, r[0], r[1]);
      cpu.setReg(8, 2, r[4], r[5]);
    }
  }
};

/** IDIV E (F6/F7 /7): signed rDX:rAX / E; the quotient truncates toward zero. */
export const idiv: Handler = (cpu, i) => {
  const size = i.osize;
  const d = readE(cpu, i, size);
  const dHi = size === 8 ? cpu.rhi : 0;
  if (d === 0 && dHi === 0) throw new CpuFault(DE);
  if (size <= 2) {
    const sd = signExtend(d, size);
    const n = size === 1 ? (cpu.lo[0]! << 16) >> 16 : ((cpu.lo[2]! & 0xffff) << 16) | (cpu.lo[0]! & 0xffff);
    const q = Math.trunc(n / sd);
    const r = n - q * sd;
    const lim = size === 1 ? 0x80 : 0x8000;
    if (q >= lim || q < -lim) throw new CpuFault(DE);
    if (size === 1) cpu.setReg(2, 0, (q & 0xff) | ((r & 0xff) << 8), 0);
    else {
      cpu.setReg(2, 0, q, 0);
      cpu.setReg(2, 2, r, 0);
    }
    return;
  }
  // 32 and 64 bits: divide magnitudes, then apply the signs.
  let n: number[];
  let dv: [number, number];
  if (size === 4) {
    const nHi = cpu.lo[2]!;
    n = [cpu.lo[0]! >>> 0, nHi >>> 0, nHi < 0 ? 0xffffffff : 0, nHi < 0 ? 0xffffffff : 0];
    const sd = d | 0;
    dv = [sd >>> 0, sd < 0 ? 0xffffffff : 0];
  } else {
    const nHi = cpu.hi[2]!;
    n = [cpu.lo[0]! >>> 0, cpu.hi[0]! >>> 0, cpu.lo[2]! >>> 0, nHi >>> 0];
    dv = [d >>> 0, dHi >>> 0];
  }
  const nNeg = n[3]! >= 0x80000000;
  const dNeg = dv[1] >= 0x80000000;
  const na = nNeg ? neg128(n) : n;
  const da = dNeg ? neg128([dv[0], dv[1], 0xffffffff, 0xffffffff]) : [dv[0], dv[1]];
  const r = divU128(na[0]!, na[1]!, na[2]!, na[3]!, da[0]!, da[1]!);
  let q = [r[0], r[1], r[2], r[3]];
  let rem = [r[4], r[5], 0, 0];
  const qNeg = nNeg !== dNeg;
  // The magnitude must fit: < 2^(w-1), or exactly 2^(w-1) for a negative quotient.
  const wbits = size * 8;
  const top = wbits === 32 ? q[1]! !== 0 || q[2]! !== 0 || q[3]! !== 0 : q[2]! !== 0 || q[3]! !== 0;
  const qTopWord = wbits === 32 ? q[0]! : q[1]!;
  const qBelowTop = wbits === 32 ? 0 : q[0]!;
  if (top || qTopWord > 0x80000000 || (qTopWord === 0x80000000 && (!qNeg || qBelowTop !== 0))) {
    throw new CpuFault(DE);
  }
  if (qNeg) q = neg128(q);
  if (nNeg) rem = neg128(rem);
  if (size === 4) {
    cpu.setReg(4, 0, q[0]! | 0, 0);
    cpu.setReg(4, 2, rem[0]! | 0, 0);
  } else {
    cpu.setReg(8, 0, q[0]! | 0, q[1]! | 0);
    cpu.setReg(8, 2, rem[0]! | 0, rem[1]! | 0);
  }
};
