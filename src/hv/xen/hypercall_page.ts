// The hypercall page and its MSR, and the hypervisor CPUID leaves (spec xen-hvm.md §3,
// kvm-xen.md §1).
//   Xen: guest_wrmsr() sends 0x40000000-0x400002ff (no Viridian) to guest_wrmsr_xen(): only
//   the base index exists (#GP otherwise); value = GFN << 12 | page index; index > 0 -> #GP;
//   a GFN that is not writable RAM -> #GP; then init_hypercall_page(): hvm_latch_shinfo_size()
//   first, then 0xCC over the page and vmx/svm_init_hypercall_page() (stub 23 is UD2).
//   Reading the MSR returns 0 (guest_rdmsr_xen).
//   KVM: kvm_xen_write_hypercall_page() (src/hv/kvm/hypercall_page.ts) latches first, then
//   checks the index, then writes the same template to all 128 slots.

import type { Cpu } from "../../cpu/cpu.js";
import { CpuFault, GP } from "../../cpu/exceptions.js";
import type { U64 } from "../../cpu/state.js";
import { kvmXenWriteHypercallPage } from "../kvm/hypercall_page.js";
import { hvmGuestX86Mode, is64BitHypercall, isLongMode, PAGE_SIZE, x86ModeName, X86_MODE_64BIT } from "./guest.js";
import type { XenHvm } from "./hvm.js";
import { latchShinfoLayout } from "./shared_info.js";
import { __HYPERVISOR_iret } from "./hypercall_numbers.js";

export const XEN_HYPERCALL_MSR = 0x40000000;
/** guest_{rd,wr}msr(): the indices Xen's handler owns without Viridian. */
const XEN_MSR_LAST = 0x400002ff;
export const HYPERCALL_STUBS = 128;
export const HYPERCALL_STUB_SIZE = 32;

/** The hypervisor's version: Xen 4.22 (the spec's snapshot is newer than RELEASE-4.22.0). */
export const XEN_VERSION_MAJOR = 4;
export const XEN_VERSION_MINOR = 22;

/** The vendor's hypercall instruction (the host's, which is the guest's CPU here). */
export function nativeHypercallBytes(cpu: Cpu): readonly number[] {
  return cpu.model.vendor === "intel" ? [0x0f, 0x01, 0xc1] : [0x0f, 0x01, 0xd9];
}

/** One stub: mov $i,%eax; vmcall|vmmcall; ret; int3 padding. */
function stub(page: Uint8Array, i: number, insn: readonly number[]): void {
  const at = i * HYPERCALL_STUB_SIZE;
  page[at] = 0xb8;
  for (let k = 0; k < 4; k++) page[at + 1 + k] = (i >>> (8 * k)) & 0xff;
  page.set(insn, at + 5);
  page[at + 8] = 0xc3;
  page.fill(0xcc, at + 9, at + HYPERCALL_STUB_SIZE);
}

/** Xen init_hypercall_page() + vmx_init_hypercall_page() / svm_init_hypercall_page(). */
export function xenHypercallPage(cpu: Cpu): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE).fill(0xcc);
  const insn = nativeHypercallBytes(cpu);
  for (let i = 0; i < HYPERCALL_STUBS; i++) {
    if (i === __HYPERVISOR_iret) { // Xen puts UD2 in its slot ("iret is not supported")
      page[i * HYPERCALL_STUB_SIZE] = 0x0f;
      page[i * HYPERCALL_STUB_SIZE + 1] = 0x0b;
    } else {
      stub(page, i, insn);
    }
  }
  return page;
}

/** KVM kvm_xen_write_hypercall_page(): one template, every slot (iret included). */
export function kvmHypercallPage(cpu: Cpu): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE);
  const insn = nativeHypercallBytes(cpu);
  for (let i = 0; i < HYPERCALL_STUBS; i++) stub(page, i, insn);
  return page;
}

/** The latch at the MSR write: the predicate the knob names, recorded with its reason. */
export function latchAtHypercallPage(hv: XenHvm, cpu: Cpu): void {
  const pred = hv.policy["hvm.latch.hypercall_msr"];
  const mode = hvmGuestX86Mode(cpu);
  const csl = cpu.codeSize === 8 ? 1 : 0;
  const lma = isLongMode(cpu) ? 1 : 0;
  let compat: boolean;
  let why: string;
  switch (pred) {
    case "hvm_guest_x86_mode":
      compat = mode !== X86_MODE_64BIT;
      why = `latched ${compat ? "compat" : "native"} because hvm_guest_x86_mode() = ${x86ModeName(mode)} (EFER.LMA=${lma}, CS.L=${csl})`;
      break;
    case "is_long_mode":
      compat = lma === 0;
      why = `latched ${compat ? "compat" : "native"} because is_long_mode() = ${lma === 1} (EFER.LMA=${lma}; CS.L=${csl} not consulted)`;
      break;
    case "is_64_bit_hypercall":
      compat = !is64BitHypercall(cpu);
      why = `latched ${compat ? "compat" : "native"} because is_64_bit_hypercall() = ${!compat} (EFER.LMA=${lma}, CS.L=${csl})`;
      break;
  }
  hv.decide("hvm.latch.hypercall_msr", pred, why);
  latchShinfoLayout(hv, compat, "hypercall-page");
}

