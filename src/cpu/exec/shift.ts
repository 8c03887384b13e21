// Shifts and rotates: ROL ROR RCL RCR SHL/SAL SHR SAR (group 2), SHLD SHRD.
// SDM Vol. 2B "RCL/RCR/ROL/ROR", "SAL/SAR/SHL/SHR", "SHLD", "SHRD".
//
// The count is masked to 5 bits (6 with a 64-bit operand). A masked count of 0 changes
// nothing, flags included. Rotates change only CF and OF. OF is defined only for a
// count of 1; for larger counts this model computes it by the count-1 rule (the SDM
// leaves it undefined, and the oracle tests mask it). AF is undefined after a shift;
// this model clears it.

import type { Cpu } from "../cpu.js";
import type { Handler, Insn } from "../decode/insn.js";
import { resultFlags } from "./alu.js";
import { readEForWrite, signExtend, writeBackE } from "./operand.js";

export const ROL = 0, ROR = 1, RCL = 2, RCR = 3, SHL = 4, SHR = 5, SAL = 6, SAR = 7;

/** Bit k (0..63) of lo:hi. */
function bit(lo: number, hi: number, k: number): number {
  return k < 32 ? (lo >>> k) & 1 : (hi >>> (k - 32)) & 1;
}

/** Result flags plus CF/OF for a shift of `size` bytes (AF: undefined, cleared here). */
function shiftFlags(cpu: Cpu, size: number, lo: number, hi: number, cf: number, of: number): void {
  resultFlags(cpu, size, lo, hi, cf, of, 0);
}

// 64-bit shifts on halves, 0 <= n <= 64, results in t[0] (low) and t[1] (high). JS
// shift counts are taken mod 32, so each case keeps its counts in 0..31.
const t = new Int32Array(2);
function shl64(lo: number, hi: number, n: number): void {
  if (n === 0) { t[0] = lo; t[1] = hi; }
  else if (n < 32) { t[0] = lo << n; t[1] = (hi << n) | (lo >>> (32 - n)); }
  else if (n < 64) { t[0] = 0; t[1] = lo << (n - 32); }
  else { t[0] = 0; t[1] = 0; }
}
function shr64(lo: number, hi: number, n: number): void {
  if (n === 0) { t[0] = lo; t[1] = hi; }
  else if (n < 32) { t[0] = (lo >>> n) | (hi << (32 - n)); t[1] = hi >>> n; }
  else if (n < 64) { t[0] = hi >>> (n - 32); t[1] = 0; }
  else { t[0] = 0; t[1] = 0; }
}
function sar64(lo: number, hi: number, n: number): void {
  if (n < 32) { t[0] = n === 0 ? lo : (lo >>> n) | (hi << (32 - n)); t[1] = hi >> n; }
  else { t[0] = hi >> (n - 32); t[1] = hi >> 31; }
}
/** (a << n) | (b >>> (64 - n)) on 64-bit halves, 0 < n < 64: the core of ROL and SHLD. */
function funnelLeft64(aLo: number, aHi: number, bLo: number, bHi: number, n: number): void {
  shl64(aLo, aHi, n);
  const lo = t[0]!;
  const hi = t[1]!;
  shr64(bLo, bHi, 64 - n);
  t[0] = t[0]! | lo;
  t[1] = t[1]! | hi;
}
/** (a >>> n) | (b << (64 - n)): the core of ROR and SHRD. */
function funnelRight64(aLo: number, aHi: number, bLo: number, bHi: number, n: number): void {
  shr64(aLo, aHi, n);
  const lo = t[0]!;
  const hi = t[1]!;
  shl64(bLo, bHi, 64 - n);
  t[0] = t[0]! | lo;
  t[1] = t[1]! | hi;
}

/**
 * Shift or rotate (lo, hi) of `size` bytes by `count` (already masked, non-zero).
 * Returns the low result; the high half in cpu.rhi. Sets the flags.
 */
