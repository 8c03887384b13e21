// The emulator against this machine's CPU: thousands of random sequences (every encoding
// form of the implemented integer instructions, registers and memory) run natively in a
// static ELF and in the emulator with vendor "amd" (this machine is an AMD EPYC). Every
// GPR, RIP, the data region and every flag the SDM defines must match.
//
// 64-bit code runs in the emulator's long64 mode; 32-bit code runs natively in
// compatibility mode (Linux's user selector 0x23) and in the emulator's compat32 mode (CPL 0,
// built-in GDT, flat data: user-level instructions see the same machine). There the GPRs
// compared are EAX..EDI (their upper halves are undefined in 32-bit modes: SDM Vol. 1
// 3.4.1.1) and all of R8..R15 (out of reach of 32-bit code).
//
// HVDIFF_ORACLE_BATCHES=N runs N batches of 1500 64-bit sequences (default 6) and
// HVDIFF_ORACLE_COMPAT_BATCHES=N batches of 1500 compat32 ones (default 3) for a longer
// soak; HVDIFF_ORACLE_SEED changes the seed.

import { describe, expect, it } from "vitest";
import seedrandom from "seedrandom";
import { Machine } from "../../src/case/machine.js";
import { DATA_BASE, DATA_SIZE, runNative, type NativeResult } from "./native.js";
import { EXCLUDED, SequenceGenerator, type GenTest } from "../../harness/gen/sequence.js";
import { NATIVE64, NATIVE_COMPAT32 } from "./targets.js";
import { implementedMnemonics } from "../../harness/gen/iced.js";

const BATCHES = Number(process.env["HVDIFF_ORACLE_BATCHES"] ?? "6");
const COMPAT_BATCHES = Number(process.env["HVDIFF_ORACLE_COMPAT_BATCHES"] ?? "3");
const PER_BATCH = 1500;
const SEED = process.env["HVDIFF_ORACLE_SEED"] ?? "hvdiff-oracle-1";
const REG_NAMES = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
/** The flags a user process sees set: IF and the fixed bit 1. */
const USER_FLAGS = 0x202;

// Linux: #DE SIGFPE, #BP SIGTRAP, #OF and #BR SIGSEGV, #UD SIGILL, #SS #GP #PF SIGSEGV or SIGBUS.
const SIGNAL_OF_VECTOR: Record<number, number[]> = { 0: [8], 3: [5], 4: [11], 5: [11], 6: [4], 12: [11, 7], 13: [11, 7], 14: [11, 7] };

interface EmuResult {
  regs: { lo: number; hi: number }[];
  rflags: number;
  rip: number;
  exit: string;
  vector: number;
  data: Uint8Array;
}

class Emulator {
  private readonly m = new Machine(256 * 1024 * 1024, { vendor: "amd", fred: false });
  private readonly snap;

  constructor(mode: "long64" | "compat32" = "long64") {
    this.m.boot(mode);
    this.snap = this.m.snapshot();
  }

  run(t: GenTest, dataInit: Uint8Array): EmuResult {
    const { m } = this;
    m.restore(this.snap);
    const cpu = m.cpu;
    m.mem.writeBytes(DATA_BASE, dataInit);
    m.mem.writeBytes(t.codeAddr, t.code);
    t.regs.forEach((r, k) => {
      cpu.lo[k] = r.lo | 0;
      cpu.hi[k] = r.hi | 0;
    });
    cpu.setRflags(t.rflags | USER_FLAGS);
    cpu.rip = t.codeAddr;
    cpu.stopRip = t.codeAddr + t.code.length;
    cpu.steps = 0;
    cpu.stepLimit = 1_000_000;
    const exit = cpu.run();
    const regs = REG_NAMES.map((_, k) => ({ lo: cpu.lo[k]! >>> 0, hi: cpu.hi[k]! >>> 0 }));
    return {
      regs,
      rflags: cpu.getRflags(),
      rip: cpu.rip,
      exit: exit.kind === "crash" ? `crash: ${exit.message}` : exit.kind,
      vector: exit.kind === "exception" ? exit.vector : -1,
      data: m.mem.readBytes(DATA_BASE, DATA_SIZE),
    };
  }
}

function hex(lo: number, hi: number): string {
  return `0x${(hi >>> 0).toString(16).padStart(8, "0")}${(lo >>> 0).toString(16).padStart(8, "0")}`;
}

