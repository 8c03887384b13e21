// Segment registers: descriptor fetch from the GDT/LDT, the checks of a selector load and
// their faults (SDM Vol. 3A 5.3-5.8; Vol. 2 MOV, POP, LDS/LES/LFS/LGS/LSS), and the
// system-table reads every event and far transfer shares.

import type { Cpu } from "./cpu.js";
import { unpackDescriptor, type Descriptor } from "./descriptor.js";
import { CpuFault, GP, NP, SS as SS_FAULT, TS } from "./exceptions.js";
import { VM } from "./flags.js";
import { ATTR_DB, ATTR_DPL_SHIFT, ATTR_G, ATTR_L, ATTR_P, ATTR_S, CR0_PE, CS, LDTR, SS } from "./state.js";

/** Error code of a selector fault: the selector without its RPL (SDM Vol. 3A 6.13). */
export function selectorError(sel: number): number {
  return sel & 0xfffc;
}

export function isProtected(cpu: Cpu): boolean {
  return (cpu.cr0 & CR0_PE) !== 0 && (cpu.flagsOther & VM) === 0;
}

/** A descriptor as read from its table, with where it lives (for the accessed bit). */
export interface TableDescriptor extends Descriptor {
  lo: number;
  hi: number;
  /** Linear address of the descriptor. */
  at: number;
  dpl: number;
}

/**
 * Fetch the 8-byte descriptor `sel` names from the GDT or LDT. A selector beyond the
 * table limit raises `vector`(selector) (#GP unless the caller says #TS).
 */
export function fetchDescriptor(cpu: Cpu, sel: number, vector = GP): TableDescriptor {
  let base: number;
  let limit: number;
  if ((sel & 4) !== 0) {
    // LDT: an unusable LDTR makes every LDT selector invalid.
    if ((cpu.segAttr[LDTR]! & ATTR_P) === 0) throw new CpuFault(vector, selectorError(sel));
    base = cpu.segBase(LDTR);
    limit = cpu.segLimit[LDTR]!;
  } else {
    base = cpu.gdtrBase;
    limit = cpu.gdtrLimit;
  }
  if ((sel | 7) > limit) throw new CpuFault(vector, selectorError(sel));
  const at = base + (sel & ~7);
  const lo = cpu.sysRead32(at);
  const hi = cpu.sysRead32(at + 4);
  const d = unpackDescriptor(lo, hi) as TableDescriptor;
  d.lo = lo;
  d.hi = hi;
  d.at = at;
  d.dpl = (d.attr >> ATTR_DPL_SHIFT) & 3;
  return d;
}

/** The high 8 bytes of a 16-byte system descriptor in long mode (bits 63:32 of the base). */
export function fetchDescriptorHigh(cpu: Cpu, d: TableDescriptor, sel: number, vector = GP): number {
  const limit = (sel & 4) !== 0 ? cpu.segLimit[LDTR]! : cpu.gdtrLimit;
  if ((sel | 7) + 8 > limit) throw new CpuFault(vector, selectorError(sel));
  return cpu.sysRead32(d.at + 8);
}

/** Set the accessed bit of a code or data descriptor (SDM Vol. 3A 3.4.5.1). */
export function markAccessed(cpu: Cpu, d: TableDescriptor): void {
  if ((d.hi & (1 << 8)) === 0) cpu.sysWrite32(d.at + 4, d.hi | (1 << 8));
}

/** Load the hidden part of `seg` from a fetched descriptor. */
export function loadHidden(cpu: Cpu, seg: number, sel: number, d: Descriptor): void {
  cpu.segSel[seg] = sel;
  cpu.segBaseLo[seg] = d.base | 0;
  cpu.segBaseHi[seg] = 0;
  cpu.segLimit[seg] = d.limit;
  cpu.segAttr[seg] = d.attr | 1; // the accessed bit, as the descriptor now has it
}

/**
 * A null selector in a data segment register: the register becomes unusable. Base and
 * limit are cleared (Intel; AMD with NullSelectorClearsBase, which this model reports).
 */
export function loadNull(cpu: Cpu, seg: number, sel: number): void {
  cpu.segSel[seg] = sel;
  cpu.segBaseLo[seg] = 0;
  cpu.segBaseHi[seg] = 0;
  cpu.segLimit[seg] = 0;
  cpu.segAttr[seg] = 0;
}

