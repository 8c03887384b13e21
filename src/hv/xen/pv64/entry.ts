// Xen's entry paths from a PV64 guest, each at the address the host programmed into the
// processor (spec 3.4, 5.1):
//   legacy host: LSTAR -> write_stub_trampoline -> lstar_enter; CSTAR -> cstar_enter;
//                SYSENTER_EIP -> sysenter_entry; IDT gates 0-31 -> handle_exception (#GP:
//                do_general_protection, which turns an INT n the guest's trap table permits into
//                a software interrupt); gate 0x80 (DPL 3) -> entry_int80;
//   FRED host:   FRED_CONFIG page + 0 -> entry_FRED_R3 -> entry_from_pv(): SYSCALL, SYSENTER,
//                INT n, hardware and software exceptions (external interrupts and NMIs do not
//                happen in the model).
// After the dispatch (pv_hypercall, switch_to_kernel, the trap handlers) every path goes to
// test_all_events (which here only runs create_bounce_frame for a pending trap_bounce: no event
// channels in the PV64 model) and leaves through restore_all_guest (exit.ts).

import type { Cpu } from "../../../cpu/cpu.js";
// Xen's X86_EXC_* names for the architectural vectors the CPU model defines.
import { BP as X86_EXC_BP, GP as X86_EXC_GP, hasErrorCode, NP as X86_EXC_NP, OF as X86_EXC_OF, PF as X86_EXC_PF, SS as X86_EXC_SS, UD as X86_EXC_UD } from "../../../cpu/exceptions.js";
import { FRED_OTHER as X86_ET_OTHER, FRED_SYSCALL, FRED_SYSENTER } from "../../../cpu/fred.js";
import { DF, IF, VM } from "../../../cpu/flags.js";
import { RAX, RCX, RSP } from "../../../cpu/state.js";
import { createBounceFrame, TBF_EXCEPTION, TBF_EXCEPTION_ERRCODE, TBF_INTERRUPT } from "./bounce.js";
import { FLAT_KERNEL_CS64, FLAT_KERNEL_SS, FLAT_USER_CS32, FLAT_USER_SS, FLAT_USER_SS32 } from "./guest.js";
import { pvHypercall } from "./hypercall.js";
import type { XenPv64 } from "./pv64.js";
import { asLinear, getGpr, hex, readHost64, TRAP_syscall, writeHost64, type CpuUserRegs } from "./regs.js";
import { Decoder } from "../../../cpu/decode/decoder.js";

const R11 = 11;
/** The IDT bit of a selector error code (X86_XEC_IDT): "the fault names an IDT vector". */
const X86_XEC_IDT = 2;
/** FRED event types (x86-defns.h X86_ET_*; X86_ET_OTHER is the CPU model's FRED_OTHER). */
const X86_ET_HW_EXC = 3, X86_ET_SW_INT = 4, X86_ET_PRIV_SW_EXC = 5, X86_ET_SW_EXC = 6;

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
  const regs = hv.enter(6);
  hv.event("entry", `${cstar ? "cstar_enter" : "lstar_enter"}: rip ${hex(regs.rip)} rcx ${hex(regs.gpr[RCX]!)} r11 ${hex(regs.gpr[R11]!)} ${hv.vcpu.kernelMode ? "kernel" : "user"} mode`);
  if (hv.vcpu.kernelMode) {
    pvHypercall(hv, regs);
  } else {
    switchToKernel(hv, regs);
  }
  hv.testAllEvents(regs);
}

/**
 * switch_to_kernel (entry.S): the syscall32 callback for a SYSCALL from FLAT_USER_CS32, the
 * syscall callback otherwise (TBF_INTERRUPT from VGCF_syscall_disables_events for both); that
 * callback 0 -> #UD with RIP rewound by 2, through the trap table. create_bounce_frame, then DF
 * cleared in the guest's RFLAGS, except on the #UD path.
 */
