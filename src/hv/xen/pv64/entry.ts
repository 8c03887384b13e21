// Xen's entry paths from a PV64 guest, each at the address the host programmed into the
// processor (spec 3.4, 5.1):
//   legacy host: LSTAR -> write_stub_trampoline -> lstar_enter; CSTAR -> cstar_enter;
//                IDT gates (vectors 0-31) -> handle_exception; SYSENTER_EIP -> sysenter_entry
//                (not modelled: pv64.ts stops the run there as unsupported);
//   FRED host:   FRED_CONFIG page + 0 -> entry_FRED_R3 -> entry_from_pv() (SYSCALL, hardware
//                and software exceptions; INT n becomes #GP(n*8+2) as on the IDT host, SYSENTER
//                and the other event types stop the run as unsupported).
// After the dispatch (pv_hypercall, switch_to_kernel, the trap handlers) every path goes to
// test_all_events (which here only runs create_bounce_frame for a pending trap_bounce: no event
// channels in the PV64 model) and leaves through restore_all_guest (exit.ts).

import type { Cpu } from "../../../cpu/cpu.js";
import { hasErrorCode } from "../../../cpu/exceptions.js";
import { DF } from "../../../cpu/flags.js";
import { RAX, RCX, RSP } from "../../../cpu/state.js";
import { createBounceFrame, TBF_EXCEPTION, TBF_EXCEPTION_ERRCODE, TBF_INTERRUPT, type TrapBounce } from "./bounce.js";
import { FLAT_KERNEL_CS64, FLAT_KERNEL_SS, FLAT_USER_CS32, FLAT_USER_SS32 } from "./guest.js";
import { pvHypercall } from "./hypercall.js";
import type { XenPv64 } from "./pv64.js";
import { getGpr, hex, readHost64, saveAll, TRAP_syscall, writeHost64, type CpuUserRegs } from "./regs.js";

const R11 = 11;
export const X86_EXC_UD = 6;
export const X86_EXC_GP = 13;

/**
 * write_stub_trampoline + lstar_enter (or cstar_enter): the frame from the hardware-written
 * RCX (next RIP) and R11 (RFLAGS), TRAP_syscall set, then pv_hypercall in guest kernel mode
 * or switch_to_kernel from guest user mode.
 */
export function lstarEnter(hv: XenPv64, cpu: Cpu, cstar: boolean): void {
  const l = hv.layout;
  hv.decide("pv64.host.delivery", "legacy_syscall_init", `SYSCALL through ${cstar ? "CSTAR -> cstar_enter" : "LSTAR -> lstar_enter"}: RCX/R11 written by the processor`);
  // The trampoline: guest RAX into the SS slot at the top of the stack, guest RSP pushed.
  const top = l.eframe + 48;
  writeHost64(cpu, top - 8, getGpr(cpu, RAX));
  writeHost64(cpu, top - 16, getGpr(cpu, RSP));
  // lstar_enter: RAX back, then SS, R11 (RFLAGS), CS, RCX (RIP), 0 pushed; TRAP_syscall.
  writeHost64(cpu, top - 8, BigInt(cstar ? FLAT_USER_SS32 : FLAT_KERNEL_SS));
  writeHost64(cpu, top - 24, getGpr(cpu, R11));
  writeHost64(cpu, top - 32, BigInt(cstar ? FLAT_USER_CS32 : FLAT_KERNEL_CS64));
  writeHost64(cpu, top - 40, getGpr(cpu, RCX));
  writeHost64(cpu, top - 48, BigInt(TRAP_syscall) << 32n);
  const regs = saveAll(cpu, readFrame(cpu, l.eframe, 6));
  hv.event("entry", `${cstar ? "cstar_enter" : "lstar_enter"}: rip ${hex(regs.rip)} rcx ${hex(regs.gpr[RCX]!)} r11 ${hex(regs.gpr[R11]!)} ${hv.vcpu.kernelMode ? "kernel" : "user"} mode`);
  if (hv.vcpu.kernelMode) {
    pvHypercall(hv, regs);
  } else {
    switchToKernel(hv, regs);
  }
  hv.testAllEvents(regs);
}

/**
 * switch_to_kernel (entry.S): the syscall32 callback for a compatibility-mode SYSCALL, falling
 * back to the syscall callback when it is 0; no callback at all -> #UD with RIP rewound by 2,
 * through the trap table. create_bounce_frame, then DF cleared in the guest's RFLAGS.
 */
