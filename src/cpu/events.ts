// Event delivery: exceptions, software and external interrupts, through the real-mode IVT,
// the 32-bit IDT and the 64-bit IDT (SDM Vol. 3A chapter 6), or as FRED events (fred.ts);
// #DF and triple fault (SDM Vol. 3A 6.15, Table 6-5); and IRET.

import type { Cpu } from "./cpu.js";
import { DF, GP, hasErrorCode, NP, SS as SS_FAULT, TS, CpuFault } from "./exceptions.js";
import { AC, IF, NT, RF, TF, VIF, VIP, VM, IOPL, ARITH_FLAGS, DF as DF_FLAG, ID } from "./flags.js";
import { fredDeliver, type FredEventType } from "./fred.js";
import {
  fetchDescriptor, isProtected, loadCodeSegment, loadHidden, loadNull, loadReal,
  markAccessed, selectorError,
} from "./segment.js";
import {
  ATTR_DB, ATTR_L, ATTR_P, ATTR_S, CR4HI_FRED, CS, DS, EFER_LMA, ES, FS, GS, RSP, SS, TR,
} from "./state.js";
import { adjustRsp, push } from "./exec/stack.js";

/** Where an event comes from: it decides privilege checks, the EXT bit and FRED's type. */
export const enum EventKind {
  /** A fault or trap raised by an instruction (or during delivery). */
  Exception,
  /** INT n. */
  SoftwareInterrupt,
  /** INT3 and INTO: software exceptions, subject to the gate's DPL. */
  SoftwareException,
  /** INT1 (ICEBP): a privileged software exception, no DPL check. */
  PrivilegedSoftwareException,
  /** An external interrupt (injected by the hypervisor model) or NMI. */
  External,
  Nmi,
}

export interface Event {
  vector: number;
  errorCode: number | null;
  kind: EventKind;
  /** The RIP the handler returns to (faults: the instruction; traps/INT: the next one). */
  returnRip: number;
  /** Event data for FRED (CR2 for #PF, DR6 bits for #DB), 0 otherwise. */
  data: number;
  /** Length of the instruction for INT n, INT1, INT3, INTO, SYSCALL, SYSENTER (FRED). */
  insnLen?: number;
  /** SYSCALL, SYSENTER or INT n (FRED's SS word bit 17). */
  software?: boolean;
  /** Raised while delivering another event (FRED's "nested"). */
  nested?: boolean;
  /** A fault-class exception: the RFLAGS image the handler gets has RF set. */
  fault?: boolean;
}

/**
 * The RFLAGS image an event pushes: RF is 1 for a fault-class exception (so the
 * faulting instruction's breakpoint does not fire again on return), the current value
 * otherwise (SDM Vol. 3A 18.3.1.1).
 */
export function rflagsImage(cpu: Cpu, ev: Event): number {
  return ev.fault === true ? cpu.getRflags() | RF : cpu.getRflags();
}

/** Thrown when delivery itself hits a fault during #DF: the processor shuts down. */
export class TripleFault {}

const CONTRIBUTORY = new Set([0, 10, 11, 12, 13]);
const PF_VECTOR = 14;

/** Double-fault rule (SDM Vol. 3A Table 6-5): does `second` during `first` make a #DF? */
export function makesDoubleFault(first: number, second: number): boolean {
  if (CONTRIBUTORY.has(first)) return CONTRIBUTORY.has(second);
  if (first === PF_VECTOR) return CONTRIBUTORY.has(second) || second === PF_VECTOR;
  return false;
}

/**
 * Deliver `ev`, handling faults during delivery: a contributory fault during a
 * contributory one (or #PF/contributory during #PF) becomes #DF; a fault during #DF is a
 * triple fault; any other fault is delivered in place of the first.
 */
export function deliverEvent(cpu: Cpu, ev: Event): void {
  let current = ev;
  for (let depth = 0; ; depth++) {
    try {
      deliverOnce(cpu, current);
      return;
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      if (current.vector === DF && current.kind === EventKind.Exception) throw new TripleFault();
      if (depth > 8) throw new TripleFault();
      const df = current.kind === EventKind.Exception && makesDoubleFault(current.vector, e.vector);
      // A fault while delivering INT n, INT3, INTO or INT1 is the instruction's fault: it
      // returns to the instruction, not after it (SDM Vol. 3A 6.5; Vol. 2A INT n).
      const instruction = current.kind !== EventKind.Exception && current.kind !== EventKind.External && current.kind !== EventKind.Nmi;
      const returnRip = instruction ? cpu.insnRip : current.returnRip;
      current = df
        ? { vector: DF, errorCode: 0, kind: EventKind.Exception, returnRip, data: 0, fault: current.fault === true }
        : { vector: e.vector, errorCode: e.errorCode, kind: EventKind.Exception, returnRip, data: cpu.faultData(e), nested: true, fault: !e.trap };
    }
  }
}

