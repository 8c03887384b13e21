// Data movement: MOV (all forms), MOVZX MOVSX MOVSXD, LEA, CBW/CWDE/CDQE, CWD/CDQ/CQO,
// CMOVcc, SETcc, XLAT, BSWAP. None of these change flags.

import type { Handler, Insn } from "../decode/insn.js";
import { readE, signExtend, writeE } from "./operand.js";

/** MOV Eb,Gb / MOV Ev,Gv */
export const movEG: Handler = (cpu, i) => {
  const v = cpu.getReg(i.osize, i.reg);
  writeE(cpu, i, i.osize, v, cpu.rhi);
};

/** MOV Gb,Eb / MOV Gv,Ev */
export const movGE: Handler = (cpu, i) => {
  const v = readE(cpu, i, i.osize);
  cpu.setReg(i.osize, i.reg, v, cpu.rhi);
};

/** MOV Eb,Ib / MOV Ev,Iz / MOV Zb,Ib / MOV Zv,Iv */
export const movEI: Handler = (cpu, i) => {
  writeE(cpu, i, i.osize, i.imm, i.immHi);
};
export const movZI: Handler = (cpu, i) => {
  cpu.setReg(i.osize, i.reg, i.imm, i.immHi);
};

/** MOV AL/rAX, moffs and MOV moffs, AL/rAX (A0-A3) */
export const movAO: Handler = (cpu, i) => {
  const v = cpu.rd(cpu.ea(i), i.osize);
  cpu.setReg(i.osize, 0, v, cpu.rhi);
};
export const movOA: Handler = (cpu, i) => {
  cpu.wr(cpu.eaW(i), i.osize, cpu.getReg(i.osize, 0), cpu.hi[0]!);
};

// Specialised register and memory forms for the hot 32/64-bit sizes.
const mov64rr: Handler = (cpu, i) => {
  cpu.lo[i.rm] = cpu.lo[i.reg]!;
  cpu.hi[i.rm] = cpu.hi[i.reg]!;
};
const mov32rr: Handler = (cpu, i) => {
  cpu.lo[i.rm] = cpu.lo[i.reg]!;
  cpu.hi[i.rm] = 0;
};
const mov64load: Handler = (cpu, i) => {
  const lo = cpu.rd64(cpu.ea(i));
  cpu.lo[i.reg] = lo;
  cpu.hi[i.reg] = cpu.rhi;
};
const mov32load: Handler = (cpu, i) => {
  cpu.lo[i.reg] = cpu.rd32(cpu.ea(i));
  cpu.hi[i.reg] = 0;
};
const mov64store: Handler = (cpu, i) => {
  cpu.wr64(cpu.eaW(i), cpu.lo[i.reg]!, cpu.hi[i.reg]!);
};
const mov32store: Handler = (cpu, i) => {
  cpu.wr32(cpu.eaW(i), cpu.lo[i.reg]!);
};

export function pickMovEG(i: Insn): Handler {
  if (i.osize === 8) return i.mod === 3 ? mov64rr : mov64store;
  if (i.osize === 4) return i.mod === 3 ? mov32rr : mov32store;
  return movEG;
}

const mov64rrG: Handler = (cpu, i) => {
  cpu.lo[i.reg] = cpu.lo[i.rm]!;
  cpu.hi[i.reg] = cpu.hi[i.rm]!;
};
const mov32rrG: Handler = (cpu, i) => {
  cpu.lo[i.reg] = cpu.lo[i.rm]!;
  cpu.hi[i.reg] = 0;
};

export function pickMovGE(i: Insn): Handler {
  if (i.mod === 3 && i.osize === 8) return mov64rrG;
  if (i.mod === 3 && i.osize === 4) return mov32rrG;
  if (i.osize === 8) return mov64load;
  if (i.osize === 4) return mov32load;
  return movGE;
}

