// Far control transfers: JMP, CALL and RET far, in real mode, protected mode and IA-32e
// mode, through code segments and call gates, with the privilege rules (SDM Vol. 2A
// CALL, JMP; Vol. 2B RET; Vol. 3A 5.8). Task gates and TSS targets (task switches) are
// not implemented: they end the run as `unsupported`, saying so.

import type { Cpu } from "../cpu.js";
import type { Handler, Insn } from "../decode/insn.js";
import { CpuFault, GP, NP, SS as SS_FAULT, TS } from "../exceptions.js";
import {
  fetchDescriptor, fetchDescriptorHigh, isProtected, loadCodeSegment, loadHidden, loadNull, loadReal,
  markAccessed, selectorError, type TableDescriptor,
} from "../segment.js";
import { ATTR_DB, ATTR_L, ATTR_P, ATTR_S, CS, DS, EFER_LMA, ES, FS, GS, RSP, SS, TR } from "../state.js";
import { adjustRsp, probePushes, push } from "./stack.js";

const TWO32 = 4294967296;
const CANON = 140737488355328;

/** Where a far transfer lands, once its checks pass. */
interface Target {
  sel: number;
  d: TableDescriptor;
  offset: number;
  cpl: number;
}

function isCode(d: TableDescriptor): boolean {
  return (d.attr & (ATTR_S | 8)) === (ATTR_S | 8);
}

function is64(d: TableDescriptor): boolean {
  return (d.attr & ATTR_L) !== 0 && (d.attr & ATTR_DB) === 0;
}

/** Offset checks for a code segment target: canonical (64-bit) or within the limit. */
function checkOffset(cpu: Cpu, d: TableDescriptor, offset: number): void {
  const long = (cpu.efer & EFER_LMA) !== 0;
  if (long && is64(d)) {
    if (offset >= CANON || offset < -CANON) throw new CpuFault(GP, 0);
  } else if (offset > d.limit) {
    throw new CpuFault(GP, 0);
  }
}

/** Checks on a code segment reached directly (SDM Vol. 3A 5.8.1). */
function directCode(cpu: Cpu, sel: number, d: TableDescriptor): void {
  const conforming = (d.attr & 4) !== 0;
  if (conforming ? d.dpl > cpu.cpl : (sel & 3) > cpu.cpl || d.dpl !== cpu.cpl) throw new CpuFault(GP, selectorError(sel));
  if ((d.attr & ATTR_P) === 0) throw new CpuFault(NP, selectorError(sel));
  if ((cpu.efer & EFER_LMA) !== 0 && (d.attr & ATTR_L) !== 0 && (d.attr & ATTR_DB) !== 0) throw new CpuFault(GP, selectorError(sel));
}

/** A call gate: its own checks, then its target code segment and offset. */
function throughGate(cpu: Cpu, gateSel: number, g: TableDescriptor, call: boolean): { target: Target; params: number; gate32: boolean } {
  const long = (cpu.efer & EFER_LMA) !== 0;
  const type = g.attr & 0xf;
  if (long ? type !== 0xc : type !== 0xc && type !== 0x4) throw new CpuFault(GP, selectorError(gateSel));
  if (g.dpl < cpu.cpl || g.dpl < (gateSel & 3)) throw new CpuFault(GP, selectorError(gateSel));
  if ((g.attr & ATTR_P) === 0) throw new CpuFault(NP, selectorError(gateSel));
  const codeSel = g.lo >>> 16;
  let offset = ((g.hi & 0xffff0000) | (g.lo & 0xffff)) >>> 0;
  if (type === 0x4) offset &= 0xffff;
  if (long) {
    const hi = fetchDescriptorHigh(cpu, g, gateSel);
    // The upper 8 bytes of a 64-bit call gate: type field 0 (SDM Vol. 3A 5.8.3.1).
    if (((cpu.sysRead32(g.at + 12) >>> 8) & 0x1f) !== 0) throw new CpuFault(GP, selectorError(gateSel));
    offset = hi * TWO32 + offset;
  }
  if ((codeSel & 0xfffc) === 0) throw new CpuFault(GP, 0);
  const d = fetchDescriptor(cpu, codeSel);
  if (!isCode(d) || d.dpl > cpu.cpl) throw new CpuFault(GP, selectorError(codeSel));
  const conforming = (d.attr & 4) !== 0;
  // JMP through a gate cannot change privilege: a non-conforming target must be at CPL.
  if (!call && !conforming && d.dpl !== cpu.cpl) throw new CpuFault(GP, selectorError(codeSel));
  if ((d.attr & ATTR_P) === 0) throw new CpuFault(NP, selectorError(codeSel));
  if (long && !is64(d)) throw new CpuFault(GP, selectorError(codeSel));
  checkOffset(cpu, d, offset);
  const cpl = conforming ? cpu.cpl : d.dpl;
  return { target: { sel: codeSel, d, offset, cpl }, params: g.hi & 0x1f, gate32: type === 0xc };
}

