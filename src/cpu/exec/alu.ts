// Integer arithmetic and logic: ADD OR ADC SBB AND SUB XOR CMP, TEST, INC DEC NEG NOT.
// SDM Vol. 2 (each instruction's "Flags Affected"); flags are recorded lazily (flags.ts).

import type { Cpu } from "../cpu.js";
import type { Handler, Insn } from "../decode/insn.js";
import { addCout, aux16, aux32, aux64, aux8, auxOf, subBout } from "../flags.js";
import { readE, readEForWrite, signExtend, writeBackE } from "./operand.js";

// ALU operations in ModRM.reg / opcode-bits order (SDM Vol. 2D Table A-6, group 1).
export const ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7;
export const ALU_NAMES = ["ADD", "OR", "ADC", "SBB", "AND", "SUB", "XOR", "CMP"] as const;

/** 8/16/32-bit operation on int32 inputs; returns the result sign-extended to int32. */
function aluSmall(cpu: Cpu, op: number, size: number, a: number, b: number): number {
  const lf = cpu.lf;
  let r: number;
  let v = 0; // carry/borrow vector
  switch (op) {
    case ADD: r = a + b; v = addCout(a, b, r); break;
    case OR: r = a | b; break;
    case ADC: r = a + b + lf.cf(); v = addCout(a, b, r); break;
    case SBB: r = a - b - lf.cf(); v = subBout(a, b, r); break;
    case AND: r = a & b; break;
    case XOR: r = a ^ b; break;
    default: r = a - b; v = subBout(a, b, r); break; // SUB, CMP
  }
  r = signExtend(r | 0, size);
  lf.res = r;
  lf.resHi = r >> 31;
  lf.aux = size === 4 ? aux32(v) : size === 2 ? aux16(v) : aux8(v);
  return r;
}

/** 64-bit operation on halves; returns the low half, the high half in cpu.rhi. */
function alu64(cpu: Cpu, op: number, aLo: number, aHi: number, bLo: number, bHi: number): number {
  const lf = cpu.lf;
  let rLo: number;
  let rHi: number;
  let aux = 0;
  switch (op) {
    case OR: rLo = aLo | bLo; rHi = aHi | bHi; break;
    case AND: rLo = aLo & bLo; rHi = aHi & bHi; break;
    case XOR: rLo = aLo ^ bLo; rHi = aHi ^ bHi; break;
    case ADD:
    case ADC: {
      rLo = (aLo + bLo + (op === ADC ? lf.cf() : 0)) | 0;
      const vLo = addCout(aLo, bLo, rLo);
      rHi = (aHi + bHi + (vLo >>> 31)) | 0;
      aux = aux64(vLo, addCout(aHi, bHi, rHi));
      break;
    }
    default: {
      // SUB, SBB, CMP
      rLo = (aLo - bLo - (op === SBB ? lf.cf() : 0)) | 0;
      const vLo = subBout(aLo, bLo, rLo);
      rHi = (aHi - bHi - (vLo >>> 31)) | 0;
      aux = aux64(vLo, subBout(aHi, bHi, rHi));
      break;
    }
  }
  lf.res = rLo;
  lf.resHi = rHi;
  lf.aux = aux;
  cpu.rhi = rHi;
  return rLo;
}

/**
 * `a op b` at `size` bytes (1, 2, 4, 8) with its flags; returns the low result, the high
 * half in cpu.rhi for 8 bytes. Shared by XADD, CMPXCHG, CMPS and SCAS.
 */
export function aluOp(cpu: Cpu, op: number, size: number, a: number, aHi: number, b: number, bHi: number): number {
  return size === 8 ? alu64(cpu, op, a, aHi, b, bHi) : aluSmall(cpu, op, size, a, b);
}

/**
 * Flags that follow a result (ZF, SF, PF) with CF, OF and AF given: for shifts,
 * multiplications and logic operations.
 */
export function resultFlags(cpu: Cpu, size: number, lo: number, hi: number, cf: number, of: number, af: number): void {
  const lf = cpu.lf;
  if (size === 8) {
    lf.res = lo;
    lf.resHi = hi;
  } else {
    const r = signExtend(lo, size);
    lf.res = r;
    lf.resHi = r >> 31;
  }
  lf.aux = auxOf(cf, of, af);
}

