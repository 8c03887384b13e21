// The jsfuzz target (harness/targets/pair.ts): bytes to choices, one pair run an input,
// an Error for an unsuppressed finding or a harness failure and never otherwise, and
// the run's signal handed to the driver as coverage.

import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import seedrandom from "seedrandom";
import { toCase } from "../../../harness/gen/program.js";
import { PairRunner } from "../../../harness/run/pair.js";
import { runWithSignal } from "../../../harness/run/signal.js";
import { generatorFor } from "../../../harness/gen/registry.js";
import { bytesRandom, decodeInput, FALLBACK_SEED, FindingError, HarnessError, reportSignal, target } from "../../../harness/targets/pair.js";

const gen = generatorFor("ia32e");
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Inputs of `n` random bytes (the driver's kind of input), from a fixed seed. */
function inputs(count: number, seed: string): Buffer[] {
  const rnd = seedrandom(seed);
  return Array.from({ length: count }, () => Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 600) }, () => Math.floor(rnd() * 256))));
}

/** The finding of an input as the target sees it, run independently. */
function findingOf(buf: Buffer) {
  const input = decodeInput(buf);
  return runWithSignal(new PairRunner(), gen, input.program, input.seed, ...input.pair).finding;
}

describe("jsfuzz target", () => {
  it("reads 4 bytes a choice (little-endian), then the fixed fallback stream", () => {
    const r = bytesRandom(Uint8Array.from([9, 0, 0, 0, 0x80, 0xff, 0xff, 0xff, 0xff, 1, 2]), 1);
    expect(r()).toBe(0.5);
    expect(r()).toBe(0xffffffff / 2 ** 32);
    const fallback = seedrandom(FALLBACK_SEED);
    expect([r(), r()]).toEqual([fallback(), fallback()]);
  });

  it("the same bytes give the same pair and program; the first byte picks the pair", () => {
    for (const buf of inputs(20, "decode")) {
      const a = decodeInput(buf);
      const b = decodeInput(Buffer.from(buf));
      expect(toCase(a.program, "x")).toEqual(toCase(b.program, "x"));
      expect(a.pair).toEqual(b.pair);
      expect(a.seed).toMatch(/^jsfuzz\/[0-9a-f]{16}$/);
    }
    expect(decodeInput(Buffer.from([0])).pair.map((c) => c.name)).toEqual(["intel", "amd"]);
    expect(decodeInput(Buffer.from([1])).pair.map((c) => c.name)).toEqual(["intel", "intel-fred"]);
    expect(decodeInput(Buffer.alloc(0)).pair.map((c) => c.name)).toEqual(["intel", "amd"]);
  });

  it("throws a FindingError naming the signature for an unsuppressed finding, and nothing for a suppressed one", () => {
    const buf = inputs(100, "finding").find((b) => findingOf(b) !== null)!;
    const sig = findingOf(buf)!.signature;
    const run = target([]);
    expect(() => run(buf)).toThrow(FindingError);
    expect(() => run(buf)).toThrow(`hvdiff finding: ${sig}`);
    expect(() => target([{ signature: sig, reason: "known" }])(buf)).not.toThrow();
    expect(() => target([{ signature: "divergence*", reason: "all known" }])(buf)).not.toThrow();
  });

  it("throws only for findings on random inputs", () => {
    const run = target([]);
    for (const buf of inputs(150, "never")) {
      try {
        run(buf);
      } catch (e) {
        expect(e, buf.toString("hex")).toBeInstanceOf(FindingError);
      }
    }
  });

  it("an error of the harness is a HarnessError with a message of its own", () => {
    const broken = { run: () => { throw new Error("boom"); } } as unknown as PairRunner;
    const run = target([], broken);
    expect(() => run(Buffer.from([1, 2, 3]))).toThrow(HarnessError);
    expect(() => run(Buffer.from([1, 2, 3]))).toThrow(/^hvdiff harness error: boom \(input jsfuzz\/[0-9a-f]{16}\)$/);
  });

  it("hands the run's signal to the driver as istanbul coverage", () => {
    reportSignal(["feature one", "feature two"]);
    const cov = (globalThis as { __coverage__?: Record<string, { s: Record<string, number> }> }).__coverage__!;
    expect(cov["hvdiff:signal"]!.s).toMatchObject({ "feature one": 1, "feature two": 1 });
  });

  it("jsfuzz loads the CommonJS shim, runs it and stops at the first finding with the signature", () => {
    // From a scratch directory: jsfuzz writes its crash file and coverage there.
    const dir = mkdtempSync(join(tmpdir(), "hvdiff-jsfuzz-"));
    try {
      const jsfuzz = join(ROOT, "node_modules", "jsfuzz", "build", "src", "index.js");
      const shim = relative(dir, join(ROOT, "dist", "harness", "targets", "pair.cjs"));
      const res = spawnSync(process.execPath, [jsfuzz, shim, "corp", "--exact-artifact-path", "finding.bin"], { cwd: dir, encoding: "utf8", timeout: 60_000 });
      expect(res.stdout).toMatch(/hvdiff finding: divergence intel\//);
      expect(readdirSync(dir)).toContain("finding.bin");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