/** The EXT bit of an error code: the event was not caused by the program (SDM 6.13). */
function ext(ev: Event): number {
  return ev.kind === EventKind.External || ev.kind === EventKind.Nmi || ev.kind === EventKind.Exception ? 1 : 0;
}

function isSoftware(ev: Event): boolean {
  return ev.kind === EventKind.SoftwareInterrupt || ev.kind === EventKind.SoftwareException;
}

/** State an interrupted delivery must leave unchanged. */
interface Saved {
  rip: number;
  rspLo: number;
  rspHi: number;
  flags: number;
  cpl: number;
  sel: Uint16Array;
  baseLo: Int32Array;
  baseHi: Int32Array;
  limit: Uint32Array;
  attr: Uint16Array;
}

function save(cpu: Cpu): Saved {
  return {
    rip: cpu.rip,
    rspLo: cpu.lo[RSP]!,
    rspHi: cpu.hi[RSP]!,
    flags: cpu.getRflags(),
    cpl: cpu.cpl,
    sel: cpu.segSel.slice(),
    baseLo: cpu.segBaseLo.slice(),
    baseHi: cpu.segBaseHi.slice(),
    limit: cpu.segLimit.slice(),
    attr: cpu.segAttr.slice(),
  };
}

function restore(cpu: Cpu, s: Saved): void {
  cpu.rip = s.rip;
  cpu.lo[RSP] = s.rspLo;
  cpu.hi[RSP] = s.rspHi;
  cpu.setRflags(s.flags);
  cpu.segSel.set(s.sel);
  cpu.segBaseLo.set(s.baseLo);
  cpu.segBaseHi.set(s.baseHi);
  cpu.segLimit.set(s.limit);
  cpu.segAttr.set(s.attr);
  if (cpu.cpl !== s.cpl) {
    cpu.cpl = s.cpl;
    cpu.flushTlb();
  }
  cpu.refreshMode();
}

/** Deliver without the #DF rules: a fault during delivery propagates (stop mode). */
export function deliverEventOnce(cpu: Cpu, ev: Event): void {
  deliverOnce(cpu, ev);
}

function deliverOnce(cpu: Cpu, ev: Event): void {
  const s = save(cpu);
  try {
    if ((cpu.efer & EFER_LMA) !== 0 && (cpu.cr4Hi & CR4HI_FRED) !== 0) {
      cpu.decide("event delivery", `vector ${ev.vector} through FRED because CR4.FRED = 1`);
      fredDeliver(cpu, ev, fredType(ev));
    } else if (!isProtected(cpu)) {
      if ((cpu.flagsOther & VM) !== 0) cpu.stopUnsupported("an event in virtual-8086 mode");
      deliverReal(cpu, ev);
    } else if ((cpu.efer & EFER_LMA) !== 0) {
      cpu.decide("event delivery", `vector ${ev.vector} through the 64-bit IDT`);
      deliverLong(cpu, ev);
    } else {
      deliverProtected(cpu, ev);
    }
  } catch (e) {
    restore(cpu, s);
    throw e;
  }
}

function fredType(ev: Event): FredEventType {
  switch (ev.kind) {
    case EventKind.External: return 0;
    case EventKind.Nmi: return 2;
    case EventKind.SoftwareInterrupt: return 4;
    case EventKind.PrivilegedSoftwareException: return 5;
    case EventKind.SoftwareException: return 6;
    default: return 3; // hardware exception
  }
}

// ---------------------------------------------------------------- real mode

/** Real-address mode: the IVT at IDTR.base, 4 bytes a vector (SDM Vol. 3A 21.1.4). */
function deliverReal(cpu: Cpu, ev: Event): void {
  const at = ev.vector * 4;
  if (at + 3 > cpu.idtrLimit) throw new CpuFault(GP, 0);
  const entry = cpu.sysRead32(cpu.idtrBase + at);
  const flags = cpu.getRflags();
  push(cpu, 2, flags, 0);
  push(cpu, 2, cpu.segSel[CS]!, 0);
  push(cpu, 2, ev.returnRip, 0);
  cpu.flagsOther &= ~(IF | TF | AC | RF);
  loadReal(cpu, CS, entry >>> 16);
  cpu.rip = entry & 0xffff;
  cpu.refreshMode();
}

