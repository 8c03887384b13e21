// A coverage-guided fuzzing target (jsfuzz; Jazzer.js's native module does not load on
// every machine): `fuzz(buf)` turns the driver's bytes into one pair run.
//
//   byte 0     the pair, among the DEFAULT_PAIRS of guest programs (modulo their number)
//   bytes 1..  the generator's choices, 4 bytes (little-endian) a choice, as a number in
//              [0, 1); once the bytes run out, a fixed seeded stream goes on
//
// so the driver's mutations of a byte change one choice of the program. A finding whose
// signature is not suppressed (HVDIFF_SUPPRESS=FILE, the `hvdiff fuzz --suppress`
// format) is thrown as an Error naming the signature, which the driver records as a crash
// input; an error of the harness itself is thrown with a message of its own; nothing else
// throws. Each run's signal (run/signal.ts) is handed to the driver as coverage, so the
// inputs it keeps are those that reached new guest behaviour (the emulator itself is
// ESM and not instrumented by jsfuzz, which is what keeps it fast).
//
// jsfuzz require()s its target: pair.cts (dist/harness/targets/pair.cjs) is the CommonJS
// shim that imports this module.

import { createHash } from "node:crypto";
import seedrandom from "seedrandom";
import { DEFAULT_PAIRS, PRESETS, type Configuration } from "../config/config.js";
import { DEFAULT_GENERATOR, defaultGeneratorFor, generatorFor } from "../gen/registry.js";
import type { Program } from "../gen/program.js";
import { PairRunner } from "../run/pair.js";
import { runWithSignal } from "../run/signal.js";
import type { Finding } from "../run/finding.js";
import { isSuppressed, readSuppressions, type Suppression } from "../report/suppress.js";

/** The stream the choices come from once the input's bytes are used up. */
export const FALLBACK_SEED = "hvdiff/jsfuzz";

/** A random source reading 4 bytes a number from `bytes` (from `offset`), then FALLBACK_SEED's stream. */
export function bytesRandom(bytes: Uint8Array, offset = 0): () => number {
  let at = offset;
  let rest: (() => number) | null = null;
  return () => {
    if (at + 4 <= bytes.length) {
      const v = (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
      at += 4;
      return v / 2 ** 32;
    }
    rest ??= seedrandom(FALLBACK_SEED);
    return rest();
  };
}

export interface TargetInput {
  pair: [Configuration, Configuration];
  program: Program;
  /** `jsfuzz/<first 16 hex digits of the input's SHA-256>`: the program's name in messages. */
  seed: string;
}

/** The default pairs whose cases are guest programs (the toolstack pair's are not). */
const PROGRAM_PAIRS = DEFAULT_PAIRS.filter(([a, b]) => defaultGeneratorFor(PRESETS[a]!, PRESETS[b]!) === DEFAULT_GENERATOR);

/** What the bytes `buf` stand for: a pair and a program of the default generator. */
export function decodeInput(buf: Uint8Array): TargetInput {
  const [a, b] = PROGRAM_PAIRS[buf.length === 0 ? 0 : buf[0]! % PROGRAM_PAIRS.length]!;
  const seed = `jsfuzz/${createHash("sha256").update(buf).digest("hex").slice(0, 16)}`;
  const program = generatorFor(DEFAULT_GENERATOR).generate(bytesRandom(buf, 1), seed);
  return { pair: [PRESETS[a]!, PRESETS[b]!], program, seed };
}

/** Thrown for a finding: the message is `hvdiff finding: <signature>`. */
export class FindingError extends Error {
  constructor(readonly signature: string, readonly input: string) {
    super(`hvdiff finding: ${signature} (input ${input})`);
    this.name = "FindingError";
  }
}

/** Thrown when the harness itself failed on an input (a generator or runner bug). */
export class HarnessError extends Error {
  constructor(message: string, readonly input: string, cause: unknown) {
    super(`hvdiff harness error: ${message} (input ${input})`, { cause });
    this.name = "HarnessError";
  }
}

/** The coverage jsfuzz reads (istanbul's `global.__coverage__`: it counts the truthy entries). */
interface Coverage {
  [file: string]: { s: Record<string, number>; f: Record<string, number>; b: Record<string, number[]> };
}
const SIGNAL_KEY = "hvdiff:signal";

/** Count each feature in the driver's coverage map: a new feature is new coverage. */
export function reportSignal(signal: Iterable<string>): void {
  const g = globalThis as { __coverage__?: Coverage };
  g.__coverage__ ??= {};
  const entry = (g.__coverage__[SIGNAL_KEY] ??= { s: {}, f: {}, b: {} });
  for (const f of signal) entry.s[f] = 1;
}

/** A target with these suppressions (and this runner). */
export function target(suppressions: readonly Suppression[], runner = new PairRunner()): (buf: Uint8Array) => void {
  return (buf) => {
    let finding: Finding | null;
    let seed = "(undecoded)";
    try {
      const input = decodeInput(buf);
      seed = input.seed;
      const [A, B] = input.pair;
      const run = runWithSignal(runner, generatorFor(input.program.generator), input.program, seed, A, B);
      reportSignal(run.signal);
      finding = run.finding;
    } catch (e) {
      throw new HarnessError(e instanceof Error ? e.message : String(e), seed, e);
    }
    if (finding !== null && isSuppressed(finding.signature, suppressions) === null) throw new FindingError(finding.signature, seed);
  };
}

let fromEnv: ((buf: Uint8Array) => void) | null = null;

/** The jsfuzz entry point: suppressions from HVDIFF_SUPPRESS (read on the first call). */
export function fuzz(buf: Buffer): void {
  if (fromEnv === null) {
    const file = process.env["HVDIFF_SUPPRESS"];
    let list: Suppression[] = [];
    if (file !== undefined && file !== "") {
      try {
        list = readSuppressions(file);
      } catch (e) {
        throw new HarnessError(`HVDIFF_SUPPRESS: ${(e as Error).message}`, "(none)", e);
      }
    }
    fromEnv = target(list);
  }
  fromEnv(buf);
}
