// pv_hypercall() (xen/arch/x86/pv/hypercall.c) for a 64-bit PV guest in guest kernel mode:
// nr = rax, arguments rdi rsi rdx r10 r8, the result in regs->rax. A release build: argument
// registers are not clobbered (no clobber_regs()). The hypercalls of the PV64 model:
//   set_trap_table (0), stack_switch (3), set_callbacks (4), xen_version (17), iret (23),
//   sched_op (29: yield, shutdown), callback_op (30: register, unregister);
//   fpu_taskswitch (5) and every other number -ENOSYS, guest page-table updates included
//   (mmu_update 1, update_va_mapping 14, mmuext_op 26: the builder's direct map is fixed).

import { HYPERCALL_NAMES, __HYPERVISOR_callback_op, __HYPERVISOR_iret, __HYPERVISOR_sched_op, __HYPERVISOR_set_callbacks, __HYPERVISOR_set_trap_table, __HYPERVISOR_stack_switch, __HYPERVISOR_xen_version } from "../hypercall_numbers.js";
// Xen's X86_EFLAGS_ALL (every defined RFLAGS bit) and X86_EFLAGS_MBS (bit 1) are the CPU model's.
import { IF, IOPL, RFLAGS_DEFINED as X86_EFLAGS_ALL, RFLAGS_FIXED1 as X86_EFLAGS_MBS, VM } from "../../../cpu/flags.js";
import { RCX, RDI, RDX, RSI } from "../../../cpu/state.js";
import { getU16, getU32, getU64, linearOf } from "../guest.js";
import { errnoName, neg } from "../errno.js";

import { XEN_VERSION_MAJOR, XEN_VERSION_MINOR } from "../hypercall_page.js";
import { offsetOf, sizeOf } from "../layout.js";
import { CALLBACKTYPE_event, CALLBACKTYPE_failsafe, CALLBACKTYPE_nmi, CALLBACKTYPE_syscall, CALLBACKTYPE_syscall32, CALLBACKTYPE_sysenter } from "./guest.js";
import type { Pv64Vcpu, XenPv64 } from "./pv64.js";
import { asLinear, hex, isCanonical, TRAP_syscall, u64, type CpuUserRegs } from "./regs.js";

const R8 = 8;
const R10 = 10;
const R11 = 11;
/** NR_hypercalls for the dispatch table (hypercall-defs.c). */
const NR_hypercalls = 64;

export const CALLBACKOP_register = 0;
export const CALLBACKOP_unregister = 1;
export const CALLBACKF_mask_events = 1;
export const SCHEDOP_yield = 0;
export const SCHEDOP_shutdown = 2;
export const SHUTDOWN_poweroff = 0;
export const SHUTDOWN_reboot = 1;
export const SHUTDOWN_suspend = 2;
export const SHUTDOWN_crash = 3;
/** public/arch-x86/xen-x86_64.h: VGCF_in_syscall = 1 << _VGCF_in_syscall (8). */
export const VGCF_in_syscall = 1 << 8;
const XENVER_version = 0;
const XENVER_pagesize = 7;

interface Args {
  hv: XenPv64;
  regs: CpuUserRegs;
  a: bigint[];
}

const HANDLERS: Readonly<Record<number, (c: Args) => bigint>> = {
  [__HYPERVISOR_set_trap_table]: doSetTrapTable,
  [__HYPERVISOR_stack_switch]: doStackSwitch,
  [__HYPERVISOR_set_callbacks]: doSetCallbacks,
  [__HYPERVISOR_xen_version]: doXenVersion,
  [__HYPERVISOR_iret]: doIret,
  [__HYPERVISOR_sched_op]: doSchedOp,
  [__HYPERVISOR_callback_op]: doCallbackOp,
};

function errno(name: Parameters<typeof neg>[0]): bigint {
  return u64(BigInt(neg(name)));
}

/** pv_hypercall(regs): only reached in guest kernel mode (the entry paths check TF_kernel_mode). */
export function pvHypercall(hv: XenPv64, regs: CpuUserRegs): void {
  const nr = regs.gpr[0]!;
  const a = [regs.gpr[RDI]!, regs.gpr[RSI]!, regs.gpr[RDX]!, regs.gpr[R10]!, regs.gpr[R8]!];
  const at = regs.rip - 2n;
  const handler = nr < BigInt(NR_hypercalls) ? HANDLERS[Number(nr)] : undefined;
  const ret = handler === undefined ? errno("ENOSYS") : handler({ hv, regs, a });
  regs.gpr[0] = ret;
  const signed = ret >= 1n << 63n ? ret - (1n << 64n) : ret;
  hv.hypercalls.push({
    step: hv.cpu.steps,
    rip: hex(at),
    nr: nr < 1n << 32n ? Number(nr) : -1,
    name: nr < BigInt(NR_hypercalls) ? HYPERCALL_NAMES[Number(nr)] ?? `#${nr}` : `#${hex(nr)}`,
    args: a.map(hex),
    ret: hex(ret),
    errno: signed < 0n && signed > -4096n ? errnoName(Number(signed)) : null,
  });
}

