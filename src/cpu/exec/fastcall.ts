// Fast system calls: SYSCALL SYSRET SYSENTER SYSEXIT, with the vendor differences and
// FRED's redirection (facts and sources: shared/spec/fred-syscall-pv.md sections 1, 2.4;
// SDM Vol. 2B SYSCALL, SYSRET, SYSENTER, SYSEXIT).

import type { Cpu } from "../cpu.js";
import type { Handler } from "../decode/insn.js";
import { EventKind } from "../events.js";
import { CpuFault, GP, UD } from "../exceptions.js";
import { IF, RF, VM } from "../flags.js";
import { FRED_OTHER, FRED_SYSCALL, FRED_SYSENTER, fredDeliver, fredEnabled } from "../fred.js";
import {
  MSR_CSTAR, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_EIP, MSR_IA32_SYSENTER_ESP, MSR_LSTAR, MSR_STAR,
  MSR_SYSCALL_MASK,
} from "../msr.js";
import { flatSegment, isProtected, loadCodeSegment, loadHidden } from "../segment.js";
import { ATTR_DPL_SHIFT, EFER_LMA, EFER_SCE, RCX, RDX, RSP, SS } from "../state.js";

const TWO32 = 4294967296;
const CANON = 140737488355328;

function canonical(a: number): boolean {
  return a < CANON && a >= -CANON;
}

/** Deliver SYSCALL/SYSENTER as a FRED "other" event (type 7): no GPR is written. */
function fredSystemCall(cpu: Cpu, vector: number, len: number): void {
  fredDeliver(cpu, { vector, errorCode: 0, kind: EventKind.Exception, returnRip: cpu.rip, data: 0, insnLen: len, software: true }, FRED_OTHER);
  // A software event: TF comes back with ERETx, which pends the #DB (SS word bit 17).
  cpu.discardTraps();
}

/** SYSCALL (0F 05). */
export const syscall: Handler = (cpu, i) => {
  const long = (cpu.efer & EFER_LMA) !== 0;
  const intel = cpu.model.vendor === "intel";
  if ((cpu.efer & EFER_SCE) === 0) throw new CpuFault(UD);
  if (fredEnabled(cpu)) {
    // Under FRED SYSCALL reaches the OS from compatibility mode too (spec 2.4).
    cpu.decide("SYSCALL", "a FRED event (type 7, vector 1) because CR4.FRED = 1: RCX and R11 unchanged, LSTAR/CSTAR/FMASK unused");
    fredSystemCall(cpu, FRED_SYSCALL, i.len);
    return;
  }
  // Intel: #UD outside 64-bit mode; AMD allows compatibility and legacy mode.
  if (intel && cpu.codeSize !== 8) {
    cpu.decide("SYSCALL", "#UD because the vendor is Intel and the code is not 64-bit");
    throw new CpuFault(UD);
  }
  cpu.decide("SYSCALL", long
    ? `legacy: RCX = next RIP, R11 = RFLAGS, RFLAGS &= ~FMASK, to ${cpu.codeSize === 8 ? "LSTAR" : "CSTAR (AMD, from compatibility mode)"}`
    : "legacy mode (AMD): ECX = next EIP, to STAR[31:0]");
  if (!isProtected(cpu)) throw new CpuFault(UD);
  const star = cpu.msr.get(MSR_STAR);
  const sel = (star.hi & 0xffff) & ~3;
  const next = cpu.rip;
  const flags = cpu.getRflags();
  if (long) {
    const target = cpu.msr.get(cpu.codeSize === 8 ? MSR_LSTAR : MSR_CSTAR);
    cpu.setReg(8, RCX, next % TWO32 | 0, Math.floor(next / TWO32) | 0);
    cpu.setReg(8, 11, flags & ~RF, 0);
    const mask = cpu.msr.get(MSR_SYSCALL_MASK).lo;
    cpu.setRflags(flags & ~(mask | RF));
    loadCodeSegment(cpu, sel, flatSegment(true, 0, true), 0);
    loadHidden(cpu, SS, sel + 8, flatSegment(false, 0, true));
    cpu.refreshMode();
    cpu.rip = target.hi * TWO32 + (target.lo >>> 0);
    return;
  }
  // AMD legacy mode: ECX = EIP, EIP = STAR[31:0]; VM, IF and RF cleared.
  cpu.setReg(4, RCX, next, 0);
  cpu.setRflags(flags & ~(VM | IF | RF));
  loadCodeSegment(cpu, sel, flatSegment(true, 0, false), 0);
  loadHidden(cpu, SS, sel + 8, flatSegment(false, 0, false));
  cpu.refreshMode();
  cpu.rip = star.lo >>> 0;
};

