// The guest programs of the observable cases (spec fred-syscall-pv.md 5.4), at fixed addresses
// so the tests can name every word they expect.

import { __HYPERVISOR_callback_op, __HYPERVISOR_iret, __HYPERVISOR_stack_switch } from "../../../src/hv/xen/hypercall_numbers.js";
import { CALLBACKTYPE_syscall } from "../../../src/hv/xen/pv64/guest.js";
import { FLAT_KERNEL_SS, FLAT_RING3_CS64 } from "../../../src/hv/xen/pv64/guest.js";
import { CALLBACKOP_register } from "../../../src/hv/xen/pv64/hypercall.js";
import { ARGS, Asm, callbackRegister, CODE, HCALL, KSTACK, R11, RAX, RBX, RCX, RDX, RES, USTACK, type Guest } from "./support.js";

export const USER = CODE + 0x1000;
export const CB = CODE + 0x2000;
export const WRONG = CODE + 0x1800;
export const END = CODE + 0x1f00;
export const PRE_RCX = BigInt(WRONG);
export const PRE_R11 = 0x2222n;
/** The user's RFLAGS at its SYSCALL: IF (Xen's exit sets it), bit 1, CF (stc). */
export const FU = 0x203n;

/** Result slots. */
export const R_USER_RCX = RES, R_USER_R11 = RES + 8, R_CB_RCX = RES + 0x10, R_CB_R11 = RES + 0x18;
export const R_FRAME = RES + 0x20; // 7 words
export const R_WHERE = RES + 0x60; // 1: after the SYSCALL, 2: at PRE_RCX

/**
 * Kernel: register the syscall callback, stack_switch, HYPERVISOR_iret (flags 0) to user mode.
 * User: RCX = PRE_RCX, R11 = PRE_R11, CF = 1, SYSCALL, then record RCX/R11 and where it resumed.
 * Syscall callback: record RCX/R11 at entry and the bounce frame word by word, pop RCX and R11
 * (as Linux's xen_entry_SYSCALL_64 does), then return with HYPERVISOR_iret flags 0 to the frame
 * RIP ("linux"), or to the RCX it popped ("sysret-style": a kernel that keeps the native
 * convention that RCX is the return address).
 */
export function syscallProgram(g: Guest, kernel: "linux" | "sysret-style"): Asm {
  callbackRegister(g, ARGS, CALLBACKTYPE_syscall, 0, CB);
  const a = new Asm();
  a.hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, ARGS)
    .hypercall(__HYPERVISOR_stack_switch, FLAT_KERNEL_SS, KSTACK)
    .pushImm(FLAT_KERNEL_SS).pushImm(USTACK).pushImm(0x202).pushImm(FLAT_RING3_CS64).pushImm(USER).pushImm(0)
    .jmpAbs(HCALL + 32 * __HYPERVISOR_iret);
  a.org(USER).mov(RCX, PRE_RCX).mov(R11, PRE_R11).stc().syscall().at("after")
    .store(R_USER_RCX, RCX).store(R_USER_R11, R11).mov(RBX, 1).store(R_WHERE, RBX).jmpAbs(END);
  a.org(WRONG).store(R_USER_RCX, RCX).store(R_USER_R11, R11).mov(RBX, 2).store(R_WHERE, RBX).jmpAbs(END);
  a.org(END).at("end").raw(0x90);
  a.org(CB).store(R_CB_RCX, RCX).store(R_CB_R11, R11);
  for (let k = 0; k < 7; k++) a.loadRsp(RDX, 8 * k).store(R_FRAME + 8 * k, RDX);
  a.pop(RCX).pop(R11);
  if (kernel === "sysret-style") a.storeRsp(0, RCX);
  a.pushImm(0).jmpAbs(HCALL + 32 * __HYPERVISOR_iret);
  void RAX;
  return a;
}

/** The RIP after the user's SYSCALL. */
export function ru(a: Asm): bigint {
  return BigInt(a.label("after"));
}