function switchToKernel(hv: XenPv64, regs: CpuUserRegs): void {
  const v = hv.vcpu;
  let eip = (regs.cs & 0xffffn) === BigInt(FLAT_USER_CS32) ? v.callbacks.syscall32 : 0n;
  if (eip === 0n) eip = v.callbacks.syscall;
  let tb: TrapBounce = { flags: v.syscallDisablesEvents ? TBF_INTERRUPT : 0, eip, cs: 0, error_code: 0 };
  if (eip === 0n) {
    regs.entry_vector = X86_EXC_UD;
    regs.rip -= 2n;
    const ti = v.trapTable.get(X86_EXC_UD);
    tb = { flags: TBF_EXCEPTION | ((ti?.flags ?? 0) & 4 ? TBF_INTERRUPT : 0), eip: ti?.address ?? 0n, cs: ti?.cs ?? 0, error_code: 0 };
    hv.event("inject", "switch_to_kernel: no syscall callback -> #UD, RIP - 2");
  }
  if (!createBounceFrame(hv, regs, tb)) return;
  regs.rflags &= ~BigInt(DF);
}

/**
 * entry_FRED_R3 -> entry_from_pv(): the FRED frame the processor pushed at FRED_RSP0 becomes
 * cpu_user_regs; entry_vector = fred_ss.vector (a plain assignment: TRAP_syscall is gone).
 */
export function entryFredR3(hv: XenPv64, cpu: Cpu): void {
  const l = hv.layout;
  if (cpu.lo[RSP]! >>> 0 !== l.eframe) throw new Error(`xen-pv64: FRED frame at 0x${(cpu.lo[RSP]! >>> 0).toString(16)}, expected 0x${l.eframe.toString(16)}`);
  const regs = saveAll(cpu, readFrame(cpu, l.eframe, 8));
  const ssx = regs.ss;
  const vector = Number((ssx >> 32n) & 0xffn);
  const type = Number((ssx >> 48n) & 0xfn);
  regs.entry_vector = vector;
  if (type === 7 && vector === 1) {
    entryFromPvSyscall(hv, regs);
  } else if (type === 3 || type === 4 || type === 5 || type === 6) {
    hv.decide("pv64.host.delivery", "init_fred", `entry_FRED_R3 -> entry_from_pv: event type ${type} vector ${vector}`);
    const ec = hasErrorCode(vector) && type === 3 ? regs.error_code : null;
    // A software interrupt (INT n) from the guest: Xen checks the trap table's DPL; not modelled: #GP.
    if (type === 4) injectHwException(hv, regs, X86_EXC_GP, (vector << 3) | 2);
    else injectHwException(hv, regs, vector, ec);
  } else {
    hv.decide("pv64.host.delivery", "init_fred", `entry_FRED_R3 -> entry_from_pv: event type ${type} vector ${vector} is not modelled`);
    cpu.stopUnsupported(`xen-pv64: FRED event type ${type} vector ${vector} from the guest is not modelled`);
  }
  hv.testAllEvents(regs);
}

