// The PV64 domain as the modelled domain builder leaves it, and the host memory Xen's
// modelled paths use.
//
// Guest-physical = guest-virtual: the builder's fixed direct map identity-maps the guest's RAM
// [0, T) (T = RAM - 1 MiB, the emulator's reserved top of cases.md) user-accessible and
// writable; the host area [T, RAM) is mapped supervisor-only: the guest kernel runs at CPL 3,
// so it can never touch Xen's GDT, IDT, stacks or entry points. A real PV guest owns its page
// tables (validated by Xen); here they belong to the builder and stay fixed: guest page-table
// updates (mmu_update, update_va_mapping, mmuext_op) return -ENOSYS, and the guest user runs on
// the same tables as the guest kernel (guest_table_user == guest_table).
//
// Selectors (public/arch-x86/xen-x86_64.h; spec 3.1): the guest runs with FLAT_KERNEL_CS64
// 0xe033 / FLAT_KERNEL_SS64 0xe02b (the same values as FLAT_USER_*), DS = ES = FS = GS = 0
// (FLAT_RING3_DS64). Xen's GDT holds __HYPERVISOR_CS 0xe008, __HYPERVISOR_DS 0xe010, the
// ring-3 flat descriptors at 0xe020 / 0xe028 / 0xe030, and the TSS at 0xe040.

import type { Cpu } from "../../../cpu/cpu.js";
import { __HYPERVISOR_iret } from "../hypercall_numbers.js";
import { packDescriptor } from "../../../cpu/descriptor.js";
import {
  ATTR_DB, ATTR_G, ATTR_L, ATTR_P, ATTR_S, CR0_ET, CR0_PE, CR0_PG, CR4_PAE, CS, DS, EFER_LMA, EFER_LME,
  EFER_SCE, ES, FS, GS, SS, TR,
} from "../../../cpu/state.js";

export const FLAT_RING3_CS32 = 0xe023;
export const FLAT_RING3_SS = 0xe02b;
export const FLAT_RING3_CS64 = 0xe033;
export const FLAT_KERNEL_CS64 = 0xe033;
export const FLAT_KERNEL_CS = FLAT_KERNEL_CS64;
export const FLAT_KERNEL_SS = 0xe02b;
export const FLAT_USER_CS32 = 0xe023;
export const FLAT_USER_SS32 = 0xe02b;
export const FLAT_USER_SS = 0xe02b;
export const __HYPERVISOR_CS = 0xe008;
export const __HYPERVISOR_DS = 0xe010;
export const TSS_SELECTOR = 0xe040;

/** Xen asm/processor.h XEN_MSR_STAR: SYSRET base FLAT_RING3_CS32, SYSCALL CS __HYPERVISOR_CS. */
export const XEN_MSR_STAR_HI = ((FLAT_RING3_CS32 << 16) | __HYPERVISOR_CS) >>> 0;
/** Xen XEN_SYSCALL_MASK = AC|VM|RF|NT|DF|IF|TF. */
export const XEN_SYSCALL_MASK = 0x40000 | 0x20000 | 0x10000 | 0x4000 | 0x400 | 0x200 | 0x100;

/** Where the builder and the host put things, for a machine of `ram` bytes. */
export interface Pv64Layout {
  /** Start of the host area (RAM - 1 MiB); everything below is the guest's. */
  readonly host: number;
  /** The hypercall page the builder fills (the last guest page below the host area). */
  readonly hypercallPage: number;
  readonly gdt: number;
  readonly pml4: number;
  readonly tss: number;
  readonly idt: number;
  /** Legacy entry points: write_stub_trampoline targets and the IDT handlers. */
  readonly lstar: number;
  readonly cstar: number;
  readonly sysenter: number;
  /** entry_int80: the DPL-3 IDT gate of vector 0x80. */
  readonly int80: number;
  /** IDT handler of vector v: excEntry + 8 * v. */
  readonly excEntry: number;
  /** The IDT gates of vectors 32-255 other than 0x80 (interrupts: never taken, the model has no IRQs). */
  readonly irqEntry: number;
  /** FRED_CONFIG page: entry_FRED_R3 at +0, entry_FRED_R0 at +0x100. */
  readonly fredPage: number;
  /** Real instructions the exit paths end with: SYSRETQ, SYSRETL, IRETQ, ERETU. */
  readonly exitSysretq: number;
  readonly exitSysretl: number;
  readonly exitIretq: number;
  readonly exitEretu: number;
  /** Top of Xen's stack for this vCPU: IA32_FRED_RSP0 (just past fred_info). */
  readonly stackTop: number;
  /** The exception frame (struct cpu_user_regs from error_code/entry_vector on): stackTop - 64 on both hosts. */
  readonly eframe: number;
  /** The host code range (enterHost): legacy entries, handlers, the FRED page. */
  readonly hostCode: number;
  readonly hostCodeLen: number;
}

