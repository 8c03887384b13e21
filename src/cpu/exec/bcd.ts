// Decimal arithmetic, outside 64-bit mode: DAA DAS AAA AAS AAM AAD, and SALC.
// SDM Vol. 2A, each instruction's Operation; SALC (D6) is undocumented but present on
// Intel and AMD processors: AL = CF ? FFh : 00h.

import type { Handler } from "../decode/insn.js";
import { CpuFault, DE } from "../exceptions.js";
import { resultFlags } from "./alu.js";
import { RAX } from "../state.js";

function al(cpu: Parameters<Handler>[0]): number {
  return cpu.lo[RAX]! & 0xff;
}

function setAl(cpu: Parameters<Handler>[0], v: number): void {
  cpu.lo[RAX] = (cpu.lo[RAX]! & ~0xff) | (v & 0xff);
}

/** DAA: decimal adjust AL after addition. OF is undefined (cleared here). */
export const daa: Handler = (cpu) => {
  const oldAl = al(cpu);
  const oldCf = cpu.lf.cf();
  let a = oldAl;
  let cf = 0;
  let af = 0;
  if ((a & 0xf) > 9 || cpu.lf.af() === 1) {
    a += 6;
    cf = oldCf | (a > 0xff ? 1 : 0);
    af = 1;
  }
  if (oldAl > 0x99 || oldCf === 1) {
    a += 0x60;
    cf = 1;
  } else {
    cf = 0;
  }
  setAl(cpu, a);
  resultFlags(cpu, 1, a & 0xff, 0, cf, 0, af);
};

/** DAS: decimal adjust AL after subtraction. OF is undefined (cleared here). */
export const das: Handler = (cpu) => {
  const oldAl = al(cpu);
  const oldCf = cpu.lf.cf();
  let a = oldAl;
  let cf = 0;
  let af = 0;
  if ((a & 0xf) > 9 || cpu.lf.af() === 1) {
    a -= 6;
    cf = oldCf | (a < 0 ? 1 : 0);
    af = 1;
  }
  if (oldAl > 0x99 || oldCf === 1) {
    a -= 0x60;
    cf = 1;
  }
  setAl(cpu, a);
  resultFlags(cpu, 1, a & 0xff, 0, cf, 0, af);
};

/**
 * AAA / AAS (i.op 0 / 1): ASCII adjust after addition / subtraction, as the 386 and later
 * do it (AX +/- 106h). OF SF ZF PF are undefined; this model takes them from AL.
 */
export const aaaAas: Handler = (cpu, i) => {
  let ax = cpu.lo[RAX]! & 0xffff;
  let adjust = 0;
  if ((ax & 0xf) > 9 || cpu.lf.af() === 1) {
    ax = i.op === 0 ? ax + 0x106 : ax - 6 - 0x100;
    adjust = 1;
  }
  ax &= 0xff0f;
  cpu.lo[RAX] = (cpu.lo[RAX]! & ~0xffff) | ax;
  resultFlags(cpu, 1, ax & 0xff, 0, adjust, 0, adjust);
};

/** AAM imm8: AH = AL / imm8, AL = AL mod imm8; #DE when imm8 = 0. */
export const aam: Handler = (cpu, i) => {
  const base = i.imm & 0xff;
  if (base === 0) throw new CpuFault(DE);
  const a = al(cpu);
  const q = Math.floor(a / base);
  const r = a % base;
  cpu.lo[RAX] = (cpu.lo[RAX]! & ~0xffff) | (q << 8) | r;
  resultFlags(cpu, 1, r, 0, 0, 0, 0);
};

/** AAD imm8: AL = AL + AH * imm8 (8 bits), AH = 0. */
export const aad: Handler = (cpu, i) => {
  const base = i.imm & 0xff;
  const ax = cpu.lo[RAX]! & 0xffff;
  const r = ((ax & 0xff) + (ax >>> 8) * base) & 0xff;
  cpu.lo[RAX] = (cpu.lo[RAX]! & ~0xffff) | r;
  resultFlags(cpu, 1, r, 0, 0, 0, 0);
};

/** SALC (D6, undocumented): AL = CF ? FFh : 0; flags unchanged. */
export const salc: Handler = (cpu) => {
  setAl(cpu, cpu.lf.cf() === 1 ? 0xff : 0);
};
