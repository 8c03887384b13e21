// `hvdiff fuzz`: generate cases, run each under the pairs of configurations, and write
// one report per signature. Work goes out in chunks of consecutive seeds (the unit a
// worker runs, a shard takes and a resumed run skips); the reports and the run's state
// file are written atomically after each chunk, so a run killed at any moment leaves
// only complete reports and `--resume` continues it.
//
// With `--corpus DIR` each case's coverage signal is taken too (run/signal.ts): the run
// first replays the corpus, then keeps every case that reached a feature not seen yet
// (folded in chunk order, so the corpus a run leaves does not depend on --jobs).

import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import writeFileAtomic from "write-file-atomic";
import cliProgress from "cli-progress";
import { Piscina } from "piscina";
import { ConfigError, DEFAULT_PAIRS, parsePair, PRESETS, type Configuration } from "../config/config.js";
import { checkGenerator, defaultGeneratorFor } from "../gen/registry.js";
import { runChunk, type ChunkResult, type ChunkTask } from "../run/chunk.js";
import { Corpus, CorpusError } from "../run/corpus.js";
import { compareSeeds, MAX_SEEDS, mergeReports, readReport, REPORT_FILE, reportFileName, ReportError, writeReport, type Report } from "../report/report.js";
import { isSuppressed, readSuppressions, SuppressionError, type Suppression } from "../report/suppress.js";
import { junitXml } from "../report/junit.js";
import { UsageError } from "./exec.js";
import { parseCount, parseDuration, parseShard } from "./options.js";
import { fromRuns, readState, RUN_STATE_FILE, toRuns, type RunState } from "../run/state.js";

/** Cases per chunk. */
export const CHUNK = 200;
/** The built-in default: every preset pair for this long. */
export const DEFAULT_SECONDS = 20;

export interface FuzzOptions {
  pair?: string[];
  seed?: string;
  time?: string;
  cases?: string;
  jobs?: string;
  out?: string;
  ci?: boolean;
  suppress?: string;
  junit?: string;
  shard?: string;
  resume?: boolean;
  generator?: string;
  progress?: boolean;
  corpus?: string;
}

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Standard error is a terminal: show a progress bar. */
  tty: boolean;
}

/**
 * What the run keeps of a signature: its counts, and the report's file. The report itself
 * (tens of kilobytes with its cases) stays on disk and is read back when it changes, so a
 * long run's memory does not grow with the number of signatures it has found.
 */
interface Entry {
  file: string;
  signature: string;
  pair: string;
  count: number;
  seeds: string[];
  /** The seed of the case the report was made from (the earliest seen). */
  seed: string;
}

function entryOf(r: Report): Entry {
  return { file: reportFileName(r.kind, r.signature), signature: r.signature, pair: `${r.pair.a.name}/${r.pair.b.name}`, count: r.count, seeds: r.seeds, seed: r.generator.seed };
}

