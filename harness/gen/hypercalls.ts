// Hypercall items for programs that run under the Xen HVM model (xen-hvm.md, kvm-xen.md):
// the hypercall-page MSR write that latches the guest's width, shared_info mapped with
// XENMEM_add_to_physmap, HVM_PARAM_CALLBACK_IRQ (the second latch point), runstate and
// vcpu_info registration near page ends, event channels, and reads of what the guest
// can see in shared_info at both layouts' offsets. Each item lays out its argument struct
// in the layout of the code's width (src/hv/xen/layout.ts) and calls with the register
// ABI of that width: 64-bit RAX = nr, RDI RSI RDX; 32-bit EAX = nr, EBX ECX EDX.

import { __HYPERVISOR_event_channel_op, __HYPERVISOR_hvm_op, __HYPERVISOR_memory_op, __HYPERVISOR_sched_op, __HYPERVISOR_vcpu_op, __HYPERVISOR_vm_assist, __HYPERVISOR_xen_version } from "../../src/hv/xen/hypercall_numbers.js";
import type { Abi } from "../../src/hv/xen/layout.js";
import { offsetOf, sizeOf, fieldOf } from "../../src/hv/xen/layout.js";
import { DOMID_SELF } from "../../src/hv/xen/hvm.js";

import { EVTCHNOP_alloc_unbound, EVTCHNOP_send } from "../../src/hv/xen/event_channel.js";
import { HVMOP_set_param, HVM_PARAM_CALLBACK_IRQ } from "../../src/hv/xen/hvm_op.js";
import { XENMEM_add_to_physmap } from "../../src/hv/xen/memory_op.js";
import { SCHEDOP_yield } from "../../src/hv/xen/sched_op.js";
import { VCPUOP_register_runstate_memory_area, VCPUOP_register_runstate_phys_area, VCPUOP_register_vcpu_info } from "../../src/hv/xen/vcpu.js";
import { VMASST_CMD_enable, VMASST_TYPE_runstate_update_flag } from "../../src/hv/xen/vm_assist.js";
import { XENVER_version } from "../../src/hv/xen/version.js";
import { RAX, type Emit } from "./emit.js";

/** The guest's hypervisor pages: in the kit's identity-mapped 2 MiB page at 0x400000. */
export const HV_PAGES = {
  /** The hypercall page (MSR 0x40000000 = GFN << 12). */
  hypercallPage: 0x400000,
  /** Where shared_info is mapped. */
  sharedInfo: 0x401000,
  /** Argument structs. */
  args: 0x402000,
  args2: 0x402800,
  /** A page whose end runstate areas straddle (into the next page). */
  runstate: 0x403000,
  /** A page for vcpu_info. */
  vcpuInfo: 0x405000,
} as const;

const HYPERCALL_MSR = 0x40000000;
const RBX = 3;
const RCX = 1;
const RDX = 2;
const RSI = 6;
const RDI = 7;
const XENMAPSPACE_shared_info = 0;
/** HVM_PARAM_CALLBACK_IRQ: type in bits 63:56 (0 GSI, 1 PCI INTx, 2 vector). */
const CALLBACK_TYPE_VECTOR = 2;

type Pick = <T>(xs: readonly T[]) => T;

/** The struct `name` with `fields` set (little-endian; the rest 0), stored a dword at a time at `at`. */
function storeStruct(e: Emit, abi: Abi, name: string, at: number, fields: Record<string, number>): void {
  const bytes = new Uint8Array((sizeOf(abi, name) + 3) & ~3);
  const view = new DataView(bytes.buffer);
  for (const [field, value] of Object.entries(fields)) {
    const f = fieldOf(abi, name, field);
    const off = f.offset;
    if (f.size === 2) view.setUint16(off, value, true);
    else if (f.size === 4) view.setUint32(off, value >>> 0, true);
    else if (f.size === 8) {
      view.setUint32(off, value % 2 ** 32, true);
      view.setUint32(off + 4, Math.floor(value / 2 ** 32), true);
    } else throw new Error(`${abi} ${name}.${field}: ${f.size}-byte field`);
  }
  for (let k = 0; k < bytes.length; k += 4) e.storeImm32(at + k, view.getUint32(k, true));
}

/** A hypercall with the register ABI of the code's width. */
function call(e: Emit, nr: number, args: number[]): void {
  const regs = e.bits === 64 ? [RDI, RSI, RDX] : [RBX, RCX, RDX];
  args.forEach((v, k) => e.movImm32(regs[k]!, v));
  e.movImm32(RAX, nr).vmcall();
}

const abiOf = (e: Emit): Abi => (e.bits === 64 ? "x86_64" : "x86_32");

/** Item kinds of this file, for the generator's weights. */
export const HYPERCALL_KINDS = ["hc-page", "hc-shinfo", "hc-callback", "hc-runstate", "hc-runstate-phys", "hc-vcpu-info", "hc-evtchn", "hc-look", "hc-version", "hc-vm-assist", "hc-yield"] as const;
export type HypercallKind = (typeof HYPERCALL_KINDS)[number];

