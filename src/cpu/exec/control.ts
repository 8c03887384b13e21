// Near control transfer: Jcc, JMP, CALL, RET (near, direct and indirect, RET imm16),
// LOOP/LOOPE/LOOPNE, JrCXZ. SDM Vol. 2A CALL, Jcc, JMP; Vol. 2B LOOP, RET.
// Far transfers and their descriptor checks belong with segmentation.

import type { Cpu } from "../cpu.js";
import type { Handler, Insn } from "../decode/insn.js";
import { CpuFault, GP } from "../exceptions.js";
import { RCX } from "../state.js";
import { readE } from "./operand.js";
import { adjustRsp, push } from "./stack.js";

const TWO32 = 4294967296;
const CANON_LIMIT = 140737488355328;

/**
 * The new RIP for a branch to `target` with operand size `osize`: 64-bit targets must be
 * canonical (#GP(0), raised by the branch itself, RIP unchanged); 32- and 16-bit targets
 * are truncated. Outside 64-bit mode the CS limit applies.
 */
function branchTarget(cpu: Cpu, osize: number, target: number): number {
  if (osize === 8) {
    if (target >= CANON_LIMIT || target < -CANON_LIMIT) throw new CpuFault(GP, 0);
    return target;
  }
  const t = osize === 4 ? ((target % TWO32) + TWO32) % TWO32 : target & 0xffff;
  if (cpu.codeSize !== 8 && t > cpu.segLimit[1]!) throw new CpuFault(GP, 0);
  return t;
}

/** A 64-bit register value (lo, hi) as a RIP number (canonical check happens after). */
function asAddress(lo: number, hi: number): number {
  return hi * TWO32 + (lo >>> 0);
}

/** Jcc Jb / Jcc Jz */
export const jcc: Handler = (cpu, i) => {
  if (cpu.lf.cond(i.op)) cpu.rip = branchTarget(cpu, i.osize, cpu.rip + i.imm);
};

/** JMP Jb / JMP Jz */
export const jmpRel: Handler = (cpu, i) => {
  cpu.rip = branchTarget(cpu, i.osize, cpu.rip + i.imm);
};

/** JMP Ev (FF /4) */
export const jmpE: Handler = (cpu, i) => {
  const lo = readE(cpu, i, i.osize);
  const t = i.osize === 8 ? asAddress(lo, cpu.rhi) : lo >>> 0;
  cpu.rip = branchTarget(cpu, i.osize, t);
};

/** The return address, as pushed by CALL: the next RIP at the operand size. */
function pushReturn(cpu: Cpu, osize: number): void {
  const r = cpu.rip;
  push(cpu, osize, r % TWO32 | 0, Math.floor(r / TWO32) | 0);
}

/** CALL Jz: the target is checked before anything is pushed. */
export const callRel: Handler = (cpu, i) => {
  const t = branchTarget(cpu, i.osize, cpu.rip + i.imm);
  pushReturn(cpu, i.osize);
  cpu.rip = t;
};

/** CALL Ev (FF /2): the target is read (and checked) before the push. */
export const callE: Handler = (cpu, i) => {
  const lo = readE(cpu, i, i.osize);
  const t = branchTarget(cpu, i.osize, i.osize === 8 ? asAddress(lo, cpu.rhi) : lo >>> 0);
  pushReturn(cpu, i.osize);
  cpu.rip = t;
};

/** RET / RET Iw (C3, C2): pop, check, then release imm16 extra bytes. */
function ret(cpu: Cpu, i: Insn, extra: number): void {
  const osize = i.osize;
  const lo = cpu.rd(cpu.stackAddr(0, osize), osize);
  const t = branchTarget(cpu, osize, osize === 8 ? asAddress(lo, cpu.rhi) : lo >>> 0);
  adjustRsp(cpu, osize + extra);
  cpu.rip = t;
}
export const retNear: Handler = (cpu, i) => ret(cpu, i, 0);
export const retNearImm: Handler = (cpu, i) => ret(cpu, i, i.imm & 0xffff);

/** LOOP/LOOPE/LOOPNE Jb (E2, E1, E0; i.op = 0 LOOP, 1 LOOPE, 2 LOOPNE): rCX-- first. */
export const loop: Handler = (cpu, i) => {
  const asize = i.asize;
  const lo = (cpu.lo[RCX]! - 1) | 0;
  let hi = cpu.hi[RCX]!;
  if (asize === 8 && lo === -1) hi = (hi - 1) | 0;
  const zero = asize === 8 ? (lo | hi) === 0 : asize === 4 ? lo === 0 : (lo & 0xffff) === 0;
  const taken = !zero && (i.op === 0 || (cpu.lf.zf() === 1) === (i.op === 1));
  // A taken branch to a bad target faults before rCX changes.
  const t = taken ? branchTarget(cpu, i.osize, cpu.rip + i.imm) : 0;
  // The counter is rCX at the address size; ECX is written as a 32-bit register.
  if (asize === 8) {
    cpu.lo[RCX] = lo;
    cpu.hi[RCX] = hi;
  } else {
    cpu.setReg(asize, RCX, lo, 0);
  }
  if (taken) cpu.rip = t;
};

/** JCXZ/JECXZ/JRCXZ Jb (E3): jump when rCX (at the address size) is zero. */
export const jrcxz: Handler = (cpu, i) => {
  const lo = cpu.lo[RCX]!;
  const zero = i.asize === 8 ? (lo | cpu.hi[RCX]!) === 0 : i.asize === 4 ? lo === 0 : (lo & 0xffff) === 0;
  if (zero) cpu.rip = branchTarget(cpu, i.osize, cpu.rip + i.imm);
};
