// PV64 guests for the tests: a machine with a FRED-capable CPU, a XenPv64 of a preset (or a
// policy) attached, and a small 64-bit assembler with labels for the guest kernel and user code.

import { Machine } from "../../../src/case/machine.js";
import type { Exit } from "../../../src/cpu/cpu.js";
import { RSP } from "../../../src/cpu/state.js";
import { PV64_PRESETS, type Pv64Policy, type Pv64PresetName } from "../../../src/hv/policy.js";
import { offsetOf, sizeOf } from "../../../src/hv/xen/layout.js";
import { pv64Layout } from "../../../src/hv/xen/pv64/guest.js";
import { XenPv64, type Pv64Options } from "../../../src/hv/xen/pv64/pv64.js";

export const RAM = 16 * 1024 * 1024;
export const LAYOUT = pv64Layout(RAM);
export const HCALL = LAYOUT.hypercallPage;
export const CODE = 0x10000;
export const ARGS = 0x20000;
export const RES = 0x30000;
export const KSTACK = 0x9000;
export const USTACK = 0x7000;

export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP_ = 4, RBP = 5, RSI = 6, RDI = 7, R8 = 8, R10 = 10, R11 = 11;

export interface Guest {
  m: Machine;
  hv: XenPv64;
}

export function guest(preset: Pv64PresetName | Pv64Policy, options: Pv64Options = {}, vendor: "intel" | "amd" = "intel"): Guest {
  const m = new Machine(RAM, { vendor, fred: true });
  m.boot("long64");
  m.cpu.lo[RSP] = KSTACK;
  m.cpu.rip = CODE;
  const hv = new XenPv64(typeof preset === "string" ? PV64_PRESETS[preset] : preset, options).attach(m.cpu);
  m.cpu.decisions = [];
  return { m, hv };
}

/** Load `a` at its base and run from CODE until `end` (a label) or the step limit. */
export function run(g: Guest, a: Asm, end = "end", steps = 10_000): Exit {
  const bytes = a.bytes();
  g.m.mem.writeBytes(a.base, bytes);
  g.m.cpu.rip = CODE;
  g.m.cpu.stopRip = a.label(end);
  g.m.cpu.stepLimit = steps;
  return g.m.cpu.run();
}

export function u64(g: Guest, pa: number): bigint {
  return (BigInt(g.m.mem.read32(pa + 4) >>> 0) << 32n) | BigInt(g.m.mem.read32(pa) >>> 0);
}

export function reg(g: Guest, r: number): bigint {
  return (BigInt(g.m.cpu.hi[r]! >>> 0) << 32n) | BigInt(g.m.cpu.lo[r]! >>> 0);
}

export function put64(g: Guest, pa: number, v: bigint): void {
  g.m.mem.write32(pa, Number(v & 0xffffffffn) | 0);
  g.m.mem.write32(pa + 4, Number(v >> 32n) | 0);
}

/** struct callback_register at `at`. */
export function callbackRegister(g: Guest, at: number, type: number, flags: number, address: number): void {
  g.m.mem.writeBytes(at, new Uint8Array(sizeOf("x86_64", "callback_register")));
  g.m.mem.writeBytes(at + offsetOf("x86_64", "callback_register", "type"), [type & 0xff, type >>> 8]);
  g.m.mem.writeBytes(at + offsetOf("x86_64", "callback_register", "flags"), [flags & 0xff, flags >>> 8]);
  put64(g, at + offsetOf("x86_64", "callback_register", "address"), BigInt(address));
}

/** A trap_info array at `at` for set_trap_table: [vector, flags (DPL | 4 = mask events), address], then the terminator. */
export function trapTable(g: Guest, at: number, entries: [number, number, number][]): void {
  const size = sizeOf("x86_64", "trap_info");
  g.m.mem.writeBytes(at, new Uint8Array(size * (entries.length + 1)));
  entries.forEach(([vector, flags, address], k) => {
    g.m.mem.writeBytes(at + k * size + offsetOf("x86_64", "trap_info", "vector"), [vector, flags]);
    g.m.mem.writeBytes(at + k * size + offsetOf("x86_64", "trap_info", "cs"), [0x33, 0xe0]);
    put64(g, at + k * size + offsetOf("x86_64", "trap_info", "address"), BigInt(address));
  });
}