export function pv64Layout(ram: number): Pv64Layout {
  const host = ram - 1024 * 1024;
  const text = host + 0x40000;
  const exits = host + 0x42000;
  return {
    host,
    hypercallPage: host - 0x1000,
    gdt: host + 0x20000,
    pml4: host + 0x30000,
    tss: host + 0x34000,
    idt: host + 0x35000,
    lstar: text,
    cstar: text + 0x40,
    sysenter: text + 0x80,
    int80: text + 0xc0,
    excEntry: text + 0x100,
    irqEntry: text + 0x200,
    fredPage: text + 0x1000,
    exitSysretq: exits,
    exitSysretl: exits + 0x10,
    exitIretq: exits + 0x20,
    exitEretu: exits + 0x30,
    stackTop: host + 0x58000,
    eframe: host + 0x58000 - 64,
    hostCode: text,
    hostCodeLen: 0x2000,
  };
}

/** Callback types (public/callback.h). */
export const CALLBACKTYPE_event = 0;
export const CALLBACKTYPE_failsafe = 1;
export const CALLBACKTYPE_syscall = 2;
export const CALLBACKTYPE_nmi = 4;
export const CALLBACKTYPE_sysenter = 5;
export const CALLBACKTYPE_syscall32 = 7;

/**
 * Xen pv_ring3_init_hypercall_page(): 128 stubs of 32 bytes. Each saves and restores RCX/R11
 * itself (push %rcx; push %r11; mov $nr,%eax; syscall; pop %r11; pop %rcx; ret); the iret
 * stub pushes %rax as well and has no return sequence (guests jump to it). Spec 3.2.
 */
export function hypercallPageBytes(): Uint8Array {
  if (HYPERCALL_PAGE !== null) return HYPERCALL_PAGE;
  const p = new Uint8Array(4096).fill(0xcc);
  for (let nr = 0; nr < 128; nr++) {
    const at = nr * 32;
    const imm = [nr & 0xff, 0, 0, 0];
    const stub = nr === __HYPERVISOR_iret
      ? [0x51, 0x41, 0x53, 0x50, 0xb8, ...imm, 0x0f, 0x05]
      : [0x51, 0x41, 0x53, 0xb8, ...imm, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3];
    p.set(stub, at);
  }
  HYPERCALL_PAGE = p;
  return p;
}
let HYPERCALL_PAGE: Uint8Array | null = null;

/** RIP after the SYSCALL of the __HYPERVISOR_iret stub (spec 5.4 (c): page + 32*23 + 11). */
export function iretStubReturn(l: Pv64Layout): number {
  return l.hypercallPage + 32 * __HYPERVISOR_iret + 11;
}

const ATTR_CODE = 0xb | ATTR_S | ATTR_P;
const ATTR_DATA = 0x3 | ATTR_S | ATTR_P;
const DPL3 = 3 << 5;

/**
 * The direct map's four table pages from l.pml4 (PML4, PDPT, PD, PT): 2 MiB pages below the
 * 2 MiB chunk holding the host area, 4 KiB pages for that chunk (user below it, supervisor
 * from it). The same for every domain of a size: made once.
 */
function directMap(l: Pv64Layout, ram: number): Uint8Array {
  const key = `${l.pml4} ${ram}`;
  const known = DIRECT_MAPS.get(key);
  if (known !== undefined) return known;
  const img = new Uint8Array(0x4000);
  const v = new DataView(img.buffer);
  const pdpt = l.pml4 + 0x1000, pd = l.pml4 + 0x2000, pt = l.pml4 + 0x3000;
  v.setUint32(0, pdpt | 0x7, true);
  v.setUint32(0x1000, pd | 0x7, true);
  const chunk = Math.floor(l.host / 0x200000);
  for (let k = 0; k < chunk; k++) v.setUint32(0x2000 + 8 * k, (k * 0x200000) | 0x80 | 0x7, true);
  v.setUint32(0x2000 + 8 * chunk, pt | 0x7, true);
  for (let p = 0; p < 512; p++) {
    const pa = chunk * 0x200000 + p * 4096;
    if (pa >= ram) break;
    v.setUint32(0x3000 + 8 * p, pa | (pa < l.host ? 0x7 : 0x3), true);
  }
  DIRECT_MAPS.set(key, img);
  return img;
}
const DIRECT_MAPS = new Map<string, Uint8Array>();

function loadFlat(cpu: Cpu, s: number, sel: number, attr: number): void {
  cpu.segSel[s] = sel;
  cpu.segBaseLo[s] = 0;
  cpu.segBaseHi[s] = 0;
  cpu.segLimit[s] = attr === 0 ? 0 : 0xffffffff;
  cpu.segAttr[s] = attr;
}

