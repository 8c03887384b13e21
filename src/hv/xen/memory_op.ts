// do_memory_op() through hvm_memory_op() (xen/common/memory.c, xen/arch/x86/hvm/hypercall.c;
// spec xen-hvm.md §4, §5.4): only XENMEM_add_to_physmap with XENMAPSPACE_shared_info is
// modelled. cmd & 0x3F is the sub-op, cmd >> 6 the continuation extent. The argument is the
// compat struct (16 bytes, idx/gpfn u32) for a 32-bit call, the native one (24 bytes)
// otherwise. The mapping itself does NOT latch the layout; under KVM the VMM sets
// KVM_XEN_ATTR_TYPE_SHARED_INFO, whose kvm_xen_shared_info_init() writes the wallclock.

import { argU32, readArg, type Call } from "./call.js";
import { neg } from "./errno.js";
import { getU16, getU32, getU64, u64Number } from "./guest.js";
import { DOMID, DOMID_SELF } from "./hvm.js";
import { offsetOf } from "./layout.js";

export const XENMEM_add_to_physmap = 7;
export const XENMAPSPACE_shared_info = 0;
export const XENMAPSPACE_gmfn_foreign = 4;
const MEMOP_CMD_MASK = 0x3f;
const MEMOP_EXTENT_SHIFT = 6;

export function doMemoryOp(c: Call): number {
  const hv = c.hv;
  const cmdLo = argU32(c, 0);
  const op = cmdLo & MEMOP_CMD_MASK;
  if (op !== XENMEM_add_to_physmap) return neg("ENOSYS");
  // The start extent (cmd >> 6) must fit in u16 for add_to_physmap (do_memory_op: -EDOM).
  const extent = Math.floor(((c.args[0]!.hi >>> 0) * 4294967296 + cmdLo) / (1 << MEMOP_EXTENT_SHIFT));
  if (extent > 0xffff) return neg("EDOM");
  const a = readArg(c, 1, "xen_add_to_physmap");
  if (a === null) return neg("EFAULT");
  const domid = getU16(a, offsetOf(c.abi, "xen_add_to_physmap", "domid"));
  if (domid !== DOMID_SELF && domid !== DOMID) return neg("ESRCH");
  const space = getU32(a, offsetOf(c.abi, "xen_add_to_physmap", "space"));
  if (space === XENMAPSPACE_gmfn_foreign) return neg("ENOSYS");
  if (space !== XENMAPSPACE_shared_info) return neg("ENOSYS"); // grant_table, gmfn, gmfn_range: not modelled
  const wide = c.abi === "x86_64";
  const idxOff = offsetOf(c.abi, "xen_add_to_physmap", "idx");
  const gpfnOff = offsetOf(c.abi, "xen_add_to_physmap", "gpfn");
  const idx = wide ? u64Number(getU64(a, idxOff)) : getU32(a, idxOff);
  const gpfn = wide ? u64Number(getU64(a, gpfnOff)) : getU32(a, gpfnOff);
  // xenmem_add_to_physmap_one(): idx must be 0; INVALID_GFN -EINVAL. The model maps only
  // onto RAM (a GFN outside RAM: -EINVAL, a simplification).
  if (idx !== 0) return neg("EINVAL");
  if (Number.isNaN(gpfn) || !hv.gfnIsRam(gpfn)) return neg("EINVAL");
  hv.shinfo.map(gpfn);
  hv.event("wallclock", `shared_info mapped at GFN 0x${gpfn.toString(16)}`);
  if (hv.policy["hvm.shinfo.wallclock"] !== "update_domain_wallclock_time") {
    // KVM_XEN_ATTR_TYPE_SHARED_INFO -> kvm_xen_shared_info_init(): the wallclock in the layout of now.
    hv.decide("hvm.shinfo.wallclock", hv.policy["hvm.shinfo.wallclock"], `SHARED_INFO set by the VMM: kvm_xen_shared_info_init() writes the wallclock in the ${hv.has32bitShinfo ? "compat" : "native"} layout (long_mode=${hv.has32bitShinfo ? 0 : 1})`);
    hv.rewriteWallclock(true, "KVM_XEN_ATTR_TYPE_SHARED_INFO");
  }
  return 0;
}
