// `hvdiff replay REPORT`: run a report's minimized case (or, with --original, the
// original) under the report's two configurations again; exit 0 when it gives the
// report's signature, 1 when it does not. `hvdiff minimize REPORT`: minimize the
// original case again and rewrite the report's minimized part.

import { parseCase } from "../../src/case/case.js";
import { PairRunner, type PairOptions } from "../run/pair.js";
import { evaluate } from "../run/finding.js";
import { checkReport, domctlProgramFrom, isDomctlProgramJson, programFrom, readReport, ReportError, writeReportFile, type DomctlProgramJson, type Report } from "../report/report.js";
import { buildDomctlReport, buildReport } from "../run/chunk.js";
import { DomctlProgramError, evaluateDomctl } from "../run/domctl.js";
import { generatorFor } from "../gen/registry.js";
import { parseConfiguration, ConfigError } from "../config/config.js";
import { parseHexNumber } from "../../src/case/hex.js";
import { UsageError } from "./exec.js";

function load(file: string): Report {
  try {
    const r = readReport(file);
    // The configurations must still be ones this version knows.
    parseConfiguration(r.pair.a, `${file}: pair.a`);
    parseConfiguration(r.pair.b, `${file}: pair.b`);
    return r;
  } catch (e) {
    if (e instanceof ReportError || e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

function compareOf(r: Report): PairOptions {
  return { prefixed: r.compare.prefixed, scratch: r.compare.scratch.map((s) => ({ addr: parseHexNumber(s.addr), len: s.len })) };
}

/** A toolstack report: the sequence run again under both configurations. */
function replayDomctl(r: Report, which: "original" | "minimized", out: (s: string) => void): number {
  const j = r[which].program as DomctlProgramJson;
  const f = evaluateDomctl(domctlProgramFrom(j, r.generator.name, r.generator.seed), r.pair.a, r.pair.b);
  const got = f?.signature ?? null;
  if (got === r.signature) {
    out(`reproduces: ${r.signature}`);
    if (f?.first != null) {
      out(`  op ${f.first.index}: ${f.first.a.explain}  [${r.pair.a.name}]`);
      out(`  op ${f.first.index}: ${f.first.b.explain}  [${r.pair.b.name}]`);
    }
    return 0;
  }
  out(`does not reproduce: expected ${r.signature}`);
  out(`  got ${got ?? "no difference"}`);
  return 1;
}

export function replayCommand(file: string, opts: { original?: boolean }, out: (s: string) => void): number {
  const r = load(file);
  const which = opts.original === true ? "original" : "minimized";
  if (isDomctlProgramJson(r[which].program)) {
    try {
      return replayDomctl(r, which, out);
    } catch (e) {
      if (e instanceof DomctlProgramError) throw new UsageError(`${file}: ${which}.program: ${e.message}`);
      throw e;
    }
  }
  let c;
  try {
    c = parseCase(r[which].case);
  } catch (e) {
    throw new UsageError(`${file}: ${which}.case: ${(e as Error).message}`);
  }
  const f = evaluate(new PairRunner(), c, r.pair.a, r.pair.b, compareOf(r));
  const got = f?.signature ?? null;
  if (got === r.signature) {
    out(`reproduces: ${r.signature}`);
    if (f?.first != null) out(`  first divergence at step ${f.first.step}: ${f.first.mode} ${f.first.rip} ${f.first.disasm}: ${f.first.diffs.map((d) => `${d.path} ${d.a} / ${d.b}`).join(", ")}`);
    return 0;
  }
  out(`does not reproduce: expected ${r.signature}`);
  out(`  got ${got ?? "no difference"}`);
  return 1;
}

export function minimizeCommand(file: string, opts: { out?: string }, out: (s: string) => void): number {
  const r = load(file);
  const original = r.original.program;
  if (isDomctlProgramJson(original)) {
    const program = domctlProgramFrom(original, r.generator.name, r.generator.seed);
    let f;
    try {
      f = evaluateDomctl(program, r.pair.a, r.pair.b);
    } catch (e) {
      if (e instanceof DomctlProgramError) throw new UsageError(`${file}: original.program: ${e.message}`);
      throw e;
    }
    if (f === null || f.signature !== r.signature) throw new UsageError(`${file}: the original sequence no longer gives ${r.signature}`);
    const rebuilt = buildDomctlReport(r.generator.name, { pair: [r.pair.a, r.pair.b] }, program, f);
    const next: Report = checkReport(JSON.parse(JSON.stringify({ ...r, minimized: rebuilt.minimized, diffs: rebuilt.diffs, firstOp: rebuilt.firstOp })), "minimized report");
    const target = opts.out ?? file;
    writeReportFile(target, next);
    out(`${target}: ${r.original.size.items} ops -> ${next.minimized.size.items} (${next.minimized.tries} tries)`);
    return 0;
  }
  let gen;
  try {
    gen = generatorFor(r.generator.name);
  } catch (e) {
    throw new UsageError(`${file}: generator: ${(e as Error).message}`);
  }
  const program = programFrom(original, r.generator.name, r.generator.seed);
  const rebuilt = buildReport(new PairRunner(), { ...gen, compare: compareOf(r) }, { pair: [r.pair.a, r.pair.b] }, program, r.generator.seed, {
    kind: r.kind,
    signature: r.signature,
    diffs: r.diffs ?? [],
    first: null,
  });
  const next: Report = checkReport(
    JSON.parse(JSON.stringify({ ...r, minimized: rebuilt.minimized, diffs: rebuilt.diffs, diffsOmitted: rebuilt.diffsOmitted, first: rebuilt.first, crash: rebuilt.crash ?? r.crash })),
    "minimized report",
  );
  const target = opts.out ?? file;
  writeReportFile(target, next);
  out(`${target}: ${r.original.size.items} items -> ${next.minimized.size.items} (${next.minimized.size.bytes} bytes, ${next.minimized.tries} tries)`);
  return 0;
}
