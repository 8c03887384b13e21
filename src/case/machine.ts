// A machine: guest RAM and one processor, booted into a starting mode of cases.md,
// with snapshots of both so a case never re-boots a guest.
//
// The emulator's own tables live in the top 1 MiB of RAM (T = ram - 1 MiB):
//   T + 0x0000  GDT   0x08 code64 DPL0 | 0x10 data DPL0 | 0x18 code32 DPL0
//                     0x20 code32 DPL3 | 0x28 data DPL3 | 0x30 code64 DPL3
//                     0x38 64-bit TSS (16 bytes)
//               (the layout SYSCALL/SYSRET expect with STAR = 0x0023_0008_xxxxxxxx)
//   T + 0x1000  TSS (104 bytes, all zero)
//   T + 0x10000 page tables: identity map of all RAM, 2 MiB pages (4 KiB for a tail),
//               present, writable, user.

import { GuestMemory, type MemorySnapshot } from "../mem/memory.js";
import { Cpu, CpuSnapshot } from "../cpu/cpu.js";
import type { CpuModel } from "../cpu/cpuid.js";
import { packDescriptor, unpackDescriptor } from "../cpu/descriptor.js";
import {
  ATTR_DB, ATTR_G, ATTR_L, ATTR_P, ATTR_S, CR0_ET, CR0_PE, CR0_PG, CR4_PAE, CS, DS, EFER_LMA,
  EFER_LME, ES, FS, GS, LDTR, SS, TR,
} from "../cpu/state.js";
import { RESERVED_TOP, type Mode } from "./case.js";

export const GDT_CODE64 = 0x08;
export const GDT_DATA = 0x10;
export const GDT_CODE32 = 0x18;
export const GDT_USER_CODE32 = 0x20;
export const GDT_USER_DATA = 0x28;
export const GDT_USER_CODE64 = 0x30;
export const GDT_TSS = 0x38;
const GDT_LIMIT = 0x47;

const ATTR_CODE = 0xb | ATTR_S | ATTR_P; // execute/read, accessed
const ATTR_DATA = 0x3 | ATTR_S | ATTR_P; // read/write, accessed
const DPL3 = 3 << 5;

export interface MachineSnapshot {
  readonly mem: MemorySnapshot;
  readonly cpu: CpuSnapshot;
}

export class Machine {
  readonly mem: GuestMemory;
  readonly cpu: Cpu;
  /** Base of the emulator's reserved top 1 MiB. */
  readonly tablesBase: number;

  constructor(ram: number, model: CpuModel) {
    this.mem = new GuestMemory(ram);
    this.cpu = new Cpu(this.mem, model);
    this.tablesBase = ram - RESERVED_TOP;
  }

  /** Build the tables and put the processor in `mode` at CPL 0 (cases.md). */
  boot(mode: Mode): void {
    const T = this.tablesBase;
    const mem = this.mem;
    const gdt: [number, number, number][] = [
      [GDT_CODE64, 0, ATTR_CODE | ATTR_L | ATTR_G],
      [GDT_DATA, 0, ATTR_DATA | ATTR_DB | ATTR_G],
      [GDT_CODE32, 0, ATTR_CODE | ATTR_DB | ATTR_G],
      [GDT_USER_CODE32, 0, ATTR_CODE | DPL3 | ATTR_DB | ATTR_G],
      [GDT_USER_DATA, 0, ATTR_DATA | DPL3 | ATTR_DB | ATTR_G],
      [GDT_USER_CODE64, 0, ATTR_CODE | DPL3 | ATTR_L | ATTR_G],
    ];
    for (const [sel, base, attr] of gdt) {
      const [lo, hi] = packDescriptor(base, 0xfffff, attr);
      mem.write32(T + sel, lo);
      mem.write32(T + sel + 4, hi);
    }
    // 64-bit available TSS (type 9), 16 bytes (SDM Vol. 3A 8.2.3).
    const tss = T + 0x1000;
    const [tlo, thi] = packDescriptor(tss, 0x67, 0x9 | ATTR_P);
    mem.write32(T + GDT_TSS, tlo);
    mem.write32(T + GDT_TSS + 4, thi);
    this.buildIdentityMap(T + 0x10000);

    const c = this.cpu;
    c.gdtrBase = T;
    c.gdtrLimit = GDT_LIMIT;
    c.idtrBase = 0;
    c.idtrLimit = mode === "real16" ? 0x3ff : 0;
    c.cpl = 0;
    c.setRflags(2);
    this.loadTr(GDT_TSS, tss);
    c.segSel[LDTR] = 0;
    c.segAttr[LDTR] = 0;
    switch (mode) {
      case "long64":
      case "compat32":
        c.cr0 = CR0_PG | CR0_ET | CR0_PE;
        c.cr4Lo = CR4_PAE;
        c.cr3 = T + 0x10000;
        c.efer = EFER_LME | EFER_LMA;
        this.loadSegment(CS, mode === "long64" ? GDT_CODE64 : GDT_CODE32);
        for (const s of [DS, ES, SS, FS, GS]) this.loadSegment(s, GDT_DATA);
        break;
      case "prot32":
        c.cr0 = CR0_ET | CR0_PE;
        c.efer = 0;
        this.loadSegment(CS, GDT_CODE32);
        for (const s of [DS, ES, SS, FS, GS]) this.loadSegment(s, GDT_DATA);
        break;
      case "real16":
        c.cr0 = CR0_ET;
        c.efer = 0;
        for (const s of [CS, DS, ES, SS, FS, GS]) this.loadRealSegment(s, 0);
        break;
    }
    c.refreshMode();
    c.flushTlb();
  }

