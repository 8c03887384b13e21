// Model-specific registers: the indices the core knows and a store for their values.
// RDMSR/WRMSR semantics (which MSRs exist, which bits are reserved, side effects such
// as EFER and the FS/GS bases) belong to the instructions that use them; this store only
// holds values, as halves.

import type { U64 } from "./state.js";

export const MSR_IA32_TSC = 0x10;
export const MSR_IA32_APIC_BASE = 0x1b;
export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;
export const MSR_IA32_PAT = 0x277;
export const MSR_IA32_FRED_RSP0 = 0x1cc;
export const MSR_IA32_FRED_RSP1 = 0x1cd;
export const MSR_IA32_FRED_RSP2 = 0x1ce;
export const MSR_IA32_FRED_RSP3 = 0x1cf;
export const MSR_IA32_FRED_STKLVLS = 0x1d0;
export const MSR_IA32_FRED_SSP1 = 0x1d1;
export const MSR_IA32_FRED_SSP2 = 0x1d2;
export const MSR_IA32_FRED_SSP3 = 0x1d3;
export const MSR_IA32_FRED_CONFIG = 0x1d4;
export const MSR_EFER = 0xc0000080;
export const MSR_STAR = 0xc0000081;
export const MSR_LSTAR = 0xc0000082;
export const MSR_CSTAR = 0xc0000083;
export const MSR_SYSCALL_MASK = 0xc0000084;
export const MSR_FS_BASE = 0xc0000100;
export const MSR_GS_BASE = 0xc0000101;
export const MSR_KERNEL_GS_BASE = 0xc0000102;
export const MSR_TSC_AUX = 0xc0000103;

export class MsrStore {
  private readonly values = new Map<number, U64>();

  has(index: number): boolean {
    return this.values.has(index >>> 0);
  }

  get(index: number): U64 {
    const v = this.values.get(index >>> 0);
    return v === undefined ? { lo: 0, hi: 0 } : { lo: v.lo, hi: v.hi };
  }

  set(index: number, lo: number, hi: number): void {
    this.values.set(index >>> 0, { lo: lo | 0, hi: hi | 0 });
  }

  copyTo(dst: MsrStore): void {
    dst.values.clear();
    for (const [k, v] of this.values) dst.values.set(k, { lo: v.lo, hi: v.hi });
  }

  /** Indices in ascending order (deterministic iteration for reports). */
  indices(): number[] {
    return [...this.values.keys()].sort((a, b) => a - b);
  }
}
