// The built-in coverage signal (harness/run/signal.ts) and the corpus of inputs that
// reached new signal (harness/run/corpus.ts).

import { describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import seedrandom from "seedrandom";
import { Ia32eGenerator } from "../../harness/gen/ia32e.js";
import { PRESETS } from "../../harness/config/config.js";
import { generatorFor } from "../../harness/gen/registry.js";
import { toRunnable } from "../../harness/gen/program.js";
import { PairRunner } from "../../harness/run/pair.js";
import { programFor, runChunk, type ChunkTask } from "../../harness/run/chunk.js";
import { bucket, kitLogCounts, runWithSignal, withKitLog } from "../../harness/run/signal.js";
import { Corpus, CorpusError } from "../../harness/run/corpus.js";

const gen = generatorFor("ia32e");
const intel = PRESETS["intel"]!;
const amd = PRESETS["amd"]!;
const fred = PRESETS["intel-fred"]!;

/** The first seed `prefix/k` whose program satisfies `ok`. */
function seedWhere(prefix: string, ok: (p: ReturnType<typeof programFor>) => boolean): string {
  for (let k = 0; k < 500; k++) if (ok(programFor(gen, `${prefix}/${k}`))) return `${prefix}/${k}`;
  throw new Error(`no seed ${prefix}/k in 500`);
}

/** A program of one SYSCALL item. */
const syscallOnly = (seed: string) => new Ia32eGenerator(seedrandom(seed)).program(seed, { count: 1, kinds: ["syscall"] });

const tempDir = () => mkdtempSync(join(tmpdir(), "hvdiff-corpus-"));

describe("signal", () => {
  it("the same program gives the same signal, on a fresh runner or a used one", () => {
    const r = new PairRunner();
    for (let i = 0; i < 10; i++) {
      const seed = `same/${i}`;
      const once = runWithSignal(r, gen, programFor(gen, seed), seed, intel, amd).signal;
      const again = runWithSignal(new PairRunner(), gen, programFor(gen, seed), seed, intel, amd).signal;
      expect([...again].sort()).toEqual([...once].sort());
    }
  });

  it("two different programs give different signals", () => {
    const r = new PairRunner();
    const sigs = Array.from({ length: 10 }, (_, i) => [...runWithSignal(r, gen, programFor(gen, `diff/${i}`), `diff/${i}`, intel, fred).signal].sort().join("\n"));
    expect(new Set(sigs).size).toBe(sigs.length);
  });

  it("the kit's LOG dump leaves the verdict as it was", () => {
    const r = new PairRunner();
    for (let i = 0; i < 10; i++) {
      const p = programFor(gen, `dump/${i}`);
      const plain = r.run(toRunnable(p, "x"), intel, amd, gen.compare);
      const logged = r.run(withKitLog(toRunnable(p, "x"), p.generator), intel, amd, gen.compare);
      expect(logged.kind).toBe(plain.kind);
      expect(logged.kind === "divergence" ? logged.diffs : null).toEqual(plain.kind === "divergence" ? plain.diffs : null);
      expect(logged.a.memory).toHaveLength(1);
    }
  });

  it("a configuration branch shows: SYSCALL from compatibility mode is #UD on Intel and a CSTAR entry on AMD", () => {
    let p = syscallOnly("branch/0");
    for (let k = 1; p.start !== "compat32"; k++) p = syscallOnly(`branch/${k}`);
    const run = runWithSignal(new PairRunner(), gen, p, p.seed, intel, amd);
    expect(run.signal).toContain("log amd syscall32 1");
    expect(run.signal).toContain("split syscall32 intel:0 amd:1");
    expect([...run.signal].some((f) => f.startsWith("log intel #UD"))).toBe(true);
    expect(run.signal).toContain("item syscall compat32/r0");
    expect(run.signal).toContain("first compat32 syscall");
  });

  it("LOG counts are read from the dump; buckets group counts as AFL does", () => {
    const p = programFor(gen, seedWhere("log", (q) => q.start === "long64" && q.items.some((it) => it.kind === "#UD")));
    const c = withKitLog(toRunnable(p, "x"), p.generator);
    const v = new PairRunner().run(c, intel, intel, gen.compare);
    expect(kitLogCounts(v.a).get("#UD")).toBeGreaterThanOrEqual(1);
    expect([1, 3, 4, 7, 8, 16, 1000].map(bucket)).toEqual(["1", "3", "4-7", "4-7", "8-15", "16+", "16+"]);
  });
});

describe("corpus", () => {
  it("keeps only inputs whose signal has a feature not seen before, and reloads them", () => {
    const dir = tempDir();
    try {
      const c = Corpus.open(dir);
      const g = "ia32e@1";
      expect(c.offer({ generator: g, seed: "t/0" }, ["a", "b"])).toBe(true);
      expect(c.offer({ generator: g, seed: "t/1" }, ["a"])).toBe(false);
      expect(c.offer({ generator: g, seed: "t/2" }, ["b", "c"])).toBe(true);
      expect(c.offer({ generator: g, seed: "t/3" }, [])).toBe(false);
      expect(readdirSync(dir)).toHaveLength(2);
      expect([c.added, c.features]).toEqual([2, 3]);
      const again = Corpus.open(dir);
      expect(again.seeds(g)).toEqual(["t/0", "t/2"]);
      expect(again.seeds("ia32e@2")).toEqual([]);
      // A replay: new signal for this run, but the inputs are there already.
      expect(again.offer({ generator: g, seed: "t/0" }, ["a", "b"])).toBe(true);
      expect(again.added).toBe(0);
      expect(readdirSync(dir)).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a file that is not an input is an error naming it", () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir, "x.json"), JSON.stringify({ seed: "s" }));
      expect(() => Corpus.open(dir)).toThrow(CorpusError);
      expect(() => Corpus.open(dir)).toThrow(/x\.json: not a corpus input/);
      writeFileSync(join(dir, "x.json"), JSON.stringify({ generator: "ia32e@1", seed: "s", extra: 1 }));
      expect(() => Corpus.open(dir)).toThrow(/unknown field 'extra'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a chunk run with its signal finds what the plain chunk finds, and names the cases with new signal", () => {
    const task: ChunkTask = { runSeed: "cc", generator: gen.name, pair: [intel, fred], from: 0, to: 60, known: {} };
    const plain = runChunk(task);
    const r = runChunk({ ...task, signal: true });
    expect(plain.signals).toBeUndefined();
    expect(r.findings).toEqual(plain.findings);
    expect([r.cases, r.stepLimits, r.harnessErrors]).toEqual([plain.cases, plain.stepLimits, plain.harnessErrors]);
    const signals = r.signals!;
    expect(signals[0]!.seed).toBe("cc/0");
    expect(signals.length).toBeGreaterThan(1);
    expect(signals.length).toBeLessThan(60);
    // No feature is attributed twice.
    const all = signals.flatMap((s) => s.features);
    expect(new Set(all).size).toBe(all.length);
  });

  it("a later run replays the corpus first, writes nothing new for it, and reaches at least the signal that kept it", () => {
    const dir = tempDir();
    try {
      const pairs: [typeof intel, typeof intel][] = [[intel, amd], [intel, fred]];
      const first = Corpus.open(dir);
      for (const pair of pairs) first.absorb(gen.name, runChunk({ runSeed: "rp", generator: gen.name, pair, from: 0, to: 40, known: {}, signal: true }));
      expect(first.added).toBe(first.size);
      expect(first.size).toBeGreaterThan(0);

      const later = Corpus.open(dir);
      const seeds = later.seeds(gen.name);
      const results = pairs.map((pair) => runChunk({ runSeed: "unused", generator: gen.name, pair, from: 0, to: seeds.length, seeds, known: {}, signal: true }));
      for (const r of results) later.absorb(gen.name, r);
      expect(later.added).toBe(0);
      // Every feature the first run saw came with an input it kept (under one pair; the
      // replay runs each input under both).
      expect(later.features).toBeGreaterThanOrEqual(first.features);
      expect(results.reduce((n, r) => n + r.cases, 0)).toBe(2 * later.size);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