  /** Page tables mapping all of RAM 1:1 (PML4, PDPT, PDs with 2 MiB pages, a PT for a 4 KiB tail). */
  private buildIdentityMap(at: number): void {
    const mem = this.mem;
    const ram = mem.bytes;
    const P_RW_US = 0x7;
    const pml4 = at;
    const pdpt = at + 0x1000;
    const pds = at + 0x2000; // one PD page per GiB (at most 4)
    const pt = pds + 4 * 0x1000; // one PT for the part of RAM past the last full 2 MiB
    mem.write32(pml4, pdpt | P_RW_US);
    const big = Math.floor(ram / 0x200000);
    for (let g = 0; g * 0x40000000 < ram; g++) mem.write32(pdpt + g * 8, (pds + g * 0x1000) | P_RW_US);
    for (let k = 0; k < big; k++) {
      const pa = k * 0x200000;
      mem.write32(pds + k * 8, (pa | 0x80 | P_RW_US) >>> 0);
      mem.write32(pds + k * 8 + 4, Math.floor(pa / 4294967296));
    }
    if (ram % 0x200000 !== 0) {
      const tailBase = big * 0x200000;
      mem.write32(pds + big * 8, pt | P_RW_US);
      for (let p = 0; tailBase + p * 4096 < ram; p++) mem.write32(pt + p * 8, (tailBase + p * 4096) | P_RW_US);
    }
  }

  /** Load a segment register from the GDT (the hidden part as a selector load fills it). */
  loadSegment(seg: number, sel: number): void {
    const c = this.cpu;
    const at = c.gdtrBase + (sel & ~7);
    const d = unpackDescriptor(this.mem.read32(at), this.mem.read32(at + 4));
    c.segSel[seg] = sel;
    c.segBaseLo[seg] = d.base | 0;
    c.segBaseHi[seg] = 0;
    c.segLimit[seg] = d.limit;
    c.segAttr[seg] = d.attr;
  }

  /** The GDT descriptor `sel` names, or null when it is outside the GDT or not present. */
  gdtDescriptor(sel: number): ReturnType<typeof unpackDescriptor> | null {
    const c = this.cpu;
    if ((sel & 4) !== 0 || (sel | 7) > c.gdtrLimit) return null;
    const at = c.gdtrBase + (sel & ~7);
    const d = unpackDescriptor(this.mem.read32(at), this.mem.read32(at + 4));
    return (d.attr & ATTR_P) === 0 ? null : d;
  }

  private loadRealSegment(seg: number, sel: number): void {
    const c = this.cpu;
    c.segSel[seg] = sel;
    c.segBaseLo[seg] = sel << 4;
    c.segBaseHi[seg] = 0;
    c.segLimit[seg] = 0xffff;
    c.segAttr[seg] = (seg === CS ? ATTR_CODE : ATTR_DATA);
  }

  private loadTr(sel: number, base: number): void {
    const c = this.cpu;
    c.segSel[TR] = sel;
    c.segBaseLo[TR] = base;
    c.segBaseHi[TR] = 0;
    c.segLimit[TR] = 0x67;
    c.segAttr[TR] = 0xb | ATTR_P; // busy 64-bit TSS
  }

  snapshot(): MachineSnapshot {
    const cpu = new CpuSnapshot();
    this.cpu.saveTo(cpu);
    return { mem: this.mem.snapshot(), cpu };
  }

  /** Return to `s`: memory pages written since, and every processor register. */
  restore(s: MachineSnapshot): void {
    this.mem.restore(s.mem);
    this.cpu.loadFrom(s.cpu);
  }
}
