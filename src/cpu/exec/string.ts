// String instructions: MOVS CMPS SCAS LODS STOS, with REP / REPE / REPNE and DF.
// SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ" and each instruction.
//
// The source is seg:rSI (DS unless overridden), the destination ES:rDI (no override);
// rSI, rDI and rCX are used at the address size. Each REP iteration counts as one step;
// when the step budget runs out mid-REP the instruction stops with RIP still on it and
// rCX/rSI/rDI showing the iterations done, exactly as an interrupt would find it.

import type { Cpu } from "../cpu.js";
import type { Handler, Insn } from "../decode/insn.js";
import { P_REP, P_REPNE } from "../decode/insn.js";
import { DF } from "../flags.js";
import { ES, RCX, RDI, RSI } from "../state.js";
import { aluOp, CMP } from "./alu.js";

export const MOVS = 0, CMPS = 1, STOS = 2, LODS = 3, SCAS = 4;

/** Linear address of seg:reg at the address size, for `size` bytes. */
function strAddr(cpu: Cpu, seg: number, reg: number, asize: number, size: number, write: boolean): number {
  const lo = cpu.lo[reg]!;
  if (asize === 8) return cpu.segAddr(seg, lo, cpu.hi[reg]!, size, write);
  return cpu.segAddr(seg, asize === 4 ? lo : lo & 0xffff, 0, size, write);
}

/** reg += delta at the address size (32-bit index registers are written as ERSI/EDI). */
function step(cpu: Cpu, reg: number, asize: number, delta: number): void {
  if (asize === 8) {
    const s = (cpu.lo[reg]! >>> 0) + delta;
    cpu.hi[reg] = (cpu.hi[reg]! + Math.floor(s / 4294967296)) | 0;
    cpu.lo[reg] = s | 0;
  } else {
    cpu.setReg(asize, reg, cpu.lo[reg]! + delta, 0);
  }
}

function count(cpu: Cpu, asize: number): number {
  const lo = cpu.lo[RCX]!;
  if (asize === 8) return cpu.hi[RCX]! * 4294967296 + (lo >>> 0);
  return asize === 4 ? lo >>> 0 : lo & 0xffff;
}

function decCount(cpu: Cpu, asize: number): void {
  step(cpu, RCX, asize, -1);
}

/** One iteration of string operation `op`. */
function once(cpu: Cpu, i: Insn, op: number, size: number, delta: number): void {
  const asize = i.asize;
  switch (op) {
    case MOVS: {
      const v = cpu.rd(strAddr(cpu, i.seg, RSI, asize, size, false), size);
      cpu.wr(strAddr(cpu, ES, RDI, asize, size, true), size, v, cpu.rhi);
      step(cpu, RSI, asize, delta);
      step(cpu, RDI, asize, delta);
      break;
    }
    case CMPS: {
      const a = cpu.rd(strAddr(cpu, i.seg, RSI, asize, size, false), size);
      const aHi = cpu.rhi;
      const b = cpu.rd(strAddr(cpu, ES, RDI, asize, size, false), size);
      aluOp(cpu, CMP, size, a, aHi, b, cpu.rhi);
      step(cpu, RSI, asize, delta);
      step(cpu, RDI, asize, delta);
      break;
    }
    case STOS:
      cpu.wr(strAddr(cpu, ES, RDI, asize, size, true), size, cpu.getReg(size, 0), cpu.hi[0]!);
      step(cpu, RDI, asize, delta);
      break;
    case LODS: {
      const v = cpu.rd(strAddr(cpu, i.seg, RSI, asize, size, false), size);
      cpu.setReg(size, 0, v, cpu.rhi);
      step(cpu, RSI, asize, delta);
      break;
    }
    default: {
      // SCAS
      const b = cpu.rd(strAddr(cpu, ES, RDI, asize, size, false), size);
      const bHi = cpu.rhi;
      aluOp(cpu, CMP, size, cpu.getReg(size, 0), cpu.hi[0]!, b, bHi);
      step(cpu, RDI, asize, delta);
    }
  }
}

/** MOVS/CMPS/STOS/LODS/SCAS with or without a repeat prefix (i.op: the operation). */
export const stringOp: Handler = (cpu, i) => {
  const size = i.osize;
  const op = i.op;
  const delta = (cpu.flagsOther & DF) !== 0 ? -size : size;
  if ((i.prefix & (P_REP | P_REPNE)) === 0) {
    once(cpu, i, op, size, delta);
    return;
  }
  // REPE/REPNE test ZF only for CMPS and SCAS; F2 on the others repeats like F3.
  const conditional = op === CMPS || op === SCAS;
  const whileEqual = (i.prefix & P_REP) !== 0;
  let first = true;
  while (count(cpu, i.asize) !== 0) {
    if (!first) cpu.steps++;
    first = false;
    once(cpu, i, op, size, delta);
    decCount(cpu, i.asize);
    if (conditional && (cpu.lf.zf() === 1) !== whileEqual) return;
    if (count(cpu, i.asize) !== 0 && cpu.steps + 1 >= cpu.stepLimit) {
      // Out of budget: leave RIP on the instruction, as an interrupted REP does.
      cpu.rip = cpu.insnRip;
      return;
    }
  }
};
