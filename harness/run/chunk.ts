// One chunk of a fuzzing run: a contiguous range of case indices for one pair. Every
// case is generated from its seed (`<run seed>/<index>`), run under A and B, and each
// finding counted by signature; the first occurrence of a signature not already known
// from an earlier seed is minimized, located and turned into a report. A chunk's result
// depends only on its inputs, so chunks can run on any worker, shard or machine.
// With `signal`, a chunk also returns each case's coverage signal (signal.ts) for the
// corpus of `hvdiff fuzz --corpus`.

import seedrandom from "seedrandom";
import type { Configuration } from "../config/config.js";
import { domctlGeneratorFor, generatorFor, type ProgramGenerator } from "../gen/registry.js";
import type { DomctlProgram } from "../gen/domctl.js";
import type { Difference } from "../../src/case/diff.js";
import { domctlCaseJson, domctlSignal, evaluateDomctl, minimizeDomctl, type DomctlFinding } from "./domctl.js";
import { itemAddresses, toCase, toRunnable, type Program } from "../gen/program.js";
import { minimize } from "../minimize/minimize.js";
import { PairRunner, type PairOptions } from "./pair.js";
import { evaluate, findingOf, runBounded, type Finding } from "./finding.js";
import { runWithSignal } from "./signal.js";
import { compareSeeds, domctlProgramJson, MAX_SEEDS, portableStack, programJson, scratchJson, TOOL_VERSION, type Report } from "../report/report.js";
import { REPORT_FORMAT } from "../report/schema.js";

export interface ChunkTask {
  runSeed: string;
  generator: string;
  pair: [Configuration, Configuration];
  /** Case indices [from, to). */
  from: number;
  to: number;
  /** Signatures already reported, with the earliest seed seen: not minimized again for a later seed. */
  known: Record<string, string>;
  /** These seeds (a corpus replay) instead of `runSeed/from..to`. */
  seeds?: string[];
  /** Return each case's signal. */
  signal?: boolean;
}

export interface ChunkResult {
  cases: number;
  /** Errors of the harness itself (a generator bug): the case is skipped and the error kept. */
  harnessErrors: { seed: string; message: string; stack: string }[];
  /** Runs that ended in step-limit on either side (not findings, but worth a count). */
  stepLimits: number;
  /** Per signature: how many cases, their seeds (smallest first), and a report when this chunk made one. */
  findings: { signature: string; count: number; seeds: string[]; report?: Report }[];
  /** With `signal`: per case, in order, the features no earlier case of the chunk had (cases with none left out). */
  signals?: { seed: string; features: string[] }[];
}

export function caseSeed(runSeed: string, index: number): string {
  return `${runSeed}/${index}`;
}

/** The program of case `seed` (what every run, replay and minimization regenerates). */
export function programFor(gen: ProgramGenerator, seed: string): Program {
  return gen.generate(seedrandom(seed), seed);
}

let runner: PairRunner | null = null;

/** One case run as a pair: its finding's signature (null: none), and how to report it. */
interface Evaluated {
  signature: string | null;
  stepLimited: boolean;
  signal?: Set<string>;
  report(): Report;
}

/** How a chunk's cases are generated and judged: guest programs, or toolstack sequences. */
function evaluator(task: ChunkTask): (seed: string) => Evaluated {
  const [A, B] = task.pair;
  const dg = domctlGeneratorFor(task.generator);
  if (dg !== null) {
    return (seed) => {
      const program = dg.generate(seedrandom(seed), seed);
      const f = evaluateDomctl(program, A, B);
      const out: Evaluated = { signature: f?.signature ?? null, stepLimited: false, report: () => buildDomctlReport(dg.name, task, program, f!) };
      if (task.signal === true) out.signal = domctlSignal(program, A, B, f);
      return out;
    };
  }
  runner ??= new PairRunner();
  const r = runner;
  const gen = generatorFor(task.generator);
  const opts: PairOptions = gen.compare;
  return (seed) => {
    const program = programFor(gen, seed);
    if (task.signal === true) {
      const run = runWithSignal(r, gen, program, seed, A, B);
      const f = run.finding;
      return { signature: f?.signature ?? null, stepLimited: run.stepLimited, signal: run.signal, report: () => buildReport(r, gen, task, program, seed, f!) };
    }
    const run = runBounded(r, toRunnable(program, seed), A, B, opts);
    const f = findingOf(r, run.c, run.verdict, A, B, opts);
    return { signature: f?.signature ?? null, stepLimited: run.stepLimited, report: () => buildReport(r, gen, task, program, seed, f!) };
  };
}

