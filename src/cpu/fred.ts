// FRED: event delivery with the 64-byte frame, stack levels, ERETU/ERETS (the FRED
// specification as Bochs' FRED_EventDelivery/ERETU/ERETS and Linux/Xen implement it;
// facts and sources in shared/spec/fred-syscall-pv.md section 2).

import type { Cpu } from "./cpu.js";
import { rflagsImage, type Event } from "./events.js";
import { CpuFault, DF, GP, UD } from "./exceptions.js";
import { IF, TF } from "./flags.js";
import {
  MSR_IA32_FRED_CONFIG, MSR_IA32_FRED_RSP0, MSR_IA32_FRED_STKLVLS, MSR_KERNEL_GS_BASE, MSR_STAR,
} from "./msr.js";
import { fetchDescriptor, flatSegment, loadCodeSegment, loadHidden, selectorError } from "./segment.js";
import { ATTR_DB, ATTR_L, ATTR_P, ATTR_S, CR4HI_FRED, CS, EFER_LMA, GS, RSP, SS } from "./state.js";

/** FRED event types (SS word bits 51:48). */
export type FredEventType = 0 | 2 | 3 | 4 | 5 | 6 | 7;
export const FRED_OTHER = 7;
export const FRED_SYSCALL = 1;
export const FRED_SYSENTER = 2;

const CANON = 140737488355328;
const TWO32 = 4294967296;

function canonical(a: number): boolean {
  return a < CANON && a >= -CANON;
}

function asAddress(lo: number, hi: number): number {
  return hi * TWO32 + (lo >>> 0);
}

export function fredEnabled(cpu: Cpu): boolean {
  return (cpu.efer & EFER_LMA) !== 0 && (cpu.cr4Hi & CR4HI_FRED) !== 0;
}

/** The current stack level, kept in IA32_FRED_CONFIG[1:0] (as Bochs keeps it). */
function csl(cpu: Cpu): number {
  return cpu.msr.get(MSR_IA32_FRED_CONFIG).lo & 3;
}

function setCsl(cpu: Cpu, level: number): void {
  const c = cpu.msr.get(MSR_IA32_FRED_CONFIG);
  cpu.msr.set(MSR_IA32_FRED_CONFIG, (c.lo & ~3) | level, c.hi);
}

/** SWAPGS: exchange GS.base with IA32_KERNEL_GS_BASE. */
export function swapGs(cpu: Cpu): void {
  const k = cpu.msr.get(MSR_KERNEL_GS_BASE);
  cpu.msr.set(MSR_KERNEL_GS_BASE, cpu.segBaseLo[GS]!, cpu.segBaseHi[GS]!);
  cpu.segBaseLo[GS] = k.lo;
  cpu.segBaseHi[GS] = k.hi;
}

/**
 * Deliver an event through FRED (Bochs FRED_EventDelivery): entry at CONFIG page (+256
 * from ring 0), stack level and RSP, the 64-byte frame, flat CS/SS from STAR and an
 * implicit SWAPGS when coming from ring 3, RFLAGS = 2. GPRs are not touched.
 */
