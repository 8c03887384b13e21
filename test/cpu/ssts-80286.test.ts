// The SingleStepTests 80286 real-mode sample (shared/vectors/ssts-80286-real): tests
// recorded from a real Harris 80C286. Each runs one instruction, then the HLT its RAM
// holds (exceptions and INT go through the IVT, whose handlers also hold a HLT), in
// `real16` with `exceptions: "deliver"`. Final registers (flags masked as the suite's
// metadata and README say) and RAM must match; the emulator must write nothing else.
// Excluded: only 286-specific forms, each with its reason below.

import { readFileSync, readdirSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { Machine } from "../../src/case/machine.js";
import { loadReal } from "../../src/cpu/segment.js";
import { CS, DS, ES, SS } from "../../src/cpu/state.js";
import { Decoder } from "../../src/cpu/decode/decoder.js";
import { cpuFeatures } from "../../src/cpu/cpuid.js";

// A copy of shared/vectors/ssts-80286-real (MIT, see its LICENSE), so CI needs nothing outside the repo.
const DIR = new URL("../vectors/ssts-80286-real/", import.meta.url);

interface Regs {
  ax: number; bx: number; cx: number; dx: number; cs: number; ss: number; ds: number; es: number;
  sp: number; bp: number; si: number; di: number; ip: number; flags: number;
}
interface SstsTest {
  name: string;
  bytes: number[];
  initial: { regs: Regs; ram: [number, number][] };
  final: { regs: Partial<Regs>; ram: [number, number][] };
  hash: string;
  /** Present when the instruction raised an exception or interrupt. */
  exception?: { number: number; flag_address: number };
}
interface OpcodeMeta {
  status: string;
  "flags-mask"?: number;
  reg?: Record<string, { status: string; "flags-mask"?: number }>;
}

const meta = JSON.parse(readFileSync(new URL("metadata.json", DIR), "utf8")) as { opcodes: Record<string, OpcodeMeta> };
const revoked = new Set(readFileSync(new URL("revocation_list.txt", DIR), "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#")));

/**
 * Forms whose 286 behaviour differs from a modern x86 processor in real mode, with the
 * reason. Nothing else is excluded.
 */
const EXCLUDED: Record<string, string> = {
  D8: "x87 escape: the recorded 286 had no coprocessor; this model has no x87 (exit unsupported)",
  D9: "x87 escape (as D8)", DA: "x87 escape (as D8)", DB: "x87 escape (as D8)",
  DC: "x87 escape (as D8)", DD: "x87 escape (as D8)", DE: "x87 escape (as D8)", DF: "x87 escape (as D8)",
};

/**
 * Single tests whose 286 behaviour differs from a modern x86 in real mode, by rule.
 * LOCK: since the 386, LOCK on anything but a read-modify-write instruction with a memory
 * destination raises #UD; the 286 executed the instruction.
 * Word string operations at offset FFFFh: the 286 raises #GP (interrupt 13) after it has
 * advanced SI/DI (and CX); later processors fault before changing them.
 */
const decoder = new Decoder("intel", cpuFeatures({ vendor: "intel", fred: false }));
function excludedTest(t: SstsTest): string | null {
  if (t.bytes.includes(0xf0)) {
    const i = decoder.decode({ byte: (n) => t.bytes[n] ?? 0xf4 }, 2);
    if (i.entry === null) return "LOCK on a non-lockable form: #UD since the 386, executed by the 286";
  }
  const r = t.initial.regs;
  if (/^(rep\w* )?(movs|cmps|scas|lods|stos|ins|outs)w$/.test(t.name) && (r.si === 0xffff || r.di === 0xffff)) {
    return "word string operation at offset FFFFh: the 286 advances SI/DI before its #GP";
  }
  if (t.exception?.number === 13 && firstException(t) === 12) {
    return "stack-segment overrun in real mode: interrupt 13 on the 286, #SS (12) since the 386";
  }
  return null;
}

/** The vector of the first exception the instruction raises here, or -1. */
function firstException(t: SstsTest): number {
  const exit = start(t, "stop");
  return exit.kind === "exception" ? exit.vector : -1;
}

const GPRS = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"] as const;
const SEGS: [keyof Regs, number][] = [["cs", CS], ["ss", SS], ["ds", DS], ["es", ES]];

/** The flags compared for a form: metadata's `flags-mask` (an AND mask) without IOPL/NT. */
function comparedFlags(file: string): number {
  const [op, reg] = file.replace(".json.gz", "").split(".");
  const m = meta.opcodes[op!];
  const sub = reg !== undefined ? m?.reg?.[reg] : undefined;
  const defined = sub?.["flags-mask"] ?? m?.["flags-mask"] ?? 0xffff;
  // The README: mask the top four bits (IOPL, NT) in real mode.
  return defined & 0x0fff;
}

const machine = new Machine(16 * 1024 * 1024, { vendor: "intel", fred: false });
machine.boot("real16");
const booted = machine.snapshot();