/** SYSRET / SYSRETQ (0F 07). */
export const sysret: Handler = (cpu, i) => {
  const intel = cpu.model.vendor === "intel";
  if ((cpu.efer & EFER_SCE) === 0) throw new CpuFault(UD);
  if (fredEnabled(cpu)) {
    cpu.decide("SYSRET", "#UD because CR4.FRED = 1");
    throw new CpuFault(UD);
  }
  if (intel && cpu.codeSize !== 8) {
    cpu.decide("SYSRET", "#UD because the vendor is Intel and the code is not 64-bit");
    throw new CpuFault(UD);
  }
  if (!isProtected(cpu) || cpu.cpl !== 0) throw new CpuFault(GP, 0);
  const long = (cpu.efer & EFER_LMA) !== 0;
  const base = (cpu.msr.get(MSR_STAR).hi >>> 16) & 0xffff;
  const to64 = i.osize === 8;
  let rip: number;
  if (to64) {
    rip = cpu.hi[RCX]! * TWO32 + (cpu.lo[RCX]! >>> 0);
    // Intel faults on a non-canonical RCX while still at CPL 0 (XSA-7); AMD goes on and
    // faults at the next fetch, at CPL 3.
    if (!canonical(rip)) {
      if (intel) {
        cpu.decide("SYSRET", "#GP(0) at CPL 0 because the vendor is Intel and RCX is not canonical");
        throw new CpuFault(GP, 0);
      }
      cpu.decide("SYSRET", "returns to CPL 3 at a non-canonical RIP because the vendor is AMD (the fetch faults there)");
    }
  } else {
    rip = cpu.lo[RCX]! >>> 0;
  }
  const flags = long ? (cpu.lo[11]! & 0x3c7fd7) | 2 : cpu.getRflags() | IF;
  loadCodeSegment(cpu, to64 ? (base + 16) | 3 : base | 3, flatSegment(true, 3, to64), 3);
  const ssSel = (base + 8) | 3;
  if (intel) {
    loadHidden(cpu, SS, ssSel, flatSegment(false, 3, true));
  } else {
    // AMD updates the SS selector and its DPL only (spec 1.3).
    cpu.segSel[SS] = ssSel;
    cpu.segAttr[SS] = (cpu.segAttr[SS]! & ~(3 << ATTR_DPL_SHIFT)) | (3 << ATTR_DPL_SHIFT);
  }
  cpu.setRflags(flags);
  cpu.refreshMode();
  cpu.rip = rip;
};

/** SYSENTER (0F 34): flat ring-0 CS/SS from IA32_SYSENTER_CS, RIP/RSP from the MSRs. */
export const sysenter: Handler = (cpu, i) => {
  const long = (cpu.efer & EFER_LMA) !== 0;
  if (fredEnabled(cpu)) {
    cpu.decide("SYSENTER", "a FRED event (type 7, vector 2) because CR4.FRED = 1");
    fredSystemCall(cpu, FRED_SYSENTER, i.len);
    return;
  }
  // AMD does not support SYSENTER in long mode.
  if (long && cpu.model.vendor === "amd") {
    cpu.decide("SYSENTER", "#UD because the vendor is AMD and the CPU is in long mode");
    throw new CpuFault(UD);
  }
  cpu.decide("SYSENTER", "legacy: CS, RIP and RSP from the IA32_SYSENTER MSRs");
  const cs = cpu.msr.get(MSR_IA32_SYSENTER_CS).lo & 0xffff;
  if (!isProtected(cpu) || (cs & 0xfffc) === 0) throw new CpuFault(GP, 0);
  const eip = cpu.msr.get(MSR_IA32_SYSENTER_EIP);
  const esp = cpu.msr.get(MSR_IA32_SYSENTER_ESP);
  cpu.setRflags(cpu.getRflags() & ~(VM | IF | RF));
  loadCodeSegment(cpu, cs & 0xfffc, flatSegment(true, 0, long), 0);
  loadHidden(cpu, SS, (cs & 0xfffc) + 8, flatSegment(false, 0, long));
  cpu.refreshMode();
  if (long) {
    cpu.setReg(8, RSP, esp.lo, esp.hi);
    cpu.rip = eip.hi * TWO32 + (eip.lo >>> 0);
  } else {
    cpu.setReg(4, RSP, esp.lo, 0);
    cpu.rip = eip.lo >>> 0;
  }
};

/** SYSEXIT / SYSEXITQ (0F 35): back to ring 3 at RDX with RSP = RCX. */
export const sysexit: Handler = (cpu, i) => {
  const long = (cpu.efer & EFER_LMA) !== 0;
  if (fredEnabled(cpu) || (long && cpu.model.vendor === "amd")) throw new CpuFault(UD);
  const cs = cpu.msr.get(MSR_IA32_SYSENTER_CS).lo & 0xffff;
  if (!isProtected(cpu) || (cs & 0xfffc) === 0 || cpu.cpl !== 0) throw new CpuFault(GP, 0);
  const to64 = i.osize === 8;
  if (to64) {
    const rip = cpu.hi[RDX]! * TWO32 + (cpu.lo[RDX]! >>> 0);
    const rsp = cpu.hi[RCX]! * TWO32 + (cpu.lo[RCX]! >>> 0);
    if (!canonical(rip) || !canonical(rsp)) throw new CpuFault(GP, 0);
    loadCodeSegment(cpu, ((cs & 0xfffc) + 32) | 3, flatSegment(true, 3, true), 3);
    loadHidden(cpu, SS, ((cs & 0xfffc) + 40) | 3, flatSegment(false, 3, true));
    cpu.refreshMode();
    cpu.setReg(8, RSP, cpu.lo[RCX]!, cpu.hi[RCX]!);
    cpu.rip = rip;
    return;
  }
  loadCodeSegment(cpu, ((cs & 0xfffc) + 16) | 3, flatSegment(true, 3, false), 3);
  loadHidden(cpu, SS, ((cs & 0xfffc) + 24) | 3, flatSegment(false, 3, false));
  cpu.refreshMode();
  cpu.setReg(4, RSP, cpu.lo[RCX]!, 0);
  cpu.rip = cpu.lo[RDX]! >>> 0;
};