/** Differences between the native and emulated outcomes of one test, or []. */
function compare(t: GenTest, n: NativeResult, e: EmuResult): string[] {
  const d: string[] = [];
  if (n.signal === 0) {
    if (e.exit !== "end") d.push(`exit: native ran to the end, emulator ${e.exit}${e.vector >= 0 ? ` vector ${e.vector}` : ""}`);
  } else if (e.exit !== "exception" || !(SIGNAL_OF_VECTOR[e.vector] ?? []).includes(n.signal)) {
    d.push(`exit: native signal ${n.signal}, emulator ${e.exit}${e.vector >= 0 ? ` vector ${e.vector}` : ""}`);
  }
  if (n.rip !== e.rip) d.push(`rip: native 0x${n.rip.toString(16)}, emulator 0x${e.rip.toString(16)}`);
  // 32-bit code: the upper halves of RAX..RDI are undefined (SDM Vol. 1 3.4.1.1).
  const upperDefined = (k: number): boolean => t.compat32 !== true || k >= 8;
  for (let k = 0; k < 16; k++) {
    if ((n.regs[k]!.lo >>> 0) !== e.regs[k]!.lo || (upperDefined(k) && (n.regs[k]!.hi >>> 0) !== e.regs[k]!.hi)) {
      d.push(`${REG_NAMES[k]}: native ${hex(n.regs[k]!.lo, n.regs[k]!.hi)}, emulator ${hex(e.regs[k]!.lo, e.regs[k]!.hi)}`);
    }
  }
  // After a fault the kernel's saved flags are compared as well; the mask is the
  // generator's: the flags left undefined by the instructions executed up to there.
  const undef = n.signal === 0 ? t.undefinedFlags : (t.undefinedAt.get(n.rip) ?? t.undefinedFlags);
  const mask = ~undef & 0x3fffff & ~0x10000; // RF is not architectural state here
  if ((n.rflags & mask) !== (e.rflags & mask)) {
    d.push(`rflags: native 0x${(n.rflags & mask).toString(16)}, emulator 0x${(e.rflags & mask).toString(16)} (undefined mask 0x${undef.toString(16)})`);
  }
  for (let i = 0; i < DATA_SIZE; i++) {
    if (n.data[i] !== e.data[i]) {
      d.push(`memory 0x${(DATA_BASE + i).toString(16)}: native 0x${n.data[i]!.toString(16)}, emulator 0x${e.data[i]!.toString(16)}`);
      if (d.length > 12) break;
    }
  }
  return d;
}

function dataImage(seed: string): Uint8Array {
  const rnd = seedrandom(seed);
  const b = new Uint8Array(DATA_SIZE);
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

describe("emulator vs this machine's CPU (native ELF oracle)", () => {
  it(`runs ${BATCHES * PER_BATCH} random sequences with zero mismatches`, () => {
    const emu = new Emulator();
    const failures: string[] = [];
    let faults = 0;
    let instructions = 0;
    const seen = new Set<string>();
    for (let b = 0; b < BATCHES; b++) {
      const gen = new SequenceGenerator(`${SEED}/${b}`, NATIVE64);
      const tests = gen.generate({ count: PER_BATCH });
      const dataInit = dataImage(`${SEED}/${b}/data`);
      const native = runNative(tests, dataInit);
      tests.forEach((t, k) => {
        instructions += t.listing.length;
        t.mnemonics.forEach((m) => seen.add(m));
        const e = emu.run(t, dataInit);
        if (native[k]!.signal !== 0) faults++;
        const diff = compare(t, native[k]!, e);
        if (diff.length > 0 && failures.length < 10) {
          failures.push([`batch ${b} test ${k}:`, ...diff.map((x) => `  ${x}`), ...t.listing.map((x) => `    ${x}`)].join("\n"));
        }
      });
    }
    // The batches must exercise something: most sequences run to completion, some fault.
    expect(instructions).toBeGreaterThan(BATCHES * PER_BATCH * 5);
    expect(faults).toBeGreaterThan(0);
    expect(faults).toBeLessThan(BATCHES * PER_BATCH / 4);
    expect(failures.join("\n\n")).toBe("");
    // Every implemented mnemonic ran at least once (but those drawn only as endings, and
    // the forms that do not exist in 64-bit mode).
    const notIn64 = new Set(["pushfd", "popfd", "jcxz", "pusha", "pushad", "popa", "popad", "daa", "das", "aaa", "aas", "aam", "aad", "salc"]);
    const missing = [...implementedMnemonics()].filter((m) => !seen.has(m) && !notIn64.has(m) && !(EXCLUDED.has(m) && !["ud0", "ud1", "ud2", "int3"].includes(m)));
    expect(missing).toEqual([]);
  });

  it(`runs ${COMPAT_BATCHES * PER_BATCH} random compat32 sequences (32-bit code under selector 0x23) with zero mismatches`, () => {
    const emu = new Emulator("compat32");
    const failures: string[] = [];
    let faults = 0;
    let instructions = 0;
    const seen = new Set<string>();
    let drawn = new Set<string>();
    for (let b = 0; b < COMPAT_BATCHES; b++) {
      const gen = new SequenceGenerator(`${SEED}/compat32/${b}`, NATIVE_COMPAT32);
      drawn = gen.mnemonicsDrawn();
      const tests = gen.generate({ count: PER_BATCH });
      const dataInit = dataImage(`${SEED}/compat32/${b}/data`);
      const native = runNative(tests, dataInit);
      tests.forEach((t, k) => {
        expect(t.compat32).toBe(true);
        instructions += t.listing.length;
        t.mnemonics.forEach((m) => seen.add(m));
        const e = emu.run(t, dataInit);
        if (native[k]!.signal !== 0) faults++;
        const diff = compare(t, native[k]!, e);
        if (diff.length > 0 && failures.length < 10) {
          failures.push([`batch ${b} test ${k}:`, ...diff.map((x) => `  ${x}`), ...t.listing.map((x) => `    ${x}`)].join("\n"));
        }
      });
    }
    expect(instructions).toBeGreaterThan(COMPAT_BATCHES * PER_BATCH * 5);
    expect(faults).toBeGreaterThan(0);
    expect(faults).toBeLessThan(COMPAT_BATCHES * PER_BATCH / 4);
    expect(failures.join("\n\n")).toBe("");
    // Every mnemonic the compat32 generator draws ran, the 32-bit-only ones among them.
    expect([...drawn].filter((m) => !seen.has(m))).toEqual([]);
    for (const m of ["pusha", "popa", "daa", "aam", "into", "bound", "arpl", "salc", "jecxz"]) expect(seen.has(m) || seen.has(`${m}d`)).toBe(true);
  });
});
