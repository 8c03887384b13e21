// Exchanges: XCHG, XADD, CMPXCHG, CMPXCHG8B/CMPXCHG16B. The emulator runs one logical
// processor, so the implicit and explicit LOCK semantics reduce to ordinary RMW.

import type { Handler } from "../decode/insn.js";
import { CpuFault, GP } from "../exceptions.js";
import { ZF } from "../flags.js";
import { ADD, aluOp, CMP } from "./alu.js";
import { readEForWrite, writeBackE } from "./operand.js";

/** XCHG Eb,Gb / XCHG Ev,Gv */
export const xchgEG: Handler = (cpu, i) => {
  const size = i.osize;
  const e = readEForWrite(cpu, i, size);
  const eHi = cpu.rhi;
  const g = cpu.getReg(size, i.reg);
  writeBackE(cpu, i, size, g, cpu.hi[i.reg]!);
  cpu.setReg(size, i.reg, e, eHi);
};

/** XCHG Zv,rAX (90+r with a register other than rAX, or REX.B) */
export const xchgZA: Handler = (cpu, i) => {
  const size = i.osize;
  const r = i.reg;
  const a = cpu.getReg(size, 0);
  const aHi = cpu.hi[0]!;
  const v = cpu.getReg(size, r);
  cpu.setReg(size, 0, v, cpu.hi[r]!);
  cpu.setReg(size, r, a, aHi);
};

/** XADD Eb,Gb / XADD Ev,Gv: TEMP = SRC + DEST; SRC = DEST; DEST = TEMP (SDM Vol. 2C XADD). */
export const xadd: Handler = (cpu, i) => {
  const size = i.osize;
  const d = readEForWrite(cpu, i, size);
  const dHi = cpu.rhi;
  const s = cpu.getReg(size, i.reg);
  const sum = aluOp(cpu, ADD, size, d, dHi, s, cpu.hi[i.reg]!);
  const sumHi = cpu.rhi;
  cpu.setReg(size, i.reg, d, dHi);
  writeBackE(cpu, i, size, sum, sumHi);
};

/**
 * CMPXCHG Eb,Gb / Ev,Gv (SDM Vol. 2A CMPXCHG): compare the accumulator with DEST; equal:
 * ZF = 1, DEST = SRC; else ZF = 0, accumulator = DEST. The accumulator is written only
 * on failure. On failure Intel writes DEST back with its own value (SDM pseudocode), so
 * a 32-bit register destination has its upper half cleared; AMD leaves a register
 * destination untouched (observed on this machine's EPYC by the native oracle test).
 * A memory destination is written back on both.
 */
export const cmpxchg: Handler = (cpu, i) => {
  const size = i.osize;
  const d = readEForWrite(cpu, i, size);
  const dHi = cpu.rhi;
  const acc = cpu.getReg(size, 0);
  const accHi = cpu.hi[0]!;
  aluOp(cpu, CMP, size, acc, accHi, d, dHi);
  const equal = size === 8 ? acc === d && accHi === dHi : ((acc ^ d) & sizeMask(size)) === 0;
  if (equal) {
    writeBackE(cpu, i, size, cpu.getReg(size, i.reg), cpu.hi[i.reg]!);
  } else {
    if (i.mod === 3) cpu.decide("CMPXCHG", cpu.model.vendor === "intel" ? "writes the register destination back on a mismatch (Intel)" : "leaves the register destination alone on a mismatch (AMD)");
    if (i.mod !== 3 || cpu.model.vendor === "intel") writeBackE(cpu, i, size, d, dHi);
    cpu.setReg(size, 0, d, dHi);
  }
};

function sizeMask(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
}

/**
 * CMPXCHG8B m64 / CMPXCHG16B m128 (0F C7 /1; SDM Vol. 2A): compare EDX:EAX (RDX:RAX) with
 * the memory operand; equal: ZF = 1, store ECX:EBX (RCX:RBX); else ZF = 0, load it into
 * EDX:EAX (RDX:RAX). Memory is written in both cases. CMPXCHG16B requires 16-byte
 * alignment (#GP(0)). Only ZF changes.
 */
export const cmpxchg8b16b: Handler = (cpu, i) => {
  const lin = cpu.eaW(i);
  const lo = cpu.lo;
  const hi = cpu.hi;
  let equal: boolean;
  if (i.osize === 16) {
    if (lin % 16 !== 0) throw new CpuFault(GP, 0);
    cpu.probeWrite(lin, 16);
    const m0 = cpu.rd64(lin);
    const m1 = cpu.rhi;
    const m2 = cpu.rd64(lin + 8);
    const m3 = cpu.rhi;
    equal = m0 === lo[0] && m1 === hi[0] && m2 === lo[2] && m3 === hi[2];
    if (equal) {
      cpu.wr64(lin, lo[3]!, hi[3]!);
      cpu.wr64(lin + 8, lo[1]!, hi[1]!);
    } else {
      cpu.wr64(lin, m0, m1);
      cpu.wr64(lin + 8, m2, m3);
      lo[0] = m0;
      hi[0] = m1;
      lo[2] = m2;
      hi[2] = m3;
    }
  } else {
    cpu.probeWrite(lin, 8);
    const m0 = cpu.rd32(lin);
    const m1 = cpu.rd32(lin + 4);
    equal = m0 === lo[0] && m1 === lo[2];
    if (equal) {
      cpu.wr32(lin, lo[3]!);
      cpu.wr32(lin + 4, lo[1]!);
    } else {
      cpu.wr32(lin, m0);
      cpu.wr32(lin + 4, m1);
      cpu.setReg(4, 0, m0, 0);
      cpu.setReg(4, 2, m1, 0);
    }
  }
  const f = cpu.lf.get();
  cpu.lf.set(equal ? f | ZF : f & ~ZF);
};
