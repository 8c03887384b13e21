// Operand access shared by the handlers: the E (ModRM r/m) operand as a register or
// memory, by operand size. For 8-byte values the high half travels in cpu.rhi.

import type { Cpu } from "../cpu.js";
import type { Insn } from "../decode/insn.js";

/** Read the E operand of `i` at `size` bytes. */
export function readE(cpu: Cpu, i: Insn, size: number): number {
  if (i.mod === 3) return cpu.getReg(size, i.rm);
  return cpu.rd(cpu.ea(i, size), size);
}

/** Linear address of the memory E operand being modified (set by readEForWrite). */
let rmwLin = 0;

/**
 * Read the E operand of a read-modify-write instruction. A memory operand is checked
 * for write access before it is read, so the write-back cannot fault (SDM: the access
 * of an RMW instruction is a write).
 */
export function readEForWrite(cpu: Cpu, i: Insn, size: number): number {
  if (i.mod === 3) return cpu.getReg(size, i.rm);
  rmwLin = cpu.eaW(i, size);
  return cpu.rdw(rmwLin, size);
}

/** Write back the E operand read by readEForWrite. */
export function writeBackE(cpu: Cpu, i: Insn, size: number, lo: number, hi: number): void {
  if (i.mod === 3) cpu.setReg(size, i.rm, lo, hi);
  else cpu.wr(rmwLin, size, lo, hi);
}

/** Write the E operand (no prior read). */
export function writeE(cpu: Cpu, i: Insn, size: number, lo: number, hi: number): void {
  if (i.mod === 3) cpu.setReg(size, i.rm, lo, hi);
  else cpu.wr(cpu.eaW(i, size), size, lo, hi);
}

/** Sign-extend a `size`-byte value to int32. */
export function signExtend(v: number, size: number): number {
  return size === 1 ? (v << 24) >> 24 : size === 2 ? (v << 16) >> 16 : v | 0;
}
