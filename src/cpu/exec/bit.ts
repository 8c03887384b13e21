// Bit operations: BT BTS BTR BTC (register and memory bit-string forms), BSF BSR,
// POPCNT LZCNT TZCNT. SDM Vol. 2A BT ("Bit Base, Bit Offset"), BSF, BSR; Vol. 2B POPCNT,
// LZCNT, TZCNT.

import type { Cpu } from "../cpu.js";
import type { Handler, Insn } from "../decode/insn.js";
import { auxOf, ZF } from "../flags.js";
import { readE } from "./operand.js";

export const BT = 0, BTS = 1, BTR = 2, BTC = 3;

/** The operand after a BTS/BTR/BTC (set by bitOp). */
let newLo = 0;
let newHi = 0;

/**
 * Apply BT/BTS/BTR/BTC to bit `n` (< size*8) of (lo, hi): CF = the bit; OF SF AF PF are
 * undefined (this model keeps them), ZF unchanged. Returns whether the operand changes.
 */
function bitOp(cpu: Cpu, op: number, lo: number, hi: number, n: number): boolean {
  const inHi = n >= 32;
  const m = 1 << (n & 31);
  const word = inHi ? hi : lo;
  cpu.lf.setCf((word & m) !== 0 ? 1 : 0);
  if (op === BT) return false;
  const nw = op === BTS ? word | m : op === BTR ? word & ~m : word ^ m;
  newLo = inHi ? lo : nw;
  newHi = inHi ? nw : hi;
  return true;
}

/**
 * BTx Ev,Gv / BTx Ev,Ib. A register bit offset with a memory operand addresses a bit
 * string: the operand moves by (offset SAR log2(width)) words, so the offset may be
 * negative or far beyond the operand. An immediate offset is taken modulo the width.
 */
function btx(cpu: Cpu, i: Insn, offLo: number, offHi: number, fromReg: boolean): void {
  const size = i.osize;
  const width = size * 8;
  if (i.mod === 3) {
    const n = offLo & (width - 1);
    const lo = cpu.getReg(size, i.rm);
    const hi = size === 8 ? cpu.rhi : 0;
    if (bitOp(cpu, i.op, lo, hi, n)) cpu.setReg(size, i.rm, newLo, newHi);
    return;
  }
  let eLo = cpu.effOffset(i);
  let eHi = i.asize === 8 ? cpu.rhi : 0;
  const n = offLo & (width - 1);
  if (fromReg) {
    // Byte displacement = (offset SAR 3) rounded down to the operand size, as a signed
    // value of the operand size.
    let dLo: number;
    let dHi: number;
    if (size === 8) {
      dLo = ((offLo >>> 3) | (offHi << 29)) & ~7;
      dHi = offHi >> 3;
    } else {
      const off = size === 2 ? (offLo << 16) >> 16 : offLo | 0;
      dLo = (off >> 3) & ~(size - 1);
      dHi = dLo >> 31;
    }
    const s = (eLo >>> 0) + (dLo >>> 0);
    eHi = (eHi + dHi + (s >= 4294967296 ? 1 : 0)) | 0;
    eLo = s | 0;
    if (i.asize !== 8) {
      eHi = 0;
      if (i.asize === 2) eLo &= 0xffff;
    }
  }
  const lin = cpu.segAddr(i.seg, eLo, eHi, size, i.op !== BT);
  if (i.op === BT) {
    const lo = cpu.rd(lin, size);
    bitOp(cpu, BT, lo, size === 8 ? cpu.rhi : 0, n);
    return;
  }
  const lo = cpu.rdw(lin, size);
  if (bitOp(cpu, i.op, lo, size === 8 ? cpu.rhi : 0, n)) cpu.wr(lin, size, newLo, newHi);
}

/** BT/BTS/BTR/BTC Ev,Gv (0F A3, AB, B3, BB) */
export const btxEG: Handler = (cpu, i) => {
  const lo = cpu.getReg(i.osize, i.reg);
  btx(cpu, i, lo, i.osize === 8 ? cpu.hi[i.reg]! : lo >> 31, true);
};