/** WRMSR hook: true when the index belongs to the hypervisor. */
export function writeHypercallPageMsr(hv: XenHvm, cpu: Cpu, index: number, lo: number, hi: number): boolean {
  if (index < XEN_HYPERCALL_MSR || index > XEN_MSR_LAST) return false;
  if (index !== XEN_HYPERCALL_MSR) {
    hv.event("fault", `WRMSR 0x${index.toString(16)}: not the hypercall-page MSR, #GP`);
    throw new CpuFault(GP, 0);
  }
  const fill = hv.policy["hvm.hypercall_page.fill"];
  hv.decide("hvm.hypercall_page.fill", fill, fill === "init_hypercall_page"
    ? "guest_wrmsr_xen(): index and page checked before init_hypercall_page() latches"
    : "kvm_xen_write_hypercall_page(): long_mode latched before the index is checked");
  if (fill === "kvm_xen_write_hypercall_page") {
    kvmXenWriteHypercallPage(hv, cpu, lo, hi);
    return true;
  }
  const pageIndex = lo & 0xfff;
  const gfn = (hi >>> 0) * 0x100000 + (lo >>> 12);
  if (pageIndex > 0) {
    hv.event("fault", `hypercall page index ${pageIndex} > 0: #GP (guest_wrmsr_xen)`);
    throw new CpuFault(GP, 0);
  }
  if (!hv.gfnIsRam(gfn)) {
    hv.event("fault", `hypercall page GFN 0x${gfn.toString(16)} is not RAM: #GP (get_page_from_gfn)`);
    throw new CpuFault(GP, 0);
  }
  // hvm_init_hypercall_page(): the latch, then the page.
  latchAtHypercallPage(hv, cpu);
  cpu.mem.writeBytes(gfn * PAGE_SIZE, xenHypercallPage(cpu));
  hv.hypercallPageGfn = gfn;
  hv.event("hypercall-page", `filled at GFN 0x${gfn.toString(16)} (${cpu.model.vendor === "intel" ? "VMCALL" : "VMMCALL"}, UD2 at iret)`);
  return true;
}

/** RDMSR hook: Xen returns 0 for the base; KVM has no read handler for it (#GP). */
export function readHypercallPageMsr(hv: XenHvm, _cpu: Cpu, index: number): U64 | null {
  if (index < XEN_HYPERCALL_MSR || index > XEN_MSR_LAST) return null;
  if (index === XEN_HYPERCALL_MSR && hv.policy["hvm.hypercall_page.fill"] === "init_hypercall_page") return { lo: 0, hi: 0 };
  hv.event("fault", `RDMSR 0x${index.toString(16)}: #GP`);
  throw new CpuFault(GP, 0);
}

function ascii4(s: string): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v |= s.charCodeAt(i) << (8 * i);
  return v >>> 0;
}

/**
 * Xen cpuid_hypervisor_leaves() (QEMU presents the same Xen leaves under KVM): base+0 the
 * largest leaf and "XenVMMXenVMM", base+1 the version, base+2 one hypercall page at MSR
 * 0x40000000; leaf 1 ECX bit 31 says a hypervisor is present. Leaves base+3..5 (time,
 * HVM features, PV features) are not modelled: zero.
 */
export function hypervisorCpuid(_hv: XenHvm, _cpu: Cpu, leaf: number, _subleaf: number, native: readonly [number, number, number, number]): [number, number, number, number] {
  if (leaf === 1) return [native[0], native[1], (native[2] | (1 << 31)) >>> 0, native[3]];
  if (leaf < 0x40000000 || leaf > 0x4fffffff) return [native[0], native[1], native[2], native[3]];
  switch (leaf) {
    case 0x40000000: return [0x40000005, ascii4("XenV"), ascii4("MMXe"), ascii4("nVMM")];
    case 0x40000001: return [((XEN_VERSION_MAJOR << 16) | XEN_VERSION_MINOR) >>> 0, 0, 0, 0];
    case 0x40000002: return [1, XEN_HYPERCALL_MSR, 0, 0];
    default: return [0, 0, 0, 0];
  }
}
