// The differential runner: one case under configurations A and B, each from its own
// booted snapshot; the guest-visible difference (src/case/diff.ts); and, for a finding,
// the first instruction of the case's code after which the two machines differ, found by
// running them in lockstep.
//
// Cases a generator made run on a guest kit: the kit's start-up (the case's prefix) runs
// once per configuration and is kept as a snapshot, and whatever already differs between
// A and B when the kit hands over to the code (CR4.FRED on one side, say) is the
// configurations' baseline, not a finding. The kit's own stacks (scratch) are not
// compared: which frames land there depends on the delivery mechanism, not on the guest.

import type { Case } from "../../src/case/case.js";
import { CaseRunner, prefixKey } from "../../src/case/run.js";
import { project, type CaseResult } from "../../src/case/result.js";
import { diffPages, diffResults, pagesWritten, type Difference } from "../../src/case/diff.js";
import type { Machine } from "../../src/case/machine.js";
import type { Decision, Exit } from "../../src/cpu/cpu.js";
import { formatBytes, hexNumber } from "../../src/case/hex.js";
import { CS } from "../../src/cpu/state.js";
import type { Configuration } from "../config/config.js";
import { disassemble } from "../disasm.js";
import { XenHvm } from "../../src/hv/xen/hvm.js";
import { XenPv64 } from "../../src/hv/xen/pv64/pv64.js";

export type Side = "a" | "b";

/** A decision as reports show it. */
export interface DecisionOut {
  step: number;
  rip: string;
  rule: string;
  choice: string;
}

export interface PairOptions {
  /** The case's prefix (up to its first arrival at `base`) does not depend on its code: a generator's kit. */
  prefixed?: boolean;
  /** Guest-physical ranges not compared (a kit's stacks). */
  scratch?: readonly { addr: number; len: number }[];
}

export type PairVerdict =
  | { kind: "same"; a: CaseResult; b: CaseResult }
  | { kind: "divergence"; a: CaseResult; b: CaseResult; diffs: Difference[] }
  | { kind: "crash"; a: CaseResult; b: CaseResult; side: Side; message: string; stack: string };

export interface FirstDivergence {
  /** Instructions of the case's code both sides had completed before the one that made them differ. */
  step: number;
  mode: string;
  rip: string;
  bytes: string;
  disasm: string;
  /** The differences right after that instruction (and the events it raised) completed. */
  diffs: Difference[];
}

/** `c` with side `cfg`'s CPU model, and its hypervisor knobs when `c` runs under the HVM or the PV64 model. */
export function withConfiguration(c: Case, cfg: Configuration): Case {
  const out: Case = { ...c, cpu: { ...cfg.cpu } };
  if (c.hv?.model === "xen-hvm" && cfg.hvm !== undefined) out.hv = { model: "xen-hvm", preset: cfg.name, policy: { ...cfg.hvm } };
  // A PV64 case takes the side's PV64 knobs and keeps its own migration target.
  if (c.hv?.model === "xen-pv64" && cfg.pv64 !== undefined) out.hv = { ...c.hv, preset: cfg.name, policy: { ...cfg.pv64 } };
  return out;
}

const isHex = (s: string) => s.startsWith("0x");

/**
 * A difference the baseline explains: the same path differing the same way (the same XOR
 * for numbers), or a register holding a copy of a baseline difference (MOV from CR4
 * shows CR4.FRED: the configuration, not the program).
 */
function inBaseline(d: Difference, baseline: Map<string, Difference>): boolean {
  if (baseline.size === 0) return false;
  const b = baseline.get(d.path);
  if (b !== undefined) {
    if (isHex(d.a) && isHex(d.b) && isHex(b.a) && isHex(b.b)) return (BigInt(d.a) ^ BigInt(d.b)) === (BigInt(b.a) ^ BigInt(b.b));
    return d.a === b.a && d.b === b.b;
  }
  if (!d.path.startsWith("regs.") || !isHex(d.a) || !isHex(d.b)) return false;
  const x = BigInt(d.a) ^ BigInt(d.b);
  for (const e of baseline.values()) if (isHex(e.a) && isHex(e.b) && (BigInt(e.a) ^ BigInt(e.b)) === x) return true;
  return false;
}