function shift(cpu: Cpu, kind: number, size: number, lo: number, hi: number, count: number): number {
  const w = size * 8;
  const msb = w - 1;
  const mask = w >= 32 ? -1 : (1 << w) - 1;
  let rLo: number;
  let rHi = 0;
  switch (kind) {
    case ROL:
    case ROR: {
      const n = count % w;
      if (size === 8) {
        if (n === 0) {
          rLo = lo;
          rHi = hi;
        } else {
          if (kind === ROL) funnelLeft64(lo, hi, lo, hi, n);
          else funnelRight64(lo, hi, lo, hi, n);
          rLo = t[0]!;
          rHi = t[1]!;
        }
      } else {
        const v = lo & mask;
        rLo = n === 0 ? v : kind === ROL ? ((v << n) | (v >>> (w - n))) & mask : ((v >>> n) | (v << (w - n))) & mask;
      }
      // Rotates change only CF and OF (SDM: "the SF, ZF, AF, and PF flags are not affected").
      const top = bit(rLo, rHi, msb);
      if (kind === ROL) {
        const cf = rLo & 1;
        cpu.lf.setCfOf(cf, top ^ cf);
      } else {
        cpu.lf.setCfOf(top, top ^ bit(rLo, rHi, msb - 1));
      }
      cpu.rhi = rHi;
      return rLo;
    }
    case RCL:
    case RCR: {
      // Through CF: a (size*8 + 1)-bit rotation, one bit at a time (counts are < 65).
      const n = size === 1 ? count % 9 : size === 2 ? count % 17 : count;
      let cf = cpu.lf.cf();
      let a = lo & mask;
      let b = size === 8 ? hi : 0;
      for (let k = 0; k < n; k++) {
        if (kind === RCL) {
          const out = bit(a, b, msb);
          if (size === 8) {
            b = (b << 1) | (a >>> 31);
            a = (a << 1) | cf;
          } else {
            a = ((a << 1) | cf) & mask;
          }
          cf = out;
        } else {
          const out = a & 1;
          if (size === 8) {
            a = (a >>> 1) | (b << 31);
            b = (b >>> 1) | (cf << 31);
          } else {
            a = (a >>> 1) | (cf << msb);
          }
          cf = out;
        }
      }
      // OF from the result, as the count-1 definition gives it (RCL: MSB xor CF; RCR: the
      // two top bits); for other counts the SDM leaves OF undefined, and the 286 and this
      // machine's AMD CPU both write it even when the count is a multiple of width + 1.
      const top = bit(a, b, msb);
      cpu.lf.setCfOf(cf, kind === RCL ? top ^ cf : top ^ bit(a, b, msb - 1));
      cpu.rhi = b;
      return a;
    }
    case SHL:
    case SAL: {
      let cf: number;
      if (size === 8) {
        shl64(lo, hi, count);
        rLo = t[0]!;
        rHi = t[1]!;
        cf = bit(lo, hi, 64 - count);
      } else {
        rLo = lo << count;
        cf = count > w ? 0 : (lo >>> (w - count)) & 1;
      }
      shiftFlags(cpu, size, rLo, rHi, cf, bit(rLo, rHi, msb) ^ cf);
      cpu.rhi = rHi;
      return rLo;
    }
    case SHR: {
      let cf: number;
      if (size === 8) {
        shr64(lo, hi, count);
        rLo = t[0]!;
        rHi = t[1]!;
        cf = bit(lo, hi, count - 1);
      } else {
        const v = lo & mask;
        rLo = v >>> count;
        cf = (v >>> (count - 1)) & 1;
      }
      // OF: the top two bits of the result differ (for a count of 1 that is the original
      // MSB, the SDM's definition; other counts leave it undefined, and the 286 does this).
      shiftFlags(cpu, size, rLo, rHi, cf, bit(rLo, rHi, msb) ^ bit(rLo, rHi, msb - 1));
      cpu.rhi = rHi;
      return rLo;
    }
    default: {
      // SAR
      let cf: number;
      if (size === 8) {
        sar64(lo, hi, count);
        rLo = t[0]!;
        rHi = t[1]!;
        cf = bit(lo, hi, count - 1);
      } else {
        const v = signExtend(lo, size);
        rLo = v >> count;
        cf = (v >> (count - 1)) & 1;
      }
      shiftFlags(cpu, size, rLo, rHi, cf, 0);
      cpu.rhi = rHi;
      return rLo;
    }
  }
}