// ---------------------------------------------------------------- 32-bit IDT

/** Protected mode: 8-byte gates (SDM Vol. 3A 6.10-6.12). */
function deliverProtected(cpu: Cpu, ev: Event): void {
  const e = ext(ev);
  const gateErr = ev.vector * 8 + 2 + e;
  if (ev.vector * 8 + 7 > cpu.idtrLimit) throw new CpuFault(GP, gateErr);
  const lo = cpu.sysRead32(cpu.idtrBase + ev.vector * 8);
  const hi = cpu.sysRead32(cpu.idtrBase + ev.vector * 8 + 4);
  const type = (hi >>> 8) & 0x1f; // S bit and type
  const dpl = (hi >>> 13) & 3;
  if (type === 0x05) cpu.stopUnsupported("an event through a task gate (task switch)");
  if (type !== 0x06 && type !== 0x07 && type !== 0x0e && type !== 0x0f) throw new CpuFault(GP, gateErr);
  if (isSoftware(ev) && dpl < cpu.cpl) throw new CpuFault(GP, ev.vector * 8 + 2);
  if ((hi & (1 << 15)) === 0) throw new CpuFault(NP, gateErr);
  const gate32 = (type & 8) !== 0;
  const trapGate = (type & 1) !== 0;
  const sel = lo >>> 16;
  const offset = gate32 ? ((hi & 0xffff0000) | (lo & 0xffff)) >>> 0 : lo & 0xffff;

  const d = targetCode(cpu, sel, e);
  if ((d.attr & ATTR_L) !== 0 && (d.attr & ATTR_DB) === 0) throw new CpuFault(GP, selectorError(sel) + e);
  const conforming = (d.attr & 4) !== 0;
  const newCpl = conforming ? cpu.cpl : d.dpl;
  if (offset > d.limit) throw new CpuFault(GP, e);
  const size = gate32 ? 4 : 2;
  const oldFlags = rflagsImage(cpu, ev);
  const oldCs = cpu.segSel[CS]!;
  if (newCpl < cpu.cpl) {
    // Inner privilege: the new stack comes from the TSS (SDM Vol. 3A 8.2.1).
    const { ss, sp } = tssStack32(cpu, newCpl, e);
    const oldSs = cpu.segSel[SS]!;
    const oldSp = cpu.lo[RSP]!;
    const ssd = stackSegment(cpu, ss, newCpl, e);
    markAccessed(cpu, ssd);
    loadHidden(cpu, SS, ss, ssd);
    cpu.lo[RSP] = sp;
    cpu.hi[RSP] = 0;
    cpu.cpl = newCpl; // pushes go to the inner stack at the inner privilege
    cpu.flushTlb();
    cpu.refreshMode();
    push(cpu, size, oldSs, 0);
    push(cpu, size, oldSp, 0);
  } else if (d.dpl > cpu.cpl && !conforming) {
    throw new CpuFault(GP, selectorError(sel) + e);
  }
  push(cpu, size, oldFlags, 0);
  push(cpu, size, oldCs, 0);
  push(cpu, size, ev.returnRip, 0);
  if (ev.errorCode !== null && hasErrorCode(ev.vector) && ev.kind === EventKind.Exception) push(cpu, size, ev.errorCode, 0);
  markAccessed(cpu, d);
  loadCodeSegment(cpu, sel, d, newCpl);
  cpu.rip = offset;
  cpu.flagsOther &= ~(TF | NT | RF | VM);
  if (!trapGate) cpu.flagsOther &= ~IF;
}

/** The code segment an IDT gate names, with its checks (#GP/#NP with EXT). */
function targetCode(cpu: Cpu, sel: number, e: number) {
  if ((sel & 0xfffc) === 0) throw new CpuFault(GP, e);
  const d = fetchDescriptor(cpu, sel);
  const code = (d.attr & (ATTR_S | 8)) === (ATTR_S | 8);
  if (!code || d.dpl > cpu.cpl) throw new CpuFault(GP, selectorError(sel) + e);
  if ((d.attr & ATTR_P) === 0) throw new CpuFault(NP, selectorError(sel) + e);
  return d;
}

