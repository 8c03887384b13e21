// Hand-built system programs as data (test/vectors/system, README there): each NAME.s is
// a small guest that drives the processor through mode switches, paging faults, IDT and
// FRED delivery or fast system calls, and NAME.json holds its case and, per CPU
// configuration, the state the SDM and the FRED specification say it must end in.

import { describe, expect, it } from "vitest";
import { parseCase } from "../../src/case/case.js";
import { runCase } from "../../src/case/run.js";
import type { CaseResult } from "../../src/case/result.js";
// @ts-expect-error: a plain JavaScript module shared with the command that refreshes the code.
import { systemPrograms } from "../../scripts/system-vectors.mjs";

interface Expect {
  /** Fields of the result's `exit`, each compared exactly. */
  exit: Record<string, unknown>;
  mode?: string;
  /** Registers by name (`rax`, `rip`, `rflags`). */
  regs?: Record<string, string>;
  /** `cr0`, `efer`, ... or `cs.sel`, `ss.attr`, `idtr.base`. */
  sregs?: Record<string, string>;
  /** Guest-physical memory; `what` says what the bytes are. */
  memory?: { addr: string; hex: string; what: string }[];
}
interface Run {
  name: string;
  cpu: { vendor: "intel" | "amd"; fred: boolean };
  expect: Expect;
}
interface Program {
  program: string;
  description: string;
  source: string;
  case: Record<string, unknown> & { base: string; code: string };
  runs: Run[];
}

const programs = systemPrograms() as [string, Program, Buffer][];

function sreg(r: CaseResult, path: string): string | undefined {
  const [a, b] = path.split(".");
  const v = r.sregs[a!];
  if (b === undefined) return typeof v === "string" ? v : undefined;
  return typeof v === "object" ? (v as unknown as Record<string, string>)[b] : undefined;
}

function check(e: Expect, r: CaseResult): string[] {
  const bad: string[] = [];
  for (const [k, v] of Object.entries(e.exit)) {
    const got = (r.exit as Record<string, unknown>)[k];
    if (got !== v) bad.push(`exit.${k}: want ${JSON.stringify(v)}, got ${JSON.stringify(got)} (exit ${JSON.stringify(r.exit)})`);
  }
  if (e.mode !== undefined && r.mode !== e.mode) bad.push(`mode: want ${e.mode}, got ${r.mode}`);
  for (const [k, v] of Object.entries(e.regs ?? {})) {
    if (BigInt(r.regs[k]!) !== BigInt(v)) bad.push(`${k}: want ${v}, got ${r.regs[k]}`);
  }
  for (const [k, v] of Object.entries(e.sregs ?? {})) {
    const got = sreg(r, k);
    if (got === undefined || BigInt(got) !== BigInt(v)) bad.push(`${k}: want ${v}, got ${got}`);
  }
  (e.memory ?? []).forEach((m, k) => {
    const got = r.memory[k]!.hex.replace(/ /g, "");
    if (got !== m.hex.replace(/ /g, "")) bad.push(`memory ${m.addr} (${m.what}): want ${m.hex}, got ${got}`);
  });
  return bad;
}

describe("hand-built system programs", () => {
  it("there are programs, and each case's code is its program assembled", () => {
    expect(programs.length).toBeGreaterThanOrEqual(7);
    for (const [f, p, bytes] of programs) expect(p.case.code, `${f}: run node scripts/system-vectors.mjs --write`).toBe(bytes.toString("hex"));
  });

  for (const [f, p] of programs) {
    for (const run of p.runs) {
      it(`${f}: ${run.name}`, () => {
        const memory = run.expect.memory ?? [];
        const c = parseCase({
          ...p.case,
          id: `${f}/${run.name}`,
          cpu: run.cpu,
          dump: memory.map((m) => ({ addr: m.addr, len: m.hex.replace(/ /g, "").length / 2 })),
        });
        const r = runCase(c);
        expect(check(run.expect, r), JSON.stringify(r.exit)).toEqual([]);
      });
    }
  }
});
