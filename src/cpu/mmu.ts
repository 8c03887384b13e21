// Linear -> physical translation: the page walk, its permission checks and #PF error
// codes, and the TLB the fast memory paths in cpu.ts consult.
//
// The TLB is direct-mapped and split by access kind: an entry's read, write and fetch
// tags are filled only when that access is allowed for the current privilege, so the
// fast path needs one compare. A write tag is filled only once the PTE's dirty bit is
// set. Anything the TLB cannot answer goes through translate(), which walks the tables.
//
// Implemented here: paging off, and 4-level paging (SDM Vol. 3A 4.5) with 4 KiB, 2 MiB and
// 1 GiB pages, P, R/W, U/S, NX (EFER.NXE), CR0.WP, CR4.SMEP/SMAP with EFLAGS.AC,
// accessed/dirty bits, reserved-bit checks, and global pages.

import { CpuFault, PF } from "./exceptions.js";
import {
  CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, CR4_SMAP, CR4_SMEP, EFER_LMA, EFER_NXE, type CpuState,
} from "./state.js";
import { AC } from "./flags.js";
import type { GuestMemory } from "../mem/memory.js";

export const TLB_SIZE = 1024;
export const TLB_MASK = TLB_SIZE - 1;

export const ACC_READ = 0;
export const ACC_WRITE = 1;
export const ACC_FETCH = 2;

/** Physical-address width the CPUID model reports (0x80000008). */
export const MAXPHYADDR = 40;

// #PF error code bits (SDM Vol. 3A 4.7).
export const PFEC_P = 1;
export const PFEC_W = 2;
export const PFEC_U = 4;
export const PFEC_RSVD = 8;
export const PFEC_I = 16;

const PTE_P = 1;
const PTE_RW = 2;
const PTE_US = 4;
const PTE_A = 0x20;
const PTE_D = 0x40;
const PTE_PS = 0x80;
const PTE_G = 0x100;

/** Bits 51..MAXPHYADDR of an entry's high half must be zero (bits 52-62 are ignored). */
const RSVD_HI_ADDR = ((1 << (52 - 32)) - 1) & ~((1 << (MAXPHYADDR - 32)) - 1);

/** The state translate() needs besides CpuState: the TLB arrays and memory. */
export interface MmuHost extends CpuState {
  readonly mem: GuestMemory;
  readonly tlbR: Float64Array;
  readonly tlbW: Float64Array;
  readonly tlbX: Float64Array;
  readonly tlbPpn: Int32Array;
  readonly tlbGlobal: Uint8Array;
  cpl: number;
  /** Page-table walks so far (TLB misses with paging on), for the benchmark. */
  pageWalks: number;
  /** Called when a TLB entry changes so the fetch window can be dropped. */
  onTlbChange(): void;
}

export function flushTlb(c: MmuHost, keepGlobal: boolean): void {
  if (!keepGlobal) {
    c.tlbR.fill(NaN);
    c.tlbW.fill(NaN);
    c.tlbX.fill(NaN);
  } else {
    for (let t = 0; t < TLB_SIZE; t++) {
      if (c.tlbGlobal[t] === 0) {
        c.tlbR[t] = NaN;
        c.tlbW[t] = NaN;
        c.tlbX[t] = NaN;
      }
    }
  }
  c.onTlbChange();
}

/** INVLPG: drop the entry for one linear page (global or not). */
export function invalidatePage(c: MmuHost, lin: number): void {
  const vpn = pageNumber(lin);
  const t = vpn & TLB_MASK;
  if (c.tlbR[t] === vpn || c.tlbW[t] === vpn || c.tlbX[t] === vpn) {
    c.tlbR[t] = NaN;
    c.tlbW[t] = NaN;
    c.tlbX[t] = NaN;
  }
  c.onTlbChange();
}

/** Linear page number of a linear address (exact for canonical and 32-bit addresses). */
export function pageNumber(lin: number): number {
  return (lin - (lin & 0xfff)) * (1 / 4096);
}

function readPte(mem: GuestMemory, pa: number, out: Int32Array): void {
  // An entry beyond RAM reads as all ones (no device answers), which sets reserved bits.
  if (pa + 8 > mem.bytes) {
    out[0] = -1;
    out[1] = -1;
    return;
  }
  out[0] = mem.read32(pa);
  out[1] = mem.read32(pa + 4);
}

function setPteBits(mem: GuestMemory, pa: number, lo: number, bits: number): void {
  if ((lo & bits) !== bits && pa + 8 <= mem.bytes) mem.write32(pa, lo | bits);
}

const pte = new Int32Array(2);

