// The Unicorn oracle: runs cases (docs/cases.md, modes real16, prot32 and compat32) in
// Unicorn 2 (QEMU's x86 model, Debian package python3-unicorn) and returns each final state
// in the shape the emulator's results have, so random sequences can be compared.
//
// All cases of one call go to ONE python3 process (test/oracle/unicorn_runner.py) as JSON
// lines on stdin; it answers one JSON line per case, in order, each case on a fresh Unicorn
// instance booted into the emulator's starting state (GDT, TSS and identity-map page tables in
// the top 1 MiB of RAM). See the runner's header for how each mode is set up, and its
// known differences from the emulator and from real CPUs.
//
// Output per case:
//   exit  end | hlt | step-limit | exception {vector, rip: the instruction's address,
//         errorCode for the vectors that push one}
//         | error {message}: Unicorn could not run the case (say, a fetch outside RAM)
//   regs  rax..r15 as the raw 64-bit registers (also in 16/32-bit modes), rip (the offset
//         in CS: IP/EIP), rflags; lowercase 0x hex without leading zeros. {} when the case
//         was rejected before it ran (a bad field: exit "error", message "bad case: ...").
//   memory  the `dump` ranges, in order.
//
// The python interpreter is the first of $HVDIFF_PYTHON, /usr/bin/python3, python3 that can
// import unicorn (pyenv and similar shims often cannot see Debian's dist-packages).

import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export type UnicornExit =
  | { kind: "end" | "hlt" | "step-limit" }
  | { kind: "exception"; vector: number; rip: string; errorCode?: number }
  | { kind: "error"; message: string };

export interface UnicornResult {
  id: string | number | null;
  exit: UnicornExit;
  /** rax..r15, rip, rflags ("0x.." strings); empty when the case never ran. */
  regs: Record<string, string>;
  memory: { addr: string; hex: string }[];
}

/** The fields of a case the runner reads (docs/cases.md); any case object is accepted. */
export interface UnicornCase {
  id?: string | number;
  mode: "real16" | "prot32" | "compat32";
  base: string;
  code: string;
  entry?: string;
  regs?: Record<string, string>;
  sregs?: Partial<Record<"cs" | "ds" | "es" | "ss" | "fs" | "gs", string>>;
  memory?: { addr: string; hex: string }[];
  maxSteps?: number;
  dump?: { addr: string; len: number }[];
  ram?: number;
}

export interface RunUnicornOptions {
  /** Kill the runner after this many milliseconds (default 600 000). */
  timeoutMs?: number;
}

export const RUNNER_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), "unicorn_runner.py");
const INSTALL_HINT = "install it with `apt-get install -y python3-unicorn` (Debian), or point HVDIFF_PYTHON at a python3 that has the unicorn module";

let pythonCache: { python: string } | { error: string } | undefined;

/** The python3 to run the oracle with, or an explanation of why there is none. */
export function findUnicornPython(): { python: string } | { error: string } {
  if (pythonCache !== undefined) return pythonCache;
  const candidates = [process.env["HVDIFF_PYTHON"], "/usr/bin/python3", "python3"].filter(
    (p): p is string => p !== undefined && p !== "",
  );
  const tried: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(python, ["-c", "import unicorn, sys; sys.stdout.write(unicorn.__version__)"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    if (r.error !== undefined) {
      tried.push(`${python}: ${r.error.message}`);
      continue;
    }
    if (r.status !== 0) {
      const last = r.stderr.trim().split("\n").pop() ?? "";
      tried.push(`${python}: ${last || `exit status ${r.status}`}`);
      continue;
    }
    pythonCache = { python };
    return pythonCache;
  }
  pythonCache = { error: `no python3 with the unicorn module (${tried.join("; ")}): ${INSTALL_HINT}` };
  return pythonCache;
}

/** Run `cases` in Unicorn; one result per case, in order. Throws when the oracle cannot run. */
export function runUnicorn(cases: object[], options: RunUnicornOptions = {}): UnicornResult[] {
  if (cases.length === 0) return [];
  const found = findUnicornPython();
  if ("error" in found) throw new Error(`Unicorn oracle unavailable: ${found.error}`);
  const input = cases.map((c) => JSON.stringify(c)).join("\n") + "\n";
  const r = spawnSync(found.python, [RUNNER_PATH], {
    input,
    encoding: "utf8",
    maxBuffer: 1 << 30,
    timeout: options.timeoutMs ?? 600_000,
  });
  if (r.error !== undefined) throw new Error(`Unicorn oracle: running ${found.python} ${RUNNER_PATH} failed: ${r.error.message}`);
  if (r.status !== 0) {
    const why = r.signal !== null ? `killed by ${r.signal}` : `exit status ${r.status}`;
    throw new Error(`Unicorn oracle: ${found.python} ${RUNNER_PATH} failed (${why}): ${r.stderr.trim().slice(-2000)}`);
  }
  const lines = r.stdout.split("\n").filter((l) => l.trim() !== "");
  if (lines.length !== cases.length) {
    throw new Error(`Unicorn oracle: ${cases.length} cases in, ${lines.length} results out; stderr: ${r.stderr.trim().slice(-2000)}`);
  }
  return lines.map((l, k) => {
    try {
      return JSON.parse(l) as UnicornResult;
    } catch (e) {
      throw new Error(`Unicorn oracle: result ${k} is not JSON (${e instanceof Error ? e.message : String(e)}): ${l.slice(0, 200)}`);
    }
  });
}
