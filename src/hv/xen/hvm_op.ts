// do_hvm_op() (xen/arch/x86/hvm/hvm.c; spec xen-hvm.md §5.4): HVMOP_set_param,
// HVMOP_get_param and HVMOP_set_evtchn_upcall_vector. Other HVMOPs are not modelled (-ENOSYS).

import { qemuSetLongModeAtCallbackIrq } from "../kvm/vmm.js";
import { argU32, readArg, writeArg, type Call } from "./call.js";
import { neg } from "./errno.js";
import { getU16, getU32, getU64, hvmGuestX86Mode, putU32, x86ModeName, X86_MODE_64BIT } from "./guest.js";
import { DOMID, DOMID_SELF, HVM_NR_PARAMS, type CallbackVia, type XenHvm } from "./hvm.js";
import { offsetOf } from "./layout.js";
import { latchShinfoLayout } from "./shared_info.js";

export const HVMOP_set_param = 0;
export const HVMOP_get_param = 1;
export const HVMOP_set_evtchn_upcall_vector = 23;
export const HVM_PARAM_CALLBACK_IRQ = 0;
/** The GSIs of the emulated IO-APIC (VIOAPIC_NUM_PINS x 1, hvm_domain_irq(d)->nr_gsis). */
const NR_GSIS = 48;

/** hvm_allow_set_param(): the params a guest may set on itself (the rest -EPERM; DM_DOMAIN, BUFIOREQ_EVTCHN deprecated -EPERM). */
const GUEST_SETTABLE = new Set([0 /* CALLBACK_IRQ */, 2 /* STORE_EVTCHN */, 15 /* VM86_TSS */, 18 /* CONSOLE_EVTCHN */, 19 /* ACPI_IOPORTS_LOCATION */, 34 /* VM_GENERATION_ID_ADDR */, 36 /* X87_FIP_WIDTH */, 37 /* VM86_TSS_SIZED */]);
/** hvm_allow_get_param(): the params a guest may read on itself. */
const GUEST_GETTABLE = new Set([0 /* CALLBACK_IRQ */, 1 /* STORE_PFN */, 2 /* STORE_EVTCHN */, 17 /* CONSOLE_PFN */, 18 /* CONSOLE_EVTCHN */, 35 /* ALTP2M */, 36 /* X87_FIP_WIDTH */]);

/**
 * hvm_set_callback_via(): value 0 none; else type = bits 63:56, Xen's via_type = type + 1
 * (> vector: none): 0 GSI ((uint8_t)via; 0 or >= nr_gsis: none), 1 PCI INTx (device
 * (via >> 11) & 31, INTx via & 3; domain, bus, function ignored), 2 vector ((uint8_t)via).
 */
export function decodeCallbackVia(lo: number, hi: number): CallbackVia {
  if (lo === 0 && hi === 0) return { type: "none" };
  const type = (hi >>> 24) & 0xff;
  switch (type) {
    case 0: {
      const gsi = lo & 0xff;
      return gsi === 0 || gsi >= NR_GSIS ? { type: "none" } : { type: "gsi", gsi };
    }
    case 1:
      return { type: "pci_intx", dev: (lo >>> 11) & 31, intx: lo & 3 };
    case 2:
      return { type: "vector", vector: lo & 0xff };
    default:
      return { type: "none" };
  }
}

function setCallbackIrq(c: Call, lo: number, hi: number): void {
  const hv = c.hv;
  hv.callbackVia = decodeCallbackVia(lo, hi);
  hv.event("latch", `HVM_PARAM_CALLBACK_IRQ = ${JSON.stringify(hv.callbackVia)}`);
  const rule = hv.policy["hvm.latch.callback_irq"];
  if (rule === "none") {
    hv.decide("hvm.latch.callback_irq", rule, `no latch at HVM_PARAM_CALLBACK_IRQ: the layout stays ${hv.has32bitShinfo ? "compat" : "native"}`);
    return;
  }
  if (rule === "xen_set_long_mode") {
    qemuSetLongModeAtCallbackIrq(hv, c.cpu);
    return;
  }
  // hvm_set_param(): hvm_set_callback_via(), then hvm_latch_shinfo_size(d) (current->domain == d).
  const mode = hvmGuestX86Mode(c.cpu);
  const compat = mode !== X86_MODE_64BIT;
  hv.decide("hvm.latch.callback_irq", rule, `latched ${compat ? "compat" : "native"} because hvm_guest_x86_mode() = ${x86ModeName(mode)} at hvm_set_param(HVM_PARAM_CALLBACK_IRQ)`);
  latchShinfoLayout(hv, compat, "callback-irq");
}

function paramCommon(c: Call, a: Uint8Array): number {
  const domid = getU16(a, offsetOf(c.abi, "xen_hvm_param", "domid"));
  const index = getU32(a, offsetOf(c.abi, "xen_hvm_param", "index"));
  if (index >= HVM_NR_PARAMS) return neg("EINVAL");
  if (domid !== DOMID_SELF && domid !== DOMID) return neg("ESRCH");
  return index;
}

export function doHvmOp(c: Call): number {
  const hv: XenHvm = c.hv;
  const op = argU32(c, 0); // unsigned long op: only the sub-op numbers below exist
  if (c.args[0]!.hi !== 0) return neg("ENOSYS");
  switch (op) {
    case HVMOP_set_param: {
      const a = readArg(c, 1, "xen_hvm_param");
      if (a === null) return neg("EFAULT");
      const index = paramCommon(c, a);
      if (index < 0) return index;
      if (!GUEST_SETTABLE.has(index)) return neg("EPERM");
      const v = getU64(a, offsetOf(c.abi, "xen_hvm_param", "value"));
      if (index === HVM_PARAM_CALLBACK_IRQ) setCallbackIrq(c, v.lo, v.hi);
      hv.params[index] = { lo: v.lo, hi: v.hi };
      return 0;
    }
    case HVMOP_get_param: {
      const a = readArg(c, 1, "xen_hvm_param");
      if (a === null) return neg("EFAULT");
      const index = paramCommon(c, a);
      if (index < 0) return index;
      if (!GUEST_GETTABLE.has(index)) return neg("EPERM");
      const off = offsetOf(c.abi, "xen_hvm_param", "value");
      putU32(a, off, hv.params[index]!.lo);
      putU32(a, off + 4, hv.params[index]!.hi);
      return writeArg(c, 1, a) ? 0 : neg("EFAULT");
    }
    case HVMOP_set_evtchn_upcall_vector: {
      // hvmop_set_evtchn_upcall_vector(): vector < 0x10 -EINVAL; the vCPU must exist (-ENOENT).
      const a = readArg(c, 1, "xen_hvm_evtchn_upcall_vector");
      if (a === null) return neg("EFAULT");
      const vector = a[offsetOf(c.abi, "xen_hvm_evtchn_upcall_vector", "vector")]!;
      if (vector < 0x10) return neg("EINVAL");
      if (getU32(a, offsetOf(c.abi, "xen_hvm_evtchn_upcall_vector", "vcpu")) !== 0) return neg("ENOENT");
      hv.upcallVector = vector;
      return 0;
    }
    default:
      return neg("ENOSYS");
  }
}
