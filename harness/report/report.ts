// Report files: one per signature, built from a finding, validated against the schema,
// written atomically (a reader never sees half a file, a killed run leaves only whole
// ones). Same seed and configurations give byte-identical files: no clock, no machine
// path, keys in a fixed order, seeds sorted.

import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import writeFileAtomic from "write-file-atomic";
import { Ajv } from "ajv";
import { REPORT_FORMAT, REPORT_SCHEMA } from "./schema.js";
import type { Configuration } from "../config/config.js";
import type { Difference } from "../../src/case/diff.js";
import type { DecisionOut, FirstDivergence } from "../run/pair.js";
import type { Finding } from "../run/finding.js";
import type { Item, KitMode, Program } from "../gen/program.js";
import type { DomctlOpJson, DomctlProgram } from "../gen/domctl.js";
import type { DomctlFinding } from "../run/domctl.js";
import { formatBytes, hexNumber, parseBytes } from "../../src/case/hex.js";

import { PACKAGE_ROOT as ROOT, TOOL_VERSION } from "../package.js";

export { TOOL_VERSION };

/** At most this many seeds are listed (the smallest); `count` has them all. */
export const MAX_SEEDS = 20;

export interface ProgramJson {
  start: Program["start"];
  items: { kind: string; mode: Item["mode"]; ring: 0 | 3; code: string; switchTo?: KitMode; values?: { at: number; size: 4 | 8 }[] }[];
  maxSteps: number;
  hv?: "xen-hvm" | "xen-pv64";
  migrate?: Program["migrate"];
}

/** A toolstack sequence as a report keeps it (harness/gen/domctl.ts). */
export interface DomctlProgramJson {
  arch: DomctlProgram["arch"];
  ops: DomctlOpJson[];
  altOps?: DomctlOpJson[];
  strategies?: string;
}

export function isDomctlProgramJson(p: ProgramJson | DomctlProgramJson): p is DomctlProgramJson {
  return "ops" in p;
}

export function domctlProgramJson(p: DomctlProgram): DomctlProgramJson {
  const out: DomctlProgramJson = { arch: p.arch, ops: p.ops };
  if (p.altOps !== undefined) out.altOps = p.altOps;
  if (p.strategies !== undefined) out.strategies = p.strategies;
  return out;
}

export function domctlProgramFrom(j: DomctlProgramJson, generator: string, seed: string): DomctlProgram {
  return { generator, seed, ...j };
}

export interface Report {
  format: typeof REPORT_FORMAT;
  tool: { name: "hvdiff"; version: string };
  kind: "divergence" | "crash";
  signature: string;
  pair: { a: Configuration; b: Configuration };
  generator: { name: string; seed: string };
  count: number;
  seeds: string[];
  compare: { prefixed: boolean; scratch: { addr: string; len: number }[] };
  /** `items`: a program's items or a sequence's ops; `bytes`: a program's code bytes. */
  original: { case: Record<string, unknown>; program: ProgramJson | DomctlProgramJson; size: { items: number; bytes?: number } };
  minimized: { case: Record<string, unknown>; program: ProgramJson | DomctlProgramJson; size: { items: number; bytes?: number }; tries: number };
  diffs?: Difference[];
  /** Differences beyond the first MAX_DIFFS, left out of `diffs`. */
  diffsOmitted?: number;
  first?: FirstDivergence & { item?: { index: number; kind: string }; diffsOmitted?: number };
  /** A toolstack sequence's first differing op: each side's return value, the rule that decided it, the knobs' decisions. */
  firstOp?: NonNullable<DomctlFinding["first"]>;
  crash?: NonNullable<Finding["crash"]>;
  /** The configuration-dependent decisions each side made that the other did not (why they differ). */
  decisions?: { a: DecisionOut[]; b: DecisionOut[] };
  replay: string;
}

export class ReportError extends Error {}

const validate = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true }).compile(REPORT_SCHEMA);

/** Throws ReportError naming `where`, the place and the problem. */
export function checkReport(v: unknown, where: string): Report {
  if (!validate(v)) {
    const e = validate.errors![0]!;
    const at = e.instancePath === "" ? "" : `${e.instancePath.slice(1).replace(/\//g, ".")}: `;
    const extra = e.keyword === "additionalProperties" ? ` '${String((e.params as { additionalProperty: string }).additionalProperty)}'` : "";
    throw new ReportError(`${where}: ${at}${e.message ?? e.keyword}${extra}`);
  }
  return v as unknown as Report;
}