function inScratch(d: Difference, scratch: readonly { addr: number; len: number }[]): boolean {
  if (!d.path.startsWith("memory.")) return false;
  const at = Number(d.path.slice(7));
  return scratch.some((r) => at >= r.addr && at < r.addr + r.len);
}

export class PairRunner {
  private readonly runners: Record<Side, CaseRunner> = { a: new CaseRunner(), b: new CaseRunner() };
  private readonly baselines = new Map<string, Map<string, Difference>>();

  /** The differences between A and B where the prefix hands over to the code. */
  private baseline(c: Case, A: Configuration, B: Configuration, scratch: PairOptions["scratch"]): Map<string, Difference> {
    const key = `${JSON.stringify(A.cpu)}|${JSON.stringify(B.cpu)}|${prefixKey(c)}`;
    let b = this.baselines.get(key);
    if (b !== undefined) return b;
    b = new Map();
    const ra = this.runners.a.prefixResult(withConfiguration(c, A));
    const la = this.runners.a.last!;
    const rb = this.runners.b.prefixResult(withConfiguration(c, B));
    const lb = this.runners.b.last!;
    if (ra !== null && rb !== null) {
      const diffs = diffResults(ra, rb);
      const pages = pagesWritten(la.machine.mem.writtenSince(la.booted.mem), lb.machine.mem.writtenSince(lb.booted.mem));
      diffs.push(...diffPages(la.machine.mem, lb.machine.mem, pages));
      for (const d of diffs) if (!inScratch(d, scratch ?? [])) b.set(d.path, d);
    }
    if (this.baselines.size > 256) this.baselines.clear();
    this.baselines.set(key, b);
    return b;
  }

  private filter(diffs: Difference[], baseline: Map<string, Difference>, opts: PairOptions): Difference[] {
    return diffs.filter((d) => !inScratch(d, opts.scratch ?? []) && !inBaseline(d, baseline));
  }

  run(c: Case, A: Configuration, B: Configuration, opts: PairOptions = {}): PairVerdict {
    const baseline = opts.prefixed === true ? this.baseline(c, A, B, opts.scratch) : new Map<string, Difference>();
    const runOne = (side: Side, cfg: Configuration) => {
      const r = this.runners[side];
      return opts.prefixed === true ? r.runPrefixed(withConfiguration(c, cfg)) : r.run(withConfiguration(c, cfg));
    };
    const a = runOne("a", A);
    const ma = this.runners.a.last!;
    const b = runOne("b", B);
    const mb = this.runners.b.last!;
    for (const [side, r, m] of [["a", a, ma], ["b", b, mb]] as const) {
      if (r.exit.kind === "crash") {
        const err = m.machine.cpu.crashError;
        const stack = err instanceof Error && err.stack !== undefined ? err.stack : String(err);
        return { kind: "crash", a, b, side, message: r.exit.message, stack };
      }
    }
    // Pages only the prefix wrote hold what the baseline holds: compare those the code wrote.
    const pages = pagesWritten(ma.machine.mem.writtenSince(ma.start.mem), mb.machine.mem.writtenSince(mb.start.mem));
    const memDiffs = diffPages(ma.machine.mem, mb.machine.mem, pages, opts.scratch);
    // Most pairs agree: the raw state first, the projected strings only when it differs.
    if (memDiffs.length === 0 && a.exit.kind === b.exit.kind && sameState(ma.machine, mb.machine, baselineXors(baseline))) {
      if (JSON.stringify(a.exit) === JSON.stringify(b.exit)) return { kind: "same", a, b };
    }
    const diffs = diffResults(a, b);
    diffs.push(...memDiffs);
    const kept = this.filter(diffs, baseline, opts);
    return kept.length === 0 ? { kind: "same", a, b } : { kind: "divergence", a, b, diffs: kept };
  }

