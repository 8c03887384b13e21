// Control registers, EFER and the MSRs: which writes are legal, and their side effects
// (mode switches, TLB flushes, PDPTE loads). SDM Vol. 3A 2.5 (control registers), 2.2.1
// and 10.8.5 (entering and leaving IA-32e mode), 4.1 (paging modes); Vol. 4 (MSRs).

import type { Cpu } from "./cpu.js";
import { CpuFault, GP } from "./exceptions.js";
import { flushTlb, loadPdptes, MAXPHYADDR } from "./mmu.js";
import {
  MSR_CSTAR, MSR_EFER, MSR_FS_BASE, MSR_GS_BASE, MSR_IA32_FRED_CONFIG, MSR_IA32_FRED_RSP0,
  MSR_IA32_FRED_RSP3, MSR_IA32_FRED_SSP1, MSR_IA32_FRED_SSP3, MSR_IA32_PAT,
  MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_EIP, MSR_IA32_SYSENTER_ESP, MSR_IA32_TSC, MSR_KERNEL_GS_BASE,
  MSR_LSTAR, MSR_STAR, MSR_SYSCALL_MASK, MSR_TSC_AUX,
} from "./msr.js";
import {
  ATTR_L, CR0_CD, CR0_ET, CR0_NW, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, CR4_SMEP,
  CR4HI_FRED, CS, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, FS, GS, type U64,
} from "./state.js";

const TWO32 = 4294967296;

/** CR0 bits software may set (SDM Vol. 3A 2.5): PE MP EM TS ET NE WP AM NW CD PG. */
const CR0_DEFINED = 0xe005003f;
/** CR4 bits this model implements: VME? no; TSD DE PSE PAE PGE FSGSBASE OSXSAVE SMEP SMAP. */
const CR4_DEFINED = (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 7) | (1 << 16) | (1 << 18) | (1 << 20) | (1 << 21);
export const CR4_TSD = 1 << 2;
export const CR4_OSXSAVE = 1 << 18;
const EFER_DEFINED = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;

/** A 64-bit value (by its high half) is a canonical address. */
function canonical(hi: number): boolean {
  return ((hi << 16) >> 16) === hi;
}

/** PAE paging will be in use after this change: reload the PDPTEs or #GP(0). */
function reloadPdptes(cpu: Cpu): void {
  if ((cpu.cr0 & CR0_PG) !== 0 && (cpu.cr4Lo & CR4_PAE) !== 0 && (cpu.efer & EFER_LMA) === 0) {
    if (!loadPdptes(cpu)) throw new CpuFault(GP, 0);
  }
}

/** MOV to CR0 (and LMSW, CLTS through it). */
export function writeCr0(cpu: Cpu, lo: number, hi: number): void {
  if (hi !== 0 || (lo & ~CR0_DEFINED) !== 0) throw new CpuFault(GP, 0);
  const v = (lo | CR0_ET) >>> 0;
  if ((v & CR0_PG) !== 0 && (v & CR0_PE) === 0) throw new CpuFault(GP, 0);
  if ((v & CR0_NW) !== 0 && (v & CR0_CD) === 0) throw new CpuFault(GP, 0);
  const old = cpu.cr0 >>> 0;
  const pgOn = (v & CR0_PG) !== 0 && (old & CR0_PG) === 0;
  const pgOff = (v & CR0_PG) === 0 && (old & CR0_PG) !== 0;
  const lme = (cpu.efer & EFER_LME) !== 0;
  if (pgOn && lme) {
    // Activating IA-32e mode needs PAE, and not a 64-bit CS (SDM 10.8.5).
    if ((cpu.cr4Lo & CR4_PAE) === 0 || (cpu.segAttr[CS]! & ATTR_L) !== 0) throw new CpuFault(GP, 0);
  }
  // Leaving IA-32e mode is only possible from compatibility mode.
  if (pgOff && (cpu.efer & EFER_LMA) !== 0 && cpu.codeSize === 8) throw new CpuFault(GP, 0);
  if ((v & CR0_PE) === 0 && (cpu.efer & EFER_LMA) !== 0) throw new CpuFault(GP, 0);
  const oldEfer = cpu.efer;
  cpu.cr0 = v | 0;
  if (pgOn && lme) cpu.efer |= EFER_LMA;
  if (pgOff) cpu.efer &= ~EFER_LMA;
  try {
    if (((old ^ v) & (CR0_PG | CR0_CD | CR0_NW)) !== 0) reloadPdptes(cpu);
  } catch (e) {
    cpu.cr0 = old | 0;
    cpu.efer = oldEfer;
    throw e;
  }
  if (((old ^ v) & (CR0_PG | CR0_WP | CR0_PE)) !== 0) flushTlb(cpu, false);
  cpu.refreshMode();
}