export function readReport(file: string): Report {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ReportError(`${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ReportError(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  return checkReport(v, file);
}

export function programJson(p: Program): ProgramJson {
  return {
    start: p.start,
    items: p.items.map((it) => {
      const out: ProgramJson["items"][number] = { kind: it.kind, mode: it.mode, ring: it.ring, code: formatBytes(it.code) };
      if (it.switchTo !== undefined) out.switchTo = it.switchTo;
      if (it.values !== undefined) out.values = it.values.map((v) => ({ at: v.at, size: v.size }));
      return out;
    }),
    maxSteps: p.maxSteps,
    ...(p.hv === undefined ? {} : { hv: p.hv }),
    ...(p.migrate === undefined ? {} : { migrate: p.migrate }),
  };
}

export function programFrom(j: ProgramJson, generator: string, seed: string): Program {
  return {
    generator,
    seed,
    start: j.start,
    maxSteps: j.maxSteps,
    ...(j.hv === undefined ? {} : { hv: j.hv }),
    ...(j.migrate === undefined ? {} : { migrate: j.migrate }),
    items: j.items.map((it) => {
      const out: Item = { kind: it.kind, mode: it.mode, ring: it.ring, code: parseBytes(it.code) };
      if (it.switchTo !== undefined) out.switchTo = it.switchTo;
      if (it.values !== undefined) out.values = it.values;
      return out;
    }),
  };
}

/** A report file's name: `divergence-` or `crash-` and 16 hex digits. */
export const REPORT_FILE = /^(divergence|crash)-[0-9a-f]{16}\.json$/;

/** The report files of a directory, by name, sorted. */
export function listReportFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new ReportError(`${dir}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such directory" : (e as Error).message}`);
  }
  return names.filter((n) => REPORT_FILE.test(n)).sort().map((n) => join(dir, n));
}

/** The file a signature's report lives in: its kind and a hash of the signature. */
export function reportFileName(kind: string, signature: string): string {
  return `${kind}-${createHash("sha256").update(signature).digest("hex").slice(0, 16)}.json`;
}

/** A stack trace with this machine's paths made relative to the package. */
export function portableStack(stack: string): string {
  return stack.replace(/(file:\/\/)?(\/[^\s():]+)/g, (m, _f: string, path: string) => (path.startsWith(ROOT) ? relative(ROOT, path) : m));
}

/** Seeds `<run seed>/<index>` in run order: by run seed, then by index as a number. */
export function compareSeeds(x: string, y: string): number {
  const i = x.lastIndexOf("/");
  const j = y.lastIndexOf("/");
  const px = x.slice(0, i);
  const py = y.slice(0, j);
  if (px !== py) return px < py ? -1 : 1;
  return Number(x.slice(i + 1)) - Number(y.slice(j + 1));
}

/**
 * Two reports of one signature: the one from the earlier seed is kept whole, the count
 * adds up and the seeds are merged. The result does not depend on the order in which
 * workers, shards or runs found them.
 */
export function mergeReports(a: Report, b: Report): Report {
  const [first, second] = compareSeeds(a.generator.seed, b.generator.seed) <= 0 ? [a, b] : [b, a];
  const seeds = [...new Set([...first.seeds, ...second.seeds])].sort(compareSeeds).slice(0, MAX_SEEDS);
  return { ...first, count: first.count + second.count, seeds };
}

/** Write a report atomically into `dir` under its signature's name, after checking it against the schema. */
export function writeReport(dir: string, r: Report): string {
  const file = join(dir, reportFileName(r.kind, r.signature));
  writeReportFile(file, r);
  return file;
}

/** Write a report atomically to `file`, after checking it against the schema. */
export function writeReportFile(file: string, r: Report): void {
  const checked = checkReport(JSON.parse(JSON.stringify(r)), "report to write");
  // Atomic by rename: a killed run never leaves half a file. No fsync: a power cut is not what this guards against.
  writeFileAtomic.sync(file, JSON.stringify(checked, null, 2) + "\n", { fsync: false });
}

export function scratchJson(scratch: readonly { addr: number; len: number }[]): Report["compare"]["scratch"] {
  return scratch.map((s) => ({ addr: hexNumber(s.addr), len: s.len }));
}