function switchToKernel(hv: XenPv64, regs: CpuUserRegs): void {
  const v = hv.vcpu;
  const eip = (regs.cs & 0xffffn) === BigInt(FLAT_USER_CS32) ? v.callbacks.syscall32 : v.callbacks.syscall;
  if (eip === 0n) {
    // UNLIKELY(syscall_no_callback): entry_vector = #UD, RIP - 2, the bounce from trap_ctxt[#UD]
    // (what pv_inject_hw_exception(#UD) gives; an unhandled #UD dies in create_bounce_frame).
    regs.entry_vector = X86_EXC_UD;
    regs.rip -= 2n;
    hv.event("inject", "switch_to_kernel: no syscall callback -> #UD, RIP - 2");
    injectHwException(hv, regs, X86_EXC_UD, null);
  } else {
    hv.trapBounce = { flags: v.syscallDisablesEvents ? TBF_INTERRUPT : 0, eip, cs: 0, error_code: 0, vector: null };
  }
  const tb = hv.trapBounce!;
  hv.trapBounce = null;
  if (!createBounceFrame(hv, regs, tb)) return;
  // "The PV ABI, given no virtual SYSCALL_MASK, hardcodes that DF is cleared" (not for the #UD).
  if (eip !== 0n) regs.rflags &= ~BigInt(DF);
}

/**
 * sysenter_entry (entry.S): the processor came through SYSENTER_CS/EIP/ESP with VM, IF and RF
 * cleared; Xen pushes SS = FLAT_USER_SS, RSP = 0, the PUSHF image with IF set again, CS = 3,
 * RIP = 0, TRAP_syscall; then the sysenter callback (TBF_INTERRUPT if it masks events), or
 * with none registered #GP(0) through the trap table at that null RIP. In guest kernel or user
 * mode alike: SYSENTER is never a hypercall.
 */
export function sysenterEntry(hv: XenPv64, cpu: Cpu): void {
  const l = hv.layout;
  hv.decide("pv64.host.delivery", "legacy_syscall_init", "SYSENTER through SYSENTER_EIP -> sysenter_entry: RIP 0, RSP 0, CS 3 in Xen's frame");
  const top = l.eframe + 48;
  if ((cpu.lo[RSP]! >>> 0) !== top) throw new Error(`xen-pv64: SYSENTER_ESP gave 0x${(cpu.lo[RSP]! >>> 0).toString(16)}, expected 0x${top.toString(16)}`);
  writeHost64(cpu, top - 8, BigInt(FLAT_USER_SS));
  writeHost64(cpu, top - 16, 0n);
  // "PUSHF above has saved EFLAGS.IF clear (the caller had it set)": IF is ORed back in.
  writeHost64(cpu, top - 24, BigInt((cpu.getRflags() | IF) >>> 0));
  writeHost64(cpu, top - 32, 3n);
  writeHost64(cpu, top - 40, 0n);
  writeHost64(cpu, top - 48, BigInt(TRAP_syscall) << 32n);
  const regs = hv.enter(6);
  const v = hv.vcpu;
  hv.event("entry", `sysenter_entry: rcx ${hex(regs.gpr[RCX]!)} r11 ${hex(regs.gpr[R11]!)} ${v.kernelMode ? "kernel" : "user"} mode`);
  const eip = v.callbacks.sysenter;
  if (eip === 0n) {
    // UNLIKELY(sysenter_gpf): entry_vector = #GP (a movl: TRAP_syscall goes too), error code
    // 0, the bounce from trap_ctxt[#GP]; RIP stays 0.
    regs.entry_vector = X86_EXC_GP;
    hv.event("inject", "sysenter_entry: no sysenter callback -> #GP(0) at RIP 0");
    injectHwException(hv, regs, X86_EXC_GP, 0);
  } else {
    hv.trapBounce = { flags: v.sysenterDisablesEvents ? TBF_INTERRUPT : 0, eip, cs: 0, error_code: 0, vector: null };
  }
  hv.testAllEvents(regs);
}

