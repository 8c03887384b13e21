// The architectural state of one x86-64 logical processor.
//
// 64-bit registers are two 32-bit halves in typed arrays (lo[i], hi[i]); BigInt never
// appears on the hot path. RIP and linear addresses are JS numbers: in 64-bit mode a
// linear address is canonical (SDM Vol. 1 3.3.7.1), so its sign-extended value fits
// a double exactly; outside 64-bit mode they are 32-bit.

import { LazyFlags, ARITH_FLAGS, RFLAGS_FIXED1 } from "./flags.js";

/** GPR numbers as ModRM/REX encode them. */
export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
export const GPR_NAMES = [
  "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
] as const;

/** Segment register numbers as the Sreg field encodes them, then LDTR and TR. */
export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5, LDTR = 6, TR = 7;
export const SEG_NAMES = ["es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr"] as const;

// Segment attribute bits, packed as VMX access rights (SDM Vol. 3C 25.4.1).
export const ATTR_TYPE = 0xf;
export const ATTR_S = 1 << 4;
export const ATTR_DPL_SHIFT = 5;
export const ATTR_P = 1 << 7;
export const ATTR_AVL = 1 << 12;
export const ATTR_L = 1 << 13;
export const ATTR_DB = 1 << 14;
export const ATTR_G = 1 << 15;

// Control register and EFER bits used by the core.
export const CR0_PE = 1 << 0;
export const CR0_MP = 1 << 1;
export const CR0_EM = 1 << 2;
export const CR0_TS = 1 << 3;
export const CR0_ET = 1 << 4;
export const CR0_NE = 1 << 5;
export const CR0_WP = 1 << 16;
export const CR0_AM = 1 << 18;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;
export const CR0_PG = 1 << 31;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_PGE = 1 << 7;
export const CR4_OSFXSR = 1 << 9;
export const CR4_FSGSBASE = 1 << 16;
export const CR4_SMEP = 1 << 20;
export const CR4_SMAP = 1 << 21;
/** CR4.FRED is bit 32: bit 0 of the high half. */
export const CR4HI_FRED = 1 << 0;
export const EFER_SCE = 1 << 0;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11;

/** A 64-bit value as two 32-bit halves (used at API edges: MSRs, snapshots). */
export interface U64 {
  lo: number;
  hi: number;
}

export class CpuState {
  /** GPR low halves. */
  readonly lo = new Int32Array(16);
  /** GPR high halves. */
  readonly hi = new Int32Array(16);
  /** RIP (see the header comment). */
  rip = 0;
  /** RFLAGS except the six status flags, which live in `lf`. Bit 1 is always set. */
  flagsOther = RFLAGS_FIXED1;
  readonly lf = new LazyFlags();

  readonly segSel = new Uint16Array(8);
  /** Segment bases as halves: FS/GS bases are 64-bit in long mode. */
  readonly segBaseLo = new Int32Array(8);
  readonly segBaseHi = new Int32Array(8);
  readonly segLimit = new Uint32Array(8);
  readonly segAttr = new Uint16Array(8);

  gdtrBase = 0;
  gdtrLimit = 0;
  idtrBase = 0;
  idtrLimit = 0;

  cr0 = CR0_ET | CR0_CD | CR0_NW;
  /** CR2 as halves: software may write any 64-bit value. */
  cr2Lo = 0;
  cr2Hi = 0;
  /** CR3 is a physical address with flag bits (< 2^52): a number. */
  cr3 = 0;
  cr4Lo = 0;
  cr4Hi = 0;
  cr8 = 0;
  efer = 0;
  /** PAE paging's PDPTE registers (lo, hi per entry), loaded from CR3. */
  readonly pdpte = new Int32Array(8);
  /** Debug registers DR0-DR3 (halves), DR6, DR7. Breakpoints are not implemented. */
  readonly drLo = new Int32Array(4);
  readonly drHi = new Int32Array(4);
  dr6 = 0xffff0ff0;
  dr7 = 0x400;
  /** XCR0 (XGETBV/XSETBV): x87 only. */
  xcr0 = 1;

  getRflags(): number {
    return (this.flagsOther & ~ARITH_FLAGS) | this.lf.get() | RFLAGS_FIXED1;
  }

  setRflags(v: number): void {
    this.flagsOther = (v & ~ARITH_FLAGS) | RFLAGS_FIXED1;
    this.lf.set(v & ARITH_FLAGS);
  }

  /** Segment base as a number (bases are canonical or 32-bit). */
  segBase(s: number): number {
    return this.segBaseHi[s]! * 4294967296 + (this.segBaseLo[s]! >>> 0);
  }

  /** Copy every architectural register into `dst` (used by snapshots). */
  copyStateTo(dst: CpuState): void {
    dst.lo.set(this.lo);
    dst.hi.set(this.hi);
    dst.rip = this.rip;
    dst.flagsOther = this.flagsOther;
    dst.lf.res = this.lf.res;
    dst.lf.resHi = this.lf.resHi;
    dst.lf.aux = this.lf.aux;
    dst.segSel.set(this.segSel);
    dst.segBaseLo.set(this.segBaseLo);
    dst.segBaseHi.set(this.segBaseHi);
    dst.segLimit.set(this.segLimit);
    dst.segAttr.set(this.segAttr);
    dst.gdtrBase = this.gdtrBase;
    dst.gdtrLimit = this.gdtrLimit;
    dst.idtrBase = this.idtrBase;
    dst.idtrLimit = this.idtrLimit;
    dst.cr0 = this.cr0;
    dst.cr2Lo = this.cr2Lo;
    dst.cr2Hi = this.cr2Hi;
    dst.cr3 = this.cr3;
    dst.cr4Lo = this.cr4Lo;
    dst.cr4Hi = this.cr4Hi;
    dst.cr8 = this.cr8;
    dst.efer = this.efer;
    dst.pdpte.set(this.pdpte);
    dst.drLo.set(this.drLo);
    dst.drHi.set(this.drHi);
    dst.dr6 = this.dr6;
    dst.dr7 = this.dr7;
    dst.xcr0 = this.xcr0;
  }
}
