// Corner vectors as data (test/vectors/*.json): each is a case and the state it must end
// in. The emulator must meet every expectation; vectors marked `native` must meet them on
// this machine's CPU too (so the expectations themselves are checked against hardware:
// long64 vectors as 64-bit code, compat32 ones as 32-bit code in compatibility mode);
// and each vector's `asm` must be what iced-x86 disassembles from its code at the mode's
// bitness.

import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseCase } from "../../src/case/case.js";
import { runCase } from "../../src/case/run.js";
import type { CaseResult } from "../../src/case/result.js";
import { parseBytes } from "../../src/case/hex.js";
import { iced } from "../../harness/gen/iced.js";
import { CODE_BASE, DATA_BASE, DATA_SIZE, runNative, type NativeResult } from "../oracle/native.js";

interface Vector {
  name: string;
  source: string;
  native: boolean;
  asm: string[];
  case: Record<string, unknown> & { base: string; code: string; regs?: Record<string, string>; memory?: { addr: string; hex: string }[] };
  expect: {
    exit: string;
    regs?: Record<string, string>;
    flags?: string;
    memory?: { addr: string; hex: string }[];
    rip?: string;
    cr2?: string;
  };
}

const DIR = new URL("../vectors/", import.meta.url);
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".json"));
const GPRS = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
const FLAG_BITS: Record<string, number> = { CF: 0, PF: 2, AF: 4, ZF: 6, SF: 7, DF: 10, OF: 11 };
const SIGNALS: Record<string, number[]> = { "#DE": [8], "#UD": [4], "#BP": [5], "#GP": [11, 7], "#SS": [11, 7], "#PF": [11, 7] };

/** What a vector can be checked against: an emulator result or a native one, alike. */
interface Outcome {
  exit: string; // "end", or "#GP(0)" / "#DE" (native: only the name)
  reg(name: string): bigint;
  rflags: number;
  /** RIP relative to the code's base. */
  ripOffset: bigint;
  byte(addr: number): number;
  cr2?: bigint;
}

function check(v: Vector, o: Outcome, native: boolean): string[] {
  const bad: string[] = [];
  const want = v.expect;
  if (native) {
    const name = want.exit.replace(/\(.*\)$/, "");
    const ok = name === "end" ? o.exit === "end" : (SIGNALS[name] ?? []).map((s) => `signal ${s}`).includes(o.exit);
    if (!ok) bad.push(`exit: want ${want.exit}, got ${o.exit}`);
  } else if (o.exit !== want.exit) {
    bad.push(`exit: want ${want.exit}, got ${o.exit}`);
  }
  for (const [r, val] of Object.entries(want.regs ?? {})) {
    if (o.reg(r) !== BigInt(val)) bad.push(`${r}: want ${val}, got 0x${o.reg(r).toString(16)}`);
  }
  for (const f of (want.flags ?? "").split(/\s+/).filter((x) => x !== "")) {
    const [name, val] = f.split("=");
    const got = (o.rflags >>> FLAG_BITS[name!]!) & 1;
    if (got !== Number(val)) bad.push(`${name}: want ${val}, got ${got}`);
  }
  for (const m of want.memory ?? []) {
    const bytes = parseBytes(m.hex);
    const at = Number(BigInt(m.addr));
    const got = Array.from(bytes, (_, k) => o.byte(at + k));
    if (got.some((b, k) => b !== bytes[k])) bad.push(`memory ${m.addr}: want ${m.hex}, got ${Buffer.from(got).toString("hex")}`);
  }
  if (want.rip !== undefined && o.ripOffset !== BigInt(want.rip) - BigInt(v.case.base)) {
    bad.push(`rip: want ${want.rip}, got base+0x${o.ripOffset.toString(16)}`);
  }
  if (want.cr2 !== undefined && !native && o.cr2 !== BigInt(want.cr2)) bad.push(`cr2: want ${want.cr2}, got 0x${o.cr2?.toString(16)}`);
  return bad;
}