export function fredDeliver(cpu: Cpu, ev: Event, type: FredEventType): void {
  const config = cpu.msr.get(MSR_IA32_FRED_CONFIG);
  const cpl = cpu.cpl;
  const entry = asAddress(config.lo & ~0xfff, config.hi) + (cpl === 0 ? 256 : 0);
  if (!canonical(entry)) throw new CpuFault(GP, 0);

  // Stack level (FRED spec / Bochs): from ring 3 level 0 unless nested or #DF.
  const oldCsl = cpl === 3 ? 0 : csl(cpu);
  const isDf = type === 3 && ev.vector === DF;
  let level = 0;
  if (cpl !== 3 || ev.nested === true || isDf) {
    if (type === 0) level = (config.lo >>> 9) & 3;
    else if ((type === 2 || type === 3 || type === 5 || type === 6) && ev.vector < 32) {
      const lv = cpu.msr.get(MSR_IA32_FRED_STKLVLS);
      level = ev.vector < 16 ? (lv.lo >>> (2 * ev.vector)) & 3 : (lv.hi >>> (2 * (ev.vector - 16))) & 3;
    }
  }
  const newCsl = Math.max(level, oldCsl);
  let rspLo: number;
  let rspHi: number;
  if (cpl === 3 || newCsl > oldCsl) {
    const v = cpu.msr.get(MSR_IA32_FRED_RSP0 + newCsl);
    rspLo = v.lo;
    rspHi = v.hi;
  } else {
    // Same level: below the red zone, 64-byte aligned.
    const red = ((config.lo >>> 6) & 7) * 64;
    const s = (cpu.lo[RSP]! >>> 0) - red;
    rspHi = (cpu.hi[RSP]! + Math.floor(s / TWO32)) | 0;
    rspLo = (s | 0) & ~0x3f;
  }

  const oldRip = ev.returnRip;
  const oldFlags = rflagsImage(cpu, ev);
  const oldRspLo = cpu.lo[RSP]!;
  const oldRspHi = cpu.hi[RSP]!;
  const csWord = cpu.segSel[CS]! | (oldCsl << 16);
  const long64 = cpu.codeSize === 8 ? 1 : 0;
  const software = ev.software === true ? 1 : 0;
  const nmi = type === 2 ? 1 : 0;
  const ssLo = cpu.segSel[SS]! | (cpu.stiBlocking() ? 1 << 16 : 0) | (software << 17) | (nmi << 18);
  const ssHi = ev.vector | (type << 16) | (long64 << 25) | (ev.nested === true && !isDf ? 1 << 26 : 0) | ((ev.insnLen ?? 0) << 28);

  // The new privilege and stack, then the frame (written at CPL 0).
  if (cpl === 3) {
    const star = cpu.msr.get(MSR_STAR).hi & 0xffff;
    loadCodeSegment(cpu, star & ~3, flatSegment(true, 0, true), 0);
    loadHidden(cpu, SS, (star & ~3) + 8, flatSegment(false, 0, true));
    swapGs(cpu);
  }
  const frame = asAddress(rspLo, rspHi) - 64;
  if (!canonical(frame)) throw new CpuFault(GP, 0);
  const words: [number, number][] = [
    [ev.errorCode ?? 0, 0],
    [oldRip % TWO32 | 0, Math.floor(oldRip / TWO32) | 0],
    [csWord, 0],
    [oldFlags, 0],
    [oldRspLo, oldRspHi],
    [ssLo, ssHi],
    [ev.data % TWO32 | 0, Math.floor(ev.data / TWO32) | 0],
    [0, 0],
  ];
  cpu.probeWrite(frame, 64);
  words.forEach(([lo, hi], k) => cpu.wr64(frame + 8 * k, lo, hi));
  cpu.lo[RSP] = frame % TWO32 | 0;
  cpu.hi[RSP] = Math.floor(frame / TWO32) | 0;
  cpu.setRflags(2);
  cpu.rip = entry;
  setCsl(cpu, newCsl);
  cpu.refreshMode();
}

/** Pop the five FRED return words (after skipping the error code) without committing. */
function popFrame(cpu: Cpu): { rip: number; csLo: number; csHi: number; flags: number; flagsHi: number; rspLo: number; rspHi: number; ssLo: number } {
  const at = asAddress(cpu.lo[RSP]!, cpu.hi[RSP]!) + 8;
  const q = (k: number) => {
    const lo = cpu.rd64(at + 8 * k);
    return [lo, cpu.rhi] as const;
  };
  const [ripLo, ripHi] = q(0);
  const [csLo, csHi] = q(1);
  const [flags, flagsHi] = q(2);
  const [rspLo, rspHi] = q(3);
  const [ssLo] = q(4);
  return { rip: asAddress(ripLo, ripHi), csLo, csHi, flags, flagsHi, rspLo, rspHi, ssLo };
}

function eretCommon(cpu: Cpu): void {
  if (!fredEnabled(cpu) || cpu.cpl !== 0 || cpu.codeSize !== 8) throw new CpuFault(UD);
}