/**
 * entry_int80 (the DPL-3 IDT gate 0x80): with an int80 bounce (trap_ctxt[0x80] has an address:
 * init_int80_direct_trap, whatever its DPL) the guest kernel's handler is entered directly;
 * otherwise int80_slow_path makes it look like the #GP a DPL-0 gate gives (error code
 * 0x80*8+2, RIP - 2) and goes to do_general_protection.
 */
export function entryInt80(hv: XenPv64, cpu: Cpu): void {
  const l = hv.layout;
  writeHost64(cpu, l.eframe, BigInt(0x80) << 32n);
  if ((cpu.lo[RSP]! >>> 0) !== l.eframe + 8) {
    hv.domainCrash("entry_int80", "INT 0x80 taken inside Xen");
  }
  const regs = hv.enter(6);
  hv.decide("pv64.host.delivery", "legacy_syscall_init", "INT 0x80 through the DPL-3 IDT gate -> entry_int80");
  const ti = hv.vcpu.trapTable.get(0x80);
  if (ti !== undefined && ti.address !== 0n) {
    hv.event("inject", `entry_int80: int80_direct_trap -> ${hex(ti.address)} (trap_info DPL ${ti.flags & 3} not checked)`);
    hv.trapBounce = { flags: (ti.flags & 4) !== 0 ? TBF_INTERRUPT : 0, eip: ti.address, cs: ti.cs, error_code: 0, vector: 0x80 };
  } else {
    regs.error_code = (0x80 << 3) | X86_XEC_IDT;
    regs.entry_vector = X86_EXC_GP;
    regs.rip -= 2n;
    hv.event("inject", "entry_int80: no int80 bounce -> int80_slow_path: #GP(0x402), RIP - 2");
    doGeneralProtection(hv, regs);
  }
  hv.testAllEvents(regs);
}

/**
 * do_general_protection(): a #GP with the IDT bit is an INT n the IDT refused; if
 * trap_ctxt[n]'s DPL permits it (permit_softint: DPL >= 1 from guest kernel mode, 3 from guest
 * user mode), pv_emulate_sw_interrupt() decodes the instruction at RIP for its length and
 * injects the software interrupt after it; if that is not an INT imm8 (or cannot be read), the
 * #GP goes back. Any other #GP goes to the guest as it is (privileged-instruction emulation for
 * #GP(0) is not modelled).
 */
function doGeneralProtection(hv: XenPv64, regs: CpuUserRegs): void {
  const ec = regs.error_code;
  if ((ec & X86_XEC_IDT) !== 0) {
    const vector = ec >>> 3;
    if (permitSoftint(hv, vector)) {
      const len = intImm8Length(hv, regs.rip);
      if (len !== null) {
        regs.rip += BigInt(len);
        hv.event("inject", `do_general_protection: INT 0x${vector.toString(16)} permitted by its trap_info DPL -> pv_emulate_sw_interrupt: RIP + ${len}, software interrupt`);
        injectSwInterrupt(hv, regs, vector);
        return;
      }
      hv.event("inject", `pv_emulate_sw_interrupt: no INT imm8 at ${hex(regs.rip)} -> the #GP`);
    }
  }
  injectHwException(hv, regs, X86_EXC_GP, ec);
}

/** The length of the instruction at guest RIP `rip` if it is INT imm8 (opcode CD, prefixes counted), else null. */
function intImm8Length(hv: XenPv64, rip: bigint): number | null {
  const lin = asLinear(rip);
  const src = {
    byte: (n: number): number => {
      const b = hv.readGuest(lin + n, 1);
      if (b === null) throw new Error("fetch");
      return b[0]!;
    },
  };
  try {
    const insn = new Decoder(hv.cpu.model.vendor, hv.cpu.features).decode(src, 8);
    return insn.entry?.mnem === "INT" && insn.bytes[insn.len - 2] === 0xcd ? insn.len : null;
  } catch {
    return null;
  }
}

/** permit_softint(): trap_ctxt[vector]'s DPL against the guest's (virtual) privilege. */
function permitSoftint(hv: XenPv64, vector: number): boolean {
  const dpl = (hv.vcpu.trapTable.get(vector)?.flags ?? 0) & 3;
  return dpl >= (hv.vcpu.kernelMode ? 1 : 3);
}

