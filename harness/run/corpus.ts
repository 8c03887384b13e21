// The corpus of `hvdiff fuzz --corpus DIR`: the inputs (generator and seed) that reached
// signal no earlier input had (signal.ts), one small JSON file each. A run first replays
// the corpus (findings count as usual, and the signal it reaches is known from the
// start), then keeps every new case whose signal has a feature not seen yet.
//
// A chunk run with `signal` (chunk.ts) also returns, per case, the features no earlier
// case of the chunk had; the run folds them into the corpus in chunk order.

import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import writeFileAtomic from "write-file-atomic";
import type { ChunkResult } from "./chunk.js";
import { compareSeeds } from "../report/report.js";

/** One input: what `programFor(generatorFor(generator), seed)` regenerates. */
export interface CorpusInput {
  generator: string;
  seed: string;
}

export class CorpusError extends Error {}

function inputFileName(i: CorpusInput): string {
  return `${createHash("sha256").update(`${i.generator}\0${i.seed}`).digest("hex").slice(0, 16)}.json`;
}

function parseInput(text: string, file: string): CorpusInput {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CorpusError(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  const o = v as Partial<Record<string, unknown>>;
  if (typeof v !== "object" || v === null || Array.isArray(v) || typeof o["generator"] !== "string" || typeof o["seed"] !== "string") {
    throw new CorpusError(`${file}: not a corpus input {"generator": string, "seed": string}`);
  }
  const extra = Object.keys(o).find((k) => k !== "generator" && k !== "seed");
  if (extra !== undefined) throw new CorpusError(`${file}: unknown field '${extra}'`);
  return { generator: o["generator"] as string, seed: o["seed"] as string };
}

export class Corpus {
  /** Inputs in the directory, by file name (those read at open and those kept since). */
  private readonly files = new Map<string, CorpusInput>();
  private readonly seen = new Set<string>();
  /** Inputs written by this run. */
  added = 0;

  private constructor(readonly dir: string) {}

  /** The corpus in `dir` (created when missing); every `*.json` file in it must be an input. */
  static open(dir: string): Corpus {
    const c = new Corpus(dir);
    try {
      mkdirSync(dir, { recursive: true });
      for (const name of readdirSync(dir).sort()) {
        if (!name.endsWith(".json")) continue;
        c.files.set(name, parseInput(readFileSync(join(dir, name), "utf8"), join(dir, name)));
      }
    } catch (e) {
      if (e instanceof CorpusError) throw e;
      throw new CorpusError(`${dir}: ${(e as Error).message}`);
    }
    return c;
  }

  /** The seeds of `generator`'s inputs (another generator, or another version of it, draws other programs from them), in seed order. */
  seeds(generator: string): string[] {
    return [...this.files.values()].filter((i) => i.generator === generator).map((i) => i.seed).sort(compareSeeds);
  }

  get size(): number {
    return this.files.size;
  }

  /** Distinct features seen so far. */
  get features(): number {
    return this.seen.size;
  }

  /**
   * A run's signal: whether it has a feature not seen before. An input that has one is
   * kept (written to the corpus, unless it is there already: a replay).
   */
  offer(input: CorpusInput, signal: Iterable<string>): boolean {
    let fresh = false;
    for (const f of signal) {
      if (this.seen.has(f)) continue;
      this.seen.add(f);
      fresh = true;
    }
    const name = inputFileName(input);
    if (fresh && !this.files.has(name)) {
      writeFileAtomic.sync(join(this.dir, name), JSON.stringify({ generator: input.generator, seed: input.seed }) + "\n");
      this.files.set(name, input);
      this.added++;
    }
    return fresh;
  }

  /** Fold in the signals of a chunk of `generator` run with `signal` (in the chunk's case order); returns how many inputs were new. */
  absorb(generator: string, r: ChunkResult): number {
    let n = 0;
    for (const s of r.signals ?? []) if (this.offer({ generator, seed: s.seed }, s.features)) n++;
    return n;
  }
}
