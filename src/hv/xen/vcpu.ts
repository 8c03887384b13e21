// do_vcpu_op() / compat_vcpu_op() (xen/common/domain.c common_vcpu_op(), map_guest_area(),
// update_runstate_area(); xen/arch/x86/x86_64/domain.c; spec xen-hvm.md §5.4 and §6), with
// the KVM+QEMU rules where the knobs say so (src/hv/kvm/runstate.ts, vcpu_info below):
//   VCPUOP_get_runstate_info (4), register_runstate_memory_area (5), set_singleshot_timer (8),
//   stop_singleshot_timer (9), register_vcpu_info (10), register_runstate_phys_area (14).
// One vCPU: any other vcpuid is -ENOENT (domain_vcpu() == NULL).

import { kvmRegisterRunstate, kvmUpdateRunstateGuest } from "../kvm/runstate.js";
import { kvmRegisterVcpuInfo } from "../kvm/vcpu_info.js";
import { argU32, readArg, writeArg, type Call } from "./call.js";
import { neg } from "./errno.js";
import { getU32, getU64, linearOf, PAGE_SIZE, u64Number, copyToGuest } from "./guest.js";
import type { RunstateAccount, XenHvm } from "./hvm.js";
import { offsetOf, sizeOf, type Abi } from "./layout.js";
import { shinfoAbi } from "./shared_info.js";

export const VCPUOP_get_runstate_info = 4;
export const VCPUOP_register_runstate_memory_area = 5;
export const VCPUOP_set_singleshot_timer = 8;
export const VCPUOP_stop_singleshot_timer = 9;
export const VCPUOP_register_vcpu_info = 10;
export const VCPUOP_register_runstate_phys_area = 14;
export const VCPU_SSHOTTMR_future = 1;

export const RUNSTATE_running = 0;
export const RUNSTATE_runnable = 1;
export const RUNSTATE_blocked = 2;
export const RUNSTATE_offline = 3;

/** struct vcpu_runstate_info in layout `abi` (padding zero); XEN_RUNSTATE_UPDATE (bit 63) if `update`. */
export function runstateBytes(abi: Abi, r: RunstateAccount, update: boolean): Uint8Array {
  const b = new Uint8Array(sizeOf(abi, "vcpu_runstate_info"));
  const put64 = (off: number, v: number) => {
    const lo = v % 4294967296;
    const hi = Math.floor(v / 4294967296);
    for (let k = 0; k < 4; k++) {
      b[off + k] = (lo >>> (8 * k)) & 0xff;
      b[off + 4 + k] = (hi >>> (8 * k)) & 0xff;
    }
  };
  const st = offsetOf(abi, "vcpu_runstate_info", "state");
  for (let k = 0; k < 4; k++) b[st + k] = (r.state >>> (8 * k)) & 0xff;
  const entry = offsetOf(abi, "vcpu_runstate_info", "state_entry_time");
  put64(entry, r.entryTime);
  if (update) b[entry + 7]! |= 0x80;
  for (let i = 0; i < 4; i++) put64(offsetOf(abi, "vcpu_runstate_info", `time[${i}]`), r.time[i]!);
  return b;
}

/** The byte offset of XEN_RUNSTATE_UPDATE's byte (the top byte of state_entry_time): 15 native, 11 compat. */
export function runstateUpdateByte(abi: Abi): number {
  return offsetOf(abi, "vcpu_runstate_info", "state_entry_time") + 7;
}

/** The context-switch update of the runstate area, by the side's rules (knob hvm.runstate.area). */
export function updateRunstateArea(hv: XenHvm): void {
  if (hv.policy["hvm.runstate.area"] !== "update_runstate_area") {
    kvmUpdateRunstateGuest(hv);
    return;
  }
  const areas = hv.runstateAreas;
  const cpu = hv.cpu;
  if (areas.phys !== null) {
    // A mapped area takes precedence. Layout fixed at registration; the flag protocol always:
    // state_entry_time with the flag (8 bytes), the struct, state_entry_time without it.
    const abi: Abi = areas.phys.compat ? "x86_32" : "x86_64";
    const entry = offsetOf(abi, "vcpu_runstate_info", "state_entry_time");
    const flagged = runstateBytes(abi, hv.runstate, true);
    cpu.mem.writeBytes(areas.phys.gpa + entry, flagged.subarray(entry, entry + 8));
    cpu.mem.writeBytes(areas.phys.gpa, flagged);
    const clean = runstateBytes(abi, hv.runstate, false);
    cpu.mem.writeBytes(areas.phys.gpa + entry, clean.subarray(entry, entry + 8));
    hv.event("runstate", `phys area 0x${areas.phys.gpa.toString(16)} (${abi}, fixed at registration) state ${hv.runstate.state}`);
    return;
  }
  if (areas.va === null) return;
  // Virtual address: the layout of has_32bit_shinfo NOW; the copy is split at page
  // boundaries (__hvm_copy), failures ignored. With VM_ASSIST(runstate_update_flag): the top
  // byte of state_entry_time with XEN_RUNSTATE_UPDATE, the struct, the byte again cleared.
  const abi = shinfoAbi(hv.has32bitShinfo);
  const top = runstateUpdateByte(abi);
  const flag = hv.runstateUpdateFlag;
  const b = runstateBytes(abi, hv.runstate, flag);
  if (flag) copyToGuest(cpu, areas.va + top, b.subarray(top, top + 1));
  copyToGuest(cpu, areas.va, b);
  if (flag) copyToGuest(cpu, areas.va + top, Uint8Array.of(b[top]! & 0x7f));
  hv.event("runstate", `va area 0x${areas.va.toString(16)} (${abi}, has_32bit_shinfo now) state ${hv.runstate.state}`);
}