/**
 * entry_FRED_R3 -> entry_from_pv(): the FRED frame the processor pushed at FRED_RSP0 becomes
 * cpu_user_regs; entry_vector = fred_ss.vector (a plain assignment: TRAP_syscall is gone).
 */
export function entryFredR3(hv: XenPv64, cpu: Cpu): void {
  const l = hv.layout;
  if (cpu.lo[RSP]! >>> 0 !== l.eframe) throw new Error(`xen-pv64: FRED frame at 0x${(cpu.lo[RSP]! >>> 0).toString(16)}, expected 0x${l.eframe.toString(16)}`);
  const regs = hv.enter(8);
  const ssx = regs.ss;
  const vector = Number((ssx >> 32n) & 0xffn);
  const type = Number((ssx >> 48n) & 0xfn);
  regs.entry_vector = vector;
  const len = Number((ssx >> 60n) & 0xfn);
  if (type === X86_ET_OTHER && vector === FRED_SYSCALL) {
    entryFromPvSyscall(hv, regs);
  } else if (type === X86_ET_OTHER && vector === FRED_SYSENTER) {
    entryFromPvSysenter(hv, regs);
  } else if (type === X86_ET_SW_INT && vector !== X86_EXC_BP && vector !== X86_EXC_OF) {
    // INT n: the event type says what it was, so no #GP trick. The trap table's DPL decides;
    // refused, it becomes #GP(n*8+2) at the INT itself (RIP - the true length, prefixes too).
    hv.decide("pv64.host.delivery", "init_fred", `INT 0x${vector.toString(16)} as a FRED event (type 4) -> entry_from_pv: trap_info DPL ${(hv.vcpu.trapTable.get(vector)?.flags ?? 0) & 3}`);
    if (permitSoftint(hv, vector)) {
      injectSwInterrupt(hv, regs, vector);
    } else {
      regs.rip -= BigInt(len);
      hv.event("inject", `entry_from_pv: INT 0x${vector.toString(16)} not permitted -> #GP(0x${((vector << 3) | X86_XEC_IDT).toString(16)}), RIP - ${len}`);
      injectHwException(hv, regs, X86_EXC_GP, (vector << 3) | X86_XEC_IDT);
    }
  } else if (type === X86_ET_HW_EXC || type === X86_ET_SW_INT || type === X86_ET_PRIV_SW_EXC || type === X86_ET_SW_EXC) {
    // Hardware exceptions, INT1, INT3/INTO, and INT $3/$4 (Xen's IDT gives those DPL 3 too).
    hv.decide("pv64.host.delivery", "init_fred", `entry_FRED_R3 -> entry_from_pv: event type ${type} vector ${vector}`);
    const ec = hasErrorCode(vector) && type === X86_ET_HW_EXC ? regs.error_code : null;
    if (vector === X86_EXC_GP && ec !== null) doGeneralProtection(hv, regs);
    else injectHwException(hv, regs, vector, ec);
  } else {
    hv.decide("pv64.host.delivery", "init_fred", `entry_FRED_R3 -> entry_from_pv: event type ${type} vector ${vector} is not modelled`);
    cpu.stopUnsupported(`xen-pv64: FRED event type ${type} vector ${vector} from the guest is not modelled`);
  }
  hv.testAllEvents(regs);
}

/**
 * entry_from_pv(), case X86_ET_OTHER vector 2 (SYSENTER): the legacy frame is recreated
 * (SS = FLAT_USER_SS, RSP 0, CS 3, RIP 0) but VM and IF are cleared in RFLAGS, where
 * sysenter_entry sets IF again; RCX/R11 untouched (c5a4b9125b is about SYSCALL). No callback:
 * #GP(0) at that null RIP.
 */