  /**
   * The decisions the configurations made (Cpu.decide) on each side, keeping those the
   * other side did not make at the same instruction: why the two differ.
   */
  decisions(c: Case, A: Configuration, B: Configuration, opts: PairOptions = {}, max = 12): Record<Side, DecisionOut[]> {
    const logs: Record<Side, Decision[]> = { a: [], b: [] };
    const start: Record<Side, number> = { a: 0, b: 0 };
    for (const [side, cfg] of [["a", A], ["b", B]] as const) {
      const r = this.runners[side];
      const cc = withConfiguration(c, cfg);
      const m = (opts.prefixed === true ? r.preparePrefixed(cc) : null) ?? r.prepare(cc);
      // Steps counted from where the code starts: every retired instruction, the kit's
      // handlers and delivered events included (FirstDivergence.step counts only the code's
      // own instructions; the two meet at the same rip).
      start[side] = opts.prefixed === true ? m.cpu.steps : 0;
      m.cpu.decisions = logs[side];
      try {
        m.cpu.run();
      } catch {
        // a crash: the decisions so far
      } finally {
        m.cpu.decisions = null;
      }
      // The hypervisor model's knob decisions ("latched native because EFER.LMA=1", "entry_from_pv
      // leaves RCX/R11"), in step order with the CPU's.
      const hv = m.cpu.hypervisor;
      if (hv instanceof XenHvm || hv instanceof XenPv64) {
        for (const d of hv.log().decisions) logs[side].push({ step: d.step, rip: Number(BigInt(d.rip)), rule: d.knob, choice: `${d.branch}: ${d.why}` });
        logs[side].sort((x, y) => x.step - y.step);
      }
    }
    const key = (d: Decision) => `${d.rip}|${d.rule}|${d.choice}`;
    const only = (mine: Decision[], theirs: Decision[], from: number): DecisionOut[] => {
      const left = new Map<string, number>();
      for (const d of theirs) left.set(key(d), (left.get(key(d)) ?? 0) + 1);
      const out: DecisionOut[] = [];
      for (const d of mine) {
        const n = left.get(key(d)) ?? 0;
        if (n > 0) left.set(key(d), n - 1);
        else if (out.length < max) out.push({ step: d.step - from, rip: hexNumber(d.rip), rule: d.rule, choice: d.choice });
      }
      return out;
    };
    return { a: only(logs.a, logs.b, start.a), b: only(logs.b, logs.a, start.b) };
  }

  /**
   * Run both sides in lockstep over the case's code: one instruction of the code at a
   * time, with whatever runs outside the code before execution comes back to it (event
   * handlers of a kit) folded into that instruction. Returns the first instruction after
   * which the two differ (beyond the baseline and scratch), or null when they never do.
   * Each step is compared on the raw state first; only a step that may differ is projected.
   */
  firstDivergence(c: Case, A: Configuration, B: Configuration, opts: PairOptions = {}): FirstDivergence | null {
    const baseline = opts.prefixed === true ? this.baseline(c, A, B, opts.scratch) : new Map<string, Difference>();
    const prep = (side: Side, cfg: Configuration): Machine => {
      const r = this.runners[side];
      const cc = withConfiguration(c, cfg);
      return (opts.prefixed === true ? r.preparePrefixed(cc) : null) ?? r.prepare(cc);
    };
    const ma = prep("a", A);
    const mb = prep("b", B);
    const xors = baselineXors(baseline);
    const scratch = opts.scratch ?? [];
    for (let step = 0; ; step++) {
      ma.mem.clearDirty();
      mb.mem.clearDirty();
      const ea = stepInstruction(ma, c);
      const eb = stepInstruction(mb, c);
      const pages = pagesWritten(ma.mem.dirtyPages(), mb.mem.dirtyPages());
      const memDiffs = diffPages(ma.mem, mb.mem, pages, scratch);
      if (ea.kind !== eb.kind || memDiffs.length > 0 || !sameState(ma, mb, xors)) {
        const diffs = diffResults(project(c.id, ma.cpu, ma.mem, ea, []), project(c.id, mb.cpu, mb.mem, eb, []));
        diffs.push(...memDiffs);
        const kept = this.filter(diffs, baseline, opts);
        if (kept.length > 0) {
          // The instruction itself: side A again, up to the step before it (cheaper than
          // keeping every step's bytes).
          const m = prep("a", A);
          for (let k = 0; k < step; k++) stepInstruction(m, c);
          const cpu = m.cpu;
          const bytes = cpu.peekCode(cpu.rip);
          const d = disassemble(bytes, cpu.codeSize, cpu.rip, c.cpu.vendor);
          return {
            step,
            mode: cpu.modeName(),
            rip: hexNumber(cpu.rip),
            bytes: formatBytes(d.length > 0 ? bytes.subarray(0, d.length) : bytes),
            disasm: d.text,
            diffs: kept,
          };
        }
      }
      if (ea.kind !== "step-limit" || eb.kind !== "step-limit") return null;
    }
  }
}