/** dst = dst op src at `size` bytes (CMP computes flags only). E is the destination. */
function aluToE(cpu: Cpu, i: Insn, bLo: number, bHi: number): void {
  const size = i.osize;
  const op = i.op;
  if (op === CMP) {
    const a = readE(cpu, i, size);
    if (size === 8) alu64(cpu, op, a, cpu.rhi, bLo, bHi);
    else aluSmall(cpu, op, size, a, bLo);
    return;
  }
  const a = readEForWrite(cpu, i, size);
  if (size === 8) {
    const lo = alu64(cpu, op, a, cpu.rhi, bLo, bHi);
    writeBackE(cpu, i, 8, lo, cpu.rhi);
  } else {
    writeBackE(cpu, i, size, aluSmall(cpu, op, size, a, bLo), 0);
  }
}

/** op Eb,Gb / op Ev,Gv */
export const aluEG: Handler = (cpu, i) => {
  const b = cpu.getReg(i.osize, i.reg);
  aluToE(cpu, i, b, cpu.rhi);
};

/** op Eb,Ib / op Ev,Iz / op Ev,Ib (group 1) */
export const aluEI: Handler = (cpu, i) => {
  aluToE(cpu, i, i.imm, i.immHi);
};

/** op Gb,Eb / op Gv,Ev */
export const aluGE: Handler = (cpu, i) => {
  const size = i.osize;
  const b = readE(cpu, i, size);
  const bHi = cpu.rhi;
  const a = cpu.getReg(size, i.reg);
  if (size === 8) {
    const lo = alu64(cpu, i.op, a, cpu.hi[i.reg]!, b, bHi);
    if (i.op !== CMP) cpu.setReg(8, i.reg, lo, cpu.rhi);
  } else {
    const r = aluSmall(cpu, i.op, size, a, b);
    if (i.op !== CMP) cpu.setReg(size, i.reg, r, 0);
  }
};

/** op AL,Ib / op rAX,Iz */
export const aluAI: Handler = (cpu, i) => {
  const size = i.osize;
  if (size === 8) {
    const lo = alu64(cpu, i.op, cpu.lo[0]!, cpu.hi[0]!, i.imm, i.immHi);
    if (i.op !== CMP) {
      cpu.lo[0] = lo;
      cpu.hi[0] = cpu.rhi;
    }
  } else {
    const r = aluSmall(cpu, i.op, size, cpu.getReg(size, 0), i.imm);
    if (i.op !== CMP) cpu.setReg(size, 0, r, 0);
  }
};

// Register-register forms of the hottest sizes, chosen by pick() at decode time.

/** op r32, r32 (E = rm, G = reg) */
const aluEG32rr: Handler = (cpu, i) => {
  const r = aluSmall(cpu, i.op, 4, cpu.lo[i.rm]!, cpu.lo[i.reg]!);
  if (i.op !== CMP) {
    cpu.lo[i.rm] = r;
    cpu.hi[i.rm] = 0;
  }
};

/** op r64, r64 */
const aluEG64rr: Handler = (cpu, i) => {
  const d = i.rm;
  const s = i.reg;
  const lo = alu64(cpu, i.op, cpu.lo[d]!, cpu.hi[d]!, cpu.lo[s]!, cpu.hi[s]!);
  if (i.op !== CMP) {
    cpu.lo[d] = lo;
    cpu.hi[d] = cpu.rhi;
  }
};

/** op r32, imm */
const aluEI32r: Handler = (cpu, i) => {
  const r = aluSmall(cpu, i.op, 4, cpu.lo[i.rm]!, i.imm);
  if (i.op !== CMP) {
    cpu.lo[i.rm] = r;
    cpu.hi[i.rm] = 0;
  }
};

/** op r64, imm */
const aluEI64r: Handler = (cpu, i) => {
  const d = i.rm;
  const lo = alu64(cpu, i.op, cpu.lo[d]!, cpu.hi[d]!, i.imm, i.immHi);
  if (i.op !== CMP) {
    cpu.lo[d] = lo;
    cpu.hi[d] = cpu.rhi;
  }
};

export function pickAluEG(i: Insn): Handler {
  if (i.mod === 3 && i.osize === 4) return aluEG32rr;
  if (i.mod === 3 && i.osize === 8) return aluEG64rr;
  return aluEG;
}

export function pickAluEI(i: Insn): Handler {
  if (i.mod === 3 && i.osize === 4) return aluEI32r;
  if (i.mod === 3 && i.osize === 8) return aluEI64r;
  return aluEI;
}

// ---------------------------------------------------------------- TEST

function testValues(cpu: Cpu, size: number, a: number, aHi: number, b: number, bHi: number): void {
  // CF = OF = 0; AF is undefined (this model clears it).
  resultFlags(cpu, size, a & b, aHi & bHi, 0, 0, 0);
}