function entryFromPvSysenter(hv: XenPv64, regs: CpuUserRegs): void {
  const v = hv.vcpu;
  hv.decide("pv64.host.delivery", "init_fred", `SYSENTER as a FRED event (type 7, vector 2) -> entry_from_pv: RCX/R11 not written (${hex(regs.gpr[RCX]!)}, ${hex(regs.gpr[R11]!)}), IF cleared in the frame`);
  regs.ss = BigInt(FLAT_USER_SS);
  regs.rsp = 0n;
  regs.rflags &= ~BigInt(VM | IF);
  regs.cs = 3n;
  regs.rip = 0n;
  hv.event("entry", `entry_from_pv SYSENTER: rcx ${hex(regs.gpr[RCX]!)} r11 ${hex(regs.gpr[R11]!)} ${v.kernelMode ? "kernel" : "user"} mode`);
  if (v.callbacks.sysenter === 0n) {
    hv.event("inject", "entry_from_pv: no sysenter callback -> #GP(0) at RIP 0");
    injectHwException(hv, regs, X86_EXC_GP, 0);
    return;
  }
  // pv_inject_callback(CALLBACKTYPE_sysenter).
  hv.trapBounce = { flags: TBF_EXCEPTION | (v.sysenterDisablesEvents ? TBF_INTERRUPT : 0), eip: v.callbacks.sysenter, cs: 0, error_code: 0, vector: null };
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
  hv.trapBounce = { flags: TBF_EXCEPTION | (irq ? TBF_INTERRUPT : 0), eip, cs: 0, error_code: 0, vector: null };
}

/**
 * A guest exception through the legacy IDT: handle_exception -> the trap handler ->
 * pv_inject_hw_exception. A fault of the exit's IRETQ is the guest's too (its return frame);
 * any other exception inside Xen kills the domain.
 */
export function handleException(hv: XenPv64, cpu: Cpu, vector: number): void {
  const l = hv.layout;
  const ec = hasErrorCode(vector);
  // Vectors without an error code: the handler pushes 0 (so the frame starts at the same place).
  const at = cpu.lo[RSP]! >>> 0;
  const frameAt = ec ? at : at - 8;
  if (!ec) writeHost64(cpu, frameAt, 0n);
  if (frameAt !== l.eframe) {
    // exception_with_ints_disabled: a fault of the IRETQ at iret_to_guest is the guest's
    // (its return frame was bad): handle_exception again, as if it had happened in the guest.
    if (readHost64(cpu, frameAt + 8) === BigInt(l.exitIretq) && hv.current !== null) {
      exitFaultToGuest(hv, "iret_to_guest", vector, ec ? readHost64(cpu, frameAt) & 0xffffffffn : null, null);
      return;
    }
    hv.domainCrash("handle_exception", `exception ${vector} taken inside Xen (frame at 0x${frameAt.toString(16)})`);
    return;
  }
  const regs = hv.enter(6);
  if ((regs.cs & 3n) !== 3n) {
    hv.domainCrash("handle_exception", `exception ${vector} in Xen at ${hex(regs.rip)}`);
    return;
  }
  regs.entry_vector = vector;
  hv.decide("pv64.host.delivery", "legacy_syscall_init", `exception ${vector} through the IDT -> handle_exception`);
  if (vector === X86_EXC_GP) doGeneralProtection(hv, regs);
  else injectHwException(hv, regs, vector, ec ? regs.error_code : null);
  hv.testAllEvents(regs);
}

/**
 * entry_FRED_R0 -> entry_from_xen(): an event inside Xen. At the ERETU of eretu_exit_to_guest,
 * handle_eretu_event() passes #GP, #NP, #SS and #PF to the guest through entry_FRED_R3 (the
 * return frame was the guest's fault: a null or bad selector, a non-canonical RIP), except a
 * #GP(0) whose frame Xen itself got wrong (metadata bits, RFLAGS reserved bits, RPL not 3),
 * which kills the domain (eretu_error_dom_crash). Anything else in Xen is fatal.
 */