/** gaddr checks shared by map_guest_area() and map_vcpu_info(). */
function crossesPage(gaddr: number, size: number): boolean {
  return Math.floor(gaddr / PAGE_SIZE) !== Math.floor((gaddr + size - 1) / PAGE_SIZE);
}

function registerRunstate(c: Call): number {
  const hv = c.hv;
  const a = readArg(c, 2, "vcpu_register_runstate_memory_area");
  if (a === null) return neg("EFAULT");
  const p = getU64(a, offsetOf(c.abi, "vcpu_register_runstate_memory_area", "addr.p"));
  // compat_vcpu_op(): the handle is 32 bits; the upper half of addr.p must be 0 (-EFAULT).
  if (!c.wide && p.hi !== 0) return neg("EFAULT");
  const gva = c.wide ? linearOf(p.lo, p.hi) : p.lo >>> 0;
  const rule = hv.policy["hvm.runstate.area"];
  if (rule !== "update_runstate_area") return kvmRegisterRunstate(c, gva);
  hv.decide("hvm.runstate.area", rule, `register_runstate_memory_area: Xen keeps the guest address 0x${gva.toString(16)}, no page check (may cross)`);
  hv.runstateAreas.va = gva;
  // common_vcpu_op() / compat_vcpu_op(): the current runstate is copied at once, in the
  // CALL's layout (native struct / XLAT_vcpu_runstate_info); later updates use has_32bit_shinfo.
  copyToGuest(c.cpu, gva, runstateBytes(c.abi, hv.runstate, false));
  return 0;
}

function registerRunstatePhys(c: Call): number {
  const hv = c.hv;
  const rule = hv.policy["hvm.runstate.area"];
  if (rule !== "update_runstate_area") {
    hv.decide("hvm.runstate.area", rule, "VCPUOP_register_runstate_phys_area: QEMU's vcpu_op has no such case, -ENOSYS");
    return neg("ENOSYS");
  }
  const a = readArg(c, 2, "vcpu_register_runstate_memory_area");
  if (a === null) return neg("EFAULT");
  const gaddr = u64Number(getU64(a, offsetOf(c.abi, "vcpu_register_runstate_memory_area", "addr.p")));
  const size = sizeOf(c.abi, "vcpu_runstate_info"); // 48 native call, 44 through compat_vcpu_op
  const align = hv.has32bitShinfo ? 4 : 8;
  if (Number.isNaN(gaddr)) return neg("EINVAL");
  if (crossesPage(gaddr, size)) {
    hv.decide("hvm.runstate.area", rule, `register_runstate_phys_area: map_guest_area() refuses ${size} bytes at 0x${gaddr.toString(16)} across a page: -ENXIO`);
    return neg("ENXIO");
  }
  if (gaddr % align !== 0) return neg("ENXIO");
  if (!hv.gfnIsRam(Math.floor(gaddr / PAGE_SIZE))) return neg("EINVAL");
  hv.decide("hvm.runstate.area", rule, `register_runstate_phys_area: ${size} bytes at 0x${gaddr.toString(16)}, layout ${c.abi} fixed`);
  hv.runstateAreas.phys = { gpa: gaddr, compat: !c.wide };
  updateRunstateArea(hv);
  return 0;
}

