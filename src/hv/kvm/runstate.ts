// KVM's runstate area (arch/x86/kvm/xen.c; spec kvm-xen.md §4), registered by QEMU: the
// guest's VCPUOP_register_runstate_memory_area gives a GVA, which QEMU translates ONCE
// (kvm_gva_to_gpa of its first byte) and hands to KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR.
//   6.2+ (5ec3289b31ab, kvm_xen_update_runstate_guest): two gfn_to_pfn caches; the struct may
//   cross into the NEXT GUEST-PHYSICAL page (not the next virtual page); size 48/44 by the
//   current long_mode at every update; a non-split update writes state and the five u64s in
//   place (native padding bytes 4-7 untouched), a split one the whole struct (padding 0) in
//   two pieces. XEN_RUNSTATE_UPDATE only with RUNSTATE_UPDATE_FLAG.
//   kvm-2022 (gpc activated with the native 48 bytes): page offset + 48 > 4096 -> -EINVAL.

import type { Call } from "../xen/call.js";
import { neg } from "../xen/errno.js";
import { linearToPhys, PAGE_SIZE } from "../xen/guest.js";
import type { XenHvm } from "../xen/hvm.js";
import { offsetOf, sizeOf } from "../xen/layout.js";
import { shinfoAbi } from "../xen/shared_info.js";
import { runstateBytes, runstateUpdateByte } from "../xen/vcpu.js";

export function kvmRegisterRunstate(c: Call, gva: number): number {
  const hv = c.hv;
  const rule = hv.policy["hvm.runstate.area"];
  const gpa = linearToPhys(c.cpu, gva, false);
  if (gpa === null) return neg("EFAULT");
  const off = gpa % PAGE_SIZE;
  const sz = sizeOf(shinfoAbi(hv.has32bitShinfo), "vcpu_runstate_info");
  if (rule === "kvm_gpc_activate-native-size") {
    if (off + 48 > PAGE_SIZE) {
      hv.decide("hvm.runstate.area", rule, `RUNSTATE_ADDR 0x${gpa.toString(16)}: the gpc is activated with the native 48 bytes, page offset ${off} + 48 > 4096: -EINVAL (a ${sz}-byte struct would fit)`);
      return neg("EINVAL");
    }
  }
  const sz1 = PAGE_SIZE - off;
  if (!hv.gfnIsRam(Math.floor(gpa / PAGE_SIZE)) || (sz1 < sz && !hv.gfnIsRam(Math.floor(gpa / PAGE_SIZE) + 1))) return neg("EFAULT");
  hv.decide("hvm.runstate.area", rule, sz1 < sz
    ? `RUNSTATE_ADDR 0x${gpa.toString(16)} (from GVA 0x${gva.toString(16)}): ${sz1} bytes in this page, ${sz - sz1} at the next guest-physical page (runstate2_cache)`
    : `RUNSTATE_ADDR 0x${gpa.toString(16)} (from GVA 0x${gva.toString(16)}): fits one page`);
  hv.runstateAreas.kvmGpa = gpa;
  kvmUpdateRunstateGuest(hv);
  return 0;
}

export function kvmUpdateRunstateGuest(hv: XenHvm): void {
  const gpa = hv.runstateAreas.kvmGpa;
  if (gpa === null) return;
  const mem = hv.cpu.mem;
  const abi = shinfoAbi(hv.has32bitShinfo);
  const len = sizeOf(abi, "vcpu_runstate_info");
  const off = gpa % PAGE_SIZE;
  const flag = hv.runstateUpdateFlag;
  const b = runstateBytes(abi, hv.runstate, flag);
  const top = runstateUpdateByte(abi);
  const page2 = (Math.floor(gpa / PAGE_SIZE) + 1) * PAGE_SIZE;
  const at = (k: number) => (off + k < PAGE_SIZE ? gpa + k : page2 + (off + k - PAGE_SIZE));
  const ok = (k: number) => at(k) + 1 <= mem.bytes;
  if (flag && ok(top)) mem.write8(at(top), b[top]!);
  if (off + len > PAGE_SIZE) {
    for (let k = 0; k < len; k++) if (ok(k)) mem.write8(at(k), b[k]!);
  } else {
    // In place: state (4 bytes) and the five u64s; the native padding (4..7) is not written.
    const entry = offsetOf(abi, "vcpu_runstate_info", "state_entry_time");
    for (let k = 0; k < 4; k++) mem.write8(gpa + k, b[k]!);
    for (let k = entry; k < len; k++) mem.write8(gpa + k, b[k]!);
  }
  if (flag && ok(top)) mem.write8(at(top), b[top]! & 0x7f);
  hv.event("runstate", `RUNSTATE_ADDR 0x${gpa.toString(16)} (${abi}, long_mode now)${off + len > PAGE_SIZE ? " in two pieces" : ""} state ${hv.runstate.state}`);
}
