// Segment register instructions: MOV Sreg (both ways), PUSH/POP Sreg, LDS LES LSS LFS
// LGS, ARPL. The loads and their checks are segment.ts's; SDM Vol. 2 MOV, POP, PUSH,
// LDS/LES/LFS/LGS/LSS, ARPL.

import type { Handler } from "../decode/insn.js";
import { CpuFault, UD } from "../exceptions.js";
import { isProtected, loadSegment } from "../segment.js";
import { CS, SS } from "../state.js";
import { readE, readEForWrite, writeBackE, writeE } from "./operand.js";
import { adjustRsp, push } from "./stack.js";

/** MOV r/m, Sreg (8C): the selector; a register gets it zero-extended to the operand size. */
export const movFromSreg: Handler = (cpu, i) => {
  const s = i.reg & 7;
  if (s > 5) throw new CpuFault(UD);
  const sel = cpu.segSel[s]!;
  if (i.mod === 3) cpu.setReg(i.osize, i.rm, sel, 0);
  else writeE(cpu, i, 2, sel, 0);
};

/** MOV Sreg, r/m (8E): CS cannot be loaded (#UD); SS blocks interrupts for one instruction. */
export const movToSreg: Handler = (cpu, i) => {
  const s = i.reg & 7;
  if (s === CS || s > 5) throw new CpuFault(UD);
  const sel = readE(cpu, i, 2);
  loadSegment(cpu, s, sel);
  if (s === SS) cpu.setInterruptShadow();
};

/**
 * PUSH Sreg (i.op = the register). With a 32/64-bit operand size the slot is operand-sized,
 * but recent Intel processors write only its low 16 bits (SDM Vol. 2B PUSH); AMD writes
 * the zero-extended selector.
 */
export const pushSreg: Handler = (cpu, i) => {
  const size = i.osize;
  const sel = cpu.segSel[i.op]!;
  if (size === 2 || cpu.model.vendor === "amd") {
    push(cpu, size, sel, 0);
    return;
  }
  const lin = cpu.stackAddr(-size, size);
  cpu.probeWrite(lin, size);
  cpu.wr16(lin, sel);
  adjustRsp(cpu, -size);
};

/** POP Sreg: load first (a fault leaves RSP alone), then release the slot. */
export const popSreg: Handler = (cpu, i) => {
  const size = i.osize;
  const sel = cpu.rd(cpu.stackAddr(0, size), size) & 0xffff;
  loadSegment(cpu, i.op, sel);
  adjustRsp(cpu, size);
  if (i.op === SS) cpu.setInterruptShadow();
};

/**
 * LDS/LES/LSS/LFS/LGS r, m16:16/32/64 (i.op = the segment): the offset (operand size)
 * then the selector from memory; the segment load comes first, so a fault in it leaves
 * the register unchanged.
 */
export const loadFarPointer: Handler = (cpu, i) => {
  const size = i.osize;
  const lin = cpu.ea(i, size + 2);
  const off = cpu.rd(lin, size);
  const offHi = cpu.rhi;
  const sel = cpu.rd16(lin + size);
  loadSegment(cpu, i.op, sel);
  cpu.setReg(size, i.reg, off, offHi);
  if (i.op === SS) cpu.setInterruptShadow();
};

/**
 * ARPL Ew, Gw (63 outside 64-bit mode): raise the RPL of a selector; ZF = adjusted.
 * Intel: the destination is checked for writing first (SDM Vol. 2A ARPL: #GP(0) if it is
 * in a non-writable segment) and written back either way. AMD writes it only when the RPL
 * is raised: on an AMD EPYC, ARPL through a CS override faults with ZF = 1 and not with
 * ZF = 0 (test/oracle/native-vs-emulator.test.ts, compat32).
 */
export const arpl: Handler = (cpu, i) => {
  if (!isProtected(cpu)) throw new CpuFault(UD);
  const amd = cpu.model.vendor === "amd";
  const dst = amd ? readE(cpu, i, 2) : readEForWrite(cpu, i, 2);
  const src = cpu.getReg(2, i.reg);
  const f = cpu.lf.get();
  if ((dst & 3) < (src & 3)) {
    const value = (dst & ~3) | (src & 3);
    if (amd) writeE(cpu, i, 2, value, 0);
    else writeBackE(cpu, i, 2, value, 0);
    cpu.lf.set(f | 0x40);
  } else {
    if (!amd) writeBackE(cpu, i, 2, dst, 0);
    cpu.lf.set(f & ~0x40);
  }
};
