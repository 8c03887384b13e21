// Running cases: an internal error becomes a `crash` result and the batch goes on;
// runs start from a booted snapshot, so one case cannot leak into the next.

import { afterEach, describe, expect, it } from "vitest";
import { CaseRunner } from "../../src/case/run.js";
import type { CaseResult } from "../../src/case/result.js";
import { parseCase } from "../../src/case/case.js";
import { TWO_BYTE } from "../../src/cpu/decode/opcodes.js";
import type { Entry } from "../../src/cpu/decode/table.js";
import type { Handler } from "../../src/cpu/decode/insn.js";
import { execText } from "../../harness/cli/exec.js";

const cpuidEntry = TWO_BYTE[0xa2] as Entry & { exec: Handler };
const original = cpuidEntry.exec;

afterEach(() => {
  (cpuidEntry as { exec: Handler }).exec = original;
});

describe("CaseRunner", () => {
  it("turns an exception thrown inside the emulator into exit `crash` and runs the next case", () => {
    (cpuidEntry as { exec: Handler }).exec = () => {
      throw new Error("boom in a handler");
    };
    const runner = new CaseRunner();
    const a = execText(runner, JSON.stringify({ id: "a", mode: "long64", base: "0x1000", code: "90 0fa2 90" }), "t:1");
    const b = execText(runner, JSON.stringify({ id: "b", mode: "long64", base: "0x1000", code: "90 f4" }), "t:2");
    const [ra, rb] = [a.ok ? (a.result as CaseResult) : null, b.ok ? (b.result as CaseResult) : null];
    expect(ra?.exit).toEqual({ kind: "crash", message: "boom in a handler" });
    expect(ra?.regs["rip"]).toBe("0x1001");
    expect(rb?.exit).toEqual({ kind: "hlt" });
  });

  it("each case starts from the booted machine: memory and registers of the previous case are gone", () => {
    const runner = new CaseRunner();
    // The first case writes memory and registers, the second reads them.
    const write = parseCase({ id: 1, mode: "long64", base: "0x1000", code: "48c7c0ffffffff c7042500300000aaaaaaaa" });
    const read = parseCase({ id: 2, mode: "long64", base: "0x1000", code: "8b1c2500300000", dump: [{ addr: "0x3000", len: 4 }] });
    runner.run(write);
    const r = runner.run(read);
    expect(r.regs["rax"]).toBe("0x0");
    expect(r.regs["rbx"]).toBe("0x0");
    expect(r.memory).toEqual([{ addr: "0x3000", hex: "00000000" }]);
  });

  it("vendor is part of the CPU model: CPUID leaf 0 names it", () => {
    const runner = new CaseRunner();
    const vendorOf = (vendor: "intel" | "amd") => {
      const r = runner.run(parseCase({ id: vendor, mode: "long64", base: "0x1000", code: "31c0 0fa2", cpu: { vendor } }));
      const word = (h: string) => Buffer.from(BigInt(h).toString(16).padStart(8, "0"), "hex").reverse().toString("latin1");
      return word(r.regs["rbx"]!) + word(r.regs["rdx"]!) + word(r.regs["rcx"]!);
    };
    expect(vendorOf("intel")).toBe("GenuineIntel");
    expect(vendorOf("amd")).toBe("AuthenticAMD");
  });

  it("a path the model does not have (a task switch) ends the run as unsupported, saying what", () => {
    const runner = new CaseRunner();
    // prot32: jmp far 0x38:0, where 0x38 is the built-in TSS descriptor.
    const r = runner.run(parseCase({ id: "ts", mode: "prot32", base: "0x1000", code: "90 ea000000003800" }));
    expect(r.exit).toMatchObject({ kind: "unsupported", rip: "0x1001", what: "a far transfer through a task gate or TSS descriptor (task switch)" });
    expect((r.exit as { bytes: string }).bytes.startsWith("ea00000000380")).toBe(true);
  });
});