/** Load a test into the booted machine and run it. */
function start(t: SstsTest, exceptions: "stop" | "deliver") {
  const m = machine;
  m.restore(booted);
  const cpu = m.cpu;
  for (const [a, b] of t.initial.ram) m.mem.write8(a, b);
  const r = t.initial.regs;
  GPRS.forEach((name, k) => {
    cpu.lo[k] = r[name];
    cpu.hi[k] = 0;
  });
  for (const [name, seg] of SEGS) loadReal(cpu, seg, r[name]);
  // A 286 in real mode keeps IOPL and NT at 0, whatever the recorded image says.
  cpu.setRflags((r.flags & 0x0fff) | 2);
  cpu.refreshMode();
  cpu.rip = r.ip;
  cpu.stopRip = NaN;
  cpu.steps = 0;
  cpu.stepLimit = 100;
  cpu.exceptionMode = exceptions;
  return cpu.run();
}

function run(t: SstsTest, compared: number): string[] {
  const m = machine;
  const cpu = m.cpu;
  const before = new Map<number, number>(t.initial.ram);
  const r = t.initial.regs;
  const exit = start(t, "deliver");

  const bad: string[] = [];
  if (exit.kind !== "hlt") bad.push(`exit ${JSON.stringify(exit)}`);
  const want = { ...r, ...t.final.regs };
  const got: Regs = {
    ax: 0, bx: 0, cx: 0, dx: 0, sp: 0, bp: 0, si: 0, di: 0,
    cs: cpu.segSel[CS]!, ss: cpu.segSel[SS]!, ds: cpu.segSel[DS]!, es: cpu.segSel[ES]!,
    ip: cpu.rip & 0xffff, flags: cpu.getRflags() & 0xffff,
  };
  GPRS.forEach((name, k) => {
    got[name] = cpu.lo[k]! & 0xffff;
  });
  for (const k of Object.keys(want) as (keyof Regs)[]) {
    if (k === "flags") {
      if (((got.flags ^ want.flags) & compared) !== 0) bad.push(`flags: want 0x${want.flags.toString(16)}, got 0x${got.flags.toString(16)} (compared 0x${compared.toString(16)})`);
    } else if (got[k] !== want[k]) {
      bad.push(`${k}: want 0x${want[k].toString(16)}, got 0x${got[k].toString(16)}`);
    }
  }
  // RAM: every recorded change, and nothing else changed. The FLAGS image an exception
  // pushed is compared with the same mask as FLAGS (undefined flags are pushed too).
  const final = new Map<number, number>(t.final.ram);
  // The pushed frame is IP, CS, FLAGS upwards from the final SP (the handler only halts).
  const flagsAt = t.exception !== undefined ? ((want.ss << 4) + ((want.sp + 4) & 0xffff)) : -1;
  for (const [a, b] of final) {
    const v = m.mem.read8(a);
    const cmp = a === flagsAt ? compared & 0xff : a === flagsAt + 1 ? (compared >>> 8) & 0xff : 0xff;
    if (((v ^ b) & cmp) !== 0) bad.push(`ram 0x${a.toString(16)}: want 0x${b.toString(16)}, got 0x${v.toString(16)}`);
  }
  for (const ppn of m.mem.writtenSince(booted.mem)) {
    for (let o = 0; o < 4096; o++) {
      const a = ppn * 4096 + o;
      const v = m.mem.read8(a);
      const was = before.get(a) ?? 0;
      if (v !== was && !final.has(a)) bad.push(`ram 0x${a.toString(16)}: written 0x${v.toString(16)}, the 286 left 0x${was.toString(16)}`);
    }
  }
  return bad;
}

const files = readdirSync(DIR).filter((f) => f.endsWith(".json.gz")).sort();

describe("SingleStepTests 80286, real mode", () => {
  it(`every test of the sample matches (${files.length} opcode files)`, () => {
    const failures: string[] = [];
    const excluded = new Map<string, number>();
    let ran = 0;
    for (const f of files) {
      const op = f.replace(".json.gz", "").split(".")[0]!;
      if (EXCLUDED[op] !== undefined) continue;
      const tests = JSON.parse(gunzipSync(readFileSync(new URL(f, DIR))).toString("utf8")) as SstsTest[];
      const compared = comparedFlags(f);
      for (const t of tests) {
        if (revoked.has(t.hash)) continue;
        ran++;
        const why = excludedTest(t);
        if (why !== null) {
          excluded.set(why, (excluded.get(why) ?? 0) + 1);
          continue;
        }
        const bad = run(t, compared);
        if (bad.length > 0) failures.push(`${f} ${t.name} [${t.bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ")}] ${t.hash.slice(0, 8)}: ${bad.slice(0, 4).join("; ")}`);
      }
    }
    if (process.env.HVDIFF_VERBOSE) console.log({ ran, excluded: Object.fromEntries(excluded) });
    // Every exclusion has a reason, and they stay a small part of the sample.
    expect([...excluded.values()].reduce((a, b) => a + b, 0)).toBeLessThan(600);
    expect(ran).toBeGreaterThan(7000);
    expect(failures.slice(0, 40)).toEqual([]);
  });
});