export function runChunk(task: ChunkTask): ChunkResult {
  const evaluate = evaluator(task);
  const bySig = new Map<string, { count: number; seeds: string[]; report?: Report }>();
  let stepLimits = 0;
  const harnessErrors: ChunkResult["harnessErrors"] = [];
  const seeds = task.seeds ?? Array.from({ length: task.to - task.from }, (_, k) => caseSeed(task.runSeed, task.from + k));
  const signals: NonNullable<ChunkResult["signals"]> = [];
  const seen = new Set<string>();
  for (const seed of seeds) {
    try {
      const run = evaluate(seed);
      if (run.stepLimited) stepLimits++;
      if (run.signal !== undefined) {
        const fresh = [...run.signal].filter((f) => !seen.has(f));
        for (const f of fresh) seen.add(f);
        if (fresh.length > 0) signals.push({ seed, features: fresh });
      }
      if (run.signature !== null) {
        let entry = bySig.get(run.signature);
        if (entry === undefined) {
          entry = { count: 0, seeds: [] };
          bySig.set(run.signature, entry);
          const known = task.known[run.signature];
          if (known === undefined || compareSeeds(seed, known) < 0) entry.report = run.report();
        }
        entry.count++;
        if (entry.seeds.length < MAX_SEEDS) entry.seeds.push(seed);
      }
    } catch (e) {
      // A bug of the generator or the harness (the emulator's and the model's are crash
      // findings already): kept and reported, and the run goes on.
      const message = e instanceof Error ? e.message : String(e);
      harnessErrors.push({ seed, message, stack: portableStack(e instanceof Error && e.stack !== undefined ? e.stack : message) });
    }
  }
  const findings = [...bySig.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([signature, e]) => (e.report === undefined ? { signature, count: e.count, seeds: e.seeds } : { signature, count: e.count, seeds: e.seeds, report: e.report }));
  return { cases: seeds.length, harnessErrors, stepLimits, findings, ...(task.signal === true ? { signals } : {}) };
}

/** At most this many differences a report lists (a page of them helps nobody; the signature has them all). */
export const MAX_DIFFS = 200;

/** `diffs` cut to MAX_DIFFS, with how many were left out. */
function capDiffs(diffs: Difference[], key: "diffs"): { diffs: Difference[]; diffsOmitted?: number } {
  if (diffs.length <= MAX_DIFFS) return { [key]: diffs };
  return { [key]: diffs.slice(0, MAX_DIFFS), diffsOmitted: diffs.length - MAX_DIFFS };
}

/** What every report starts with: the tool, the finding's kind and signature, the pair, the generator and seed. */
function reportHead(f: { kind: Report["kind"]; signature: string }, pair: [Configuration, Configuration], generator: string, seed: string): Pick<Report, "format" | "tool" | "kind" | "signature" | "pair" | "generator" | "count" | "seeds"> {
  return {
    format: REPORT_FORMAT,
    tool: { name: "hvdiff", version: TOOL_VERSION },
    kind: f.kind,
    signature: f.signature,
    pair: { a: pair[0], b: pair[1] },
    generator: { name: generator, seed },
    count: 1,
    seeds: [seed],
  };
}

/** The report of a toolstack finding: the sequence and its minimized form, the first differing op with each side's rule. */
export function buildDomctlReport(generator: string, task: Pick<ChunkTask, "pair">, program: DomctlProgram, f: DomctlFinding): Report {
  const [A, B] = task.pair;
  const m = minimizeDomctl(program, (c) => evaluateDomctl(c, A, B)?.signature === f.signature);
  const min = m.program;
  const final = evaluateDomctl(min, A, B) ?? f;
  const report: Report = {
    ...reportHead(f, task.pair, generator, program.seed),
    compare: { prefixed: false, scratch: [] },
    original: { case: domctlCaseJson(program), program: domctlProgramJson(program), size: { items: program.ops.length + (program.altOps?.length ?? 0) } },
    minimized: { case: domctlCaseJson(min), program: domctlProgramJson(min), size: { items: min.ops.length + (min.altOps?.length ?? 0) }, tries: m.tries },
    replay: "",
  };
  if (final.kind === "divergence") {
    report.diffs = final.diffs;
    if (final.first !== null) report.firstOp = final.first;
  } else if (final.crash !== undefined) {
    report.crash = { ...final.crash, stack: portableStack(final.crash.stack) };
  }
  return report;
}

/** Minimize, locate and describe one finding. */
export function buildReport(r: PairRunner, gen: ProgramGenerator, task: Pick<ChunkTask, "pair">, program: Program, seed: string, f: Finding): Report {
  const [A, B] = task.pair;
  const opts = gen.compare;
  const keeps = (p: Program): boolean => evaluate(r, toRunnable(p, seed), A, B, opts)?.signature === f.signature;
  const m = minimize(program, keeps);
  const min = m.program;
  const minCase = toRunnable(min, seed);
  const final = evaluate(r, minCase, A, B, opts) ?? f;
  const report: Report = {
    ...reportHead(f, task.pair, gen.name, seed),
    compare: { prefixed: opts.prefixed === true, scratch: scratchJson(opts.scratch ?? []) },
    original: { case: toCase(program, seed), program: programJson(program), size: m.original },
    minimized: { case: toCase(min, seed), program: programJson(min), size: m.minimized, tries: m.tries },
    replay: "",
  };
  const decisions = r.decisions(minCase, A, B, opts);
  if (decisions.a.length > 0 || decisions.b.length > 0) report.decisions = decisions;
  if (final.kind === "divergence") {
    Object.assign(report, capDiffs(final.diffs, "diffs"));
    const first = final.first;
    if (first !== null) {
      const at = Number(BigInt.asUintN(64, BigInt(first.rip)));
      const k = itemAddresses(min.items).findIndex((x) => at >= x.start && at < x.end);
      const capped = { ...first, ...capDiffs(first.diffs, "diffs") };
      report.first = k >= 0 ? { ...capped, item: { index: k, kind: min.items[k]!.kind } } : capped;
    }
  } else if (final.crash !== undefined) {
    report.crash = { ...final.crash, stack: portableStack(final.crash.stack) };
  }
  return report;
}
