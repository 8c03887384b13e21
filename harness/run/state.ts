// The state of a fuzzing run (`<out>/.hvdiff-run.json`): its options, the chunks done
// per pair, and the count and seeds of every signature, written after each chunk so
// `hvdiff fuzz --resume` continues a killed run without counting anything twice.

import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import type { Configuration } from "../config/config.js";

export const RUN_STATE_FILE = ".hvdiff-run.json";

export interface RunState {
  format: "hvdiff-run/1";
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
  /** Per pair: the chunk numbers done. */
  done: number[][];
  /** Per pair: cases run. */
  cases: number[];
  signatures: Record<string, { count: number; seeds: string[]; file: string }>;
}

const SCHEMA = {
  type: "object",
  required: ["format", "options", "done", "cases", "signatures"],
  properties: {
    format: { const: "hvdiff-run/1" },
    options: { type: "object", required: ["seed", "generator", "pairs", "cases", "shard", "corpus"] },
    corpusSeeds: { type: "array", items: { type: "array", items: { type: "string" } } },
    done: { type: "array", items: { type: "array", items: { type: "integer" } } },
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