function ptr(v: bigint): number {
  return linearOf(Number(v & 0xffffffffn) | 0, Number((v >> 32n) & 0xffffffffn) | 0);
}

/** do_set_trap_table(): trap_info entries until one with address 0; NULL clears the table. */
function doSetTrapTable(c: Args): bigint {
  const v = c.hv.vcpu;
  if (c.a[0] === 0n) {
    v.trapTable.clear();
    return 0n;
  }
  const size = sizeOf("x86_64", "trap_info");
  for (let k = 0; k < 256; k++) {
    const b = c.hv.readGuest(ptr(c.a[0]!) + k * size, size);
    if (b === null) return errno("EFAULT");
    const at = getU64(b, offsetOf("x86_64", "trap_info", "address"));
    const address = (BigInt(at.hi >>> 0) << 32n) | BigInt(at.lo >>> 0);
    if (address === 0n) break;
    const vector = b[offsetOf("x86_64", "trap_info", "vector")]!;
    v.trapTable.set(vector, { flags: b[offsetOf("x86_64", "trap_info", "flags")]!, cs: getU16(b, offsetOf("x86_64", "trap_info", "cs")), address });
  }
  return 0n;
}

/** do_stack_switch(ss, esp): the guest kernel stack create_bounce_frame uses from user mode. */
function doStackSwitch(c: Args): bigint {
  c.hv.vcpu.kernelSs = Number(c.a[0]! & 0xffffn) | 3;
  c.hv.vcpu.kernelSp = c.a[1]!;
  return 0n;
}

/**
 * do_set_callbacks(event, failsafe, syscall) (x86_64): register_guest_callback() for each with
 * flags 0 (so failsafe and syscall stop masking events), a non-canonical one ignored; always 0.
 */
function doSetCallbacks(c: Args): bigint {
  registerGuestCallback(c.hv.vcpu, CALLBACKTYPE_event, 0, c.a[0]!);
  registerGuestCallback(c.hv.vcpu, CALLBACKTYPE_failsafe, 0, c.a[1]!);
  registerGuestCallback(c.hv.vcpu, CALLBACKTYPE_syscall, 0, c.a[2]!);
  return 0n;
}

/** register_guest_callback() (pv/callback.c): -EINVAL for a non-canonical address, -ENOSYS for an unknown type. */
function registerGuestCallback(v: Pv64Vcpu, type: number, flags: number, address: bigint): bigint {
  if (!isCanonical(address)) return errno("EINVAL");
  const mask = (flags & CALLBACKF_mask_events) !== 0;
  switch (type) {
    case CALLBACKTYPE_event: v.callbacks.event = address; return 0n;
    case CALLBACKTYPE_failsafe: v.callbacks.failsafe = address; v.failsafeDisablesEvents = mask; return 0n;
    case CALLBACKTYPE_syscall: v.callbacks.syscall = address; v.syscallDisablesEvents = mask; return 0n;
    case CALLBACKTYPE_syscall32: v.callbacks.syscall32 = address; v.syscall32DisablesEvents = mask; return 0n;
    case CALLBACKTYPE_sysenter: v.callbacks.sysenter = address; v.sysenterDisablesEvents = mask; return 0n;
    case CALLBACKTYPE_nmi: v.callbacks.nmi = address; return 0n;
    default: return errno("ENOSYS");
  }
}

function doXenVersion(c: Args): bigint {
  switch (Number(c.a[0]! & 0xffffffffn)) {
    case XENVER_version:
      return BigInt(((XEN_VERSION_MAJOR << 16) | XEN_VERSION_MINOR) >>> 0);
    case XENVER_pagesize:
      return 4096n;
    default:
      return errno("ENOSYS");
  }
}

/**
 * do_iret() (pv/iret.c; spec 4): struct iret_context from the guest RSP; to guest user mode
 * when (cs & 3) == 3; RIP, CS|3, RFLAGS (the defined flags but IOPL and VM, | IF | bit 1), RSP,
 * SS|3 from the context; without
 * VGCF_in_syscall also TRAP_syscall cleared and RCX/R11 from the context; with it, regs->rcx,
 * regs->r11 and TRAP_syscall stay as the entry left them. The upcall mask = !context.IF; the
 * result (context.rax) becomes RAX.
 */