function resolve(cpu: Cpu, sel: number, offset: number, call: boolean): { target: Target; gate: { params: number; gate32: boolean } | null } {
  if ((sel & 0xfffc) === 0) throw new CpuFault(GP, 0);
  const d = fetchDescriptor(cpu, sel);
  if (isCode(d)) {
    directCode(cpu, sel, d);
    checkOffset(cpu, d, offset);
    return { target: { sel, d, offset, cpl: cpu.cpl }, gate: null };
  }
  const type = d.attr & (ATTR_S | 0xf);
  if (type === 0x4 || type === 0xc) {
    const g = throughGate(cpu, sel, d, call);
    return { target: g.target, gate: { params: g.params, gate32: g.gate32 } };
  }
  if (type === 0x5 || type === 0x1 || type === 0x9) cpu.stopUnsupported("a far transfer through a task gate or TSS descriptor (task switch)");
  throw new CpuFault(GP, selectorError(sel));
}

function land(cpu: Cpu, t: Target): void {
  markAccessed(cpu, t.d);
  loadCodeSegment(cpu, t.sel, t.d, t.cpl);
  cpu.rip = t.offset;
}

/** The far pointer operand: `Ap` (imm = offset, imm2 = selector) or `Mp` (memory). */
function farPointer(cpu: Cpu, i: Insn): { sel: number; offset: number } {
  if (i.entry !== null && i.entry.ops[0]?.kind === "P") {
    return { sel: i.imm2, offset: i.imm >>> 0 };
  }
  const size = i.osize;
  const lin = cpu.ea(i, size + 2);
  const lo = cpu.rd(lin, size);
  const hi = size === 8 ? cpu.rhi : 0;
  const sel = cpu.rd16(lin + size);
  const offset = size === 8 ? hi * TWO32 + (lo >>> 0) : size === 4 ? lo >>> 0 : lo & 0xffff;
  return { sel, offset };
}

/** JMP far: EA ptr16:16/32 (not in 64-bit mode) and FF /5 m16:16/32/64. */
export const jmpFar: Handler = (cpu, i) => {
  const { sel, offset } = farPointer(cpu, i);
  if (!isProtected(cpu)) {
    if ((offset & ~0xffff) !== 0 && i.osize === 2) throw new CpuFault(GP, 0);
    loadReal(cpu, CS, sel);
    cpu.rip = offset;
    cpu.refreshMode();
    return;
  }
  land(cpu, resolve(cpu, sel, offset, false).target);
};

/** CALL far: 9A ptr16:16/32 and FF /3 m16:16/32/64, with call gates and stack switches. */
export const callFar: Handler = (cpu, i) => {
  const { sel, offset } = farPointer(cpu, i);
  const osize = i.osize;
  const retRip = cpu.rip;
  const oldCs = cpu.segSel[CS]!;
  if (!isProtected(cpu)) {
    pushBoth(cpu, osize, oldCs, retRip);
    loadReal(cpu, CS, sel);
    cpu.rip = offset;
    cpu.refreshMode();
    return;
  }
  const { target, gate } = resolve(cpu, sel, offset, true);
  if (gate === null || target.cpl === cpu.cpl) {
    // Same privilege: push CS:RIP at the operand size (the gate's size through a gate).
    const size = gate === null ? osize : (cpu.efer & EFER_LMA) !== 0 ? 8 : gate.gate32 ? 4 : 2;
    pushBoth(cpu, size, oldCs, retRip);
    land(cpu, target);
    return;
  }
  callInner(cpu, target, gate, oldCs, retRip);
};

