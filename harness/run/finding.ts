// From a pair run to a finding: what differs (or what crashed), where it began, and the
// signature that groups findings of the same cause.

import type { Case } from "../../src/case/case.js";
import type { Difference } from "../../src/case/diff.js";
import type { Configuration } from "../config/config.js";
import type { FirstDivergence, PairOptions, PairRunner, PairVerdict, Side } from "./pair.js";

export interface Finding {
  kind: "divergence" | "crash";
  signature: string;
  /** The final differences (divergence), A side first. */
  diffs: Difference[];
  /** Where a divergence began (null when the lockstep run shows no single instruction). */
  first: FirstDivergence | null;
  crash?: { side: Side; configuration: string; message: string; stack: string };
}

/** `regs.rcx` stays; `sregs.cs.attr` -> `sregs.cs`; `memory.0x1234` -> `memory`; exit fields stay. */
export function pathClass(path: string): string {
  if (path.startsWith("memory.")) return "memory";
  const parts = path.split(".");
  return parts[0] === "sregs" ? parts.slice(0, 2).join(".") : path;
}

/**
 * A memory path inside what the hypervisor writes for the guest (either side's idea of
 * it): `memory(shared_info)`, `memory(hypercall page)`, ...; null for other paths.
 */
export function memoryArea(path: string, areas: readonly { name: string; addr: string; len: number }[]): string | null {
  if (!path.startsWith("memory.") || areas.length === 0) return null;
  const at = Number(path.slice(7));
  // A difference is reported per 8-byte window: it is in an area when the windows overlap.
  const a = areas.find((x) => at + 8 > Number(x.addr) && at < Number(x.addr) + x.len);
  return a === undefined ? null : `memory(${a.name})`;
}

/** A crash message with its numbers taken out (addresses and values vary between cases). */
export function crashClass(message: string): string {
  return message.replace(/0x[0-9a-f]+/gi, "N").replace(/\d+/g, "N");
}

/** An instruction's text with its numbers taken out: `add dl,45h` -> `add dl,N`. */
export function instructionClass(disasm: string): string {
  return disasm.replace(/\b[0-9][0-9a-f]*h?\b/gi, "N");
}

/**
 * The signature of a verdict: for a divergence, the pair, the mode and instruction after
 * which the two sides first differ (numbers taken out), and which classes of state
 * differ right then; for a crash, the side and the message without numbers. Findings of
 * one cause share a signature however the rest of their programs goes on.
 */
export function signatureOf(v: PairVerdict, A: Configuration, B: Configuration, first: FirstDivergence | null): string | null {
  const pair = `${A.name}/${B.name}`;
  if (v.kind === "same") return null;
  if (v.kind === "crash") return `crash ${pair} ${v.side === "a" ? A.name : B.name}: ${crashClass(v.message)}`;
  const diffs = first?.diffs ?? v.diffs;
  const areas = [...(v.a.hv?.areas ?? []), ...(v.b.hv?.areas ?? [])];
  const classes = [...new Set(diffs.map((d) => memoryArea(d.path, areas) ?? pathClass(d.path)))].sort().join(" ");
  const where = first === null ? "(no single instruction)" : `${first.mode} ${instructionClass(first.disasm)}${hypercallAt(v, first.rip)}`;
  return `divergence ${pair} ${where}: ${classes}`;
}

/**
 * A hypercall instruction's call, as the hypervisor logged it (" memory_op/7": the name
 * and the first argument, which is the sub-op of the multiplexed ones); "" for anything else.
 */
function hypercallAt(v: PairVerdict, rip: string): string {
  const call = v.a.hv?.hypercalls.find((h) => h.rip === rip) ?? v.b.hv?.hypercalls.find((h) => h.rip === rip);
  if (call === undefined) return "";
  return ` ${call.name}/${Number(BigInt(call.args[0] ?? "0") & 0xffffffffn)}`;
}

/**
 * Run a case as a pair and return its finding, if any: for a divergence, located by
 * running the two sides again in lockstep.
 */
export function evaluate(runner: PairRunner, c: Case, A: Configuration, B: Configuration, opts: PairOptions): Finding | null {
  const { verdict, c: ran } = runBounded(runner, c, A, B, opts);
  return findingOf(runner, ran, verdict, A, B, opts);
}

/** How many times the budget a one-sided step-limit gets before it counts as a finding. */
export const STEP_LIMIT_RETRY = 4;

/**
 * Run the pair, and judge step limits: when both sides run out of steps the states are
 * cut at points that mean nothing (a program that never ends), so there is no finding;
 * when one side does, the run is repeated with a larger budget (the two sides' event
 * handlers need different numbers of steps), and only a difference that remains counts.
 */
export function runBounded(runner: PairRunner, c: Case, A: Configuration, B: Configuration, opts: PairOptions): { verdict: PairVerdict; c: Case; stepLimited: boolean } {
  let verdict = runner.run(c, A, B, opts);
  const limited = (v: PairVerdict) => [v.a.exit.kind === "step-limit", v.b.exit.kind === "step-limit"] as const;
  let [la, lb] = limited(verdict);
  if (verdict.kind === "divergence" && la !== lb) {
    const more = { ...c, maxSteps: c.maxSteps * STEP_LIMIT_RETRY };
    verdict = runner.run(more, A, B, opts);
    [la, lb] = limited(verdict);
    c = more;
  }
  if (verdict.kind === "divergence" && la && lb) return { verdict: { kind: "same", a: verdict.a, b: verdict.b }, c, stepLimited: true };
  return { verdict, c, stepLimited: la || lb };
}

/** The finding of a verdict the runner just gave for `c`. */
export function findingOf(runner: PairRunner, c: Case, v: PairVerdict, A: Configuration, B: Configuration, opts: PairOptions): Finding | null {
  if (v.kind === "same") return null;
  if (v.kind === "crash") {
    return {
      kind: "crash",
      signature: signatureOf(v, A, B, null)!,
      diffs: [],
      first: null,
      crash: { side: v.side, configuration: v.side === "a" ? A.name : B.name, message: v.message, stack: v.stack },
    };
  }
  const first = runner.firstDivergence(c, A, B, opts);
  return { kind: "divergence", signature: signatureOf(v, A, B, first)!, diffs: v.diffs, first };
}