/** SS:ESP for privilege `cpl` from the current 32-bit or 16-bit TSS. */
function tssStack32(cpu: Cpu, cpl: number, e: number): { ss: number; sp: number } {
  const base = cpu.segBase(TR);
  const busy32 = (cpu.segAttr[TR]! & 0xf) === 0xb || (cpu.segAttr[TR]! & 0xf) === 0x9;
  if (busy32) {
    const at = 4 + cpl * 8;
    if (at + 5 > cpu.segLimit[TR]!) throw new CpuFault(TS, selectorError(cpu.segSel[TR]!) + e);
    return { sp: cpu.sysRead32(base + at), ss: cpu.sysRead32(base + at + 4) & 0xffff };
  }
  const at = 2 + cpl * 4;
  if (at + 3 > cpu.segLimit[TR]!) throw new CpuFault(TS, selectorError(cpu.segSel[TR]!) + e);
  const v = cpu.sysRead32(base + at);
  return { sp: v & 0xffff, ss: v >>> 16 };
}

/** The checks on a stack segment taken from the TSS (#TS / #SS). */
function stackSegment(cpu: Cpu, ss: number, cpl: number, e: number) {
  if ((ss & 0xfffc) === 0) throw new CpuFault(TS, e);
  const d = fetchDescriptor(cpu, ss, TS);
  const writable = (d.attr & (ATTR_S | 0xa)) === (ATTR_S | 2);
  if ((ss & 3) !== cpl || d.dpl !== cpl || !writable) throw new CpuFault(TS, selectorError(ss) + e);
  if ((d.attr & ATTR_P) === 0) throw new CpuFault(SS_FAULT, selectorError(ss) + e);
  return d;
}

// ---------------------------------------------------------------- 64-bit IDT

const CANON = 140737488355328;

/** IA-32e mode: 16-byte gates, IST, 16-byte aligned frames (SDM Vol. 3A 6.14). */
function deliverLong(cpu: Cpu, ev: Event): void {
  const e = ext(ev);
  // The error code names the vector, whatever the gate size (SDM Vol. 3A 6.13).
  const gateErr = ev.vector * 8 + 2 + e;
  if (ev.vector * 16 + 15 > cpu.idtrLimit) throw new CpuFault(GP, gateErr);
  const at = cpu.idtrBase + ev.vector * 16;
  const w0 = cpu.sysRead32(at);
  const w1 = cpu.sysRead32(at + 4);
  const w2 = cpu.sysRead32(at + 8);
  const type = (w1 >>> 8) & 0x1f;
  const dpl = (w1 >>> 13) & 3;
  if (type !== 0x0e && type !== 0x0f) throw new CpuFault(GP, gateErr);
  if (isSoftware(ev) && dpl < cpu.cpl) throw new CpuFault(GP, ev.vector * 8 + 2);
  if ((w1 & (1 << 15)) === 0) throw new CpuFault(NP, gateErr);
  const sel = w0 >>> 16;
  const ist = w1 & 7;
  const target = w2 * 4294967296 + (((w1 & 0xffff0000) | (w0 & 0xffff)) >>> 0);
  const d = targetCode(cpu, sel, e);
  // The target must be a 64-bit code segment (L = 1, D = 0).
  if ((d.attr & ATTR_L) === 0 || (d.attr & ATTR_DB) !== 0) throw new CpuFault(GP, selectorError(sel) + e);
  const conforming = (d.attr & 4) !== 0;
  const newCpl = conforming ? cpu.cpl : d.dpl;
  if (target >= CANON || target < -CANON) throw new CpuFault(GP, e);

  const oldSs = cpu.segSel[SS]!;
  const oldRspLo = cpu.lo[RSP]!;
  const oldRspHi = cpu.hi[RSP]!;
  const oldFlags = rflagsImage(cpu, ev);
  const oldCs = cpu.segSel[CS]!;
  let rsp: [number, number] | null = null;
  if (ist !== 0) rsp = tss64(cpu, 0x24 + (ist - 1) * 8, e);
  else if (newCpl < cpu.cpl) rsp = tss64(cpu, 4 + newCpl * 8, e);
  if (newCpl < cpu.cpl) {
    // SS becomes a null selector with RPL = the new CPL.
    loadNull(cpu, SS, newCpl);
    cpu.segAttr[SS] = newCpl << 5;
  }
  if (rsp !== null) {
    cpu.lo[RSP] = rsp[0];
    cpu.hi[RSP] = rsp[1];
  }
  // The frame is 16-byte aligned (SDM Vol. 3A 6.14.2).
  cpu.lo[RSP] = cpu.lo[RSP]! & ~0xf;
  if (cpu.cpl !== newCpl) {
    cpu.cpl = newCpl;
    cpu.flushTlb();
  }
  cpu.stackSize = 8; // the frame is pushed with 64-bit RSP, whatever mode the event came from
  push(cpu, 8, oldSs, 0);
  push(cpu, 8, oldRspLo, oldRspHi);
  push(cpu, 8, oldFlags, 0);
  push(cpu, 8, oldCs, 0);
  push(cpu, 8, ev.returnRip % 4294967296 | 0, Math.floor(ev.returnRip / 4294967296) | 0);
  if (ev.errorCode !== null && hasErrorCode(ev.vector) && ev.kind === EventKind.Exception) push(cpu, 8, ev.errorCode, 0);
  markAccessed(cpu, d);
  loadCodeSegment(cpu, sel, d, newCpl);
  cpu.rip = target;
  cpu.flagsOther &= ~(TF | NT | RF | VM);
  if (type === 0x0e) cpu.flagsOther &= ~IF;
}

