// The VMM side of KVM's Xen emulation (QEMU target/i386/kvm/xen-emu.c, hw/i386/kvm/), where
// it decides what the guest sees differently from Xen.
//
// Modelled from QEMU's code as read elsewhere, not checked against a copy of its source here
// (the spec files do not cover them): VCPUOP_register_vcpu_info with offset > PAGE_SIZE - 64
// is -EINVAL, with no alignment rule, a re-registration moves the area and nothing is copied
// (kvm/vcpu_info.ts); VCPUOP_register_runstate_phys_area is -ENOSYS (xen/vcpu.ts); a guest
// read of MSR 0x40000000 is #GP (kvm/hypercall_page.ts); a hypercall at CPL > 0 gets -EPERM.

import type { Cpu } from "../../cpu/cpu.js";
import { hex64 } from "../../case/hex.js";
import type { U64 } from "../../cpu/state.js";
import { neg } from "../xen/errno.js";
import { is64BitHypercall } from "../xen/guest.js";
import type { XenHvm } from "../xen/hvm.js";
import { latchShinfoLayout } from "../xen/shared_info.js";

/**
 * kvm_xen_hypercall() at CPL > 0 (6.1-rc7+, c2b8cdfaf3a6): nothing in-kernel; KVM_EXIT_XEN
 * (KVM_EXIT_XEN_HCALL) with longmode, cpl, input and params; QEMU do_kvm_xen_handle_exit()
 * answers `if (exit->u.hcall.cpl > 0) result = -EPERM`, and KVM writes it to RAX on re-entry.
 */
export function kvmCplExit(hv: XenHvm, cpu: Cpu, wide: boolean, nr: number, params: readonly U64[]): number {
  hv.event("exit", `KVM_EXIT_XEN_HCALL longmode=${wide ? 1 : 0} cpl=${cpu.cpl} input=${nr} params=[${params.map((p) => hex64(p.lo, p.hi)).join(",")}]: the VMM answers -EPERM (cpl > 0)`);
  return neg("EPERM");
}

/**
 * QEMU handle_set_param() for HVM_PARAM_CALLBACK_IRQ: after xen_evtchn_set_callback_param(),
 * xen_set_long_mode(exit->u.hcall.longmode) -> KVM_XEN_HVM_SET_ATTR(LONG_MODE), where
 * longmode is is_64_bit_hypercall() of the call; KVM 6.9+ then re-runs
 * kvm_xen_shared_info_init() whenever the shared_info cache is active.
 */
export function qemuSetLongModeAtCallbackIrq(hv: XenHvm, cpu: Cpu): void {
  const lm = is64BitHypercall(cpu);
  hv.decide("hvm.latch.callback_irq", "xen_set_long_mode", `latched ${lm ? "native" : "compat"} because the VMM sets KVM_XEN_ATTR_TYPE_LONG_MODE = exit->u.hcall.longmode = is_64_bit_hypercall() = ${lm}`);
  latchShinfoLayout(hv, !lm, "vmm-long-mode");
}