const xorsOf = new WeakMap<Map<string, Difference>, Int32Array>();

/** The XOR of the baseline's CR4 and EFER differences, as 32-bit halves (0 where there is none); worked out once per baseline. */
function baselineXors(baseline: Map<string, Difference>): Int32Array {
  const known = xorsOf.get(baseline);
  if (known !== undefined) return known;
  const out = new Int32Array(3);
  xorsOf.set(baseline, out);
  const cr4 = baseline.get("sregs.cr4");
  if (cr4 !== undefined) {
    const x = BigInt(cr4.a) ^ BigInt(cr4.b);
    out[0] = Number(x & 0xffffffffn);
    out[1] = Number(x >> 32n);
  }
  const efer = baseline.get("sregs.efer");
  if (efer !== undefined) out[2] = Number((BigInt(efer.a) ^ BigInt(efer.b)) & 0xffffffffn);
  return out;
}

/** The processor state the projection shows, compared raw (RF aside; CR4 and EFER up to the baseline's XOR). */
function sameState(ma: Machine, mb: Machine, xors: Int32Array): boolean {
  const a = ma.cpu;
  const b = mb.cpu;
  for (let r = 0; r < 16; r++) if (a.lo[r] !== b.lo[r] || a.hi[r] !== b.hi[r]) return false;
  if (a.rip !== b.rip || ((a.getRflags() ^ b.getRflags()) & ~0x10000) !== 0) return false;
  for (let s = 0; s < 8; s++) {
    if (a.segSel[s] !== b.segSel[s] || a.segBaseLo[s] !== b.segBaseLo[s] || a.segBaseHi[s] !== b.segBaseHi[s]) return false;
    if (a.segLimit[s] !== b.segLimit[s] || a.segAttr[s] !== b.segAttr[s]) return false;
  }
  if (a.cr0 !== b.cr0 || a.cr2Lo !== b.cr2Lo || a.cr2Hi !== b.cr2Hi || a.cr3 !== b.cr3) return false;
  if (a.gdtrBase !== b.gdtrBase || a.gdtrLimit !== b.gdtrLimit || a.idtrBase !== b.idtrBase || a.idtrLimit !== b.idtrLimit) return false;
  if ((a.cr4Lo ^ b.cr4Lo) !== xors[0] || (a.cr4Hi ^ b.cr4Hi) !== xors[1]) return false;
  return (a.efer ^ b.efer) === xors[2];
}

/** Whether execution is inside the case's code. */
function inCode(m: Machine, c: Case): boolean {
  const lin = m.cpu.segBase(CS) + m.cpu.rip;
  return lin >= c.base && lin < c.base + c.code.length;
}

/**
 * Run one instruction of the case's code, and then whatever runs outside the code until
 * execution is back in it or the run ends; how it stopped.
 */
function stepInstruction(m: Machine, c: Case): Exit {
  const cpu = m.cpu;
  let exit: Exit;
  try {
    do {
      cpu.stepLimit = Math.min(cpu.steps + 1, c.maxSteps);
      exit = cpu.run();
    } while (exit.kind === "step-limit" && cpu.steps < c.maxSteps && !inCode(m, c));
  } catch (e) {
    exit = { kind: "crash", message: e instanceof Error ? e.message : String(e) };
  }
  return exit;
}