function fromEmulator(v: Vector, r: CaseResult): Outcome {
  const e = r.exit;
  let exit: string = e.kind;
  if (e.kind === "exception") exit = e.errorCode === undefined ? e.name : `${e.name}(${e.errorCode})`;
  const mem = new Map<number, number>();
  for (const m of r.memory) parseBytes(m.hex).forEach((b, k) => mem.set(Number(BigInt(m.addr)) + k, b));
  return {
    exit,
    reg: (n) => BigInt(r.regs[n]!),
    rflags: Number(BigInt(r.regs["rflags"]!)),
    ripOffset: BigInt(r.regs["rip"]!) - BigInt(v.case.base),
    byte: (a) => mem.get(a) ?? -1,
    cr2: BigInt(r.sregs["cr2"] as string),
  };
}

function fromNative(n: NativeResult, codeAddr: number): Outcome {
  return {
    exit: n.signal === 0 ? "end" : `signal ${n.signal}`,
    reg: (name) => {
      const k = GPRS.indexOf(name);
      return (BigInt(n.regs[k]!.hi >>> 0) << 32n) | BigInt(n.regs[k]!.lo >>> 0);
    },
    rflags: n.rflags,
    ripOffset: BigInt(n.rip - codeAddr),
    byte: (a) => n.data[a - DATA_BASE] ?? -1,
  };
}

/** The case with a dump of every memory range the expectations read. */
function caseOf(v: Vector): Record<string, unknown> {
  const dump = (v.expect.memory ?? []).map((m) => ({ addr: m.addr, len: parseBytes(m.hex).length }));
  return { ...v.case, id: v.name, dump };
}

for (const file of FILES) {
  const vectors = (JSON.parse(readFileSync(new URL(file, DIR), "utf8")) as { vectors: Vector[] }).vectors;

  describe(`vectors ${file}`, () => {
    it("each vector's asm is iced-x86's disassembly of its code", () => {
      const fmt = new iced.Formatter(iced.FormatterSyntax.Intel);
      for (const v of vectors) {
        if (v.asm.length === 0) continue;
        const bytes = parseBytes(v.case.code);
        const mode = (v.case as { mode?: string }).mode;
        const d = new iced.Decoder(mode === "real16" ? 16 : mode === "long64" ? 64 : 32, bytes, 0);
        d.ip = BigInt(v.case.base);
        const text: string[] = [];
        while (d.canDecode) {
          const ins = d.decode();
          text.push(fmt.format(ins));
          ins.free();
        }
        d.free();
        expect(text, v.name).toEqual(v.asm);
      }
      fmt.free();
    });

    for (const v of vectors) {
      it(`emulator: ${v.name}`, () => {
        const r = runCase(parseCase(caseOf(v)));
        expect(check(v, fromEmulator(v, r), false)).toEqual([]);
      });
    }

    it("the native vectors hold on this machine's CPU", () => {
      const native = vectors.filter((v) => v.native);
      const tests = native.map((v, k) => {
        const regs = GPRS.map((r) => {
          const x = BigInt(v.case.regs?.[r] ?? "0x0");
          return { lo: Number(x & 0xffffffffn), hi: Number(x >> 32n) };
        });
        if (v.case.regs?.["rsp"] === undefined) regs[4] = { lo: DATA_BASE + 0x2000, hi: 0 };
        return {
          code: parseBytes(v.case.code),
          codeAddr: CODE_BASE + k * 0x100,
          regs,
          rflags: Number(BigInt(v.case.regs?.["rflags"] ?? "0x2")),
          memory: v.case.memory ?? [],
          // compat32 vectors run as 32-bit code under Linux's selector 0x23.
          compat32: (v.case as { mode?: string }).mode === "compat32",
        };
      });
      // Each vector in its own run: its memory blocks are its initial data region.
      const results = tests.map((t) => {
        const data = new Uint8Array(DATA_SIZE);
        for (const m of t.memory) data.set(parseBytes(m.hex), Number(BigInt(m.addr)) - DATA_BASE);
        return runNative([t], data)[0]!;
      });
      const bad: string[] = [];
      native.forEach((v, k) => {
        const diff = check(v, fromNative(results[k]!, tests[k]!.codeAddr), true);
        if (diff.length > 0) bad.push(`${v.name}: ${diff.join("; ")}`);
      });
      expect(bad).toEqual([]);
    });
  });
}
