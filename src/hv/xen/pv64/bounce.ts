// create_bounce_frame (xen/arch/x86/x86_64/entry.S; spec 3.5): the frame Xen writes on the
// guest kernel's stack when it enters the guest kernel (syscall callback, exception), and the
// rewrite of Xen's own frame so the exit lands in the callback. The same routine serves both
// hosts (on a FRED host test_all_events runs it after entry_from_pv set trap_bounce).

import { AC, IF, IOPL, NT, RF, TF, VM } from "../../../cpu/flags.js";
import { FLAT_KERNEL_CS, FLAT_KERNEL_SS } from "./guest.js";
import type { XenPv64 } from "./pv64.js";
import { asLinear, fromLinear, hex, TRAP_syscall, u64, type CpuUserRegs } from "./regs.js";

/** struct trap_bounce flags (asm/domain.h). */
export const TBF_EXCEPTION = 1;
export const TBF_EXCEPTION_ERRCODE = 2;
export const TBF_INTERRUPT = 8;

export interface TrapBounce {
  error_code: number;
  flags: number;
  cs: number;
  eip: bigint;
  /**
   * The exception or software interrupt being delivered (pv_inject_event), or null for a
   * callback (syscall, sysenter). Not Xen state: it names what the domain died of when the
   * bounce address is 0.
   */
  vector: number | null;
}

/**
 * create_bounce_frame. Returns false when Xen crashes the domain (a bad stack pointer, a fault
 * writing the guest stack, a zero bounce address); the caller stops the run.
 */
export function createBounceFrame(hv: XenPv64, regs: CpuUserRegs, tb: TrapBounce): boolean {
  // A domain crash here ends the run with the exception being delivered, if it is one
  // (pv_inject_event only warned about a missing handler; the guest could not take it).
  const exc = tb.vector === null ? undefined : { vector: tb.vector, errorCode: (tb.flags & TBF_EXCEPTION_ERRCODE) !== 0 ? tb.error_code : null, rip: regs.rip };
  const crash = (where: string, why: string): false => hv.domainCrash(where, why, exc);
  let sp: bigint;
  if (!hv.vcpu.kernelMode) {
    // Push the new frame at the registered guest-OS stack base.
    hv.toggleGuestMode("create_bounce_frame: guest user -> guest kernel");
    sp = hv.vcpu.kernelSp;
  } else {
    // In kernel context already: the frame goes on the current stack; the saved CS loses
    // its RPL bits "to indicate kernel context to guest" (0xe033 -> 0xe030).
    sp = regs.rsp;
    regs.cs &= ~3n;
  }
  sp &= ~0xfn;
  const errcode = (tb.flags & TBF_EXCEPTION_ERRCODE) !== 0;
  const size = errcode ? 64 : 56;
  const base = asLinear(sp) - size;
  if (hv.inXenArea(base, size)) return crash("create_bounce_frame_bad_sp", `guest stack 0x${u64(sp).toString(16)} inside Xen's private area`);

  // STORE_GUEST_STACK, in the order entry.S writes the slots (a fault stops the sequence).
  const top = base + (errcode ? 8 : 0); // the 7-slot frame before an error code is slid in
  const store = (at: number, v: bigint) => hv.storeGuest64(at, v);
  const vcpuMask = hv.vcpu.upcallMask;
  // movq UREGS_ss: the whole slot. On a FRED host, after an exception or INT n, that is the FRED
  // SS word with its event information above bit 31 (entry_from_pv() rewrites ssx only for
  // SYSCALL and SYSENTER): stored as Xen's create_bounce_frame stores it (c447b7308b).
  if (!store(top + 48, regs.ss)) return crash("create_bounce_frame", "fault writing SS");
  if (!store(top + 40, regs.rsp)) return crash("create_bounce_frame", "fault writing RSP");
  const saved = vcpuMask;
  if ((tb.flags & TBF_INTERRUPT) !== 0) hv.vcpu.upcallMask |= 1;
  if (!store(top + 24, (BigInt(saved & 0xff) << 32n) | (regs.cs & 0xffffn))) return crash("create_bounce_frame", "fault writing CS");
  // RFLAGS: the low 32 bits (movl), IF = !saved_upcall_mask, IOPL = the virtual IOPL with the
  // architectural_iopl assist (not modelled: always 0).
  let fl = Number(regs.rflags & 0xffffffffn) & ~(IF | IOPL);
  if ((saved & 0xff) === 0) fl |= IF;
  if (!store(top + 32, BigInt(fl >>> 0))) return crash("create_bounce_frame", "fault writing RFLAGS");
  if (!store(top + 16, regs.rip)) return crash("create_bounce_frame", "fault writing RIP");
  if (errcode && !store(base + 16, BigInt(tb.error_code >>> 0))) return crash("create_bounce_frame", "fault writing the error code");
  if (!store(base + 8, regs.gpr[11]!)) return crash("create_bounce_frame", "fault writing R11");
  if (!store(base, regs.gpr[1]!)) return crash("create_bounce_frame", "fault writing RCX");
  hv.event("bounce", `frame at ${hex(fromLinear(base))}: rcx ${hex(regs.gpr[1]!)} r11 ${hex(regs.gpr[11]!)}${errcode ? ` err ${tb.error_code}` : ""} rip ${hex(regs.rip)} cs ${hex(regs.cs & 0xffffn)} mask ${saved} rflags 0x${(fl >>> 0).toString(16)} rsp ${hex(regs.rsp)} ss ${hex(regs.ss)} -> ${hex(tb.eip)}`);

  // Rewrite Xen's frame: back to the guest kernel at the callback, "exit with SYSRET".
  regs.entry_vector |= TRAP_syscall;
  regs.rflags &= ~BigInt(AC | VM | RF | NT | TF);
  regs.ss = BigInt(FLAT_KERNEL_SS);
  regs.rsp = fromLinear(base);
  regs.cs = BigInt(FLAT_KERNEL_CS);
  if (tb.eip === 0n) return crash("create_bounce_frame_bad_bounce_ip", `bounce to address 0${tb.vector === null ? "" : ` (no trap_info for vector ${tb.vector})`}`);
  regs.rip = tb.eip;
  return true;
}