function pageFault(c: MmuHost, lin: number, code: number): CpuFault {
  // CR2 holds the linear address (SDM Vol. 3A 4.7).
  c.cr2Lo = lin >>> 0 | 0;
  c.cr2Hi = Math.floor(lin / 4294967296) | 0;
  return new CpuFault(PF, code);
}

/**
 * Translate `lin` for an access of `kind` by privilege `user` (CPL 3 and not an implicit
 * supervisor access). Fills the TLB when `fill` is set. Throws #PF.
 */
export function translate(c: MmuHost, lin: number, kind: number, user: boolean, fill: boolean): number {
  const off = lin & 0xfff;
  const vpn = pageNumber(lin);
  if ((c.cr0 & CR0_PG) === 0) {
    // Paging off: linear = physical (32 bits; A20 is always enabled).
    const ppn = vpn >>> 0 & 0xfffff;
    if (fill) install(c, vpn, ppn, true, true, true, false);
    return ppn * 4096 + off;
  }
  c.pageWalks++;
  const nxe = (c.efer & EFER_NXE) !== 0;
  const write = kind === ACC_WRITE;
  const fetch = kind === ACC_FETCH;
  const lma = (c.efer & EFER_LMA) !== 0;
  const pae = lma || (c.cr4Lo & CR4_PAE) !== 0;
  // I/D is reported only where instruction fetches can be refused (NX or SMEP).
  const code = (write ? PFEC_W : 0) | (user ? PFEC_U : 0) | (fetch && ((pae && nxe) || (c.cr4Lo & CR4_SMEP) !== 0) ? PFEC_I : 0);
  const lo32 = lin >>> 0;

  // The walk (SDM Vol. 3A 4.3 32-bit, 4.4 PAE, 4.5 4-level): the tables, their index
  // for this address, and the levels at which a PS=1 entry maps a large page.
  let table: number;
  let indexes: number[];
  let largeShift: number[]; // page size shift when the entry at that level has PS=1 (0: PS not allowed)
  let entrySize = 8;
  if (lma) {
    const hiBits = Math.floor(lin / 4294967296) & 0xffff; // bits 47..32
    table = Math.floor(c.cr3 / 4096) * 4096 % 2 ** MAXPHYADDR;
    indexes = [(hiBits >>> 7) & 0x1ff, ((hiBits & 0x7f) << 2) | (lo32 >>> 30), (lo32 >>> 21) & 0x1ff, (lo32 >>> 12) & 0x1ff];
    largeShift = [0, 30, 21, 0];
  } else if (pae) {
    // PAE: the four PDPTEs were loaded into registers by MOV CR3/CR0/CR4 (SDM 4.4.1).
    const k = lo32 >>> 30;
    const pdpteLo = c.pdpte[2 * k]!;
    const pdpteHi = c.pdpte[2 * k + 1]!;
    if ((pdpteLo & PTE_P) === 0) throw pageFault(c, lin, code);
    table = (pdpteHi & ((1 << (MAXPHYADDR - 32)) - 1)) * 4294967296 + ((pdpteLo & 0xfffff000) >>> 0);
    indexes = [(lo32 >>> 21) & 0x1ff, (lo32 >>> 12) & 0x1ff];
    largeShift = [21, 0];
  } else {
    table = (c.cr3 & 0xfffff000) >>> 0;
    indexes = [lo32 >>> 22, (lo32 >>> 12) & 0x3ff];
    largeShift = [(c.cr4Lo & CR4_PSE) !== 0 ? 22 : 0, 0];
    entrySize = 4;
  }

  let rw = true;
  let us = true;
  let nx = false;
  const entries: number[] = [];
  let pageLo = 0;
  let pageHi = 0;
  let pageSizeShift = 12;
  let leafLo = 0;
  for (let level = 0; level < indexes.length; level++) {
    const ea = table + indexes[level]! * entrySize;
    let lo: number;
    let hi: number;
    if (entrySize === 8) {
      readPte(c.mem, ea, pte);
      lo = pte[0]!;
      hi = pte[1]!;
    } else {
      lo = ea + 4 > c.mem.bytes ? -1 : c.mem.read32(ea);
      hi = 0;
    }
    if ((lo & PTE_P) === 0) throw pageFault(c, lin, code);
    const ps = (lo & PTE_PS) !== 0 && largeShift[level]! !== 0;
    // Reserved bits: above MAXPHYADDR and XD without NXE (8-byte entries); PS in a
    // PML4E; the address bits of a large page below its size (bit 12 is PAT); for a
    // 4 MiB 32-bit PDE, bit 21 (bits 20:13 carry address bits 39:32, PSE-36).
    let rsvd = false;
    if (entrySize === 8) {
      rsvd = (hi & RSVD_HI_ADDR) !== 0 || (!nxe && hi < 0);
      if (lma && level === 0 && (lo & PTE_PS) !== 0) rsvd = true;
      if (ps && largeShift[level] === 30 && (lo & 0x3fffe000) !== 0) rsvd = true;
      if (ps && largeShift[level] === 21 && (lo & 0x001fe000) !== 0) rsvd = true;
    } else if (ps && (lo & (1 << 21)) !== 0) {
      rsvd = true;
    }
    if (rsvd) throw pageFault(c, lin, code | PFEC_P | PFEC_RSVD);
    rw = rw && (lo & PTE_RW) !== 0;
    us = us && (lo & PTE_US) !== 0;
    nx = nx || (nxe && hi < 0);
    entries.push(ea, lo);
    if (level === indexes.length - 1 || ps) {
      leafLo = lo;
      pageSizeShift = ps ? largeShift[level]! : 12;
      if (entrySize === 4 && ps) {
        pageLo = lo & 0xffc00000;
        pageHi = (lo >>> 13) & 0xff; // PSE-36: PDE bits 20:13 are address bits 39:32
      } else {
        pageLo = lo & 0xfffff000;
        pageHi = hi & ((1 << (MAXPHYADDR - 32)) - 1);
      }
      break;
    }
    table = (hi & ((1 << (MAXPHYADDR - 32)) - 1)) * 4294967296 + ((lo & 0xfffff000) >>> 0);
  }

  // Permissions, SDM Vol. 3A 4.6.
  const supervisor = !user;
  const smepBlocks = supervisor && us && (c.cr4Lo & CR4_SMEP) !== 0;
  const smapApplies = supervisor && us && !fetch && (c.cr4Lo & CR4_SMAP) !== 0;
  const writable = user ? rw : rw || (c.cr0 & CR0_WP) === 0;
  const executable = !nx && !smepBlocks;
  let denied = user && !us;
  if (write && !writable) denied = true;
  if (fetch && !executable) denied = true;
  if (smapApplies && (c.cpl === 3 || (c.flagsOther & AC) === 0)) denied = true;
  if (denied) throw pageFault(c, lin, code | PFEC_P);

  // Accessed bits on every level; dirty on the leaf for a write.
  for (let k = 0; k < entries.length; k += 2) {
    const last = k === entries.length - 2;
    setPteBits(c.mem, entries[k]!, entries[k + 1]!, PTE_A | (last && write ? PTE_D : 0));
  }

  // The frame: a large page's address field stops at its size (bit 12 there is PAT).
  const sizeMask = (1 << pageSizeShift) - 1;
  const frameLo = (pageLo & ~sizeMask) >>> 0;
  const pa = pageHi * 4294967296 + frameLo + (lo32 & sizeMask);
  if (fill && !smapApplies) {
    // A write tag only once the page is dirty, so the first write sets D through here.
    const dirty = write || (leafLo & PTE_D) !== 0;
    const global = (leafLo & PTE_G) !== 0 && (c.cr4Lo & CR4_PGE) !== 0;
    install(c, vpn, Math.floor(pa / 4096), true, writable && dirty, executable, global);
  }
  return pa;
}

