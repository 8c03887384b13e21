// System instructions: CLI STI CLTS LMSW SMSW, MOV to/from CRn and DRn, RDMSR WRMSR RDTSCP,
// INVLPG WBINVD INVD, LGDT LIDT SGDT SIDT LLDT SLDT LTR STR, LAR LSL VERR VERW, SWAPGS,
// RD/WR FS/GS BASE, CLAC STAC, XGETBV XSETBV, WAIT, VMCALL VMMCALL, ERETU ERETS LKGS.
// SDM Vol. 2 (each instruction) and Vol. 3A chapters 2-5.

import type { Cpu } from "../cpu.js";
import type { Handler } from "../decode/insn.js";
import { CpuFault, GP, NM, UD } from "../exceptions.js";
import { AC, IF, IOPL, ZF } from "../flags.js";
import { erets, eretu, fredEnabled, swapGs } from "../fred.js";
import { invalidatePage } from "../mmu.js";
import { MSR_KERNEL_GS_BASE, MSR_TSC_AUX } from "../msr.js";
import {
  fetchDescriptor, fetchDescriptorHigh, isProtected, loadHidden, loadNull, markAccessed, selectorError,
} from "../segment.js";
import {
  ATTR_P, ATTR_S, CR0_MP, CR0_PE, CR0_TS, CR4_FSGSBASE, EFER_LMA, FS, GS, LDTR,
  RAX, RCX, RDX, TR,
} from "../state.js";
import { CR4_OSXSAVE, readMsr, writeCr0, writeCr3, writeCr4, writeMsr } from "../sysregs.js";
import { readE, writeE } from "./operand.js";

/** Privileged: CPL 0 (real mode counts as CPL 0), else #GP(0). */
function requireCpl0(cpu: Cpu): void {
  if (cpu.cpl !== 0) throw new CpuFault(GP, 0);
}

/** CLI/STI: allowed when CPL <= IOPL (SDM Vol. 2A CLI; VME/PVI are not modelled). */
function iopl(cpu: Cpu): number {
  return (cpu.flagsOther & IOPL) >>> 12;
}

export const cli: Handler = (cpu) => {
  if (isProtected(cpu) && cpu.cpl > iopl(cpu)) throw new CpuFault(GP, 0);
  cpu.flagsOther &= ~IF;
};

/** STI: sets IF; interrupts stay blocked until after the next instruction if IF was 0. */
export const sti: Handler = (cpu) => {
  if (isProtected(cpu) && cpu.cpl > iopl(cpu)) throw new CpuFault(GP, 0);
  if ((cpu.flagsOther & IF) === 0) {
    cpu.flagsOther |= IF;
    cpu.setInterruptShadow();
  }
};

export const clts: Handler = (cpu) => {
  requireCpl0(cpu);
  cpu.cr0 &= ~CR0_TS;
};

/** LMSW: loads PE MP EM TS from the low 4 bits; PE cannot be cleared this way. */
export const lmsw: Handler = (cpu, i) => {
  requireCpl0(cpu);
  const v = readE(cpu, i, 2) & 0xf;
  writeCr0(cpu, ((cpu.cr0 & ~0xe) | v | (cpu.cr0 & CR0_PE)) >>> 0, 0);
};

/** SMSW: CR0's low word to memory, or CR0 to a register at the operand size. */
export const smsw: Handler = (cpu, i) => {
  if (i.mod === 3) cpu.setReg(i.osize, i.rm, cpu.cr0, 0);
  else writeE(cpu, i, 2, cpu.cr0, 0);
};

/**
 * MOV r, CRn / MOV CRn, r (i.op: 0 read, 1 write; 2 and 3 the same through AMD's LOCK
 * MOV CR0 encoding of CR8). 64-bit operands in 64-bit mode, else 32.
 */
