// `hvdiff triage DIR... [--html FILE]`: the reports of one or more runs (or shards),
// grouped by signature and most frequent first, on standard output; with --html also as
// one static page. A malformed report file is named on standard error with its problem
// and skipped; the exit status then says so.

import { existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import writeFileAtomic from "write-file-atomic";
import { printable, triage, triageHtml, triageText } from "../report/triage.js";
import { UsageError } from "./exec.js";
import { reportFiles } from "./merge.js";

export interface TriageOptions {
  html?: string;
}

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** Returns the exit status: 0 when every report was read, 1 when some file was skipped. */
export function triageCommand(dirs: string[], opts: TriageOptions, io: Io): number {
  // A directory's reports are the files `hvdiff merge` takes for reports; a file is one.
  const files = dirs.flatMap((d) => (existsSync(d) && statSync(d).isFile() ? [d] : reportFiles(d)));
  const t = triage(files);
  for (const p of t.problems) io.err(`hvdiff triage: ${p}`);
  for (const line of triageText(t)) io.out(line);
  if (opts.html !== undefined) {
    try {
      writeFileAtomic.sync(opts.html, triageHtml(t));
    } catch (e) {
      // write-file-atomic's messages name its temporary file: say what is wrong with ours.
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? `no such directory ${dirname(opts.html)}` : code === "EISDIR" ? "is a directory" : (e as Error).message;
      throw new UsageError(`--html ${printable(opts.html)}: ${printable(why)}`);
    }
    io.out(`\nwrote ${opts.html}`);
  }
  return t.problems.length > 0 ? 1 : 0;
}
