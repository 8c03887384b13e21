// `hvdiff exec`: run cases (cases.md). One case file, or a JSON-lines batch from a file or
// standard input; one result per case, in order. Exit status: 0 when every case ran,
// 1 when any line was not a valid case, 2 for a usage error.

import { createReadStream, openSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { CaseError, idOf, parseAnyCase } from "../../src/case/case.js";
import { runDomctl, type DomctlResult } from "../../src/hv/xen/domctl/case.js";
import { CaseRunner } from "../../src/case/run.js";
import type { CaseResult } from "../../src/case/result.js";
import { parseBytes } from "../../src/case/hex.js";
import { disassemble } from "../disasm.js";
import { prettyJson } from "../pretty.js";

export class UsageError extends Error {}

/** The result of a toolstack sequence: each op's return value and the final domain. */
export interface DomctlCaseResult {
  id: string | number | null;
  domctl: DomctlResult;
}

/** A line of output for one input: a result, or an error naming the place and problem. */
export type Outcome = { ok: true; result: CaseResult | DomctlCaseResult } | { ok: false; line: { id: string | number | null; error: string } };

/** Parse, validate and run one case given as JSON text; `where` prefixes error messages. */
export function execText(runner: CaseRunner, text: string, where: string): Outcome {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (e) {
    return { ok: false, line: { id: null, error: `${where}: invalid JSON: ${(e as Error).message}` } };
  }
  try {
    const c = parseAnyCase(input);
    if (c.kind === "domctl") return { ok: true, result: { id: c.id, domctl: runDomctl(c.domctl) } };
    const result = runner.run(c.case);
    annotate(result);
    return { ok: true, result };
  } catch (e) {
    if (e instanceof CaseError) return { ok: false, line: { id: idOf(input), error: `${where}: ${e.message}` } };
    // A bug of ours while reading the case: report it on this line, keep the batch going.
    return { ok: false, line: { id: idOf(input), error: `${where}: internal error: ${(e as Error).message}` } };
  }
}

/** Add what only the harness can: the disassembly of an unsupported instruction. */
function annotate(r: CaseResult): void {
  if (r.exit.kind !== "unsupported") return;
  const bytes = parseBytes(r.exit.bytes);
  const codeSize = r.mode === "long64" ? 8 : r.mode === "real16" || r.mode.endsWith("16") ? 2 : 4;
  const d = disassemble(bytes, codeSize, Number(BigInt.asIntN(64, BigInt(r.exit.rip))));
  if (d.length > 0) {
    r.exit.bytes = r.exit.bytes.slice(0, 2 * d.length);
    r.exit.disasm = d.text;
  }
}

export interface ExecOptions {
  batch?: string;
}

/** Returns the exit status. */
export async function execCommand(file: string | undefined, opts: ExecOptions, out: (s: string) => void): Promise<number> {
  if (file !== undefined && opts.batch !== undefined) throw new UsageError("give a case file or --batch, not both");
  if (file === undefined && opts.batch === undefined) throw new UsageError("give a case file, or --batch FILE.jsonl (or - for standard input)");
  const runner = new CaseRunner();
  if (file !== undefined) {
    const text = readInput(file);
    const o = execText(runner, text, file);
    out(o.ok ? prettyJson(o.result) : JSON.stringify(o.line));
    return o.ok ? 0 : 1;
  }
  const name = opts.batch!;
  const stream = name === "-" ? process.stdin : openStream(name);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let status = 0;
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === "") continue;
    const o = execText(runner, text, `${name === "-" ? "<stdin>" : name}:${n}`);
    if (!o.ok) status = 1;
    out(JSON.stringify(o.ok ? o.result : o.line));
  }
  return status;
}

function readInput(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
}

function openStream(file: string): NodeJS.ReadableStream {
  // Open synchronously so a missing file is a usage error before any output.
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw new UsageError(`${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  return createReadStream("", { fd, encoding: "utf8" });
}
