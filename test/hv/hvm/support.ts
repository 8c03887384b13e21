// Guests for the HVM model's tests: a machine booted into a mode, a XenHvm of a preset (or
// a policy) attached, and a tiny assembler for the few instructions the guests need.

import { Machine } from "../../../src/case/machine.js";
import type { Mode } from "../../../src/case/case.js";
import type { Exit } from "../../../src/cpu/cpu.js";
import { RSP } from "../../../src/cpu/state.js";
import { HVM_PRESETS, type HvmPolicy, type HvmPresetName } from "../../../src/hv/policy.js";
import { XenHvm } from "../../../src/hv/xen/hvm.js";

export const RAM = 16 * 1024 * 1024;
export const CODE = 0x10000;
export const ARGS = 0x20000;
export const SHINFO_GFN = 0x30;
export const SHINFO = SHINFO_GFN * 4096;
export const HCALL_GFN = 0x40;
export const HCALL_PAGE = HCALL_GFN * 4096;
export const RES = 0x50000;
export const STACK = 0x9000;

export const DOMID_SELF = 0x7ff0;
export const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7, R8 = 8, R10 = 10;

export interface Guest {
  m: Machine;
  hv: XenHvm;
}

export function guest(mode: Mode, preset: HvmPresetName | HvmPolicy, vendor: "intel" | "amd" = "intel"): Guest {
  const m = new Machine(RAM, { vendor, fred: false });
  m.boot(mode);
  m.cpu.lo[RSP] = STACK;
  const hv = new XenHvm(typeof preset === "string" ? HVM_PRESETS[preset] : preset).attach(m.cpu);
  m.cpu.decisions = [];
  return { m, hv };
}

export function run(g: Guest, code: Uint8Array | number[], steps = 10_000): Exit {
  const bytes = Uint8Array.from(code);
  g.m.mem.writeBytes(CODE, bytes);
  g.m.cpu.rip = CODE;
  g.m.cpu.stopRip = CODE + bytes.length;
  g.m.cpu.stepLimit = steps;
  return g.m.cpu.run();
}

export function u32(g: Guest, pa: number): number {
  return g.m.mem.read32(pa) >>> 0;
}

/** Little-endian bytes of a struct, built field by field. */
export class Struct {
  readonly b: Uint8Array;
  constructor(size: number) {
    this.b = new Uint8Array(size);
  }
  u8(off: number, v: number): this {
    this.b[off] = v;
    return this;
  }
  u16(off: number, v: number): this {
    this.b[off] = v & 0xff;
    this.b[off + 1] = (v >>> 8) & 0xff;
    return this;
  }
  u32(off: number, v: number): this {
    for (let k = 0; k < 4; k++) this.b[off + k] = (v >>> (8 * k)) & 0xff;
    return this;
  }
  u64(off: number, lo: number, hi = 0): this {
    return this.u32(off, lo).u32(off + 4, hi);
  }
}

/** A few instructions, encoded for 32-bit (prot32 / compat32) or 64-bit code. */
export class Asm {
  readonly out: number[] = [];
  private results = 0;
  constructor(readonly bits: 32 | 64, readonly vendor: "intel" | "amd" = "intel") {}

  /** mov r32, imm32 (zero-extends in 64-bit mode). */
  mov(reg: number, v: number): this {
    if (reg >= 8) this.out.push(0x41);
    this.out.push(0xb8 + (reg & 7));
    for (let k = 0; k < 4; k++) this.out.push((v >>> (8 * k)) & 0xff);
    return this;
  }

  wrmsr(msr: number, lo: number, hi = 0): this {
    return this.mov(ECX, msr).mov(EAX, lo).mov(EDX, hi).raw(0x0f, 0x30);
  }

  raw(...b: number[]): this {
    this.out.push(...b);
    return this;
  }

  vmcall(): this {
    return this.raw(0x0f, 0x01, this.vendor === "intel" ? 0xc1 : 0xd9);
  }

  /** mov [addr], eax */
  storeEax(addr: number): this {
    if (this.bits === 64) this.out.push(0x89, 0x04, 0x25);
    else this.out.push(0x89, 0x05);
    for (let k = 0; k < 4; k++) this.out.push((addr >>> (8 * k)) & 0xff);
    return this;
  }

  /** mov eax, [addr] */
  loadEax(addr: number): this {
    if (this.bits === 64) this.out.push(0x8b, 0x04, 0x25);
    else this.out.push(0x8b, 0x05);
    for (let k = 0; k < 4; k++) this.out.push((addr >>> (8 * k)) & 0xff);
    return this;
  }

  /**
   * A hypercall with the ABI of this code's width (rdi rsi rdx r10 r8 / ebx ecx edx esi edi),
   * through VMCALL directly; eax is then stored at RES + 4 * (the call's index).
   */
  hypercall(nr: number, ...args: number[]): this {
    const regs = this.bits === 64 ? [EDI, ESI, EDX, R10, R8] : [EBX, ECX, EDX, ESI, EDI];
    args.forEach((a, i) => this.mov(regs[i]!, a));
    this.mov(EAX, nr).vmcall();
    return this.storeEax(RES + 4 * this.results++);
  }

  /** The same through the hypercall page: call HCALL_PAGE + 32 * nr. */
  hypercallViaPage(nr: number, ...args: number[]): this {
    const regs = this.bits === 64 ? [EDI, ESI, EDX, R10, R8] : [EBX, ECX, EDX, ESI, EDI];
    args.forEach((a, i) => this.mov(regs[i]!, a));
    const target = HCALL_PAGE + 32 * nr;
    const next = CODE + this.out.length + 5;
    const rel = (target - next) | 0;
    this.out.push(0xe8);
    for (let k = 0; k < 4; k++) this.out.push((rel >>> (8 * k)) & 0xff);
    return this.storeEax(RES + 4 * this.results++);
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** The i-th stored hypercall result as a signed 32-bit number. */
export function result(g: Guest, i: number): number {
  return g.m.mem.read32(RES + 4 * i) | 0;
}