/** TEST Eb,Gb / TEST Ev,Gv */
export const testEG: Handler = (cpu, i) => {
  const a = readE(cpu, i, i.osize);
  const aHi = cpu.rhi;
  const b = cpu.getReg(i.osize, i.reg);
  testValues(cpu, i.osize, a, aHi, b, cpu.hi[i.reg]!);
};

/** TEST Eb,Ib / TEST Ev,Iz (F6/F7 /0 and /1) */
export const testEI: Handler = (cpu, i) => {
  const a = readE(cpu, i, i.osize);
  testValues(cpu, i.osize, a, cpu.rhi, i.imm, i.immHi);
};

/** TEST AL,Ib / TEST rAX,Iz */
export const testAI: Handler = (cpu, i) => {
  const a = cpu.getReg(i.osize, 0);
  testValues(cpu, i.osize, a, cpu.hi[0]!, i.imm, i.immHi);
};

// ---------------------------------------------------------------- INC DEC NEG NOT

/** INC/DEC: like ADD/SUB 1 but CF is preserved (SDM Vol. 2A INC). i.op: 0 INC, 1 DEC. */
function incDec(cpu: Cpu, i: Insn, size: number, a: number, aHi: number): number {
  const lf = cpu.lf;
  const cf = lf.cf();
  const dec = i.op === 1;
  let v: number;
  let lo: number;
  if (size === 8) {
    lo = (dec ? a - 1 : a + 1) | 0;
    const vLo = dec ? subBout(a, 1, lo) : addCout(a, 1, lo);
    const hi = dec ? (aHi - (vLo >>> 31)) | 0 : (aHi + (vLo >>> 31)) | 0;
    const vHi = dec ? subBout(aHi, 0, hi) : addCout(aHi, 0, hi);
    v = aux64(vLo, vHi);
    lf.res = lo;
    lf.resHi = hi;
    cpu.rhi = hi;
  } else {
    const r = dec ? a - 1 : a + 1;
    const vec = dec ? subBout(a, 1, r) : addCout(a, 1, r);
    v = size === 4 ? aux32(vec) : size === 2 ? aux16(vec) : aux8(vec);
    lo = signExtend(r | 0, size);
    lf.res = lo;
    lf.resHi = lo >> 31;
  }
  const of = ((v ^ (v << 1)) >>> 31) & 1;
  lf.aux = auxOf(cf, of, (v >>> 3) & 1);
  return lo;
}

/** INC/DEC Eb, INC/DEC Ev (FE, FF /0 /1) and INC/DEC Zv (40-4F outside 64-bit mode) */
export const incDecE: Handler = (cpu, i) => {
  const size = i.osize;
  const a = readEForWrite(cpu, i, size);
  const r = incDec(cpu, i, size, a, cpu.rhi);
  writeBackE(cpu, i, size, r, cpu.rhi);
};

/** INC/DEC r32 and r64: the register forms, chosen by pickIncDec. */
const incDec32r: Handler = (cpu, i) => {
  cpu.lo[i.rm] = incDec(cpu, i, 4, cpu.lo[i.rm]!, 0);
  cpu.hi[i.rm] = 0;
};
const incDec64r: Handler = (cpu, i) => {
  cpu.lo[i.rm] = incDec(cpu, i, 8, cpu.lo[i.rm]!, cpu.hi[i.rm]!);
  cpu.hi[i.rm] = cpu.rhi;
};

export function pickIncDec(i: Insn): Handler {
  if (i.mod === 3 && i.osize === 4) return incDec32r;
  if (i.mod === 3 && i.osize === 8) return incDec64r;
  return incDecE;
}

export const incDecZ: Handler = (cpu, i) => {
  const size = i.osize;
  const r = incDec(cpu, i, size, cpu.getReg(size, i.reg), cpu.hi[i.reg]!);
  cpu.setReg(size, i.reg, r, cpu.rhi);
};

/** NEG E: 0 - E; CF = (E != 0). */
export const negE: Handler = (cpu, i) => {
  const size = i.osize;
  const a = readEForWrite(cpu, i, size);
  if (size === 8) {
    const lo = alu64(cpu, SUB, 0, 0, a, cpu.rhi);
    writeBackE(cpu, i, 8, lo, cpu.rhi);
  } else {
    writeBackE(cpu, i, size, aluSmall(cpu, SUB, size, 0, a), 0);
  }
};

/** NOT E: no flags. */
export const notE: Handler = (cpu, i) => {
  const size = i.osize;
  const a = readEForWrite(cpu, i, size);
  writeBackE(cpu, i, size, ~a, ~cpu.rhi);
};
