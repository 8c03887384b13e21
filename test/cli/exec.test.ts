// `hvdiff exec` end to end: the contract of cases.md (one case, batches, error lines,
// exit status 0/1/2), run as a child process on the built binary.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const BIN = new URL("../../dist/harness/cli/main.js", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "hvdiff-cli-"));

function hvdiff(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: "utf8" });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const ADD = { id: "add", mode: "long64", base: "0x1000", code: "48c7c005000000 4883c007 f4" };

describe("hvdiff exec", () => {
  it("runs one case file and prints its result", () => {
    const r = hvdiff(["exec", file("add.json", JSON.stringify(ADD))]);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.id).toBe("add");
    expect(out.exit).toEqual({ kind: "hlt" });
    expect(out.regs.rax).toBe("0xc");
    expect(out.regs.rip).toBe("0x100c");
    expect(out.steps).toBe(3);
    expect(out.mode).toBe("long64");
    expect(out.sregs.cs).toEqual({ sel: "0x8", base: "0x0", limit: "0xffffffff", attr: "0xa09b" });
  });

  it("runs a batch in order; a bad line gets an error naming the place, the rest still run (exit 1)", () => {
    const lines = [
      JSON.stringify(ADD),
      JSON.stringify({ ...ADD, id: 7, regs: { rax: "12" } }),
      "{not json",
      "",
      JSON.stringify({ ...ADD, id: "ud", code: "0f0b" }),
    ].join("\n");
    const r = hvdiff(["exec", "--batch", file("b.jsonl", lines)]);
    expect(r.status).toBe(1);
    const out = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(out).toHaveLength(4);
    expect(out[0].exit.kind).toBe("hlt");
    expect(out[1]).toEqual({ id: 7, error: expect.stringMatching(/b\.jsonl:2: regs\.rax: must be a 0x-prefixed hex number/) });
    expect(out[2]).toEqual({ id: null, error: expect.stringMatching(/b\.jsonl:3: invalid JSON/) });
    expect(out[3].exit).toEqual({ kind: "exception", vector: 6, name: "#UD", rip: "0x1000" });
  });

  it("reads a batch from standard input with --batch -", () => {
    const r = hvdiff(["exec", "--batch", "-"], `${JSON.stringify(ADD)}\n${JSON.stringify({ ...ADD, id: "b" })}\n`);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split("\n").map((l) => JSON.parse(l).id)).toEqual(["add", "b"]);
  });

  it("reports each exit kind: end, step-limit, exception with error code, unsupported with its disassembly", () => {
    const cases = [
      { id: "end", mode: "long64", base: "0x1000", code: "90 90" },
      { id: "loop", mode: "long64", base: "0x1000", code: "ebfe", maxSteps: 1000 },
      { id: "pf", mode: "long64", base: "0x1000", code: "488b03", regs: { rbx: "0x40000000" } },
      { id: "sse", mode: "long64", base: "0x1000", code: "0f58c1 90" },
    ];
    const r = hvdiff(["exec", "--batch", "-"], cases.map((c) => JSON.stringify(c)).join("\n"));
    expect(r.status).toBe(0);
    const [end, loop, pf, sys] = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(end.exit).toEqual({ kind: "end" });
    expect(end.regs.rip).toBe("0x1002");
    expect(loop.exit).toEqual({ kind: "step-limit" });
    expect(loop.steps).toBe(1000);
    expect(pf.exit).toEqual({ kind: "exception", vector: 14, name: "#PF", errorCode: 0, rip: "0x1000" });
    expect(pf.sregs.cr2).toBe("0x40000000");
    expect(sys.exit).toEqual({ kind: "unsupported", rip: "0x1000", bytes: "0f58c1", disasm: "addps xmm0,xmm1" });
  });

  it("returns the memory ranges asked for in `dump`", () => {
    const c = { id: "d", mode: "long64", base: "0x1000", code: "c7042500200000efbeadde", dump: [{ addr: "0x2000", len: 4 }] };
    const r = hvdiff(["exec", file("d.json", JSON.stringify(c))]);
    expect(JSON.parse(r.stdout).memory).toEqual([{ addr: "0x2000", hex: "efbeadde" }]);
  });

  it("refuses what this version cannot run, naming the field (exit 1)", () => {
    const r = hvdiff(["exec", "--batch", "-"], [
      JSON.stringify({ ...ADD, id: 1, hv: { model: "xen-pv64", preset: "xen-fred" } }),
      JSON.stringify({ ...ADD, id: 2, regs: { rflags: "0x20002" } }),
      JSON.stringify({ ...ADD, id: 3, bogus: 1 }),
      JSON.stringify({ ...ADD, id: 4, base: "0xfffffff0" }),
    ].join("\n"));
    expect(r.status).toBe(1);
    const out = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(out[0].error).toMatch(/<stdin>:1: cpu\.fred: the xen-fred host delivers events with FRED: set cpu\.fred to true/);
    expect(out[1].error).toMatch(/<stdin>:2: regs\.rflags: VM \(virtual-8086 mode\) is not a starting mode/);
    expect(out[2].error).toMatch(/<stdin>:3: bogus: unknown field/);
    expect(out[3].error).toMatch(/<stdin>:4: base: code \[0xfffffff0, 0xfffffffc\) does not fit below 0xff00000/);
  });

  it("usage errors exit 2 with one line on stderr and nothing on stdout", () => {
    for (const args of [["exec"], ["exec", "a.json", "--batch", "b.jsonl"], ["exec", join(dir, "missing.json")], ["exec", "--batch", join(dir, "missing.jsonl")], ["frobnicate"]]) {
      const r = hvdiff(args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(hvdiff(["exec", join(dir, "missing.json")]).stderr).toMatch(/missing\.json: no such file/);
  });

  it("the same case gives byte-identical output every time", () => {
    const c = file("det.json", JSON.stringify({ id: "det", mode: "long64", base: "0x1000", code: "0f31 48c1e220 4809d0 0fa2" }));
    const a = hvdiff(["exec", c]).stdout;
    expect(hvdiff(["exec", c]).stdout).toBe(a);
  });
});