/**
 * CS and SS as the guest has them from Xen's GDT (FLAT_RING3_CS64 / CS32 / SS, CPL 3), by
 * selector: a selector with no such descriptor (SYSENTER's null CS 3) is loaded null.
 */
export function loadGuestSelectors(cpu: Cpu, cs: number, ss: number): void {
  const code = (cs | 3) === FLAT_RING3_CS64 ? ATTR_CODE | DPL3 | ATTR_L | ATTR_G : (cs | 3) === FLAT_RING3_CS32 ? ATTR_CODE | DPL3 | ATTR_DB | ATTR_G : 0;
  loadFlat(cpu, CS, cs, code);
  loadFlat(cpu, SS, ss, (ss | 3) === FLAT_RING3_SS ? ATTR_DATA | DPL3 | ATTR_DB | ATTR_G : 0);
  cpu.cpl = 3;
  cpu.refreshMode();
}

/**
 * The domain builder (xc_dom_x86 + Xen's boot-time host setup, as far as the guest can tell):
 * Xen's GDT and TSS, the fixed direct map, the hypercall page, and the vCPU in guest kernel
 * mode at CPL 3 in 64-bit mode with the flat selectors, at the CPU's current RIP and RSP.
 * The host's event delivery (IDT or FRED) is configured separately (configureHost).
 */
export function buildDomain(cpu: Cpu, l: Pv64Layout): void {
  const mem = cpu.mem;
  if (mem.bytes > 1024 * 1024 * 1024) throw new Error("xen-pv64: the builder's direct map covers at most 1 GiB of RAM");
  // GDT: Xen's reserved entries start at selector 0xe000.
  const put = (sel: number, attr: number) => {
    const [lo, hi] = packDescriptor(0, 0xfffff, attr);
    mem.write32(l.gdt + sel, lo);
    mem.write32(l.gdt + sel + 4, hi);
  };
  put(__HYPERVISOR_CS, ATTR_CODE | ATTR_L | ATTR_G);
  put(__HYPERVISOR_DS, ATTR_DATA | ATTR_DB | ATTR_G);
  put(FLAT_RING3_CS32 & ~7, ATTR_CODE | DPL3 | ATTR_DB | ATTR_G);
  put(FLAT_RING3_SS & ~7, ATTR_DATA | DPL3 | ATTR_DB | ATTR_G);
  put(FLAT_RING3_CS64 & ~7, ATTR_CODE | DPL3 | ATTR_L | ATTR_G);
  const [tlo, thi] = packDescriptor(l.tss, 0x67, 0xb | ATTR_P);
  mem.write32(l.gdt + TSS_SELECTOR, tlo);
  mem.write32(l.gdt + TSS_SELECTOR + 4, thi);
  // TSS.rsp0 (offset 4): IDT delivery from ring 3 lands on Xen's stack, with the frame at
  // the same place as FRED's (fred_info, 16 bytes, above it).
  mem.write32(l.tss + 4, l.stackTop - 16);
  mem.write32(l.tss + 8, 0);

  mem.writeBytes(l.pml4, directMap(l, mem.bytes));
  mem.writeBytes(l.hypercallPage, hypercallPageBytes());
  // The exit instructions Xen's paths end with.
  mem.writeBytes(l.exitSysretq, Uint8Array.of(0x48, 0x0f, 0x07));
  mem.writeBytes(l.exitSysretl, Uint8Array.of(0x0f, 0x07));
  mem.writeBytes(l.exitIretq, Uint8Array.of(0x48, 0xcf));
  mem.writeBytes(l.exitEretu, Uint8Array.of(0xf3, 0x0f, 0x01, 0xca));

  cpu.cr0 = CR0_PG | CR0_ET | CR0_PE;
  cpu.cr4Lo = CR4_PAE;
  cpu.cr4Hi = 0;
  cpu.cr3 = l.pml4;
  cpu.efer = EFER_LME | EFER_LMA | EFER_SCE;
  cpu.gdtrBase = l.gdt;
  cpu.gdtrLimit = TSS_SELECTOR + 15;
  cpu.segSel[TR] = TSS_SELECTOR;
  cpu.segBaseLo[TR] = l.tss;
  cpu.segBaseHi[TR] = 0;
  cpu.segLimit[TR] = 0x67;
  cpu.segAttr[TR] = 0xb | ATTR_P;
  // The guest kernel: CPL 3, FLAT_KERNEL_CS64 / FLAT_KERNEL_SS, null data selectors.
  loadGuestSelectors(cpu, FLAT_KERNEL_CS64, FLAT_KERNEL_SS);
  for (const s of [DS, ES, FS, GS]) loadFlat(cpu, s, 0, 0);
  // Xen runs guests with IF set (iret_exit_to_guest, SYSRET's R11 | IF).
  cpu.setRflags(cpu.getRflags() | 0x200);
  cpu.refreshMode();
  cpu.flushTlb();
}