/** ERETS (F2 0F 01 CA): return to ring 0 (Bochs BX_CPU_C::ERETS). */
export function erets(cpu: Cpu): void {
  eretCommon(cpu);
  const f = popFrame(cpu);
  // RFLAGS reserved bits, VM, and bit 1 (mask 0xFFFFFFFFFFC2802A must give 2).
  const badFlags = f.flagsHi !== 0 || (f.flags & 0xffc2802a) !== 2;
  if (!canonical(f.rip) || (f.csLo & ~0x70000) !== cpu.segSel[CS]! || f.csHi !== 0 || badFlags || (f.ssLo & ~0x70000) !== cpu.segSel[SS]!) {
    throw new CpuFault(GP, 0);
  }
  setCsl(cpu, Math.min(csl(cpu), (f.csLo >>> 16) & 3));
  cpu.rip = f.rip;
  cpu.lo[RSP] = f.rspLo;
  cpu.hi[RSP] = f.rspHi;
  cpu.setRflags(f.flags);
  afterEret(cpu, f.ssLo);
}

/** ERETU (F3 0F 01 CA): return to ring 3, implicit SWAPGS (Bochs BX_CPU_C::ERETU). */
export function eretu(cpu: Cpu): void {
  eretCommon(cpu);
  const f = popFrame(cpu);
  const badFlags = f.flagsHi !== 0 || (f.flags & 0xffc2b02a) !== 2;
  const cs = f.csLo & 0xffff;
  const ss = f.ssLo & 0xffff;
  if (csl(cpu) !== 0 || !canonical(f.rip) || (f.csLo >>> 16) !== 0 || f.csHi !== 0 || (cs & 3) !== 3 || badFlags || (f.ssLo >>> 19) !== 0 || (ss & 3) !== 3) {
    throw new CpuFault(GP, 0);
  }
  const star = (cpu.msr.get(MSR_STAR).hi >>> 16) & 0xffff;
  let ripLo = f.rip;
  let rspLo = f.rspLo;
  let rspHi = f.rspHi;
  if (cs === ((star + 16) | 3) && ss === ((star + 8) | 3)) {
    loadCodeSegment(cpu, cs, flatSegment(true, 3, true), 3);
    loadHidden(cpu, SS, ss, flatSegment(false, 3, true));
  } else if (cs === (star | 3) && ss === ((star + 8) | 3)) {
    loadCodeSegment(cpu, cs, flatSegment(true, 3, false), 3);
    loadHidden(cpu, SS, ss, flatSegment(false, 3, true));
  } else {
    // Descriptors with IRET-style checks.
    const d = fetchDescriptor(cpu, cs);
    if ((d.attr & (ATTR_S | 8)) !== (ATTR_S | 8) || d.dpl !== 3) throw new CpuFault(GP, selectorError(cs));
    if ((d.attr & ATTR_P) === 0) throw new CpuFault(GP, selectorError(cs));
    const sd = fetchDescriptor(cpu, ss);
    if ((sd.attr & (ATTR_S | 0xa)) !== (ATTR_S | 2) || sd.dpl !== 3 || (sd.attr & ATTR_P) === 0) throw new CpuFault(GP, selectorError(ss));
    loadCodeSegment(cpu, cs, d, 3);
    loadHidden(cpu, SS, ss, sd);
  }
  const compat = (cpu.segAttr[CS]! & ATTR_L) === 0;
  if (compat) {
    ripLo = f.rip % TWO32;
    if (ripLo < 0) ripLo += TWO32;
    rspHi = 0;
    void ATTR_DB;
  }
  cpu.rip = ripLo;
  cpu.lo[RSP] = rspLo;
  cpu.hi[RSP] = rspHi;
  cpu.setRflags(f.flags);
  swapGs(cpu);
  cpu.refreshMode();
  afterEret(cpu, f.ssLo);
}

/** SS[17] with TF pends a single-step #DB; SS[16] re-establishes STI blocking. */
function afterEret(cpu: Cpu, ssLo: number): void {
  if ((ssLo & (1 << 17)) !== 0 && (cpu.flagsOther & TF) !== 0) cpu.pendSingleStep();
  if ((ssLo & (1 << 16)) !== 0 && (cpu.flagsOther & IF) !== 0) cpu.setInterruptShadow();
}

/** CR4.FRED may be set only in IA-32e mode with the feature (checked by MOV CR4). */
export function fredAvailable(cpu: Cpu): boolean {
  return cpu.features.fred;
}

void CR4HI_FRED;