/** Push CS then RIP (both checked writable first, so a fault leaves RSP unchanged). */
function pushBoth(cpu: Cpu, size: number, cs: number, rip: number): void {
  probePushes(cpu, 2, size);
  push(cpu, size, cs, 0);
  push(cpu, size, rip % TWO32 | 0, Math.floor(rip / TWO32) | 0);
}

/**
 * CALL through a gate to more privilege: the new stack from the TSS, then old SS:RSP, the
 * gate's parameters (legacy only), CS:RIP (SDM Vol. 3A 5.8.5, 5.8.6).
 */
function callInner(cpu: Cpu, t: Target, gate: { params: number; gate32: boolean }, oldCs: number, retRip: number): void {
  const long = (cpu.efer & EFER_LMA) !== 0;
  const oldSs = cpu.segSel[SS]!;
  const oldSpLo = cpu.lo[RSP]!;
  const oldSpHi = cpu.hi[RSP]!;
  const size = long ? 8 : gate.gate32 ? 4 : 2;
  // Parameters come from the old stack before it changes.
  const params: number[] = [];
  for (let k = gate.params - 1; !long && k >= 0; k--) params.push(cpu.rd(cpu.stackAddr(k * size, size), size));
  if (long) {
    const at = 4 + t.cpl * 8;
    if (at + 7 > cpu.segLimit[TR]!) throw new CpuFault(TS, selectorError(cpu.segSel[TR]!));
    const lo = cpu.sysRead32(cpu.segBase(TR) + at);
    const hi = cpu.sysRead32(cpu.segBase(TR) + at + 4);
    if (((hi << 16) >> 16) !== hi) throw new CpuFault(SS_FAULT, 0);
    loadNull(cpu, SS, t.cpl);
    cpu.segAttr[SS] = t.cpl << 5;
    cpu.lo[RSP] = lo;
    cpu.hi[RSP] = hi;
    cpu.stackSize = 8;
  } else {
    const tss32 = (cpu.segAttr[TR]! & 0xf) === 0xb || (cpu.segAttr[TR]! & 0xf) === 0x9;
    const at = tss32 ? 4 + t.cpl * 8 : 2 + t.cpl * 4;
    if (at + (tss32 ? 5 : 3) > cpu.segLimit[TR]!) throw new CpuFault(TS, selectorError(cpu.segSel[TR]!));
    const base = cpu.segBase(TR);
    const sp = tss32 ? cpu.sysRead32(base + at) : cpu.sysRead32(base + at) & 0xffff;
    const ss = tss32 ? cpu.sysRead32(base + at + 4) & 0xffff : cpu.sysRead32(base + at) >>> 16;
    if ((ss & 0xfffc) === 0) throw new CpuFault(TS, 0);
    const sd = fetchDescriptor(cpu, ss, TS);
    if ((ss & 3) !== t.cpl || sd.dpl !== t.cpl || (sd.attr & (ATTR_S | 0xa)) !== (ATTR_S | 2)) throw new CpuFault(TS, selectorError(ss));
    if ((sd.attr & ATTR_P) === 0) throw new CpuFault(SS_FAULT, selectorError(ss));
    markAccessed(cpu, sd);
    loadHidden(cpu, SS, ss, sd);
    cpu.lo[RSP] = sp;
    cpu.hi[RSP] = 0;
    cpu.refreshMode();
  }
  const fromCpl = cpu.cpl;
  cpu.cpl = t.cpl; // the new stack is written at the new privilege
  cpu.flushTlb();
  try {
    push(cpu, size, oldSs, 0);
    push(cpu, size, oldSpLo, oldSpHi);
    for (const p of params) push(cpu, size, p, 0);
    pushBoth(cpu, size, oldCs, retRip);
  } catch (e) {
    cpu.cpl = fromCpl;
    cpu.flushTlb();
    throw e;
  }
  land(cpu, t);
}