/** entry_from_pv(), case X86_ET_OTHER vector 1 (SYSCALL), with the entry hunk of c5a4b9125b as a knob. */
function entryFromPvSyscall(hv: XenPv64, regs: CpuUserRegs): void {
  const v = hv.vcpu;
  const l64 = ((regs.ss >> 57n) & 1n) === 1n;
  const len = Number((regs.ss >> 60n) & 0xfn);
  hv.decide("pv64.host.delivery", "init_fred", `SYSCALL as a FRED event (type 7, vector 1) -> entry_FRED_R3 -> entry_from_pv: RCX/R11 not written by the processor (${hex(regs.gpr[RCX]!)}, ${hex(regs.gpr[R11]!)})`);
  regs.ss = BigInt(l64 ? FLAT_KERNEL_SS : FLAT_USER_SS32);
  regs.cs = BigInt(l64 ? FLAT_KERNEL_CS64 : FLAT_USER_CS32);
  const hunk = hv.policy["pv64.fred.syscall_entry"];
  if (hunk !== "76193ef47d") {
    hv.decide("pv64.fred.syscall_entry", hunk, `regs->rcx = regs->rip (${hex(regs.rip)}), regs->r11 = regs->rflags (${hex(regs.rflags)})`);
    regs.gpr[RCX] = regs.rip;
    regs.gpr[R11] = regs.rflags;
  } else {
    hv.decide("pv64.fred.syscall_entry", hunk, `regs->rcx/r11 keep the guest's values (${hex(regs.gpr[RCX]!)}, ${hex(regs.gpr[R11]!)})`);
  }
  hv.event("entry", `entry_from_pv SYSCALL: rip ${hex(regs.rip)} rcx ${hex(regs.gpr[RCX]!)} r11 ${hex(regs.gpr[R11]!)} ${v.kernelMode ? "kernel" : "user"} mode`);
  if (v.kernelMode) {
    if (hunk === "c5a4b9125b-v2") {
      regs.entry_vector |= TRAP_syscall;
      hv.decide("pv64.fred.syscall_entry", hunk, "guest kernel mode: regs->entry_vector |= TRAP_syscall before pv_hypercall() (the exit then acts as SYSRET would)");
    }
    pvHypercall(hv, regs);
    return;
  }
  const eip = l64 ? v.callbacks.syscall : v.callbacks.syscall32;
  if (eip === 0n) {
    regs.rip -= BigInt(len);
    hv.event("inject", `entry_from_pv: no ${l64 ? "syscall" : "syscall32"} callback -> #UD, RIP - ${len}`);
    injectHwException(hv, regs, X86_EXC_UD, null);
    return;
  }
  // "The PV ABI, given no virtual SYSCALL_MASK, hardcodes that DF is cleared."
  regs.rflags &= ~BigInt(DF);
  // pv_inject_callback(): TBF_EXCEPTION, TBF_INTERRUPT if the callback masks events.
  const irq = l64 ? v.syscallDisablesEvents : v.syscall32DisablesEvents;
  hv.trapBounce = { flags: TBF_EXCEPTION | (irq ? TBF_INTERRUPT : 0), eip, cs: 0, error_code: 0 };
}

/**
 * A guest exception through the legacy IDT: handle_exception -> the trap handler ->
 * pv_inject_hw_exception. From Xen itself (CPL 0: a faulting SYSRET/IRETQ/ERETU) the domain crashes.
 */
export function handleException(hv: XenPv64, cpu: Cpu, vector: number): void {
  const l = hv.layout;
  const ec = hasErrorCode(vector);
  // Vectors without an error code: the handler pushes 0 (so the frame starts at the same place).
  const at = cpu.lo[RSP]! >>> 0;
  const frameAt = ec ? at : at - 8;
  if (!ec) writeHost64(cpu, frameAt, 0n);
  if (frameAt !== l.eframe) {
    hv.domainCrash("handle_exception", `exception ${vector} taken inside Xen (frame at 0x${frameAt.toString(16)})`);
    return;
  }
  const regs = saveAll(cpu, readFrame(cpu, l.eframe, 6));
  if ((regs.cs & 3n) !== 3n) {
    hv.domainCrash("handle_exception", `exception ${vector} in Xen at ${hex(regs.rip)}`);
    return;
  }
  regs.entry_vector = vector;
  hv.decide("pv64.host.delivery", "legacy_syscall_init", `exception ${vector} through the IDT -> handle_exception`);
  injectHwException(hv, regs, vector, ec ? regs.error_code : null);
  hv.testAllEvents(regs);
}

/** pv_inject_hw_exception() -> pv_inject_event(): the trap table entry; unhandled -> domain_crash. */
export function injectHwException(hv: XenPv64, regs: CpuUserRegs, vector: number, ec: number | null): void {
  const ti = hv.vcpu.trapTable.get(vector);
  const eip = ti?.address ?? 0n;
  hv.event("inject", `exception ${vector}${ec === null ? "" : ` ec 0x${ec.toString(16)}`} at ${hex(regs.rip)} -> trap table ${eip === 0n ? "(none)" : hex(eip)}`);
  if (eip === 0n) {
    hv.domainCrash("pv_inject_event", `unhandled exception ${vector}: no trap_info for it`, { vector, errorCode: ec, rip: regs.rip });
    return;
  }
  hv.trapBounce = {
    flags: TBF_EXCEPTION | (ec !== null ? TBF_EXCEPTION_ERRCODE : 0) | ((ti!.flags & 4) !== 0 ? TBF_INTERRUPT : 0),
    eip,
    cs: ti!.cs,
    error_code: ec ?? 0,
  };
}

function readFrame(cpu: Cpu, at: number, n: number): bigint[] {
  const out: bigint[] = [];
  for (let k = 0; k < n; k++) out.push(readHost64(cpu, at + 8 * k));
  return out;
}

