// KVM kvm_xen_write_hypercall_page() (arch/x86/kvm/xen.c; spec kvm-xen.md §1), reached from
// kvm_set_msr_common() for a guest write of the configured MSR (0x40000000 as QEMU sets it):
//   lm = is_long_mode(vcpu) (or the knob's predicate); if it differs from long_mode, store it
//   and, 6.9+, re-initialise shared_info (the wallclock) if its cache is active;
//   THEN page_num != 0 -> return 1 (#GP) -- the latch has already happened;
//   then the 32-byte template, i = 0..127, written to page_addr + 32 i; a write failure -> #GP.

import type { Cpu } from "../../cpu/cpu.js";
import { CpuFault, GP } from "../../cpu/exceptions.js";
import { PAGE_SIZE } from "../xen/guest.js";
import type { XenHvm } from "../xen/hvm.js";
import { kvmHypercallPage, latchAtHypercallPage } from "../xen/hypercall_page.js";

export function kvmXenWriteHypercallPage(hv: XenHvm, cpu: Cpu, lo: number, hi: number): void {
  latchAtHypercallPage(hv, cpu);
  const pageNum = lo & 0xfff;
  if (pageNum !== 0) {
    hv.event("fault", `hypercall page index ${pageNum} != 0: #GP after the latch (kvm_xen_write_hypercall_page)`);
    throw new CpuFault(GP, 0);
  }
  const gfn = (hi >>> 0) * 0x100000 + (lo >>> 12);
  if (!hv.gfnIsRam(gfn)) {
    hv.event("fault", `hypercall page GPA 0x${(gfn * PAGE_SIZE).toString(16)}: kvm_vcpu_write_guest() fails, #GP`);
    throw new CpuFault(GP, 0);
  }
  cpu.mem.writeBytes(gfn * PAGE_SIZE, kvmHypercallPage(cpu));
  hv.hypercallPageGfn = gfn;
  hv.event("hypercall-page", `filled at GFN 0x${gfn.toString(16)} (${cpu.model.vendor === "intel" ? "VMCALL" : "VMMCALL"} in all 128 slots)`);
}