/** MOV to CR3: reserved bits above MAXPHYADDR; flushes non-global TLB entries. */
export function writeCr3(cpu: Cpu, lo: number, hi: number): void {
  if ((cpu.efer & EFER_LMA) !== 0) {
    if ((hi >>> 0) >= 1 << (MAXPHYADDR - 32)) throw new CpuFault(GP, 0);
    cpu.cr3 = (hi >>> 0) * TWO32 + (lo >>> 0);
  } else {
    const old = cpu.cr3;
    cpu.cr3 = lo >>> 0;
    try {
      reloadPdptes(cpu);
    } catch (e) {
      cpu.cr3 = old;
      throw e;
    }
  }
  flushTlb(cpu, (cpu.cr4Lo & CR4_PGE) !== 0);
}

/** MOV to CR4: the implemented bits only; PAE stays set in IA-32e mode; FRED with the feature. */
export function writeCr4(cpu: Cpu, lo: number, hi: number): void {
  const fredBit = cpu.features.fred ? CR4HI_FRED : 0;
  if ((lo & ~CR4_DEFINED) !== 0 || (hi & ~fredBit) !== 0) throw new CpuFault(GP, 0);
  if ((cpu.efer & EFER_LMA) !== 0 && (lo & CR4_PAE) === 0) throw new CpuFault(GP, 0);
  const old = cpu.cr4Lo;
  const oldHi = cpu.cr4Hi;
  cpu.cr4Lo = lo;
  cpu.cr4Hi = hi;
  try {
    if (((old ^ lo) & (CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP)) !== 0) reloadPdptes(cpu);
  } catch (e) {
    cpu.cr4Lo = old;
    cpu.cr4Hi = oldHi;
    throw e;
  }
  flushTlb(cpu, false);
  cpu.refreshMode();
}

/** WRMSR EFER: SCE, LME, NXE; LMA is read-only; LME cannot change while paging is on. */
function writeEfer(cpu: Cpu, lo: number, hi: number): void {
  if (hi !== 0 || (lo & ~EFER_DEFINED) !== 0) throw new CpuFault(GP, 0);
  if ((cpu.cr0 & CR0_PG) !== 0 && ((lo ^ cpu.efer) & EFER_LME) !== 0) throw new CpuFault(GP, 0);
  cpu.efer = (lo & ~EFER_LMA) | (cpu.efer & EFER_LMA);
  flushTlb(cpu, false);
}

/** The PAT reset value; each of its 8 entries must be a valid memory type. */
const PAT_RESET: U64 = { lo: 0x00070406, hi: 0x00070406 };

/**
 * RDMSR: the MSRs this model implements (CPUID advertises their features). Unknown
 * indices raise #GP(0) (SDM Vol. 2B RDMSR).
 */
