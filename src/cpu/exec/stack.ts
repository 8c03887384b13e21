// The stack: PUSH POP (all forms), PUSHF POPF, ENTER LEAVE, and the push/pop primitives
// the control-transfer instructions share. SDM Vol. 2B PUSH, POP, PUSHF, POPF; Vol. 2A
// ENTER, LEAVE. The stack pointer width is the stack size (64 in 64-bit mode, else SS.B).

import type { Cpu } from "../cpu.js";
import type { Handler } from "../decode/insn.js";
import { AC, ARITH_FLAGS, DF, ID, IF, IOPL, NT, RF, TF, VIF, VIP, VM } from "../flags.js";
import { RBP, RSP, SS } from "../state.js";
import { readE, writeE } from "./operand.js";

/** RSP += delta at the stack size. */
export function adjustRsp(cpu: Cpu, delta: number): void {
  const lo = cpu.lo;
  switch (cpu.stackSize) {
    case 8: {
      const s = (lo[RSP]! >>> 0) + delta;
      cpu.hi[RSP] = (cpu.hi[RSP]! + Math.floor(s / 4294967296)) | 0;
      lo[RSP] = s | 0;
      break;
    }
    case 4:
      lo[RSP] = (lo[RSP]! + delta) | 0;
      break;
    default:
      lo[RSP] = (lo[RSP]! & ~0xffff) | ((lo[RSP]! + delta) & 0xffff);
  }
}

/** Push `size` bytes (lo, and hi for 8). The write happens before RSP changes. */
export function push(cpu: Cpu, size: number, lo: number, hi: number): void {
  cpu.wr(cpu.stackAddr(-size, size), size, lo, hi);
  adjustRsp(cpu, -size);
}

/** Pop `size` bytes; returns lo, hi in cpu.rhi. RSP changes after the read. */
export function pop(cpu: Cpu, size: number): number {
  const v = cpu.rd(cpu.stackAddr(0, size), size);
  adjustRsp(cpu, size);
  return v;
}

/** PUSH Zv (50+r): the value before the decrement (PUSH RSP pushes the old RSP). */
export const pushZ: Handler = (cpu, i) => {
  const v = cpu.getReg(i.osize, i.reg);
  push(cpu, i.osize, v, cpu.hi[i.reg]!);
};

/** POP Zv (58+r): POP RSP loads the popped value (the increment is overwritten). */
export const popZ: Handler = (cpu, i) => {
  const v = pop(cpu, i.osize);
  cpu.setReg(i.osize, i.reg, v, cpu.rhi);
};

/** PUSH Ev (FF /6): the operand is read before RSP changes. */
export const pushE: Handler = (cpu, i) => {
  const v = readE(cpu, i, i.osize);
  push(cpu, i.osize, v, cpu.rhi);
};

/**
 * POP Ev (8F /0). A memory destination's address is computed after RSP is incremented
 * (SDM Vol. 2B POP), and a fault on the store leaves RSP unchanged.
 */
export const popE: Handler = (cpu, i) => {
  const size = i.osize;
  const v = cpu.rd(cpu.stackAddr(0, size), size);
  const vHi = cpu.rhi;
  if (i.mod === 3) {
    adjustRsp(cpu, size);
    cpu.setReg(size, i.rm, v, vHi);
    return;
  }
  const oldLo = cpu.lo[RSP]!;
  const oldHi = cpu.hi[RSP]!;
  adjustRsp(cpu, size);
  try {
    writeE(cpu, i, size, v, vHi);
  } catch (e) {
    cpu.lo[RSP] = oldLo;
    cpu.hi[RSP] = oldHi;
    throw e;
  }
};

/** PUSH Iz / PUSH Ib (68, 6A): the sign-extended immediate. */
export const pushI: Handler = (cpu, i) => {
  push(cpu, i.osize, i.imm, i.immHi);
};

/** PUSHF/PUSHFD/PUSHFQ: the image has VM and RF cleared (SDM Vol. 2B PUSHF). */
export const pushf: Handler = (cpu, i) => {
  const f = cpu.getRflags() & ~(VM | RF);
  push(cpu, i.osize, f, 0);
};

/**
 * POPF/POPFD/POPFQ outside virtual-8086 mode (SDM Vol. 2B POPF): VM, VIP, VIF are never
 * changed and RF is cleared; IOPL changes only at CPL 0; IF only when CPL <= IOPL.
 * A 16-bit POPF changes only the low 16 bits.
 */
export const popf: Handler = (cpu, i) => {
  const size = i.osize;
  const v = pop(cpu, size);
  const old = cpu.getRflags();
  let changeable = ARITH_FLAGS | TF | DF | NT | AC | ID;
  if (cpu.cpl === 0) changeable |= IOPL;
  if (cpu.cpl <= (old & IOPL) >> 12) changeable |= IF;
  if (size === 2) changeable &= 0xffff;
  const nf = ((old & ~changeable) | (v & changeable)) & ~RF;
  cpu.setRflags(nf & ~(VM | VIP | VIF) | (old & (VM | VIP | VIF)));
};