function doIret(c: Args): bigint {
  const { hv, regs } = c;
  const size = sizeOf("x86_64", "iret_context");
  const b = hv.readGuest(asLinear(regs.rsp), size);
  if (b === null) return hv.domainCrash("do_iret", `fault reading the iret context at ${hex(regs.rsp)}`);
  const f = (name: string) => {
    const v = getU64(b, offsetOf("x86_64", "iret_context", name));
    return (BigInt(v.hi >>> 0) << 32n) | BigInt(v.lo >>> 0);
  };
  const ctx = { rax: f("rax"), r11: f("r11"), rcx: f("rcx"), flags: f("flags"), rip: f("rip"), cs: f("cs"), rflags: f("rflags"), rsp: f("rsp"), ss: f("ss") };
  hv.lastIret = Object.fromEntries(Object.entries(ctx).map(([k, v]) => [k, hex(v)]));
  if ((ctx.cs & 3n) === 3n) hv.toggleGuestMode("do_iret: context CS RPL 3 -> guest user mode");
  regs.rip = ctx.rip;
  regs.cs = (regs.cs & ~0xffffn) | ((ctx.cs | 3n) & 0xffffn);
  regs.rflags = (ctx.rflags & BigInt(X86_EFLAGS_ALL & ~(IOPL | VM))) | BigInt(IF | X86_EFLAGS_MBS);
  regs.rsp = ctx.rsp;
  regs.ss = (regs.ss & ~0xffffn) | ((ctx.ss | 3n) & 0xffffn);
  const inSyscall = (ctx.flags & BigInt(VGCF_in_syscall)) !== 0n;
  if (!inSyscall) {
    regs.entry_vector &= ~TRAP_syscall;
    regs.gpr[R11] = ctx.r11;
    regs.gpr[RCX] = ctx.rcx;
  }
  hv.event("iret", `do_iret: ${inSyscall ? "VGCF_in_syscall: regs->rcx/r11 and TRAP_syscall kept" : "full restore: rcx/r11 from the context, TRAP_syscall cleared"}; TRAP_syscall now ${(regs.entry_vector & TRAP_syscall) !== 0 ? "set" : "clear"}, rcx ${hex(regs.gpr[RCX]!)} r11 ${hex(regs.gpr[R11]!)}`);
  hv.vcpu.upcallMask = (ctx.rflags & BigInt(IF)) === 0n ? 1 : 0;
  return ctx.rax;
}

/** do_sched_op(): yield (one vCPU: back at once) and shutdown; other commands -ENOSYS. */
function doSchedOp(c: Args): bigint {
  switch (Number(c.a[0]! & 0xffffffffn)) {
    case SCHEDOP_yield:
      return 0n;
    case SCHEDOP_shutdown: {
      const b = c.hv.readGuest(ptr(c.a[1]!), sizeOf("x86_64", "sched_shutdown"));
      if (b === null) return errno("EFAULT");
      const reason = getU32(b, offsetOf("x86_64", "sched_shutdown", "reason"));
      // domain_shutdown(): the domain stops at its next exit to the guest.
      c.hv.shutdownReason = reason;
      return 0n;
    }
    default:
      return errno("ENOSYS");
  }
}

/** do_callback_op(): register / unregister (pv/callback.c). */
function doCallbackOp(c: Args): bigint {
  const { hv } = c;
  const v = hv.vcpu;
  switch (Number(c.a[0]! & 0xffffffffn)) {
    case CALLBACKOP_register: {
      const b = hv.readGuest(ptr(c.a[1]!), sizeOf("x86_64", "callback_register"));
      if (b === null) return errno("EFAULT");
      const type = getU16(b, offsetOf("x86_64", "callback_register", "type"));
      const flags = getU16(b, offsetOf("x86_64", "callback_register", "flags"));
      const at = getU64(b, offsetOf("x86_64", "callback_register", "address"));
      return registerGuestCallback(v, type, flags, (BigInt(at.hi >>> 0) << 32n) | BigInt(at.lo >>> 0));
    }
    case CALLBACKOP_unregister: {
      const b = hv.readGuest(ptr(c.a[1]!), sizeOf("x86_64", "callback_unregister"));
      if (b === null) return errno("EFAULT");
      const type = getU16(b, offsetOf("x86_64", "callback_unregister", "type"));
      switch (type) {
        case CALLBACKTYPE_event: case CALLBACKTYPE_failsafe: case CALLBACKTYPE_syscall:
        case CALLBACKTYPE_syscall32: case CALLBACKTYPE_sysenter:
          return errno("EINVAL");
        case CALLBACKTYPE_nmi: v.callbacks.nmi = 0n; return 0n;
        default: return errno("ENOSYS");
      }
    }
    default:
      return errno("ENOSYS");
  }
}

