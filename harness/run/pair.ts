// The differential runner: one case under configurations A and B, each from its own
// booted snapshot; the guest-visible difference (src/case/diff.ts); and, for a finding,
// the first instruction after which the two machines differ, found by running them in
// lockstep.

import type { Case } from "../../src/case/case.js";
import { CaseRunner } from "../../src/case/run.js";
import { project, type CaseResult } from "../../src/case/result.js";
import { diffPages, diffResults, pagesWritten, type Difference } from "../../src/case/diff.js";
import type { Machine } from "../../src/case/machine.js";
import { formatBytes, hexNumber } from "../../src/case/hex.js";
import type { Configuration } from "../config/config.js";
import { disassemble } from "../disasm.js";

export type Side = "a" | "b";

export type PairVerdict =
  | { kind: "same"; a: CaseResult; b: CaseResult }
  | { kind: "divergence"; a: CaseResult; b: CaseResult; diffs: Difference[] }
  | { kind: "crash"; a: CaseResult; b: CaseResult; side: Side; message: string; stack: string };

export interface FirstDivergence {
  /** Instructions both sides had retired before the one that made them differ. */
  step: number;
  mode: string;
  rip: string;
  bytes: string;
  disasm: string;
  /** The differences right after that instruction (memory: the pages it wrote). */
  diffs: Difference[];
}

/** `c` with side `cfg`'s CPU model. */
export function withConfiguration(c: Case, cfg: Configuration): Case {
  return { ...c, cpu: { ...cfg.cpu } };
}

export class PairRunner {
  private readonly runners: Record<Side, CaseRunner> = { a: new CaseRunner(), b: new CaseRunner() };

  run(c: Case, A: Configuration, B: Configuration): PairVerdict {
    const a = this.runners.a.run(withConfiguration(c, A));
    const ma = this.runners.a.last!;
    const b = this.runners.b.run(withConfiguration(c, B));
    const mb = this.runners.b.last!;
    for (const [side, r, m] of [["a", a, ma], ["b", b, mb]] as const) {
      if (r.exit.kind === "crash") {
        const err = m.machine.cpu.crashError;
        const stack = err instanceof Error && err.stack !== undefined ? err.stack : String(err);
        return { kind: "crash", a, b, side, message: r.exit.message, stack };
      }
    }
    const diffs = diffResults(a, b);
    const pages = pagesWritten(ma.machine.mem.writtenSince(ma.booted.mem), mb.machine.mem.writtenSince(mb.booted.mem));
    diffs.push(...diffPages(ma.machine.mem, mb.machine.mem, pages));
    return diffs.length === 0 ? { kind: "same", a, b } : { kind: "divergence", a, b, diffs };
  }

  /**
   * Run both sides one instruction at a time from the start; the first instruction after
   * which their guest-visible state differs. Null when they never differ (the case does
   * not diverge, or only in a way a step-by-step run cannot show).
   */
  firstDivergence(c: Case, A: Configuration, B: Configuration): FirstDivergence | null {
    const ma = this.runners.a.prepare(withConfiguration(c, A));
    const mb = this.runners.b.prepare(withConfiguration(c, B));
    const limit = c.maxSteps;
    for (let step = 0; step < limit; step++) {
      const before = { rip: ma.cpu.rip, mode: ma.cpu.modeName(), codeSize: ma.cpu.codeSize, bytes: ma.cpu.peekCode(ma.cpu.rip) };
      ma.mem.clearDirty();
      mb.mem.clearDirty();
      const ra = stepOnce(ma, c);
      const rb = stepOnce(mb, c);
      const diffs = diffResults(ra, rb);
      diffs.push(...diffPages(ma.mem, mb.mem, pagesWritten(ma.mem.dirtyPages(), mb.mem.dirtyPages())));
      if (diffs.length > 0) {
        const d = disassemble(before.bytes, before.codeSize, before.rip, c.cpu.vendor);
        return {
          step,
          mode: before.mode,
          rip: hexNumber(before.rip),
          bytes: formatBytes(d.length > 0 ? before.bytes.subarray(0, d.length) : before.bytes),
          disasm: d.text,
          diffs,
        };
      }
      if (ra.exit.kind !== "step-limit") return null; // both ended the same way
    }
    return null;
  }
}

/** Run one more instruction (or event) and project the state. */
function stepOnce(m: Machine, c: Case): CaseResult {
  const cpu = m.cpu;
  cpu.stepLimit = cpu.steps + 1;
  let exit;
  try {
    exit = cpu.run();
  } catch (e) {
    exit = { kind: "crash" as const, message: e instanceof Error ? e.message : String(e) };
  }
  return project(c.id, cpu, m.mem, exit, []);
}