/**
 * ENTER Iw,Ib (SDM Vol. 2A ENTER): push rBP, copy `level - 1` frame pointers from the
 * enclosing frame, push the new frame pointer, then reserve Iw bytes. Level is taken
 * modulo 32. All writes are checked before any register changes.
 */
export const enter: Handler = (cpu, i) => {
  const size = i.osize;
  const alloc = i.imm & 0xffff;
  const level = i.imm2 & 31;
  const oldLo = cpu.lo[RSP]!;
  const oldHi = cpu.hi[RSP]!;
  const oldBpLo = cpu.lo[RBP]!;
  const oldBpHi = cpu.hi[RBP]!;
  try {
    push(cpu, size, cpu.getReg(size, RBP), oldBpHi);
    const frameLo = cpu.lo[RSP]!;
    const frameHi = cpu.hi[RSP]!;
    if (level > 0) {
      // Copy level-1 frame pointers from [rBP - k*size], rBP at the stack size.
      for (let k = 1; k < level; k++) {
        const src = bpSlot(cpu, oldBpLo, oldBpHi, -k * size, size);
        const v = cpu.rd(src, size);
        push(cpu, size, v, cpu.rhi);
      }
      push(cpu, size, frameLo, frameHi);
    }
    // ENTER ends with a write check of the final top of stack (as Bochs models it).
    adjustRsp(cpu, -alloc);
    cpu.probeWrite(cpu.stackAddr(0, size), size);
    cpu.setReg(size, RBP, frameLo, frameHi);
  } catch (e) {
    cpu.lo[RSP] = oldLo;
    cpu.hi[RSP] = oldHi;
    throw e;
  }
};

/** Linear address of rBP + delta in the stack segment, at the stack size. */
function bpSlot(cpu: Cpu, bpLo: number, bpHi: number, delta: number, size: number): number {
  if (cpu.stackSize === 8) {
    const s = (bpLo >>> 0) + delta;
    return cpu.segAddr(SS, s | 0, (bpHi + Math.floor(s / 4294967296)) | 0, size, false);
  }
  const off = cpu.stackSize === 4 ? (bpLo + delta) | 0 : (bpLo + delta) & 0xffff;
  return cpu.segAddr(SS, off, 0, size, false);
}

/** LEAVE: rSP = rBP, then pop rBP. */
export const leave: Handler = (cpu, i) => {
  const size = i.osize;
  const bpLo = cpu.lo[RBP]!;
  const bpHi = cpu.hi[RBP]!;
  // Read through the new stack pointer before committing it.
  const v = cpu.rd(bpSlot(cpu, bpLo, bpHi, 0, size), size);
  const vHi = cpu.rhi;
  if (cpu.stackSize === 8) {
    cpu.lo[RSP] = bpLo;
    cpu.hi[RSP] = bpHi;
  } else if (cpu.stackSize === 4) {
    cpu.lo[RSP] = bpLo;
  } else {
    cpu.lo[RSP] = (cpu.lo[RSP]! & ~0xffff) | (bpLo & 0xffff);
  }
  adjustRsp(cpu, size);
  cpu.setReg(size, RBP, v, vHi);
};

/**
 * Fault now if any of the next `count` pushes of `size` bytes cannot be written: each slot
 * on its own, since the stack pointer wraps within a 16-bit stack segment.
 */
export function probePushes(cpu: Cpu, count: number, size: number): void {
  for (let k = 1; k <= count; k++) cpu.probeWrite(cpu.stackAddr(-k * size, size), size);
}

/** PUSHA/PUSHAD (60, not in 64-bit mode): AX CX DX BX, the original SP, BP SI DI. */
export const pusha: Handler = (cpu, i) => {
  const size = i.osize;
  probePushes(cpu, 8, size);
  const sp = cpu.getReg(size, RSP);
  for (let r = 0; r < 8; r++) push(cpu, size, r === RSP ? sp : cpu.getReg(size, r), 0);
};

/** POPA/POPAD (61): DI SI BP, skip SP, BX DX CX AX. */
export const popa: Handler = (cpu, i) => {
  const size = i.osize;
  const values: number[] = [];
  for (let k = 0; k < 8; k++) values.push(cpu.rd(cpu.stackAddr(k * size, size), size));
  for (let k = 0; k < 8; k++) {
    const r = 7 - k;
    if (r !== RSP) cpu.setReg(size, r, values[k]!, 0);
  }
  adjustRsp(cpu, 8 * size);
};