/**
 * PAE paging: load the four PDPTEs from CR3 into the PDPTE registers (SDM Vol. 3A 4.4.1),
 * as MOV to CR3, and MOV to CR0/CR4 that enter or change PAE paging, do. Returns false
 * when a present PDPTE has reserved bits set (the instruction then raises #GP(0)).
 */
export function loadPdptes(c: MmuHost): boolean {
  const base = (c.cr3 & 0xffffffe0) >>> 0;
  const next = new Int32Array(8);
  for (let k = 0; k < 4; k++) {
    readPte(c.mem, base + 8 * k, pte);
    const lo = pte[0]!;
    const hi = pte[1]!;
    // Reserved: bits 2:1, 8:5, and everything from MAXPHYADDR up (bit 63 included).
    if ((lo & 1) !== 0 && ((lo & 0x1e6) !== 0 || (hi & ~((1 << (MAXPHYADDR - 32)) - 1)) !== 0)) return false;
    next[2 * k] = lo;
    next[2 * k + 1] = hi;
  }
  c.pdpte.set(next);
  return true;
}

function install(c: MmuHost, vpn: number, ppn: number, r: boolean, w: boolean, x: boolean, global: boolean): void {
  // Pages beyond RAM never enter the TLB: their accesses take the slow path.
  if (ppn >= c.mem.npages) return;
  const t = vpn & TLB_MASK;
  c.tlbR[t] = r ? vpn : NaN;
  c.tlbW[t] = w ? vpn : NaN;
  c.tlbX[t] = x ? vpn : NaN;
  c.tlbPpn[t] = ppn;
  c.tlbGlobal[t] = global ? 1 : 0;
}