/** Real mode and virtual-8086 mode: base = selector * 16; limit and attributes stay. */
export function loadReal(cpu: Cpu, seg: number, sel: number): void {
  cpu.segSel[seg] = sel;
  cpu.segBaseLo[seg] = sel << 4;
  cpu.segBaseHi[seg] = 0;
  if ((cpu.flagsOther & VM) !== 0) {
    cpu.segLimit[seg] = 0xffff;
    cpu.segAttr[seg] = (seg === CS ? 0xb : 0x3) | ATTR_S | ATTR_P | (3 << ATTR_DPL_SHIFT);
  }
}

/**
 * MOV/POP/LxS to a data segment register or SS, with the checks of SDM Vol. 2 MOV
 * (protected mode and 64-bit mode). CS is loaded only by far transfers.
 */
export function loadSegment(cpu: Cpu, seg: number, sel: number): void {
  sel &= 0xffff;
  if (!isProtected(cpu)) {
    loadReal(cpu, seg, sel);
    if (seg === SS) cpu.refreshMode();
    return;
  }
  const rpl = sel & 3;
  const cpl = cpu.cpl;
  const long64 = cpu.codeSize === 8;
  if (seg === SS) {
    if ((sel & 0xfffc) === 0) {
      // 64-bit mode allows a null SS below CPL 3 when RPL = CPL.
      if (!long64 || cpl === 3 || rpl !== cpl) throw new CpuFault(GP, 0);
      loadNull(cpu, SS, sel);
      cpu.segAttr[SS] = (cpl << ATTR_DPL_SHIFT); // unusable, but SS.DPL keeps the CPL
      cpu.refreshMode();
      return;
    }
    const d = fetchDescriptor(cpu, sel);
    const writableData = (d.attr & (ATTR_S | 0xa)) === (ATTR_S | 0x2);
    if (rpl !== cpl || !writableData || d.dpl !== cpl) throw new CpuFault(GP, selectorError(sel));
    if ((d.attr & ATTR_P) === 0) throw new CpuFault(SS_FAULT, selectorError(sel));
    markAccessed(cpu, d);
    loadHidden(cpu, SS, sel, d);
    cpu.refreshMode();
    return;
  }
  if ((sel & 0xfffc) === 0) {
    loadNull(cpu, seg, sel);
    return;
  }
  const d = fetchDescriptor(cpu, sel);
  const isCode = (d.attr & 8) !== 0;
  const readable = (d.attr & ATTR_S) !== 0 && (!isCode || (d.attr & 2) !== 0);
  const conforming = isCode && (d.attr & 4) !== 0;
  if (!readable || (!conforming && (rpl > d.dpl || cpl > d.dpl))) throw new CpuFault(GP, selectorError(sel));
  if ((d.attr & ATTR_P) === 0) throw new CpuFault(NP, selectorError(sel));
  markAccessed(cpu, d);
  loadHidden(cpu, seg, sel, d);
}

/**
 * Load CS for a far transfer whose privilege checks the caller has done: `cpl` becomes
 * the new CPL and CS.RPL (SDM Vol. 3A 5.8.1).
 */
export function loadCodeSegment(cpu: Cpu, sel: number, d: Descriptor, cpl: number): void {
  loadHidden(cpu, CS, (sel & ~3) | cpl, d);
  if (cpu.cpl !== cpl) {
    cpu.cpl = cpl;
    cpu.flushTlb(); // the TLB holds permissions for one privilege level
  }
  cpu.refreshMode();
}

/** A flat 64-bit or 32-bit code/data descriptor as SYSCALL/SYSENTER load it (no GDT read). */
export function flatSegment(code: boolean, dpl: number, long: boolean): Descriptor {
  const type = code ? 0xb : 0x3;
  const attr = type | ATTR_S | ATTR_P | (dpl << ATTR_DPL_SHIFT) | ATTR_G | (long && code ? ATTR_L : ATTR_DB);
  return { base: 0, limit: 0xffffffff, attr };
}

/** The #TS selector fault used while switching stacks through the TSS. */
export function tsFault(sel: number): CpuFault {
  return new CpuFault(TS, selectorError(sel));
}