export const movCr: Handler = (cpu, i) => {
  requireCpl0(cpu);
  const cr = i.op >= 2 ? 8 : i.reg;
  const long = cpu.codeSize === 8;
  if (cr !== 0 && cr !== 2 && cr !== 3 && cr !== 4 && cr !== 8) throw new CpuFault(UD);
  if ((i.op & 1) === 0) {
    let lo: number;
    let hi = 0;
    switch (cr) {
      case 0: lo = cpu.cr0; break;
      case 2: lo = cpu.cr2Lo; hi = cpu.cr2Hi; break;
      case 3: lo = cpu.cr3 % 4294967296 | 0; hi = Math.floor(cpu.cr3 / 4294967296); break;
      case 4: lo = cpu.cr4Lo; hi = cpu.cr4Hi; break;
      default: lo = cpu.cr8; break;
    }
    cpu.setReg(long ? 8 : 4, i.rm, lo, long ? hi : 0);
    return;
  }
  const lo = cpu.lo[i.rm]!;
  const hi = long ? cpu.hi[i.rm]! : 0;
  switch (cr) {
    case 0: writeCr0(cpu, lo, hi); break;
    case 2: cpu.cr2Lo = lo; cpu.cr2Hi = hi; break;
    case 3: writeCr3(cpu, lo, hi); break;
    case 4: writeCr4(cpu, lo, hi); break;
    default:
      if (hi !== 0 || (lo & ~0xf) !== 0) throw new CpuFault(GP, 0);
      cpu.cr8 = lo;
  }
};

/**
 * MOV r, DRn / MOV DRn, r. DR4/DR5 alias DR6/DR7 unless CR4.DE (then #UD). The values are
 * kept; hardware breakpoints themselves are not implemented.
 */
export const movDr: Handler = (cpu, i) => {
  requireCpl0(cpu);
  let dr = i.reg;
  if (dr > 7) throw new CpuFault(UD);
  if (dr === 4 || dr === 5) {
    if ((cpu.cr4Lo & (1 << 3)) !== 0) throw new CpuFault(UD);
    dr += 2;
  }
  const long = cpu.codeSize === 8;
  if (i.op === 0) {
    const lo = dr < 4 ? cpu.drLo[dr]! : dr === 6 ? cpu.dr6 : cpu.dr7;
    const hi = dr < 4 ? cpu.drHi[dr]! : 0;
    cpu.setReg(long ? 8 : 4, i.rm, lo, long ? hi : 0);
    return;
  }
  const lo = cpu.lo[i.rm]!;
  const hi = long ? cpu.hi[i.rm]! : 0;
  if (dr < 4) {
    cpu.drLo[dr] = lo;
    cpu.drHi[dr] = hi;
  } else {
    // DR6/DR7: the upper half must be 0 in 64-bit mode (#GP(0)); fixed bits stay fixed.
    if (hi !== 0) throw new CpuFault(GP, 0);
    if (dr === 6) cpu.dr6 = (lo | 0xffff0ff0) & ~0x1000;
    else cpu.dr7 = (lo | 0x400) & ~0xd800;
  }
};

export const rdmsr: Handler = (cpu) => {
  requireCpl0(cpu);
  const v = cpu.hypervisor?.readMsr?.(cpu, cpu.lo[RCX]! >>> 0) ?? readMsr(cpu, cpu.lo[RCX]!);
  cpu.setReg(4, RAX, v.lo, 0);
  cpu.setReg(4, RDX, v.hi, 0);
};

export const wrmsr: Handler = (cpu) => {
  requireCpl0(cpu);
  if (cpu.hypervisor?.writeMsr?.(cpu, cpu.lo[RCX]! >>> 0, cpu.lo[RAX]!, cpu.lo[RDX]!) === true) return;
  writeMsr(cpu, cpu.lo[RCX]!, cpu.lo[RAX]!, cpu.lo[RDX]!);
};

/** RDTSCP: EDX:EAX = TSC, ECX = IA32_TSC_AUX. */
export const rdtscp: Handler = (cpu) => {
  if ((cpu.cr4Lo & 4) !== 0 && cpu.cpl !== 0) throw new CpuFault(GP, 0);
  const t = cpu.tsc();
  cpu.setReg(4, RAX, t % 4294967296, 0);
  cpu.setReg(4, RDX, Math.floor(t / 4294967296), 0);
  cpu.setReg(4, RCX, cpu.msr.get(MSR_TSC_AUX).lo, 0);
};

/** INVLPG m: drop the TLB entry of the operand's linear address (no memory access). */
export const invlpg: Handler = (cpu, i) => {
  requireCpl0(cpu);
  invalidatePage(cpu, cpu.linearNoCheck(i));
};

/** WBINVD, INVD: caches are not modelled; the privilege check stands. */
export const cacheFlush: Handler = (cpu) => {
  requireCpl0(cpu);
};