/** Emit one hypercall item; returns its label (the item's kind in reports). */
export function hypercallItem(kind: HypercallKind, e: Emit, pick: Pick): string {
  const abi = abiOf(e);
  switch (kind) {
    case "hc-page": {
      // WRMSR 0x40000000 = GFN << 12 | index: the first latch point (index != 0: #GP).
      const index = pick([0, 0, 0, 0, 1]);
      e.movImm32(RCX, HYPERCALL_MSR).movImm32(RAX, HV_PAGES.hypercallPage | index).movImm32(RDX, 0).wrmsr();
      return index === 0 ? "hypercall page" : "hypercall page, index 1";
    }
    case "hc-shinfo":
      storeStruct(e, abi, "xen_add_to_physmap", HV_PAGES.args, { domid: DOMID_SELF, space: XENMAPSPACE_shared_info, idx: 0, gpfn: HV_PAGES.sharedInfo >>> 12 });
      call(e, __HYPERVISOR_memory_op, [XENMEM_add_to_physmap, HV_PAGES.args]);
      return "map shared_info";
    case "hc-callback": {
      // HVM_PARAM_CALLBACK_IRQ: the second latch point; a vector, or a GSI.
      const vector = pick([0, 0xf3, 0x81]);
      const value = vector === 0 ? pick([5, 9]) : vector;
      const hi = vector === 0 ? 0 : CALLBACK_TYPE_VECTOR << 24;
      storeStruct(e, abi, "xen_hvm_param", HV_PAGES.args, { domid: DOMID_SELF, index: HVM_PARAM_CALLBACK_IRQ });
      e.storeImm32(HV_PAGES.args + offsetOf(abi, "xen_hvm_param", "value"), value).storeImm32(HV_PAGES.args + offsetOf(abi, "xen_hvm_param", "value") + 4, hi);
      call(e, __HYPERVISOR_hvm_op, [HVMOP_set_param, HV_PAGES.args]);
      return vector === 0 ? "CALLBACK_IRQ gsi" : "CALLBACK_IRQ vector";
    }
    case "hc-runstate": {
      // A runstate area ending at, crossing or before the page end: 44 (compat) and 48 (native) bytes.
      const back = pick([44, 48, 40, 24, 64]);
      storeStruct(e, abi, "vcpu_register_runstate_memory_area", HV_PAGES.args, { "addr.v": HV_PAGES.runstate + 0x1000 - back });
      call(e, __HYPERVISOR_vcpu_op, [VCPUOP_register_runstate_memory_area, 0, HV_PAGES.args]);
      return `runstate area ${back} bytes before a page end`;
    }
    case "hc-runstate-phys": {
      const back = pick([44, 48, 40]);
      storeStruct(e, abi, "vcpu_register_runstate_memory_area", HV_PAGES.args, { "addr.p": HV_PAGES.runstate + 0x1000 - back });
      call(e, __HYPERVISOR_vcpu_op, [VCPUOP_register_runstate_phys_area, 0, HV_PAGES.args]);
      return `runstate phys area ${back} bytes before a page end`;
    }
    case "hc-vcpu-info": {
      const offset = pick([0, 0x40, 4, 0x1000 - 64, 0x1000 - 32, 2]);
      storeStruct(e, abi, "vcpu_register_vcpu_info", HV_PAGES.args, { mfn: HV_PAGES.vcpuInfo >>> 12, offset });
      call(e, __HYPERVISOR_vcpu_op, [VCPUOP_register_vcpu_info, 0, HV_PAGES.args]);
      return `vcpu_info at offset ${offset}`;
    }
    case "hc-evtchn": {
      // An unbound port to ourselves, then a send: its pending bit lands in shared_info.
      storeStruct(e, abi, "evtchn_alloc_unbound", HV_PAGES.args, { dom: DOMID_SELF, remote_dom: DOMID_SELF });
      call(e, __HYPERVISOR_event_channel_op, [EVTCHNOP_alloc_unbound, HV_PAGES.args]);
      e.loadEax(HV_PAGES.args + offsetOf(abi, "evtchn_alloc_unbound", "port")).storeEax(HV_PAGES.args2);
      call(e, __HYPERVISOR_event_channel_op, [EVTCHNOP_send, HV_PAGES.args2]);
      return "event channel send";
    }
    case "hc-look": {
      // What a guest of this width reads: the wallclock and the first pending word, at its own
      // layout's offsets (EAX, then EBX, ECX).
      const at = (field: string) => HV_PAGES.sharedInfo + offsetOf(abi, "shared_info", field);
      e.loadEax(at("wc_sec")).raw(0x89, 0xc3); // mov ebx, eax
      e.loadEax(at("wc_version")).raw(0x89, 0xc1); // mov ecx, eax
      e.loadEax(at("evtchn_pending"));
      return "read shared_info";
    }
    case "hc-version":
      call(e, __HYPERVISOR_xen_version, [XENVER_version, 0]);
      return "xen_version";
    case "hc-vm-assist":
      call(e, __HYPERVISOR_vm_assist, [VMASST_CMD_enable, VMASST_TYPE_runstate_update_flag]);
      return "vm_assist runstate_update_flag";
    case "hc-yield":
      call(e, __HYPERVISOR_sched_op, [SCHEDOP_yield, 0]);
      return "sched_op yield";
  }
}