function registerVcpuInfo(c: Call): number {
  const hv = c.hv;
  const a = readArg(c, 2, "vcpu_register_vcpu_info");
  if (a === null) return neg("EFAULT");
  const mfn = getU64(a, offsetOf(c.abi, "vcpu_register_vcpu_info", "mfn"));
  const offset = getU32(a, offsetOf(c.abi, "vcpu_register_vcpu_info", "offset"));
  const mfnN = u64Number(mfn);
  const size = sizeOf(shinfoAbi(hv.has32bitShinfo), "vcpu_info"); // 64 in both layouts
  const rule = hv.policy["hvm.vcpu_info.register"];
  const gaddr = mfnN * PAGE_SIZE + offset;
  const align = hv.has32bitShinfo ? 4 : 8;
  const say = (why: string) => hv.decide("hvm.vcpu_info.register", rule, why);
  switch (rule) {
    case "map_guest_area": {
      // common_vcpu_op(): gaddr = gfn_to_gaddr(mfn) + offset; !~gaddr or gaddr >> 12 != mfn -EINVAL.
      if (Number.isNaN(mfnN) || mfnN >= 2 ** 40 || offset >= PAGE_SIZE) { say("gaddr >> PAGE_SHIFT != mfn: -EINVAL"); return neg("EINVAL"); }
      if (hv.vcpuInfoGpa !== null) { say("a vcpu_info area is already registered: -EBUSY (Xen 4.18+)"); return neg("EBUSY"); }
      if (crossesPage(gaddr, size)) { say(`64 bytes at page offset ${offset} cross a page: map_guest_area() -ENXIO`); return neg("ENXIO"); }
      if (gaddr % align !== 0) { say(`offset ${offset} not ${align}-aligned (alignof ${hv.has32bitShinfo ? "compat_ulong_t" : "xen_ulong_t"}): -ENXIO`); return neg("ENXIO"); }
      if (!hv.gfnIsRam(mfnN)) return neg("EINVAL");
      say(`registered at 0x${gaddr.toString(16)}; vcpu_info_populate() copies the old area`);
      populateVcpuInfo(hv, gaddr);
      return 0;
    }
    case "map_vcpu_info": {
      if (hv.vcpuInfoGpa !== null) { say("already registered: map_vcpu_info() -EINVAL (before 4.18)"); return neg("EINVAL"); }
      if (offset > PAGE_SIZE - size) { say(`offset ${offset} > PAGE_SIZE - 64: -ENXIO`); return neg("ENXIO"); }
      if (offset % align !== 0) { say(`offset ${offset} not ${align}-aligned: -ENXIO`); return neg("ENXIO"); }
      if (Number.isNaN(mfnN) || !hv.gfnIsRam(mfnN)) return neg("EINVAL");
      say(`registered at 0x${gaddr.toString(16)}`);
      populateVcpuInfo(hv, gaddr);
      return 0;
    }
    case "kvm_xen_vcpu_set_attr":
      return kvmRegisterVcpuInfo(hv, mfnN, offset);
  }
}

/**
 * vcpu_info_populate() and what follows the switch (spec §5.4): the new area gets a copy of
 * the old one, evtchn_pending_sel all ones at the current layout's width, events marked
 * pending, the time refreshed.
 */
function populateVcpuInfo(hv: XenHvm, gaddr: number): void {
  const old = hv.vcpuInfoReadBytes(64);
  hv.vcpuInfoGpa = gaddr;
  hv.vcpuInfoWriteBytes(0, old);
  const sel = hv.pendingSel();
  hv.vcpuInfoWriteBytes(sel.off, new Uint8Array(sel.bits / 8).fill(0xff));
  hv.markEventsPending();
  hv.updateVcpuTime();
}

function setSingleshotTimer(c: Call): number {
  const hv = c.hv;
  const a = readArg(c, 2, "vcpu_set_singleshot_timer");
  if (a === null) return neg("EFAULT");
  const timeout = u64Number(getU64(a, offsetOf(c.abi, "vcpu_set_singleshot_timer", "timeout_abs_ns")));
  const flags = getU32(a, offsetOf(c.abi, "vcpu_set_singleshot_timer", "flags"));
  const now = hv.now();
  if ((flags & VCPU_SSHOTTMR_future) !== 0 && timeout < now) return neg("ETIME");
  hv.singleshot = Number.isNaN(timeout) ? Number.MAX_SAFE_INTEGER : timeout;
  if (hv.singleshot <= now) hv.schedulePoints();
  return 0;
}

export function doVcpuOp(c: Call): number {
  const hv = c.hv;
  const cmd = argU32(c, 0);
  const vcpuid = argU32(c, 1);
  if (vcpuid !== 0) return neg("ENOENT");
  switch (cmd) {
    case VCPUOP_get_runstate_info:
    {
      // vcpu_runstate_get(): the time in the current state up to now is added; copied out in
      // the call's layout (48 native, 44 compat).
      const r: RunstateAccount = { state: hv.runstate.state, entryTime: hv.runstate.entryTime, time: [...hv.runstate.time] };
      r.time[r.state as 0 | 1 | 2 | 3] += Math.max(0, hv.now() - r.entryTime);
      return writeArg(c, 2, runstateBytes(c.abi, r, false)) ? 0 : neg("EFAULT");
    }
    case VCPUOP_register_runstate_memory_area:
      return registerRunstate(c);
    case VCPUOP_register_runstate_phys_area:
      return registerRunstatePhys(c);
    case VCPUOP_register_vcpu_info:
      return registerVcpuInfo(c);
    case VCPUOP_set_singleshot_timer:
      return setSingleshotTimer(c);
    case VCPUOP_stop_singleshot_timer:
      hv.singleshot = null;
      return 0;
    default:
      return neg("ENOSYS");
  }
}
