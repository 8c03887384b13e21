// do_xen_version() (xen/common/kernel.c): XENVER_version, XENVER_extraversion,
// XENVER_get_features, XENVER_pagesize. Other sub-ops are not modelled (-ENOSYS).

import { argU32, readArg, writeArg, type Call } from "./call.js";
import { neg } from "./errno.js";
import { getU32, putU32 } from "./guest.js";
import { XEN_VERSION_MAJOR, XEN_VERSION_MINOR } from "./hypercall_page.js";
import { offsetOf, sizeOf } from "./layout.js";

export const XENVER_version = 0;
export const XENVER_extraversion = 1;
export const XENVER_get_features = 6;
export const XENVER_pagesize = 7;

/** XENFEAT_* an HVM guest sees in submap 0: writable_page_tables(0)? no; auto_translated_physmap (2),
 *  supervisor_mode_kernel (3), hvm_callback_vector (8), hvm_safe_pvclock (9), hvm_pirqs (10). */
const FEATURES_SUBMAP0 = (1 << 2) | (1 << 3) | (1 << 8) | (1 << 9) | (1 << 10);

export function doXenVersion(c: Call): number {
  switch (argU32(c, 0)) {
    case XENVER_version:
      return ((XEN_VERSION_MAJOR << 16) | XEN_VERSION_MINOR) >>> 0;
    case XENVER_extraversion: {
      const b = new Uint8Array(sizeOf(c.abi, "xen_extraversion_t"));
      b.set([0x2e, 0x30]); // ".0"
      return writeArg(c, 1, b) ? 0 : neg("EFAULT");
    }
    case XENVER_get_features: {
      const a = readArg(c, 1, "xen_feature_info");
      if (a === null) return neg("EFAULT");
      const idx = getU32(a, offsetOf(c.abi, "xen_feature_info", "submap_idx"));
      if (idx >= 1) return neg("EINVAL"); // XENFEAT_NR_SUBMAPS = 1
      putU32(a, offsetOf(c.abi, "xen_feature_info", "submap"), FEATURES_SUBMAP0);
      return writeArg(c, 1, a) ? 0 : neg("EFAULT");
    }
    case XENVER_pagesize:
      return 4096;
    default:
      return neg("ENOSYS");
  }
}