/** A 64-bit assembler for the few instructions the guests use; labels resolve at bytes(). */
export class Asm {
  private readonly out: number[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: { at: number; label: string; next: number }[] = [];
  constructor(readonly base = CODE) {}

  get here(): number {
    return this.base + this.out.length;
  }

  at(name: string): this {
    this.labels.set(name, this.here);
    return this;
  }

  /** Pad with NOPs up to guest address `addr`. */
  org(addr: number): this {
    while (this.here < addr) this.out.push(0x90);
    return this;
  }

  label(name: string): number {
    const v = this.labels.get(name);
    if (v === undefined) throw new Error(`no label ${name}`);
    return v;
  }

  raw(...b: number[]): this {
    this.out.push(...b);
    return this;
  }

  private imm32(v: number): void {
    for (let k = 0; k < 4; k++) this.out.push((v >>> (8 * k)) & 0xff);
  }

  /** mov r64, imm64 */
  mov(r: number, v: bigint | number): this {
    const x = BigInt.asUintN(64, BigInt(v));
    this.out.push(0x48 | (r >= 8 ? 1 : 0), 0xb8 + (r & 7));
    for (let k = 0; k < 8; k++) this.out.push(Number((x >> BigInt(8 * k)) & 0xffn));
    return this;
  }

  /** mov r64, label address */
  movLabel(r: number, name: string): this {
    this.out.push(0x48 | (r >= 8 ? 1 : 0), 0xb8 + (r & 7));
    this.fixups.push({ at: this.out.length, label: name, next: -1 });
    for (let k = 0; k < 8; k++) this.out.push(0);
    return this;
  }

  push(r: number): this {
    if (r >= 8) this.out.push(0x41);
    this.out.push(0x50 + (r & 7));
    return this;
  }

  pop(r: number): this {
    if (r >= 8) this.out.push(0x41);
    this.out.push(0x58 + (r & 7));
    return this;
  }

  /** push imm32 (sign-extended). */
  pushImm(v: number): this {
    this.out.push(0x68);
    this.imm32(v);
    return this;
  }

  /** push the address of a label (through RAX; RAX is clobbered). */
  pushLabel(name: string): this {
    return this.movLabel(RAX, name).push(RAX);
  }

  /** mov [abs32], r64 */
  store(addr: number, r: number): this {
    this.out.push(0x48 | (r >= 8 ? 4 : 0), 0x89, ((r & 7) << 3) | 4, 0x25);
    this.imm32(addr);
    return this;
  }

  /** mov r64, [rsp + disp8] */
  loadRsp(r: number, disp: number): this {
    this.out.push(0x48 | (r >= 8 ? 4 : 0), 0x8b, 0x44 | ((r & 7) << 3), 0x24, disp & 0xff);
    return this;
  }

  /** mov [rsp + disp8], r64 */
  storeRsp(disp: number, r: number): this {
    this.out.push(0x48 | (r >= 8 ? 4 : 0), 0x89, 0x44 | ((r & 7) << 3), 0x24, disp & 0xff);
    return this;
  }

  syscall(): this {
    return this.raw(0x0f, 0x05);
  }

  stc(): this {
    return this.raw(0xf9);
  }

  /** jmp rel32 to an absolute address. */
  jmpAbs(target: number): this {
    this.out.push(0xe9);
    const rel = (target - (this.here + 4)) | 0;
    this.imm32(rel);
    return this;
  }

  /** call rel32 to an absolute address. */
  callAbs(target: number): this {
    this.out.push(0xe8);
    const rel = (target - (this.here + 4)) | 0;
    this.imm32(rel);
    return this;
  }

  jmp(name: string): this {
    this.out.push(0xe9);
    this.fixups.push({ at: this.out.length, label: name, next: this.here + 4 });
    this.imm32(0);
    return this;
  }

  /** A hypercall through the hypercall page (the stub keeps RCX/R11). */
  hypercall(nr: number, ...args: (number | bigint)[]): this {
    const regs = [RDI, RSI, RDX, R10, R8];
    args.forEach((a, i) => this.mov(regs[i]!, a));
    return this.callAbs(HCALL + 32 * nr);
  }

  bytes(): Uint8Array {
    const b = [...this.out];
    for (const f of this.fixups) {
      const target = this.label(f.label);
      if (f.next < 0) {
        const x = BigInt.asUintN(64, BigInt(target));
        for (let k = 0; k < 8; k++) b[f.at + k] = Number((x >> BigInt(8 * k)) & 0xffn);
      } else {
        const rel = (target - f.next) | 0;
        for (let k = 0; k < 4; k++) b[f.at + k] = (rel >>> (8 * k)) & 0xff;
      }
    }
    return Uint8Array.from(b);
  }
}