/** WAIT/FWAIT: #NM when CR0.MP and CR0.TS; no x87, so no pending x87 exception. */
export const fwait: Handler = (cpu) => {
  if ((cpu.cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) throw new CpuFault(NM);
};

// ---------------------------------------------------------------- descriptor tables

/** LGDT/LIDT (i.op 0 GDT, 1 IDT): limit16 then base (24 bits with a 16-bit operand size, 64 in 64-bit mode). */
export const lgdt: Handler = (cpu, i) => {
  requireCpl0(cpu);
  const long = cpu.codeSize === 8;
  const lin = cpu.ea(i, long ? 10 : 6);
  const limit = cpu.rd16(lin);
  let base: number;
  if (long) {
    const lo = cpu.rd64(lin + 2);
    if (((cpu.rhi << 16) >> 16) !== cpu.rhi) throw new CpuFault(GP, 0);
    base = cpu.rhi * 4294967296 + (lo >>> 0);
  } else {
    base = cpu.rd32(lin + 2) >>> 0;
    if (i.osize === 2) base &= 0xffffff;
  }
  if (i.op === 0) {
    cpu.gdtrBase = base;
    cpu.gdtrLimit = limit;
  } else {
    cpu.idtrBase = base;
    cpu.idtrLimit = limit;
  }
};

/** SGDT/SIDT: store limit and base (10 bytes in 64-bit mode, else 6). */
export const sgdt: Handler = (cpu, i) => {
  const long = cpu.codeSize === 8;
  const lin = cpu.eaW(i, long ? 10 : 6);
  const base = i.op === 0 ? cpu.gdtrBase : cpu.idtrBase;
  const limit = i.op === 0 ? cpu.gdtrLimit : cpu.idtrLimit;
  cpu.probeWrite(lin, long ? 10 : 6);
  cpu.wr16(lin, limit);
  if (long) cpu.wr64(lin + 2, base % 4294967296 | 0, Math.floor(base / 4294967296) | 0);
  else cpu.wr32(lin + 2, base | 0);
};

/**
 * SLDT/STR (i.op: LDTR or TR): the selector; to a register at the operand size,
 * zero-extended. #UD in real-address mode (SDM Vol. 2B SLDT, STR).
 */
export const storeSystemSelector: Handler = (cpu, i) => {
  if (!isProtected(cpu)) throw new CpuFault(UD);
  const sel = cpu.segSel[i.op === 0 ? LDTR : TR]!;
  if (i.mod === 3) cpu.setReg(i.osize, i.rm, sel, 0);
  else writeE(cpu, i, 2, sel, 0);
};

/** In 64-bit (IA-32e) mode system descriptors are 16 bytes: bits 63:32 of the base. */
function systemBaseHigh(cpu: Cpu, d: ReturnType<typeof fetchDescriptor>, sel: number): number {
  if ((cpu.efer & EFER_LMA) === 0) return 0;
  const hi = fetchDescriptorHigh(cpu, d, sel);
  if (((hi << 16) >> 16) !== hi) throw new CpuFault(GP, selectorError(sel));
  return hi;
}

/** LLDT: an LDT descriptor (type 2) from the GDT; a null selector makes LDTR unusable. */
export const lldt: Handler = (cpu, i) => {
  if (!isProtected(cpu)) throw new CpuFault(UD);
  requireCpl0(cpu);
  const sel = readE(cpu, i, 2) & 0xffff;
  if ((sel & 0xfffc) === 0) {
    loadNull(cpu, LDTR, sel);
    return;
  }
  if ((sel & 4) !== 0) throw new CpuFault(GP, selectorError(sel));
  const d = fetchDescriptor(cpu, sel);
  if ((d.attr & (ATTR_S | 0xf)) !== 2) throw new CpuFault(GP, selectorError(sel));
  if ((d.attr & ATTR_P) === 0) throw new CpuFault(11, selectorError(sel));
  const hi = systemBaseHigh(cpu, d, sel);
  loadHidden(cpu, LDTR, sel, d);
  cpu.segAttr[LDTR] = d.attr;
  cpu.segBaseHi[LDTR] = hi;
};

/** LTR: an available TSS (type 1 or 9) from the GDT, which becomes busy. */
export const ltr: Handler = (cpu, i) => {
  if (!isProtected(cpu)) throw new CpuFault(UD);
  requireCpl0(cpu);
  const sel = readE(cpu, i, 2) & 0xffff;
  if ((sel & 0xfffc) === 0 || (sel & 4) !== 0) throw new CpuFault(GP, selectorError(sel));
  const d = fetchDescriptor(cpu, sel);
  const type = d.attr & (ATTR_S | 0xf);
  const long = (cpu.efer & EFER_LMA) !== 0;
  if (long ? type !== 9 : type !== 9 && type !== 1) throw new CpuFault(GP, selectorError(sel));
  if ((d.attr & ATTR_P) === 0) throw new CpuFault(11, selectorError(sel));
  const hi = systemBaseHigh(cpu, d, sel);
  cpu.sysWrite32(d.at + 4, d.hi | (2 << 8)); // busy
  loadHidden(cpu, TR, sel, d);
  cpu.segAttr[TR] = d.attr | 2;
  cpu.segBaseHi[TR] = hi;
};

// ---------------------------------------------------------------- access checks

/**
 * The descriptor `sel` names, if visible at the current CPL for LAR/LSL/VERR/VERW (SDM:
 * in the table, DPL >= CPL and >= RPL unless conforming code), else null.
 */
function visibleDescriptor(cpu: Cpu, sel: number) {
  if ((sel & 0xfffc) === 0) return null;
  let d: ReturnType<typeof fetchDescriptor>;
  try {
    d = fetchDescriptor(cpu, sel);
  } catch (e) {
    if (e instanceof CpuFault && e.vector === GP) return null;
    throw e;
  }
  const conformingCode = (d.attr & (ATTR_S | 0xc)) === (ATTR_S | 0xc);
  if (!conformingCode && (d.dpl < cpu.cpl || d.dpl < (sel & 3))) return null;
  return d;
}

function setZf(cpu: Cpu, on: boolean): void {
  const f = cpu.lf.get();
  cpu.lf.set(on ? f | ZF : f & ~ZF);
}

/** System descriptor types LAR (i.op 0) and LSL (i.op 1) accept (SDM Vol. 2A LAR, LSL). */
function larLslType(cpu: Cpu, type: number, lsl: boolean): boolean {
  const long = (cpu.efer & EFER_LMA) !== 0;
  const ok = long ? (lsl ? [2, 9, 0xb] : [2, 9, 0xb, 0xc]) : lsl ? [1, 2, 3, 9, 0xb] : [1, 2, 3, 4, 5, 9, 0xb, 0xc];
  return ok.includes(type);
}

/** LAR/LSL Gv, Ew: access rights (bytes 5-6 masked) or the scaled limit, ZF = valid. */
export const larLsl: Handler = (cpu, i) => {
  if (!isProtected(cpu)) throw new CpuFault(UD);
  const sel = readE(cpu, i, 2) & 0xffff;
  const d = visibleDescriptor(cpu, sel);
  const ok = d !== null && ((d.attr & ATTR_S) !== 0 || larLslType(cpu, d.attr & 0xf, i.op === 1));
  setZf(cpu, ok);
  if (!ok) return;
  if (i.op === 0) cpu.setReg(i.osize, i.reg, d.hi & 0x00f0ff00, 0);
  else cpu.setReg(i.osize, i.reg, d.limit, 0);
};

/** VERR/VERW (i.op 0 read, 1 write): ZF = the segment is readable/writable at this CPL. */
export const verrVerw: Handler = (cpu, i) => {
  if (!isProtected(cpu)) throw new CpuFault(UD);
  const sel = readE(cpu, i, 2) & 0xffff;
  const d = visibleDescriptor(cpu, sel);
  let ok = d !== null && (d.attr & ATTR_S) !== 0;
  if (ok) {
    const code = (d!.attr & 8) !== 0;
    ok = i.op === 0 ? !code || (d!.attr & 2) !== 0 : !code && (d!.attr & 2) !== 0;
  }
  setZf(cpu, ok);
};

// ---------------------------------------------------------------- 64-bit segment bases

/** SWAPGS: 64-bit mode, CPL 0; #UD under FRED (spec section 1.3). */
export const swapgs: Handler = (cpu) => {
  if (cpu.codeSize !== 8) throw new CpuFault(UD);
  if (fredEnabled(cpu)) {
    cpu.decide("SWAPGS", "#UD because CR4.FRED = 1");
    throw new CpuFault(UD);
  }
  requireCpl0(cpu);
  swapGs(cpu);
};

/** RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE (i.op 0..3): 64-bit mode with CR4.FSGSBASE. */
export const fsgsBase: Handler = (cpu, i) => {
  if (cpu.codeSize !== 8 || (cpu.cr4Lo & CR4_FSGSBASE) === 0) throw new CpuFault(UD);
  const seg = (i.op & 1) === 0 ? FS : GS;
  const size = i.osize === 8 ? 8 : 4;
  if (i.op < 2) {
    cpu.setReg(size, i.rm, cpu.segBaseLo[seg]!, cpu.segBaseHi[seg]!);
  } else {
    const lo = cpu.lo[i.rm]!;
    const hi = size === 8 ? cpu.hi[i.rm]! : 0;
    if (((hi << 16) >> 16) !== hi) throw new CpuFault(GP, 0);
    cpu.segBaseLo[seg] = lo;
    cpu.segBaseHi[seg] = hi;
  }
};

/** CLAC/STAC (i.op 0/1): EFLAGS.AC for SMAP; CPL 0 only. */
export const clacStac: Handler = (cpu, i) => {
  if (!cpu.features.smap || cpu.cpl !== 0) throw new CpuFault(UD);
  cpu.flagsOther = i.op === 0 ? cpu.flagsOther & ~AC : cpu.flagsOther | AC;
};

// ---------------------------------------------------------------- XCR0

/** XGETBV: CR4.OSXSAVE else #UD; ECX = 0 reads XCR0 (x87 only in this model). */
export const xgetbv: Handler = (cpu) => {
  if ((cpu.cr4Lo & CR4_OSXSAVE) === 0) throw new CpuFault(UD);
  if (cpu.lo[RCX] !== 0) throw new CpuFault(GP, 0);
  cpu.setReg(4, RAX, cpu.xcr0, 0);
  cpu.setReg(4, RDX, 0, 0);
};

/** XSETBV: CPL 0; XCR0 must keep x87 (bit 0) and set nothing else this model has. */
export const xsetbv: Handler = (cpu) => {
  if ((cpu.cr4Lo & CR4_OSXSAVE) === 0) throw new CpuFault(UD);
  requireCpl0(cpu);
  if (cpu.lo[RCX] !== 0 || cpu.lo[RDX] !== 0 || cpu.lo[RAX] !== 1) throw new CpuFault(GP, 0);
  cpu.xcr0 = 1;
};

// ---------------------------------------------------------------- hypervisor calls

/** VMCALL (i.op 0) / VMMCALL (i.op 1): #UD on a bare CPU; the hypervisor model's otherwise. */
export const vmcall: Handler = (cpu, i) => {
  if (cpu.hypervisor === null) throw new CpuFault(UD);
  cpu.hypervisor.hypercallInstruction(cpu, i.op === 0 ? "vmcall" : "vmmcall");
};

// ---------------------------------------------------------------- FRED

export const eretsInsn: Handler = (cpu) => erets(cpu);
export const eretuInsn: Handler = (cpu) => eretu(cpu);

/**
 * LKGS Ew (F2 0F 00 /6): load GS as MOV GS would, but the base goes to
 * IA32_KERNEL_GS_BASE (64-bit mode, CPL 0, with the feature).
 */
export const lkgs: Handler = (cpu, i) => {
  if (!cpu.features.fred) {
    cpu.decide("LKGS", "#UD because the CPU has no FRED/LKGS");
    throw new CpuFault(UD);
  }
  if (cpu.codeSize !== 8 || cpu.cpl !== 0) throw new CpuFault(UD);
  const sel = readE(cpu, i, 2) & 0xffff;
  const keepLo = cpu.segBaseLo[GS]!;
  const keepHi = cpu.segBaseHi[GS]!;
  if ((sel & 0xfffc) === 0) {
    loadNull(cpu, GS, sel);
  } else {
    const d = fetchDescriptor(cpu, sel);
    const readable = (d.attr & ATTR_S) !== 0 && ((d.attr & 8) === 0 || (d.attr & 2) !== 0);
    if (!readable) throw new CpuFault(GP, selectorError(sel));
    if ((d.attr & ATTR_P) === 0) throw new CpuFault(11, selectorError(sel));
    markAccessed(cpu, d);
    loadHidden(cpu, GS, sel, d);
  }
  cpu.msr.set(MSR_KERNEL_GS_BASE, cpu.segBaseLo[GS]!, cpu.segBaseHi[GS]!);
  cpu.segBaseLo[GS] = keepLo;
  cpu.segBaseHi[GS] = keepHi;
};
