// `hvdiff merge DIR... --out DIR`: combine the reports of several runs (the shards of
// one run, runs on several machines) by signature: counts add up, the report of the
// earliest seed is kept. Everything is read and checked before anything is written.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { listReportFiles, mergeReports, readReport, ReportError, writeReport, reportFileName, type Report } from "../report/report.js";
import { UsageError } from "./exec.js";

/** The report files of a directory; a directory that cannot be read is a usage error. */
export function reportFiles(dir: string): string[] {
  try {
    return listReportFiles(dir);
  } catch (e) {
    if (e instanceof ReportError) throw new UsageError(e.message);
    throw e;
  }
}

/** Every report of `dirs`, merged by signature. */
export function loadMerged(dirs: readonly string[]): Map<string, Report> {
  const bySig = new Map<string, Report>();
  for (const dir of dirs) {
    for (const file of reportFiles(dir)) {
      let r: Report;
      try {
        r = readReport(file);
      } catch (e) {
        if (e instanceof ReportError) throw new UsageError(e.message);
        throw e;
      }
      const prev = bySig.get(r.signature);
      bySig.set(r.signature, prev === undefined ? r : mergeReports(prev, r));
    }
  }
  return bySig;
}

export function mergeCommand(dirs: string[], opts: { out?: string }, out: (s: string) => void): number {
  if (opts.out === undefined) throw new UsageError("merge: give --out DIR");
  const merged = loadMerged(dirs);
  mkdirSync(opts.out, { recursive: true });
  for (const r of [...merged.values()].sort((a, b) => (a.signature < b.signature ? -1 : 1))) {
    writeReport(opts.out, { ...r, replay: `npx hvdiff replay ${join(opts.out, reportFileName(r.kind, r.signature))}` });
  }
  const total = [...merged.values()].reduce((a, r) => a + r.count, 0);
  out(`merged ${dirs.length} director${dirs.length === 1 ? "y" : "ies"}: ${merged.size} signature(s), ${total} finding(s) in ${opts.out}/`);
  return 0;
}