/** MOVZX Gv,Eb (op 1) / Gv,Ew (op 2) */
export const movzx: Handler = (cpu, i) => {
  const v = readE(cpu, i, i.op);
  cpu.setReg(i.osize, i.reg, v, 0);
};

/** MOVSX Gv,Eb / Gv,Ew, MOVSXD Gv,Ed (op = source size) */
export const movsx: Handler = (cpu, i) => {
  const src = Math.min(i.op, i.osize);
  const v = signExtend(readE(cpu, i, src), src);
  cpu.setReg(i.osize, i.reg, v, v >> 31);
};

/** LEA Gv,M: the effective address, truncated or zero-extended to the operand size. */
export const lea: Handler = (cpu, i) => {
  const lo = cpu.effOffset(i);
  const hi = i.asize === 8 ? cpu.rhi : 0;
  cpu.setReg(i.osize, i.reg, lo, hi);
};

/** CBW / CWDE / CDQE: sign-extend the low half of rAX into all of it. */
export const cbw: Handler = (cpu, i) => {
  const lo = cpu.lo;
  switch (i.osize) {
    case 2: lo[0] = (lo[0]! & ~0xffff) | (((lo[0]! << 24) >> 24) & 0xffff); break;
    case 4: lo[0] = (lo[0]! << 16) >> 16; cpu.hi[0] = 0; break;
    default: cpu.hi[0] = lo[0]! >> 31; break;
  }
};

/** CWD / CDQ / CQO: fill rDX with the sign of rAX. */
export const cwd: Handler = (cpu, i) => {
  switch (i.osize) {
    case 2: cpu.setReg(2, 2, (cpu.lo[0]! << 16) >> 31, 0); break;
    case 4: cpu.setReg(4, 2, cpu.lo[0]! >> 31, 0); break;
    default: cpu.setReg(8, 2, cpu.hi[0]! >> 31, cpu.hi[0]! >> 31); break;
  }
};

/**
 * CMOVcc Gv,Ev. The source is read whatever the condition; in 64-bit mode a 32-bit
 * CMOV zero-extends the destination even when the condition is false (SDM Vol. 2A CMOVcc).
 */
export const cmov: Handler = (cpu, i) => {
  const size = i.osize;
  const v = readE(cpu, i, size);
  const vHi = cpu.rhi;
  if (cpu.lf.cond(i.op)) cpu.setReg(size, i.reg, v, vHi);
  else if (size === 4) cpu.hi[i.reg] = 0;
};

/** SETcc Eb */
export const setcc: Handler = (cpu, i) => {
  writeE(cpu, i, 1, cpu.lf.cond(i.op) ? 1 : 0, 0);
};

/** XLAT: AL = [seg:rBX + AL] at the address size. */
export const xlat: Handler = (cpu, i) => {
  const al = cpu.lo[0]! & 0xff;
  let lo: number;
  let hi = 0;
  if (i.asize === 8) {
    const s = (cpu.lo[3]! >>> 0) + al;
    lo = s | 0;
    hi = (cpu.hi[3]! + (s >= 4294967296 ? 1 : 0)) | 0;
  } else {
    lo = i.asize === 4 ? (cpu.lo[3]! + al) | 0 : (cpu.lo[3]! + al) & 0xffff;
  }
  cpu.setReg(1, 0, cpu.rd8(cpu.segAddr(i.seg, lo, hi, 1, false)), 0);
};

function bswap32(v: number): number {
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}

/** BSWAP Zv. With a 16-bit operand the result is undefined; this model clears the word. */
export const bswap: Handler = (cpu, i) => {
  const r = i.reg;
  switch (i.osize) {
    case 2: cpu.setReg(2, r, 0, 0); break;
    case 4: cpu.lo[r] = bswap32(cpu.lo[r]!); cpu.hi[r] = 0; break;
    default: {
      const lo = cpu.lo[r]!;
      cpu.lo[r] = bswap32(cpu.hi[r]!);
      cpu.hi[r] = bswap32(lo);
    }
  }
};