/** RET far / RET far imm16 (CB, CA): same privilege, or out to the caller's stack. */
function retFar(cpu: Cpu, i: Insn, extra: number): void {
  const size = i.osize;
  const ripLo = cpu.rd(cpu.stackAddr(0, size), size);
  const ripHi = size === 8 ? cpu.rhi : 0;
  const sel = cpu.rd(cpu.stackAddr(size, size), size) & 0xffff;
  const offset = size === 8 ? ripHi * TWO32 + (ripLo >>> 0) : size === 4 ? ripLo >>> 0 : ripLo & 0xffff;
  if (!isProtected(cpu)) {
    adjustRsp(cpu, 2 * size + extra);
    loadReal(cpu, CS, sel);
    cpu.rip = offset;
    cpu.refreshMode();
    return;
  }
  if ((sel & 0xfffc) === 0) throw new CpuFault(GP, 0);
  const rpl = sel & 3;
  if (rpl < cpu.cpl) throw new CpuFault(GP, selectorError(sel));
  const d = fetchDescriptor(cpu, sel);
  if (!isCode(d)) throw new CpuFault(GP, selectorError(sel));
  const conforming = (d.attr & 4) !== 0;
  if (conforming ? d.dpl > rpl : d.dpl !== rpl) throw new CpuFault(GP, selectorError(sel));
  if ((d.attr & ATTR_P) === 0) throw new CpuFault(NP, selectorError(sel));
  checkOffset(cpu, d, offset);
  if (rpl === cpu.cpl) {
    adjustRsp(cpu, 2 * size + extra);
    land(cpu, { sel, d, offset, cpl: rpl });
    return;
  }
  // Outer return: SS:RSP follow the return address and the released parameters.
  const spLo = cpu.rd(cpu.stackAddr(2 * size + extra, size), size);
  const spHi = size === 8 ? cpu.rhi : 0;
  const ss = cpu.rd(cpu.stackAddr(3 * size + extra, size), size) & 0xffff;
  const long = (cpu.efer & EFER_LMA) !== 0;
  let sd: TableDescriptor | null = null;
  if ((ss & 0xfffc) === 0) {
    if (!(long && is64(d) && rpl !== 3)) throw new CpuFault(GP, 0);
  } else {
    sd = fetchDescriptor(cpu, ss);
    if ((ss & 3) !== rpl || sd.dpl !== rpl || (sd.attr & (ATTR_S | 0xa)) !== (ATTR_S | 2)) throw new CpuFault(GP, selectorError(ss));
    if ((sd.attr & ATTR_P) === 0) throw new CpuFault(SS_FAULT, selectorError(ss));
  }
  land(cpu, { sel, d, offset, cpl: rpl });
  if (sd === null) {
    loadNull(cpu, SS, ss);
    cpu.segAttr[SS] = rpl << 5;
  } else {
    markAccessed(cpu, sd);
    loadHidden(cpu, SS, ss, sd);
  }
  cpu.refreshMode();
  cpu.lo[RSP] = spLo;
  cpu.hi[RSP] = size === 8 ? spHi : 0;
  adjustRsp(cpu, extra);
  // Data segments the outer level may not use become null (SDM Vol. 2B RET).
  for (const s of [ES, DS, FS, GS]) {
    const attr = cpu.segAttr[s]!;
    if ((attr & ATTR_P) !== 0 && ((attr >> 5) & 3) < rpl && (attr & 0xc) !== 0xc) loadNull(cpu, s, 0);
  }
}

export const retFarHandler: Handler = (cpu, i) => retFar(cpu, i, 0);
export const retFarImm: Handler = (cpu, i) => retFar(cpu, i, i.imm & 0xffff);
