// One hypercall in progress: its width, its argument registers, and copies of its argument
// structs in the layout the width selects (Xen's compat translation is chosen per call from
// the mode at the call, curr->hcall_compat; spec xen-hvm.md §4).

import type { Cpu } from "../../cpu/cpu.js";
import type { U64 } from "../../cpu/state.js";
import { copyFromGuest, copyToGuest, linearOf } from "./guest.js";
import type { XenHvm } from "./hvm.js";
import { sizeOf, type Abi } from "./layout.js";

export interface Call {
  readonly hv: XenHvm;
  readonly cpu: Cpu;
  /** The 64-bit register ABI (rdi rsi rdx r10 r8); otherwise ebx ecx edx esi edi. */
  readonly wide: boolean;
  /** Argument struct layout: x86_64 for a 64-bit call, x86_32 (compat) otherwise. */
  readonly abi: Abi;
  /** The five argument registers (high halves 0 for a 32-bit call). */
  readonly args: readonly U64[];
}

/** Argument i as `unsigned int` / `int` (hypercall-defs.c truncates to the declared type). */
export function argU32(c: Call, i: number): number {
  return c.args[i]!.lo >>> 0;
}

/** Argument i as a guest pointer (a linear address). */
export function argPtr(c: Call, i: number): number {
  const a = c.args[i]!;
  return c.wide ? linearOf(a.lo, a.hi) : a.lo >>> 0;
}

/** copy_from_guest of struct `name` (the call's layout) at pointer argument i; null = -EFAULT. */
export function readArg(c: Call, i: number, name: string): Uint8Array | null {
  return copyFromGuest(c.cpu, argPtr(c, i), sizeOf(c.abi, name));
}

/** copy_to_guest of a struct to pointer argument i; false = -EFAULT. */
export function writeArg(c: Call, i: number, data: Uint8Array): boolean {
  return copyToGuest(c.cpu, argPtr(c, i), data);
}