function shiftE(cpu: Cpu, i: Insn, count: number): void {
  const size = i.osize;
  count &= size === 8 ? 0x3f : 0x1f;
  const v = readEForWrite(cpu, i, size);
  if (count === 0) {
    // Flags and value stay, but a 32-bit register destination is still written, which
    // in 64-bit mode clears its upper half (as this machine's AMD CPU shows).
    if (size === 4 && i.mod === 3) cpu.hi[i.rm] = 0;
    return;
  }
  const r = shift(cpu, i.op, size, v, size === 8 ? cpu.rhi : 0, count);
  writeBackE(cpu, i, size, r, cpu.rhi);
}

/** group 2 Eb,Ib / Ev,Ib */
export const shiftEI: Handler = (cpu, i) => shiftE(cpu, i, i.imm);
/** group 2 Eb,1 / Ev,1 */
export const shiftE1: Handler = (cpu, i) => shiftE(cpu, i, 1);
/** group 2 Eb,CL / Ev,CL */
export const shiftECL: Handler = (cpu, i) => shiftE(cpu, i, cpu.lo[1]!);

/**
 * SHLD/SHRD Ev,Gv,Ib|CL (i.op: 0 SHLD, 1 SHRD). The count is masked to 5 (6) bits; with a
 * 16-bit operand and a count above 16 the result and flags are undefined (this model
 * shifts through the 32-bit concatenation). CF is the last bit shifted out of the
 * destination; OF (count 1) is set when the sign changes.
 */
function shiftDouble(cpu: Cpu, i: Insn, count: number): void {
  const size = i.osize;
  count &= size === 8 ? 0x3f : 0x1f;
  const d = readEForWrite(cpu, i, size);
  if (count === 0) {
    if (size === 4 && i.mod === 3) cpu.hi[i.rm] = 0; // the register is written (see shiftE)
    return;
  }
  const dHi = size === 8 ? cpu.rhi : 0;
  const s = cpu.getReg(size, i.reg);
  const sHi = size === 8 ? cpu.hi[i.reg]! : 0;
  const w = size * 8;
  let rLo: number;
  let rHi = 0;
  let cf: number;
  if (size === 8) {
    if (i.op === 0) {
      funnelLeft64(d, dHi, s, sHi, count);
      cf = bit(d, dHi, 64 - count);
    } else {
      funnelRight64(d, dHi, s, sHi, count);
      cf = bit(d, dHi, count - 1);
    }
    rLo = t[0]!;
    rHi = t[1]!;
  } else if (size === 4) {
    if (i.op === 0) {
      rLo = (d << count) | (s >>> (32 - count));
      cf = (d >>> (32 - count)) & 1;
    } else {
      rLo = (d >>> count) | (s << (32 - count));
      cf = (d >>> (count - 1)) & 1;
    }
  } else {
    // 16-bit: shift the 32-bit value d:s (SHLD) or s:d (SHRD).
    if (i.op === 0) {
      const cat = ((d & 0xffff) << 16) | (s & 0xffff);
      rLo = count <= 16 ? (cat << count) >>> 16 : ((cat << count) | ((d & 0xffff) << (count - 16))) >>> 16;
      cf = count <= 16 ? (d >>> (16 - count)) & 1 : (s >>> (32 - count)) & 1;
    } else {
      const cat = ((s & 0xffff) << 16) | (d & 0xffff);
      rLo = count <= 16 ? (cat >>> count) & 0xffff : ((cat >>> count) | ((d & 0xffff) << (32 - count))) & 0xffff;
      cf = (cat >>> (count - 1)) & 1;
    }
    rLo &= 0xffff;
  }
  const of = bit(rLo, rHi, w - 1) ^ bit(d, dHi, w - 1);
  shiftFlags(cpu, size, rLo, rHi, cf, of);
  writeBackE(cpu, i, size, rLo, rHi);
}

/** SHLD/SHRD Ev,Gv,Ib */
export const shiftDoubleI: Handler = (cpu, i) => shiftDouble(cpu, i, i.imm);
/** SHLD/SHRD Ev,Gv,CL */
export const shiftDoubleCL: Handler = (cpu, i) => shiftDouble(cpu, i, cpu.lo[1]!);
