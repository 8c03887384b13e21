// The state of a fuzzing run (`<out>/.hvdiff-run.json`): its options, the chunks done
// per pair, and the count and seeds of every signature, written after each chunk so
// `hvdiff fuzz --resume` continues a killed run without counting anything twice.

import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import type { Configuration } from "../config/config.js";

export const RUN_STATE_FILE = ".hvdiff-run.json";

export interface RunState {
  format: "hvdiff-run/2";
  options: {
    seed: string;
    /** --generator, or null: each pair's own (defaultGeneratorFor). */
    generator: string | null;
    pairs: [Configuration, Configuration][];
    cases: number | null;
    shard: { index: number; count: number };
    /** `--corpus DIR`, or null. */
    corpus: string | null;
  };
  /** With a corpus, per pair: the seeds it held for the pair's generator when the run began (replayed first, as chunks -1, -2, ...). */
  corpusSeeds?: string[][];
  /**
   * Per pair: the chunks done, as runs [first, last] of chunk numbers `step` apart (the
   * shard count; 1 for the corpus replay's negative numbers): an overnight run's state
   * stays a few lines long however many chunks it has done.
   */
  done: [number, number][][];
  /** Per pair: cases run. */
  cases: number[];
  signatures: Record<string, { count: number; seeds: string[]; file: string }>;
}

const SCHEMA = {
  type: "object",
  required: ["format", "options", "done", "cases", "signatures"],
  properties: {
    format: { const: "hvdiff-run/2" },
    options: { type: "object", required: ["seed", "generator", "pairs", "cases", "shard", "corpus"] },
    corpusSeeds: { type: "array", items: { type: "array", items: { type: "string" } } },
    done: { type: "array", items: { type: "array", items: { type: "array", items: { type: "integer" }, minItems: 2, maxItems: 2 } } },
    cases: { type: "array", items: { type: "integer", minimum: 0 } },
    signatures: {
      type: "object",
      additionalProperties: {
        type: "object",
        required: ["count", "seeds", "file"],
        properties: { count: { type: "integer", minimum: 1 }, seeds: { type: "array", items: { type: "string" } }, file: { type: "string" } },
      },
    },
  },
} as const;

const validate = new Ajv({ strict: false }).compile(SCHEMA);

export function readState(file: string): RunState {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  if (!validate(v)) {
    const e = validate.errors![0]!;
    throw new Error(`${file}: ${e.instancePath === "" ? "" : `${e.instancePath.slice(1).replace(/\//g, ".")}: `}${e.message ?? e.keyword}`);
  }
  return v as unknown as RunState;
}

/** Chunk numbers (any order) as runs [first, last] of numbers `step` apart. */
export function toRuns(ks: Iterable<number>, step: number): [number, number][] {
  const sorted = [...ks].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const k of sorted) {
    const last = out[out.length - 1];
    const gap = k < 0 ? 1 : step;
    if (last !== undefined && k === last[1] + gap && (k < 0) === (last[1] < 0)) last[1] = k;
    else out.push([k, k]);
  }
  return out;
}

/** The chunk numbers of runs made by toRuns. */
export function fromRuns(runs: readonly [number, number][], step: number): number[] {
  const out: number[] = [];
  for (const [first, last] of runs) for (let k = first; k <= last; k += first < 0 ? 1 : step) out.push(k);
  return out;
}
