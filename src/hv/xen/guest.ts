// How the hypervisor model sees the guest: its execution mode (Xen hvm_guest_x86_mode(),
// KVM is_long_mode() / is_64_bit_mode()), and copies to and from guest memory as Xen's
// hvm_copy_{to,from}_guest_linear() and KVM's kvm_read/write_guest() do them.

import type { Cpu } from "../../cpu/cpu.js";
import { CpuFault } from "../../cpu/exceptions.js";
import { VM } from "../../cpu/flags.js";
import { ACC_READ, ACC_WRITE, translate } from "../../cpu/mmu.js";
import { CR0_PE, EFER_LMA } from "../../cpu/state.js";

export const PAGE_SIZE = 4096;
const TWO32 = 4294967296;

/** xen/arch/x86/include/asm/hvm/hvm.h: the values of hvm_guest_x86_mode(). */
export const X86_MODE_REAL = 0;
export const X86_MODE_VM86 = 1;
export const X86_MODE_16BIT = 2;
export const X86_MODE_32BIT = 4;
export const X86_MODE_64BIT = 8;
export type X86Mode = 0 | 1 | 2 | 4 | 8;

const MODE_NAMES: Record<X86Mode, string> = { 0: "real", 1: "vm86", 2: "16bit", 4: "32bit", 8: "64bit" };

export function x86ModeName(m: X86Mode): string {
  return MODE_NAMES[m];
}

/** Xen vmx_guest_x86_mode() / svm_guest_x86_mode(): CR0.PE, EFLAGS.VM, then CS.L (in long mode) and CS.D. */
export function hvmGuestX86Mode(cpu: Cpu): X86Mode {
  if ((cpu.cr0 & CR0_PE) === 0) return X86_MODE_REAL;
  if ((cpu.flagsOther & VM) !== 0) return X86_MODE_VM86;
  if (cpu.codeSize === 8) return X86_MODE_64BIT;
  return cpu.codeSize === 4 ? X86_MODE_32BIT : X86_MODE_16BIT;
}

/** KVM is_long_mode(): EFER.LMA. */
export function isLongMode(cpu: Cpu): boolean {
  return (cpu.efer & EFER_LMA) !== 0;
}

/** KVM is_64_bit_hypercall() = guest_state_protected || is_64_bit_mode(): LMA and CS.L (no protected guests here). */
export function is64BitHypercall(cpu: Cpu): boolean {
  return isLongMode(cpu) && cpu.codeSize === 8;
}

/** A 64-bit register value as a linear address number (signed high half, as Cpu.linear() forms it). */
export function linearOf(lo: number, hi: number): number {
  return (hi | 0) * TWO32 + (lo >>> 0);
}

/**
 * The guest-physical address of linear `lin`, walking the guest's page tables as a
 * supervisor access; null where the walk faults (Xen's HVMTRANS_bad_linear_to_gfn, KVM's
 * kvm_gva_to_gpa failure).
 */
export function linearToPhys(cpu: Cpu, lin: number, write: boolean): number | null {
  if (isLongMode(cpu)) {
    const hi = Math.floor(lin / TWO32) | 0;
    if (((hi << 16) >> 16) !== hi) return null; // not canonical
  } else {
    lin = ((lin % TWO32) + TWO32) % TWO32;
  }
  try {
    const pa = translate(cpu, lin, write ? ACC_WRITE : ACC_READ, false, false);
    return pa + 1 <= cpu.mem.bytes ? pa : null;
  } catch (e) {
    if (e instanceof CpuFault) return null;
    throw e;
  }
}

/** True when [pa, pa+len) is guest RAM. */
export function isRam(cpu: Cpu, pa: number, len: number): boolean {
  return pa >= 0 && pa + len <= cpu.mem.bytes;
}

/** copy_from_guest for HVM: page by page through the guest's paging; null on any fault. */
export function copyFromGuest(cpu: Cpu, lin: number, len: number): Uint8Array | null {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; ) {
    const pa = linearToPhys(cpu, lin + i, false);
    if (pa === null) return null;
    const n = Math.min(len - i, PAGE_SIZE - (pa % PAGE_SIZE));
    if (!isRam(cpu, pa, n)) return null;
    out.set(cpu.mem.readBytes(pa, n), i);
    i += n;
  }
  return out;
}

/**
 * copy_to_guest for HVM (Xen __hvm_copy()): each page translated on its own, so an area
 * may cross pages; the copy stops at the first page that fails (earlier pages stay written).
 */
export function copyToGuest(cpu: Cpu, lin: number, data: Uint8Array): boolean {
  for (let i = 0; i < data.length; ) {
    const pa = linearToPhys(cpu, lin + i, true);
    if (pa === null) return false;
    const n = Math.min(data.length - i, PAGE_SIZE - (pa % PAGE_SIZE));
    if (!isRam(cpu, pa, n)) return false;
    cpu.mem.writeBytes(pa, data.subarray(i, i + n));
    i += n;
  }
  return true;
}

// Little-endian fields of a byte buffer (argument structs and the areas the model writes).

export function getU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

export function getU16(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}

/** A u64 field as halves (lo, hi unsigned). */
export function getU64(b: Uint8Array, off: number): { lo: number; hi: number } {
  return { lo: getU32(b, off), hi: getU32(b, off + 4) };
}

export function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/** A non-negative integer (< 2^53) as a u64 field. */
export function putU64(b: Uint8Array, off: number, v: number): void {
  putU32(b, off, v % TWO32);
  putU32(b, off + 4, Math.floor(v / TWO32));
}

/** The value of a u64 (halves) as a number, or NaN when it needs more than 53 bits. */
export function u64Number(v: { lo: number; hi: number }): number {
  const hi = v.hi >>> 0;
  return hi >= 1 << 21 ? NaN : hi * TWO32 + (v.lo >>> 0);
}