export async function fuzzCommand(opts: FuzzOptions, io: Io): Promise<number> {
  const start = Date.now();
  const outDir = opts.out ?? "reports";
  if (opts.generator !== undefined) {
    try {
      checkGenerator(opts.generator);
    } catch (e) {
      throw new UsageError(`--generator: ${(e as Error).message}`);
    }
  }
  let pairs: [Configuration, Configuration][];
  try {
    pairs = opts.pair === undefined || opts.pair.length === 0 ? DEFAULT_PAIRS.map(([a, b]) => [PRESETS[a]!, PRESETS[b]!]) : opts.pair.map(parsePair);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  // Each pair's generator: --generator, or what its configurations call for (toolstack
  // sequences for domctl presets, hypercall programs for HVM presets, guest programs otherwise).
  const generators = pairs.map(([a, b]) => opts.generator ?? defaultGeneratorFor(a, b));
  const seed = opts.seed ?? "hvdiff";
  if (seed.includes("/")) throw new UsageError(`--seed '${seed}': may not contain '/'`);
  const cases = opts.cases === undefined ? null : parseCount("--cases", opts.cases);
  const seconds = opts.time !== undefined ? parseDuration("--time", opts.time) : cases === null ? DEFAULT_SECONDS : Infinity;
  const jobs = opts.jobs === undefined ? availableParallelism() : parseCount("--jobs", opts.jobs);
  const shard = opts.shard === undefined ? { index: 0, count: 1 } : parseShard(opts.shard);
  let suppressions: Suppression[] = [];
  if (opts.suppress !== undefined) {
    try {
      suppressions = readSuppressions(opts.suppress);
    } catch (e) {
      if (e instanceof SuppressionError) throw new UsageError(e.message);
      throw e;
    }
  }

  let corpus: Corpus | null = null;
  if (opts.corpus !== undefined) {
    try {
      corpus = Corpus.open(opts.corpus);
    } catch (e) {
      if (e instanceof CorpusError) throw new UsageError(`--corpus: ${e.message}`);
      throw e;
    }
  }

  mkdirSync(outDir, { recursive: true });
  const pairNames = pairs.map(([a, b]) => `${a.name}/${b.name}`);
  const runOptions: RunState["options"] = { seed, generator: opts.generator ?? null, pairs: pairs.map(([a, b]) => [a, b]), cases, shard, corpus: opts.corpus ?? null };
  const statePath = join(outDir, RUN_STATE_FILE);
  let state: RunState;
  const agg = new Map<string, Entry>();
  if (opts.resume === true) {
    if (!existsSync(statePath)) throw new UsageError(`--resume: ${statePath}: no run to resume`);
    try {
      state = readState(statePath);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (JSON.stringify(state.options) !== JSON.stringify(runOptions)) {
      throw new UsageError(`--resume: ${statePath} is a run with other options (seed, pairs, generator, --cases, --shard, --corpus): give the same ones`);
    }
    restoreReports(outDir, state, agg);
  } else {
    state = { format: "hvdiff-run/2", options: runOptions, done: pairs.map(() => []), cases: pairs.map(() => 0), signatures: {} };
    if (corpus !== null) state.corpusSeeds = generators.map((g) => corpus!.seeds(g));
  }
  const corpusAtStart = corpus?.size ?? 0;

  // The chunks, in seed order, pair by pair: chunk k of each pair, then k + 1; with a
  // corpus, its replay first (chunks -1, -2, ... of its seeds; on --resume, those done are
  // run again for their signal only).
  const done = state.done.map((d) => new Set(fromRuns(d, shard.count)));
  const chunksPerPair = cases === null ? Infinity : Math.ceil(cases / CHUNK);
  interface Planned {
    pair: number;
    k: number;
    task: Omit<ChunkTask, "known">;
    /** Counted in the run (false: a replay for the corpus's signal only). */
    counted: boolean;
    /** Order in which the corpus folds its result in. */
    seq: number;
  }
  function* tasks(): Generator<Planned> {
    let seq = 0;
    const signal = corpus !== null;
    const replay = state.corpusSeeds ?? pairs.map(() => []);
    const longest = Math.max(0, ...replay.map((r) => r.length));
    for (let j = 0; j * CHUNK < longest; j++) {
      for (let p = 0; p < pairs.length; p++) {
        const seeds = replay[p]!.slice(j * CHUNK, (j + 1) * CHUNK);
        if (seeds.length === 0) continue;
        const task = { runSeed: seed, generator: generators[p]!, pair: pairs[p]!, from: 0, to: seeds.length, seeds, signal };
        yield { pair: p, k: -1 - j, task, counted: !done[p]!.has(-1 - j), seq: seq++ };
      }
    }
    for (let k = shard.index; k < chunksPerPair; k += shard.count) {
      for (let p = 0; p < pairs.length; p++) {
        if (done[p]!.has(k)) continue;
        const from = k * CHUNK;
        const to = cases === null ? from + CHUNK : Math.min(cases, from + CHUNK);
        yield { pair: p, k, task: { runSeed: seed, generator: generators[p]!, pair: pairs[p]!, from, to, signal }, counted: true, seq: seq++ };
      }
    }
  }
  // Chunk results wait here until every earlier one is folded into the corpus.
  const pending = new Map<number, { generator: string; r: ChunkResult }>();
  let nextSeq = 0;
  const absorb = (seq: number, generator: string, r: ChunkResult): void => {
    if (corpus === null) return;
    pending.set(seq, { generator, r });
    for (let q = pending.get(nextSeq); q !== undefined; q = pending.get(nextSeq)) {
      pending.delete(nextSeq++);
      corpus.absorb(q.generator, q.r);
    }
  };

  const plannedCases = cases === null ? null : pairs.length * countShardCases(cases, shard);

  const known = (): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [sig, e] of agg) out[sig] = e.seed;
    return out;
  };
  let casesRun = state.cases.reduce((a, b) => a + b, 0);
  const casesAtStart = casesRun;
  let stepLimits = 0;
  const harnessErrors: ChunkResult["harnessErrors"] = [];

  const accept = (t: Planned, r: ChunkResult): void => {
    absorb(t.seq, t.task.generator, r);
    if (!t.counted) return;
    const [p, k] = [t.pair, t.k];
    const stored = (e: Entry): Report => readReport(join(outDir, e.file));
    for (const f of r.findings) {
      const e = agg.get(f.signature);
      let report: Report;
      if (f.report !== undefined) {
        const candidate: Report = { ...f.report, count: f.count, seeds: f.seeds };
        report = e === undefined ? candidate : mergeReports(stored(e), candidate);
      } else if (e !== undefined) {
        const seeds = [...new Set([...e.seeds, ...f.seeds])].sort(compareSeeds).slice(0, MAX_SEEDS);
        report = { ...stored(e), count: e.count + f.count, seeds };
      } else {
        continue; // cannot happen: a chunk skips the report only for a known signature
      }
      const next = entryOf(report);
      report.replay = `npx hvdiff replay ${join(outDir, next.file)}`;
      writeReport(outDir, report);
      agg.set(f.signature, next);
    }
    done[p]!.add(k);
    state.done[p] = toRuns(done[p]!, shard.count);
    state.cases[p]! += r.cases;
    for (const [sig, e] of agg) state.signatures[sig] = { count: e.count, seeds: e.seeds, file: e.file };
    writeFileAtomic.sync(statePath, JSON.stringify(state, null, 1) + "\n", { fsync: false });
    casesRun += r.cases;
    stepLimits += r.stepLimits;
    harnessErrors.push(...r.harnessErrors);
  };

  // Progress: a bar on a terminal, a line every few seconds otherwise.
  const showProgress = opts.progress !== false;
  const bar = showProgress && io.tty
    ? new cliProgress.SingleBar(
        { format: "{bar} {value}/{total} cases | {rate} cases/s | {findings} findings, {sigs} signatures | {left} left", hideCursor: true, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : null;
  const total = plannedCases ?? Math.max(1, Math.round(seconds * 1000));
  const status = () => {
    const elapsed = (Date.now() - start) / 1000;
    const rate = (casesRun - casesAtStart) / Math.max(elapsed, 0.001);
    const findings = [...agg.values()].reduce((a, e) => a + e.count, 0);
    const left = plannedCases !== null ? `${Math.max(0, (plannedCases - casesRun) / Math.max(rate, 1)).toFixed(0)}s` : `${Math.max(0, seconds - elapsed).toFixed(0)}s`;
    return { rate: rate.toFixed(0), findings, sigs: agg.size, left, elapsed };
  };
  bar?.start(plannedCases ?? total, casesRun, { rate: "0", findings: 0, sigs: 0, left: "" });
  let lastLine = Date.now();
  const tick = () => {
    const s = status();
    if (bar !== null) bar.update(plannedCases !== null ? casesRun : Math.min(total, Math.round(s.elapsed * 1000)), s);
    else if (showProgress && Date.now() - lastLine >= 5000) {
      lastLine = Date.now();
      io.err(`hvdiff fuzz: ${casesRun} cases, ${s.rate} cases/s, ${s.findings} findings, ${s.sigs} signatures, ${s.left} left`);
    }
  };

  let stopping = false;
  const onSigint = () => {
    stopping = true;
  };
  process.on("SIGINT", onSigint);
  const timeUp = () => stopping || (Date.now() - start) / 1000 >= seconds;

  try {
    const it = tasks();
    if (jobs === 1) {
      for (const t of it) {
        if (timeUp()) break;
        accept(t, runChunk({ ...t.task, known: known() }));
        tick();
        await new Promise((r) => setImmediate(r));
      }
    } else {
      const pool = new Piscina({ filename: fileURLToPath(new URL("../run/worker.js", import.meta.url)), maxThreads: jobs, minThreads: jobs });
      try {
        const inFlight = new Set<Promise<void>>();
        for (const t of it) {
          if (timeUp()) break;
          const p: Promise<void> = (pool.run({ ...t.task, known: known() }) as Promise<ChunkResult>).then((r) => {
            accept(t, r);
            tick();
          });
          const tracked = p.finally(() => inFlight.delete(tracked));
          inFlight.add(tracked);
          if (inFlight.size >= jobs) await Promise.race(inFlight);
        }
        await Promise.all(inFlight);
      } finally {
        await pool.destroy();
      }
    }
  } finally {
    process.off("SIGINT", onSigint);
    tick();
    bar?.stop();
  }

  // Summary.
  const elapsed = (Date.now() - start) / 1000;
  const entries = [...agg.values()].sort((x, y) => y.count - x.count || (x.signature < y.signature ? -1 : 1));
  let open = 0;
  io.out(`hvdiff fuzz: ${casesRun - casesAtStart} cases in ${elapsed.toFixed(1)} s (${((casesRun - casesAtStart) / Math.max(elapsed, 0.001)).toFixed(0)} cases/s, ${jobs} job${jobs === 1 ? "" : "s"}), ${pairs.length} pair(s): ${pairNames.join(", ")}`);
  io.out(`  ${entries.length} signature(s) in ${outDir}/; ${stepLimits} case(s) ran out of steps`);
  if (corpus !== null) io.out(`  corpus ${corpus.dir}: ${corpus.size} input(s), ${corpus.size - corpusAtStart} new; ${corpus.features} signal features`);
  const junit: Parameters<typeof junitXml>[1] = [];
  for (const e of entries) {
    const sup = isSuppressed(e.signature, suppressions);
    if (sup === null) open++;
    junit.push({ pair: e.pair, signature: e.signature, count: e.count, file: join(outDir, e.file), suppressed: sup?.reason ?? null });
    io.out(`  ${String(e.count).padStart(7)}  ${e.signature}${sup !== null ? "  (suppressed)" : ""}\n           ${join(outDir, e.file)}`);
  }
  for (const h of harnessErrors.slice(0, 10)) io.err(`hvdiff fuzz: harness error at seed ${h.seed}: ${h.message}`);
  if (opts.junit !== undefined) {
    writeFileAtomic.sync(opts.junit, junitXml(pairNames.map((name, p) => ({ name, cases: state.cases[p]! })), junit, elapsed));
  }
  if (opts.ci === true && (open > 0 || harnessErrors.length > 0)) {
    io.out(`hvdiff fuzz --ci: ${open} finding signature(s) not in the suppressions${harnessErrors.length > 0 ? `, ${harnessErrors.length} harness error(s)` : ""}`);
    return 1;
  }
  return 0;
}

/** Cases of `cases` that shard `s` runs (whole chunks k with k mod N = I). */
function countShardCases(cases: number, s: { index: number; count: number }): number {
  let n = 0;
  for (let k = s.index; k * CHUNK < cases; k += s.count) n += Math.min(CHUNK, cases - k * CHUNK);
  return n;
}

/**
 * Resuming: the reports the state counts, with its counts and seeds (a report written
 * after the state's last update belongs to a chunk that will run again: removed).
 */
function restoreReports(outDir: string, state: RunState, agg: Map<string, Entry>): void {
  const files = new Set(Object.values(state.signatures).map((s) => s.file));
  for (const name of readdirSync(outDir)) {
    if (REPORT_FILE.test(name) && !files.has(name)) rmSync(join(outDir, name));
  }
  for (const [sig, s] of Object.entries(state.signatures)) {
    let r: Report;
    try {
      r = readReport(join(outDir, s.file));
    } catch (e) {
      if (e instanceof ReportError) throw new UsageError(`--resume: ${e.message}`);
      throw e;
    }
    r = { ...r, count: s.count, seeds: s.seeds };
    writeReport(outDir, r);
    agg.set(sig, entryOf(r));
  }
}
