// Save and restore of the vCPU across hosts (`"migrate": {"on": "suspend", "to": PRESET}`):
// at SCHEDOP_shutdown(SHUTDOWN_suspend) the toolstack saves the vCPU as
// XEN_DOMCTL_getvcpucontext gives it (arch_get_info_guest(): struct vcpu_guest_context with
// user_regs as Xen holds them when the hypercall has returned, flags, kernel_ss/sp, the trap
// table and the three callbacks the struct has), and the destination host loads it
// (arch_set_info_guest()) and first runs the vCPU through its own restore_all_guest.
//
// What the model takes from the spec (5.4 (d)): at HEAD arch_set_info_guest() does not carry
// entry_vector over, so TRAP_syscall is clear on the destination and its first exit is
// iret_exit_to_guest (legacy) or eretu_exit_to_guest without the cmovs (FRED): the guest sees
// RCX/R11 as the record carries them, at the record's RIP. The syscall32 and sysenter callbacks
// are not fields of vcpu_guest_context (x86_64): they do not travel. Guest memory (with
// vcpu_info's upcall mask) travels as it is.

import type { Pv64Policy } from "../../policy.js";
import type { XenPv64 } from "./pv64.js";
import { hex, regsJson, type CpuUserRegs } from "./regs.js";
import { RFLAGS_DEFINED as X86_EFLAGS_ALL, RFLAGS_FIXED1 as X86_EFLAGS_MBS, VM } from "../../../cpu/flags.js";

/** public/arch-x86/xen.h vcpu_guest_context flags. */
export const VGCF_in_kernel = 1 << 2;
export const VGCF_failsafe_disables_events = 1 << 3;
export const VGCF_syscall_disables_events = 1 << 4;
export const VGCF_online = 1 << 5;

/** The migration part of the log: what travelled, and how the destination resumed. */
export interface Pv64MigrationRecord {
  step: number;
  from: string;
  to: string;
  vcpu_guest_context: {
    flags: string[];
    user_regs: Record<string, string | number>;
    trap_ctxt: { vector: number; flags: number; cs: number; address: string }[];
    kernel_ss: number;
    kernel_sp: string;
    event_callback_eip: string;
    failsafe_callback_eip: string;
    syscall_callback_eip: string;
  };
  /** What the destination did with it. */
  restore: string;
}

/** arch_get_info_guest() -> the record; arch_set_info_guest() on the destination -> the regs it resumes from. */
export function migrateOnSuspend(hv: XenPv64, regs: CpuUserRegs, to: Pv64Policy, toName: string): CpuUserRegs {
  const v = hv.vcpu;
  const flags: string[] = ["VGCF_online"];
  if (v.kernelMode) flags.push("VGCF_in_kernel");
  if (v.failsafeDisablesEvents) flags.push("VGCF_failsafe_disables_events");
  if (v.syscallDisablesEvents) flags.push("VGCF_syscall_disables_events");
  const record: Pv64MigrationRecord = {
    step: hv.cpu.steps,
    from: hv.policy["pv64.host.delivery"],
    to: `${toName} (${to["pv64.host.delivery"]})`,
    vcpu_guest_context: {
      flags,
      user_regs: regsJson(regs),
      trap_ctxt: [...v.trapTable.entries()].sort((a, b) => a[0] - b[0]).map(([vector, t]) => ({ vector, flags: t.flags, cs: t.cs, address: hex(t.address) })),
      kernel_ss: v.kernelSs,
      kernel_sp: hex(v.kernelSp),
      event_callback_eip: hex(v.callbacks.event),
      failsafe_callback_eip: hex(v.callbacks.failsafe),
      syscall_callback_eip: hex(v.callbacks.syscall),
    },
    restore: "arch_set_info_guest: user_regs loaded with entry_vector 0 (TRAP_syscall clear); syscall32/sysenter callbacks not in the record (0)",
  };
  hv.migration = record;
  hv.event("migrate", `suspend -> saved at ${hex(regs.rip)} (rcx ${hex(regs.gpr[1]!)}, r11 ${hex(regs.gpr[11]!)}, entry_vector ${regs.entry_vector}); restored on ${record.to}`);

  // The destination: a fresh vCPU of the other host, loaded from the record.
  hv.switchHost(to);
  v.callbacks.syscall32 = 0n;
  v.callbacks.sysenter = 0n;
  v.syscall32DisablesEvents = false;
  v.sysenterDisablesEvents = false;
  return {
    gpr: [...regs.gpr],
    error_code: 0,
    entry_vector: 0,
    rip: regs.rip,
    cs: regs.cs & 0xffffn,
    // arch_set_info_guest(): the defined flags | bit 1, VM cleared (ERETU cares that it is 0).
    rflags: (regs.rflags & BigInt(X86_EFLAGS_ALL & ~VM)) | BigInt(X86_EFLAGS_MBS),
    rsp: regs.rsp,
    ss: regs.ss & 0xffffn,
    edata: 0n,
  };
}