export function entryFredR0(hv: XenPv64, cpu: Cpu): void {
  const l = hv.layout;
  const at = cpu.lo[RSP]! >>> 0;
  const ec = readHost64(cpu, at) & 0xffffffffn;
  const rip = readHost64(cpu, at + 8);
  const csx = readHost64(cpu, at + 16);
  const ssx = readHost64(cpu, at + 40);
  const edata = readHost64(cpu, at + 48);
  const vector = Number((ssx >> 32n) & 0xffn);
  const type = Number((ssx >> 48n) & 0xfn);
  const g = hv.current;
  if (rip !== BigInt(l.exitEretu) || g === null || type !== X86_ET_HW_EXC || ![X86_EXC_GP, X86_EXC_NP, X86_EXC_SS, X86_EXC_PF].includes(vector)) {
    hv.domainCrash("entry_FRED_R0", `event type ${type} vector ${vector} inside Xen at ${hex(rip)}`);
  }
  const badMetadata = (g.cs & 0xffffffffffff0003n) !== 3n || (g.rflags & 0xffffffffffc2b02an) !== 2n || (g.ss & 0xfff80003n) !== 3n;
  if (vector === X86_EXC_GP && ec === 0n && (g.cs & 0xfffcn) !== 0n && (g.ss & 0xfffcn) !== 0n && badMetadata) {
    hv.domainCrash("eretu_error_dom_crash", `bad return state: csx ${hex(g.cs)}, rflags ${hex(g.rflags)}, ssx ${hex(g.ss)}`);
  }
  // The fault's information onto the interrupted frame, keeping its selectors.
  g.ss = (ssx & ~0xffffn) | (g.ss & 0xffffn);
  g.cs = (csx & ~0xffffn) | (g.cs & 0xffffn);
  exitFaultToGuest(hv, "eretu", vector, hasErrorCode(vector) ? ec : null, edata);
}

/** The exit's fault, made the guest's: its frame is the one being returned to (hv.current). */
function exitFaultToGuest(hv: XenPv64, where: string, vector: number, ec: bigint | null, edata: bigint | null): void {
  const regs = hv.current!;
  regs.entry_vector = vector;
  regs.error_code = ec === null ? 0 : Number(ec);
  if (edata !== null) regs.edata = edata;
  hv.event("inject", `${where} faulted (vector ${vector}${ec === null ? "" : ` ec 0x${ec.toString(16)}`}) returning to ${hex(regs.rip)}: the guest's fault`);
  if (vector === X86_EXC_GP && ec !== null) doGeneralProtection(hv, regs);
  else injectHwException(hv, regs, vector, ec === null ? null : Number(ec));
  hv.testAllEvents(regs);
}

/**
 * pv_inject_hw_exception() -> pv_inject_event(): the bounce from trap_ctxt[vector], with the
 * error code if there is one. With no trap_info Xen only warns ("Unhandled ... fault/trap");
 * create_bounce_frame then kills the domain at the null bounce address.
 */
export function injectHwException(hv: XenPv64, regs: CpuUserRegs, vector: number, ec: number | null): void {
  pvInjectEvent(hv, regs, vector, ec);
}

/** pv_inject_sw_interrupt(): the same bounce for INT n, without an error code, RIP already past it. */
function injectSwInterrupt(hv: XenPv64, regs: CpuUserRegs, vector: number): void {
  pvInjectEvent(hv, regs, vector, null);
}

function pvInjectEvent(hv: XenPv64, regs: CpuUserRegs, vector: number, ec: number | null): void {
  const ti = hv.vcpu.trapTable.get(vector);
  const eip = ti?.address ?? 0n;
  hv.event("inject", `vector ${vector}${ec === null ? "" : ` ec 0x${ec.toString(16)}`} at ${hex(regs.rip)} -> trap table ${eip === 0n ? "(none: unhandled)" : hex(eip)}`);
  hv.trapBounce = {
    flags: TBF_EXCEPTION | (ec !== null ? TBF_EXCEPTION_ERRCODE : 0) | (((ti?.flags ?? 0) & 4) !== 0 ? TBF_INTERRUPT : 0),
    eip,
    cs: ti?.cs ?? 0,
    error_code: ec ?? 0,
    vector,
  };
}
