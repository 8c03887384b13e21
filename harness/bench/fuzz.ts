// The fuzzer's throughput for `npm run bench`: case-pairs per second on one core with
// short programs (about 100 instructions of body), the scaling of worker threads, and
// resident memory over a run.

import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import seedrandom from "seedrandom";
import { Piscina } from "piscina";
import { Ia32eGenerator } from "../gen/ia32e.js";
import { Pv64Generator } from "../gen/pv64.js";
import { generatorFor } from "../gen/registry.js";
import { toRunnable, SCRATCH } from "../gen/program.js";
import { PairRunner } from "../run/pair.js";
import { findingOf, runBounded } from "../run/finding.js";
import { PRESETS, type Configuration } from "../config/config.js";
import { runChunk, type ChunkResult, type ChunkTask } from "../run/chunk.js";

/**
 * Case-pairs per second on one thread: generate, run both sides, judge, locate findings.
 * `rate` by the wall clock; `cpuRate` by the process's CPU time (the same on a busy machine).
 */
function pairsPerSecond(A: Configuration, B: Configuration, items: number, n: number): { rate: number; cpuRate: number; bodySteps: number; findings: number } {
  const r = new PairRunner();
  const opts = { prefixed: true, scratch: SCRATCH };
  const once = (i: number) => {
    const seed = `bench/${i}`;
    const p = new Ia32eGenerator(seedrandom(seed)).program(seed, { count: items });
    const c = toRunnable(p, seed);
    const run = runBounded(r, c, A, B, opts);
    return { f: findingOf(r, run.c, run.verdict, A, B, opts), steps: run.verdict.a.steps };
  };
  for (let i = 0; i < 300; i++) once(i); // warm-up
  // Steps a side without the kit's start-up, which runs once per configuration.
  const kit = toRunnable({ generator: "", seed: "", start: "long64", items: [], maxSteps: 5000 }, "kit");
  const kitSteps = r.run(kit, A, A, opts).a.steps;
  let steps = 0;
  let findings = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const x = once(1000 + i);
    steps += x.steps - kitSteps;
    if (x.f !== null) findings++;
  }
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { rate: n / s, cpuRate: n / ((c.user + c.system) / 1e6), bodySteps: steps / n, findings };
}

/** PV64 case-pairs per second on one thread: pv64@1 programs under the Xen PV64 model, as pairsPerSecond. */
function pv64PairsPerSecond(A: Configuration, B: Configuration, n: number): { rate: number; cpuRate: number; findings: number } {
  const r = new PairRunner();
  const opts = generatorFor("pv64").compare;
  const once = (i: number) => {
    const seed = `bench/pv64/${i}`;
    const c = toRunnable(new Pv64Generator(seedrandom(seed)).program(seed), seed);
    const run = runBounded(r, c, A, B, opts);
    return findingOf(r, run.c, run.verdict, A, B, opts);
  };
  for (let i = 0; i < 300; i++) once(i); // warm-up
  let findings = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) if (once(1000 + i) !== null) findings++;
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { rate: n / s, cpuRate: n / ((c.user + c.system) / 1e6), findings };
}

/** Cases per second with `jobs` worker threads running whole chunks (as `hvdiff fuzz --jobs`). */
async function chunksPerSecond(jobs: number, chunks: number, pair: [Configuration, Configuration]): Promise<number> {
  const pool = new Piscina({ filename: fileURLToPath(new URL("../run/worker.js", import.meta.url)), maxThreads: jobs, minThreads: jobs });
  const task = (k: number): ChunkTask => ({ runSeed: "bench", generator: "ia32e", pair, from: k * 200, to: (k + 1) * 200, known: {} });
  try {
    // Warm every worker, and let each see the signatures so no chunk minimizes.
    const warm = (await Promise.all(Array.from({ length: jobs }, (_, k) => pool.run(task(k)) as Promise<ChunkResult>))).flatMap((r) => r.findings);
    const known: Record<string, string> = {};
    for (const f of warm) known[f.signature] = "bench/0";
    const t0 = performance.now();
    let cases = 0;
    await Promise.all(
      Array.from({ length: chunks }, async (_, k) => {
        const r = (await pool.run({ ...task(100 + k), known })) as ChunkResult;
        cases += r.cases;
      }),
    );
    return cases / ((performance.now() - t0) / 1000);
  } finally {
    await pool.destroy();
  }
}

/** Resident memory (MiB) sampled while one thread runs chunks for `seconds`. */
function residentOverTime(seconds: number, pair: [Configuration, Configuration]): number[] {
  const samples: number[] = [];
  const t0 = performance.now();
  let next = 0;
  const known: Record<string, string> = {};
  for (let k = 0; (performance.now() - t0) / 1000 < seconds; k++) {
    const r = runChunk({ runSeed: "rss", generator: "ia32e", pair, from: k * 200, to: (k + 1) * 200, known });
    for (const f of r.findings) known[f.signature] ??= f.seeds[0]!;
    const t = (performance.now() - t0) / 1000;
    if (t >= next) {
      samples.push(process.memoryUsage().rss / (1 << 20));
      next += seconds / 4;
    }
  }
  samples.push(process.memoryUsage().rss / (1 << 20));
  return samples;
}

export async function fuzzBench(log: (s: string) => void): Promise<void> {
  const intel = PRESETS["intel"]!;
  for (const other of ["amd", "intel-fred"]) {
    const r = pairsPerSecond(intel, PRESETS[other]!, 4, 4000);
    log(`  fuzz pairs   ${r.rate.toFixed(0).padStart(6)} case-pairs/s on one thread (${r.cpuRate.toFixed(0)} per CPU-second), intel/${other}, 4-item programs (${r.bodySteps.toFixed(0)} steps a side, ${r.findings} of 4000 findings located)`);
  }
  for (const other of ["xen-fred", "xen-fred-fixed"]) {
    const r = pv64PairsPerSecond(PRESETS["xen-idt"]!, PRESETS[other]!, 3000);
    log(`  fuzz pv64    ${r.rate.toFixed(0).padStart(6)} case-pairs/s on one thread (${r.cpuRate.toFixed(0)} per CPU-second), xen-idt/${other}, pv64@1 programs (${r.findings} of 3000 findings located)`);
  }
  const pair: [Configuration, Configuration] = [intel, PRESETS["intel-fred"]!];
  const one = await chunksPerSecond(1, 6, pair);
  const two = await chunksPerSecond(2, 12, pair);
  log(`  fuzz jobs    ${one.toFixed(0)} cases/s with --jobs 1, ${two.toFixed(0)} with --jobs 2 (x${(two / one).toFixed(2)}), default programs`);
  const rss = residentOverTime(20, pair);
  log(`  fuzz memory  resident ${rss.map((m) => m.toFixed(0)).join(" -> ")} MiB over 20 s of chunks`);
}