/** BT/BTS/BTR/BTC Ev,Ib (0F BA /4-/7) */
export const btxEI: Handler = (cpu, i) => {
  btx(cpu, i, i.imm, 0, false);
};

function clz32(v: number): number {
  return Math.clz32(v);
}
function ctz32(v: number): number {
  return v === 0 ? 32 : 31 - Math.clz32(v & -v);
}

/** Count of set bits in a 32-bit value. */
function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/**
 * BSF/BSR Gv,Ev (0F BC / 0F BD; i.op 0 BSF, 1 BSR): ZF = (source == 0). With a zero
 * source the destination is left unchanged (AMD documents this; Intel calls it
 * undefined, and its processors behave the same). CF OF SF AF PF are undefined (kept).
 */
export const bsfBsr: Handler = (cpu, i) => {
  const size = i.osize;
  const lo = readE(cpu, i, size);
  const hi = size === 8 ? cpu.rhi : 0;
  const f = cpu.lf.get();
  if ((lo | hi) === 0) {
    cpu.lf.set(f | ZF);
    return;
  }
  let idx: number;
  if (i.op === 0) idx = lo !== 0 ? ctz32(lo) : 32 + ctz32(hi);
  else idx = hi !== 0 ? 63 - clz32(hi) : 31 - clz32(lo);
  cpu.setReg(size, i.reg, idx, 0);
  cpu.lf.set(f & ~ZF);
};

/** Set ZF/CF and clear the rest, as POPCNT/LZCNT/TZCNT define (OF SF AF PF: 0 / undefined). */
function countFlags(cpu: Cpu, zf: boolean, cf: boolean): void {
  const lf = cpu.lf;
  lf.res = zf ? 0 : 1;
  lf.resHi = 0;
  // A result word of 1 has odd parity: PF = 0; a zero word has even parity: flip it back.
  lf.aux = auxOf(cf ? 1 : 0, 0, 0) | (zf ? 1 << 8 : 0);
}

/** POPCNT Gv,Ev (F3 0F B8): ZF = (source == 0); CF OF SF AF PF cleared. */
export const popcnt: Handler = (cpu, i) => {
  const size = i.osize;
  const lo = readE(cpu, i, size);
  const hi = size === 8 ? cpu.rhi : 0;
  const n = popcount32(size === 2 ? lo & 0xffff : lo) + popcount32(hi);
  cpu.setReg(size, i.reg, n, 0);
  countFlags(cpu, n === 0, false);
};

/** LZCNT Gv,Ev (F3 0F BD): CF = (source == 0), ZF = (result == 0). */
export const lzcnt: Handler = (cpu, i) => {
  const size = i.osize;
  const lo = readE(cpu, i, size);
  const hi = size === 8 ? cpu.rhi : 0;
  let n: number;
  if (size === 8) n = hi !== 0 ? clz32(hi) : 32 + clz32(lo);
  else if (size === 4) n = clz32(lo);
  else n = clz32(lo & 0xffff) - 16;
  cpu.setReg(size, i.reg, n, 0);
  countFlags(cpu, n === 0, n === size * 8);
};

/** TZCNT Gv,Ev (F3 0F BC): CF = (source == 0), ZF = (result == 0). */
export const tzcnt: Handler = (cpu, i) => {
  const size = i.osize;
  const lo = readE(cpu, i, size);
  const hi = size === 8 ? cpu.rhi : 0;
  let n: number;
  if (size === 8) n = lo !== 0 ? ctz32(lo) : 32 + ctz32(hi);
  else if (size === 4) n = ctz32(lo);
  else n = Math.min(ctz32(lo & 0xffff), 16);
  cpu.setReg(size, i.reg, n, 0);
  countFlags(cpu, n === 0, n === size * 8);
};