/** A 64-bit value from the 64-bit TSS at `off` (RSPn, ISTn), checked canonical. */
function tss64(cpu: Cpu, off: number, e: number): [number, number] {
  if (off + 7 > cpu.segLimit[TR]!) throw new CpuFault(TS, selectorError(cpu.segSel[TR]!) + e);
  const base = cpu.segBase(TR);
  const lo = cpu.sysRead32(base + off);
  const hi = cpu.sysRead32(base + off + 4);
  if (((hi << 16) >> 16) !== hi) throw new CpuFault(SS_FAULT, e);
  return [lo, hi];
}

// ---------------------------------------------------------------- IRET

/**
 * IRET / IRETD / IRETQ (SDM Vol. 2A IRET): real mode, protected mode (same or outer
 * privilege), IA-32e mode (64-bit pops SS:RSP always).
 */
export function iret(cpu: Cpu, osize: number): void {
  if (!isProtected(cpu)) {
    if ((cpu.flagsOther & VM) !== 0) cpu.stopUnsupported("IRET in virtual-8086 mode");
    const ip = cpu.rd(cpu.stackAddr(0, osize), osize);
    const cs = cpu.rd(cpu.stackAddr(osize, osize), osize) & 0xffff;
    const fl = cpu.rd(cpu.stackAddr(2 * osize, osize), osize);
    if (ip >>> 0 > cpu.segLimit[CS]!) throw new CpuFault(GP, 0);
    adjustRsp(cpu, 3 * osize);
    loadReal(cpu, CS, cs);
    cpu.rip = ip >>> 0;
    const keep = osize === 2 ? ~0xffff : VM | VIF | VIP;
    writeFlags(cpu, (cpu.getRflags() & keep) | (fl & ~keep), 0, true);
    cpu.refreshMode();
    return;
  }
  if ((cpu.flagsOther & NT) !== 0 && (cpu.efer & EFER_LMA) === 0) cpu.stopUnsupported("IRET with NT set (a task return)");
  if ((cpu.flagsOther & NT) !== 0) throw new CpuFault(GP, 0); // IA-32e mode: NT=1 is #GP(0)

  const long = (cpu.efer & EFER_LMA) !== 0;
  const ripLo = cpu.rd(cpu.stackAddr(0, osize), osize);
  const ripHi = osize === 8 ? cpu.rhi : 0;
  const cs = cpu.rd(cpu.stackAddr(osize, osize), osize) & 0xffff;
  const fl = cpu.rd(cpu.stackAddr(2 * osize, osize), osize);
  if ((cs & 0xfffc) === 0) throw new CpuFault(GP, 0);
  const rpl = cs & 3;
  if (rpl < cpu.cpl) throw new CpuFault(GP, selectorError(cs));
  const d = fetchDescriptor(cpu, cs);
  if ((d.attr & (ATTR_S | 8)) !== (ATTR_S | 8)) throw new CpuFault(GP, selectorError(cs));
  const conforming = (d.attr & 4) !== 0;
  if (conforming ? d.dpl > rpl : d.dpl !== rpl) throw new CpuFault(GP, selectorError(cs));
  if ((d.attr & ATTR_P) === 0) throw new CpuFault(NP, selectorError(cs));
  if (!long && (fl & VM) !== 0 && cpu.cpl === 0) cpu.stopUnsupported("IRET to virtual-8086 mode");
  const target64 = long && (d.attr & ATTR_L) !== 0 && (d.attr & ATTR_DB) === 0;
  const target = target64 ? ripHi * 4294967296 + (ripLo >>> 0) : ripLo >>> 0 & (osize === 2 ? 0xffff : 0xffffffff);
  const outer = rpl > cpu.cpl;
  const popsStack = outer || (long && cpu.codeSize === 8);

  let newSs = 0;
  let newSpLo = 0;
  let newSpHi = 0;
  let ssd: ReturnType<typeof fetchDescriptor> | null = null;
  if (popsStack) {
    newSpLo = cpu.rd(cpu.stackAddr(3 * osize, osize), osize);
    newSpHi = osize === 8 ? cpu.rhi : 0;
    newSs = cpu.rd(cpu.stackAddr(4 * osize, osize), osize) & 0xffff;
    if ((newSs & 0xfffc) === 0) {
      // A null SS is allowed when returning to 64-bit code below CPL 3.
      if (!(target64 && rpl !== 3)) throw new CpuFault(GP, 0);
    } else {
      const sd = fetchDescriptor(cpu, newSs);
      const writable = (sd.attr & (ATTR_S | 0xa)) === (ATTR_S | 2);
      if ((newSs & 3) !== rpl || sd.dpl !== rpl || !writable) throw new CpuFault(GP, selectorError(newSs));
      if ((sd.attr & ATTR_P) === 0) throw new CpuFault(SS_FAULT, selectorError(newSs));
      ssd = sd;
    }
  }
  if (target64 ? target >= CANON || target < -CANON : target > d.limit) throw new CpuFault(GP, 0);

  const oldCpl = cpu.cpl;
  markAccessed(cpu, d);
  loadCodeSegment(cpu, cs, d, rpl);
  cpu.rip = target;
  if (popsStack) {
    if (ssd === null) {
      loadNull(cpu, SS, newSs);
      cpu.segAttr[SS] = rpl << 5;
    } else {
      markAccessed(cpu, ssd);
      loadHidden(cpu, SS, newSs, ssd);
    }
    if (osize === 8 || cpu.codeSize === 8) {
      cpu.lo[RSP] = newSpLo;
      cpu.hi[RSP] = newSpHi;
    } else if (osize === 4 || (cpu.segAttr[SS]! & ATTR_DB) !== 0) {
      cpu.lo[RSP] = osize === 2 ? (cpu.lo[RSP]! & ~0xffff) | (newSpLo & 0xffff) : newSpLo;
      if ((cpu.efer & EFER_LMA) !== 0 || osize === 4) cpu.hi[RSP] = 0;
    } else {
      cpu.lo[RSP] = (cpu.lo[RSP]! & ~0xffff) | (newSpLo & 0xffff);
    }
  } else {
    adjustRsp(cpu, 3 * osize);
  }
  writeFlags(cpu, fl, oldCpl, false, osize);
  cpu.refreshMode();
  // Returning outward, data segments the new privilege may not use become null.
  if (outer) for (const s of [ES, DS, FS, GS]) invalidateForCpl(cpu, s);
}

/**
 * RFLAGS from an IRET image: IOPL only at CPL 0, IF only when CPL <= IOPL; VIF/VIP only at
 * CPL 0; VM never from here (virtual-8086 returns are not implemented); RF as popped.
 */
function writeFlags(cpu: Cpu, img: number, cpl: number, real: boolean, osize = 4): void {
  const old = cpu.getRflags();
  let change = ARITH_FLAGS | TF | DF_FLAG | NT | AC | ID | RF;
  if (real || cpl === 0) change |= IOPL | VIF | VIP;
  if (real || cpl <= (old & IOPL) >> 12) change |= IF;
  if (osize === 2) change &= 0xffff;
  cpu.setRflags((old & ~change) | (img & change));
}

/** SDM IRET/RET: a data segment whose DPL is below the new CPL is nulled. */
function invalidateForCpl(cpu: Cpu, seg: number): void {
  const attr = cpu.segAttr[seg]!;
  if ((attr & ATTR_P) === 0) return;
  const dpl = (attr >> 5) & 3;
  const conformingCode = (attr & 0xc) === 0xc;
  if (dpl < cpu.cpl && !conformingCode) loadNull(cpu, seg, 0);
}
