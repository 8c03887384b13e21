// VCPUOP_register_vcpu_info under KVM: QEMU vcpuop_register_vcpu_info() checks
// offset > PAGE_SIZE - sizeof(struct vcpu_info) (-EINVAL) and sets
// KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO to the GPA (kvm_xen_vcpu_set_attr(): 64 bytes, one page,
// the same for both layouts; kvm-xen.md §5). No alignment rule; a second registration moves
// the area; nothing is copied from the old one; the clock update (KVM_REQ_CLOCK_UPDATE)
// writes vcpu_info.time.

import { neg } from "../xen/errno.js";
import { PAGE_SIZE } from "../xen/guest.js";
import type { XenHvm } from "../xen/hvm.js";
import { sizeOf } from "../xen/layout.js";

export function kvmRegisterVcpuInfo(hv: XenHvm, mfn: number, offset: number): number {
  const rule = hv.policy["hvm.vcpu_info.register"];
  const size = sizeOf("x86_64", "vcpu_info");
  if (offset > PAGE_SIZE - size) {
    hv.decide("hvm.vcpu_info.register", rule, `offset ${offset} > PAGE_SIZE - 64: QEMU returns -EINVAL`);
    return neg("EINVAL");
  }
  if (Number.isNaN(mfn) || !hv.gfnIsRam(mfn)) return neg("EINVAL");
  const gpa = mfn * PAGE_SIZE + offset;
  hv.decide("hvm.vcpu_info.register", rule, `VCPU_INFO attribute set to 0x${gpa.toString(16)} (${hv.vcpuInfoGpa === null ? "first" : "re-"}registration, no alignment rule, nothing copied)`);
  hv.vcpuInfoGpa = gpa;
  hv.updateVcpuTime();
  return 0;
}