export function readMsr(cpu: Cpu, index: number): U64 {
  index >>>= 0;
  switch (index) {
    case MSR_IA32_TSC: {
      const t = cpu.tsc();
      return { lo: t % TWO32 | 0, hi: Math.floor(t / TWO32) | 0 };
    }
    case MSR_EFER:
      return { lo: cpu.efer, hi: 0 };
    case MSR_FS_BASE:
      return { lo: cpu.segBaseLo[FS]!, hi: cpu.segBaseHi[FS]! };
    case MSR_GS_BASE:
      return { lo: cpu.segBaseLo[GS]!, hi: cpu.segBaseHi[GS]! };
    case MSR_IA32_PAT:
      return cpu.msr.has(index) ? cpu.msr.get(index) : { ...PAT_RESET };
    case MSR_IA32_SYSENTER_CS: case MSR_IA32_SYSENTER_ESP: case MSR_IA32_SYSENTER_EIP:
    case MSR_STAR: case MSR_LSTAR: case MSR_CSTAR: case MSR_SYSCALL_MASK: case MSR_KERNEL_GS_BASE: case MSR_TSC_AUX:
      return cpu.msr.get(index);
    default:
      if (cpu.features.fred && index >= MSR_IA32_FRED_RSP0 && index <= MSR_IA32_FRED_CONFIG) return cpu.msr.get(index);
      throw new CpuFault(GP, 0);
  }
}

/** WRMSR with each MSR's checks (canonical addresses, reserved bits). */
export function writeMsr(cpu: Cpu, index: number, lo: number, hi: number): void {
  index >>>= 0;
  lo |= 0;
  hi |= 0;
  switch (index) {
    case MSR_IA32_TSC:
      cpu.tscOffset = (hi >>> 0) * TWO32 + (lo >>> 0) - cpu.steps;
      return;
    case MSR_EFER:
      writeEfer(cpu, lo, hi);
      return;
    case MSR_FS_BASE:
    case MSR_GS_BASE: {
      if (!canonical(hi)) throw new CpuFault(GP, 0);
      const seg = index === MSR_FS_BASE ? FS : GS;
      cpu.segBaseLo[seg] = lo;
      cpu.segBaseHi[seg] = hi;
      return;
    }
    case MSR_LSTAR: case MSR_CSTAR: case MSR_KERNEL_GS_BASE: case MSR_IA32_SYSENTER_ESP: case MSR_IA32_SYSENTER_EIP:
      if (!canonical(hi)) throw new CpuFault(GP, 0);
      break;
    case MSR_IA32_SYSENTER_CS:
    case MSR_STAR:
      break;
    case MSR_SYSCALL_MASK:
      // The upper half is reserved (SDM Vol. 4 Table 2-2: IA32_FMASK bits 31:0).
      if (hi !== 0) throw new CpuFault(GP, 0);
      break;
    case MSR_TSC_AUX:
      if (hi !== 0) throw new CpuFault(GP, 0);
      break;
    case MSR_IA32_PAT:
      for (let k = 0; k < 8; k++) {
        const t = ((k < 4 ? lo : hi) >>> (8 * (k & 3))) & 0xff;
        if (t === 2 || t === 3 || t > 7) throw new CpuFault(GP, 0);
      }
      break;
    default: {
      if (!cpu.features.fred || index < MSR_IA32_FRED_RSP0 || index > MSR_IA32_FRED_CONFIG) throw new CpuFault(GP, 0);
      if (index <= MSR_IA32_FRED_RSP3 || (index >= MSR_IA32_FRED_SSP1 && index <= MSR_IA32_FRED_SSP3)) {
        if (!canonical(hi)) throw new CpuFault(GP, 0);
      } else if (index === MSR_IA32_FRED_CONFIG) {
        // Bits 2, 5:4 and 11 are reserved; the entry page must be canonical.
        if ((lo & 0x834) !== 0 || !canonical(hi)) throw new CpuFault(GP, 0);
      }
      // IA32_FRED_STKLVLS: two bits per vector 0..31, all meaningful.
      break;
    }
  }
  cpu.msr.set(index, lo, hi);
}
