// shared_info: the page itself, the layout latch (Xen hvm_latch_shinfo_size(), KVM's
// kvm->arch.xen.long_mode) and the wallclock (Xen update_domain_wallclock_time(), KVM
// kvm_xen_shared_info_init()). Spec xen-hvm.md §1.5 and §2, kvm-xen.md §1 and §3.
//
// The page belongs to the hypervisor (Xen's d->shared_info, QEMU's overlay page under KVM):
// it exists before the guest maps it, and XENMEM_add_to_physmap(XENMAPSPACE_shared_info)
// makes it appear at the GFN the guest chose. The model keeps it in a buffer until then,
// and in guest RAM at that GFN afterwards (a remap carries the contents along).

import type { GuestMemory } from "../../mem/memory.js";
import type { Abi } from "./layout.js";
import { offsetOf } from "./layout.js";
import { PAGE_SIZE } from "./guest.js";
import type { XenHvm } from "./hvm.js";

/** The layout has_32bit_shinfo selects: compat ("x86_32") or native ("x86_64"). */
export function shinfoAbi(has32bitShinfo: boolean): Abi {
  return has32bitShinfo ? "x86_32" : "x86_64";
}

/** The model's wallclock: the Unix time of system time 0 (deterministic). */
export const WALLCLOCK_SEC = 1_700_000_000;
export const WALLCLOCK_NSEC = 0;

export class SharedInfoPage {
  /** The GFN the guest mapped it at, or null while unmapped. */
  gfn: number | null = null;
  private readonly page = new Uint8Array(PAGE_SIZE);

  constructor(private readonly mem: GuestMemory) {}

  /** XENMAPSPACE_shared_info: the page moves to `gfn` with its contents. */
  map(gfn: number): void {
    if (this.gfn !== null) this.page.set(this.mem.readBytes(this.gfn * PAGE_SIZE, PAGE_SIZE));
    this.gfn = gfn;
    this.mem.writeBytes(gfn * PAGE_SIZE, this.page);
  }

  read8(off: number): number {
    return this.gfn === null ? this.page[off]! : this.mem.read8(this.gfn * PAGE_SIZE + off);
  }

  write8(off: number, v: number): void {
    if (this.gfn === null) this.page[off] = v & 0xff;
    else this.mem.write8(this.gfn * PAGE_SIZE + off, v & 0xff);
  }

  read32(off: number): number {
    let v = 0;
    for (let k = 0; k < 4; k++) v |= this.read8(off + k) << (8 * k);
    return v >>> 0;
  }

  write32(off: number, v: number): void {
    for (let k = 0; k < 4; k++) this.write8(off + k, (v >>> (8 * k)) & 0xff);
  }

  writeBytes(off: number, b: Uint8Array): void {
    for (let k = 0; k < b.length; k++) this.write8(off + k, b[k]!);
  }

  readBytes(off: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let k = 0; k < len; k++) out[k] = this.read8(off + k);
    return out;
  }
}

/**
 * Write the wallclock in layout `abi` with the version protocol: Xen
 * update_domain_wallclock_time() (version++, fields, version++), KVM
 * kvm_xen_shared_info_init() (version = (old+1)|1, fields, version+1). For compat,
 * wc_sec_hi is arch.wc_sec_hi. Nothing else on the page is touched: the other layout's
 * wallclock stays stale (the "deliberate hack" comment in hvm_latch_shinfo_size()).
 */
export function writeWallclock(si: SharedInfoPage, abi: Abi, kvmVersioning: boolean): void {
  const ver = offsetOf(abi, "shared_info", "wc_version");
  const old = si.read32(ver);
  const odd = kvmVersioning ? ((old + 1) | 1) >>> 0 : (old + 1) >>> 0;
  si.write32(ver, odd);
  si.write32(offsetOf(abi, "shared_info", "wc_sec"), WALLCLOCK_SEC);
  si.write32(offsetOf(abi, "shared_info", "wc_nsec"), WALLCLOCK_NSEC);
  si.write32(offsetOf(abi, "shared_info", abi === "x86_32" ? "arch.wc_sec_hi" : "wc_sec_hi"), 0);
  si.write32(ver, (odd + 1) >>> 0);
}

/** Where a latch comes from. */
export type LatchSource = "hypercall-page" | "callback-irq" | "vmm-long-mode";

/**
 * Set the layout flag and do to the wallclock what the side does (knob hvm.shinfo.wallclock):
 * - update_domain_wallclock_time (Xen hvm_latch_shinfo_size()): rewrite at every latch, in the
 *   new layout, changed or not;
 * - kvm_xen_shared_info_init (KVM 6.9+): the MSR latch (kvm_xen_write_hypercall_page) only on a
 *   change, KVM_XEN_ATTR_TYPE_LONG_MODE (the VMM) every time; both only while the shared_info
 *   cache is active (mapped);
 * - kvm_xen_shared_info_init-5.12: the flag only.
 * Nothing else on the page is converted.
 */
export function latchShinfoLayout(hv: XenHvm, compat: boolean, source: LatchSource): void {
  const changed = hv.has32bitShinfo !== compat;
  const rule = hv.policy["hvm.shinfo.wallclock"];
  hv.has32bitShinfo = compat;
  hv.event("latch", `${source}: shared_info layout ${compat ? "compat" : "native"}${changed ? " (changed)" : " (unchanged)"}`);
  switch (rule) {
    case "update_domain_wallclock_time":
      hv.decide("hvm.shinfo.wallclock", rule, "hvm_latch_shinfo_size() calls update_domain_wallclock_time() at every latch");
      hv.rewriteWallclock(false, "update_domain_wallclock_time()");
      return;
    case "kvm_xen_shared_info_init": {
      const mapped = hv.shinfo.gfn !== null;
      if (source === "hypercall-page" && !changed) {
        hv.decide("hvm.shinfo.wallclock", rule, "kvm_xen_write_hypercall_page(): long_mode unchanged, shared_info not re-initialised");
        return;
      }
      if (!mapped) {
        hv.decide("hvm.shinfo.wallclock", rule, "shared_info cache not active yet: nothing written");
        return;
      }
      hv.decide("hvm.shinfo.wallclock", rule, source === "hypercall-page"
        ? "kvm_xen_write_hypercall_page(): long_mode changed, kvm_xen_shared_info_init() rewrites the wallclock"
        : "KVM_XEN_ATTR_TYPE_LONG_MODE set: kvm_xen_shared_info_init() runs every time");
      hv.rewriteWallclock(true, "kvm_xen_shared_info_init()");
      return;
    }
    case "kvm_xen_shared_info_init-5.12":
      hv.decide("hvm.shinfo.wallclock", rule, "before 6.9 a latch moves nothing: the wallclock stays where SHARED_INFO put it");
      return;
  }
}
