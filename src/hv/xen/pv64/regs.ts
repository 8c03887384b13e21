// struct cpu_user_regs as Xen holds it on its stack while it runs for the guest (Xen
// asm/cpu-user-regs.h), and the two moves between it and the processor: SAVE_ALL /
// PUSH_AND_CLEAR_GPRS on entry and POP_GPRS on exit. The hardware part of the frame
// (error_code/entry_vector .. ss, and fred_info on a FRED host) also lives in host memory at
// Pv64Layout.eframe, where IRETQ and ERETU read it.

import type { Cpu } from "../../../cpu/cpu.js";
import { RSP } from "../../../cpu/state.js";
import { hex64 } from "../../../case/hex.js";

const M64 = (1n << 64n) - 1n;

/** TRAP_syscall (asm/processor.h): bit 8 of entry_vector, "exit with SYSRET". Same value as VGCF_in_syscall. */
export const TRAP_syscall = 256;

export interface CpuUserRegs {
  /** The 16 GPRs by the CPU's register number; gpr[RSP] is unused (the guest RSP is `rsp`). */
  gpr: bigint[];
  error_code: number;
  entry_vector: number;
  rip: bigint;
  /** The whole CS slot (csx): selector in bits 15:0; saved_upcall_mask in 39:32 (legacy); FRED's CS word. */
  cs: bigint;
  rflags: bigint;
  rsp: bigint;
  /** The whole SS slot (ssx): on a FRED host, the SS word with the event metadata. */
  ss: bigint;
  /** fred_info.edata (FRED host only; 0 otherwise). */
  edata: bigint;
}

export function u64(v: bigint): bigint {
  return v & M64;
}

export function getGpr(cpu: Cpu, r: number): bigint {
  return (BigInt(cpu.hi[r]! >>> 0) << 32n) | BigInt(cpu.lo[r]! >>> 0);
}

export function setGpr(cpu: Cpu, r: number, v: bigint): void {
  v = u64(v);
  cpu.lo[r] = Number(v & 0xffffffffn) | 0;
  cpu.hi[r] = Number(v >> 32n) | 0;
}

/** A 64-bit value as the signed number the CPU uses for linear addresses and RIP. */
export function asLinear(v: bigint): number {
  v = u64(v);
  return Number(v >= 1n << 63n ? v - (1n << 64n) : v);
}

export function fromLinear(n: number): bigint {
  return u64(BigInt(n));
}

export function isCanonical(v: bigint): boolean {
  v = u64(v);
  return v < 1n << 47n || v >= M64 - (1n << 47n) + 1n;
}

/** SAVE_ALL / PUSH_AND_CLEAR_GPRS: the guest's GPRs, with the hardware frame read from `frame`. */
export function saveAll(cpu: Cpu, frame: bigint[]): CpuUserRegs {
  const gpr: bigint[] = [];
  for (let r = 0; r < 16; r++) gpr.push(r === RSP ? 0n : getGpr(cpu, r));
  const w0 = frame[0]!;
  return {
    gpr,
    error_code: Number(w0 & 0xffffffffn),
    entry_vector: Number(w0 >> 32n),
    rip: frame[1]!,
    cs: frame[2]!,
    rflags: frame[3]!,
    rsp: frame[4]!,
    ss: frame[5]!,
    edata: frame[6] ?? 0n,
  };
}

/** POP_GPRS: the GPRs back into the processor (RSP is the exit's business). */
export function popGprs(cpu: Cpu, regs: CpuUserRegs): void {
  for (let r = 0; r < 16; r++) if (r !== RSP) setGpr(cpu, r, regs.gpr[r]!);
}

/** The hardware-frame words of `regs`: error_code/entry_vector, rip, cs, rflags, rsp, ss, edata, 0. */
export function frameWords(regs: CpuUserRegs): bigint[] {
  const w0 = (BigInt(regs.entry_vector >>> 0) << 32n) | BigInt(regs.error_code >>> 0);
  return [w0, regs.rip, regs.cs, regs.rflags, regs.rsp, regs.ss, regs.edata, 0n];
}

export function readHost64(cpu: Cpu, pa: number): bigint {
  return (BigInt(cpu.mem.read32(pa + 4) >>> 0) << 32n) | BigInt(cpu.mem.read32(pa) >>> 0);
}

export function writeHost64(cpu: Cpu, pa: number, v: bigint): void {
  v = u64(v);
  cpu.mem.write32(pa, Number(v & 0xffffffffn) | 0);
  cpu.mem.write32(pa + 4, Number(v >> 32n) | 0);
}

/** A plain-JSON copy of the registers (hex strings), for records and the migration record. */
export function regsJson(regs: CpuUserRegs): Record<string, string | number> {
  const names = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
  const out: Record<string, string | number> = {};
  names.forEach((n, r) => {
    if (r !== RSP) out[n] = hex(regs.gpr[r]!);
  });
  out.error_code = regs.error_code;
  out.entry_vector = regs.entry_vector;
  out.rip = hex(regs.rip);
  out.cs = hex(regs.cs);
  out.rflags = hex(regs.rflags);
  out.rsp = hex(regs.rsp);
  out.ss = hex(regs.ss);
  return out;
}

/** A register value as the project writes 64-bit values (src/case/hex.ts). */
export function hex(v: bigint): string {
  const x = u64(v);
  return hex64(Number(x & 0xffffffffn), Number(x >> 32n));
}
