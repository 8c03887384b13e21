// The built-in coverage signal of a pair run (`hvdiff fuzz --corpus`, and the feedback the
// jsfuzz target gives its driver): a set of features, each a short string.
//
//   item  what the program asked for: each item's kind per mode and ring (not kinds in a
//         row: those grow with every program, and what an order changes shows in the LOG)
//   op    the mnemonics of its random sequences, per mode (iced-x86, outside the emulator)
//   log   what each side's kit counted, per configuration: every exception vector, INT 0x80,
//         SYSCALL from 64-bit and from compatibility code, SYSENTER (the LOG area,
//         harness/gen/kit/ia32e.s), in AFL-style count buckets
//   split where the two configurations took different branches: an event counted
//         differently on the two sides, or different exits
//   exit, mode  how and in which mode each side ended; verdict: same, divergence or crash
//   first where a divergence began (mode and instruction class), the state classes that
//         differed then, and the finding's signature
//
// Nothing here runs inside the emulator: the only cost on the run is the LOG area added
// to the case's `dump` (projected once at the end of each side's run; the diff does not
// compare dumps, so the verdict is unchanged).

import type { Case } from "../../src/case/case.js";
import type { CaseResult } from "../../src/case/result.js";
import { parseBytes } from "../../src/case/hex.js";
import { vectorName } from "../../src/cpu/exceptions.js";
import type { Configuration } from "../config/config.js";
import { iced } from "../gen/iced.js";
import { KIT } from "../gen/kit/ia32e.js";
import { toRunnable, type Program } from "../gen/program.js";
import type { ProgramGenerator } from "../gen/registry.js";
import { findingOf, instructionClass, pathClass, runBounded, type Finding } from "./finding.js";
import type { PairRunner, PairVerdict } from "./pair.js";

export type Signal = ReadonlySet<string>;

/** The IA-32e kit's LOG: a 64-bit counter per event, then the last vector and error code. */
export const KIT_LOG = { addr: KIT.symbols.LOG, len: KIT.symbols.LOG_LASTERR + 8 - KIT.symbols.LOG } as const;

/** Counters of the LOG other than the 32 exception vectors (ia32e.s header). */
const LOG_EVENTS: readonly [string, number][] = [
  ["int 0x80", KIT.symbols.LOG_INT80 - KIT.symbols.LOG],
  ["syscall64", KIT.symbols.LOG_SYSCALL64 - KIT.symbols.LOG],
  ["syscall32", KIT.symbols.LOG_SYSCALL32 - KIT.symbols.LOG],
  ["sysenter", KIT.symbols.LOG_SYSENTER - KIT.symbols.LOG],
];

/** Whether `generator` (`ia32e@1`) builds its programs on the IA-32e kit and its LOG. */
function onIa32eKit(generator: string): boolean {
  return generator.split("@")[0] === "ia32e";
}

/** `c` with the kit's LOG added to what the run returns (for programs on the IA-32e kit). */
export function withKitLog(c: Case, generator: string): Case {
  if (!onIa32eKit(generator) || c.dump.some((d) => d.addr === KIT_LOG.addr)) return c;
  return { ...c, dump: [...c.dump, { addr: KIT_LOG.addr, len: KIT_LOG.len }] };
}

/** The LOG counters of a result that dumped them (withKitLog): event name -> count (non-zero only). */
export function kitLogCounts(r: CaseResult): Map<string, number> {
  const out = new Map<string, number>();
  const at = `0x${KIT_LOG.addr.toString(16)}`;
  const dumped = r.memory.find((m) => m.addr === at);
  if (dumped === undefined) return out;
  const bytes = parseBytes(dumped.hex);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = (off: number) => view.getUint32(off, true) + view.getUint32(off + 4, true) * 2 ** 32;
  for (let v = 0; v < 32; v++) {
    const n = count(v * 8);
    if (n > 0) out.set(vectorName(v), n);
  }
  for (const [name, off] of LOG_EVENTS) {
    const n = count(off);
    if (n > 0) out.set(name, n);
  }
  return out;
}

/** AFL's hit-count buckets: a loop that runs 5 or 6 times is one behaviour. */
export function bucket(n: number): string {
  if (n <= 3) return String(n);
  if (n <= 7) return "4-7";
  if (n <= 15) return "8-15";
  return "16+";
}

/** The features of what a program asks for: its item kinds and the mnemonics of its random sequences. */
export function programFeatures(p: Program, out: Set<string> = new Set()): Set<string> {
  const insn = new iced.Instruction();
  try {
    for (const it of p.items) {
      out.add(`item ${it.kind} ${it.mode}/r${it.ring}`);
      if (it.kind !== "random") continue;
      const decoder = new iced.Decoder(it.mode === "long64" ? 64 : 32, it.code, iced.DecoderOptions.None);
      try {
        while (decoder.canDecode) {
          decoder.decodeOut(insn);
          out.add(`op ${it.mode} ${iced.Mnemonic[insn.mnemonic]!.toLowerCase()}`);
        }
      } finally {
        decoder.free();
      }
    }
  } finally {
    insn.free();
  }
  return out;
}

function exitFeature(r: CaseResult): string {
  return r.exit.kind === "exception" ? `exception ${r.exit.name}` : r.exit.kind;
}

/**
 * The signal of one pair run of `p`: programFeatures, what each side reached (LOG counters,
 * exit, final mode, each under its configuration's name), where the sides split, and where
 * the finding (if any) began.
 */
export function signalOf(p: Program, A: Configuration, B: Configuration, v: PairVerdict, finding: Finding | null): Set<string> {
  const out = programFeatures(p);
  const logs = [kitLogCounts(v.a), kitLogCounts(v.b)] as const;
  const sides = [[A.name, v.a, logs[0]], [B.name, v.b, logs[1]]] as const;
  for (const [name, r, log] of sides) {
    out.add(`exit ${name} ${exitFeature(r)}`);
    out.add(`mode ${name} ${r.mode}`);
    for (const [event, n] of log) out.add(`log ${name} ${event} ${bucket(n)}`);
  }
  for (const event of new Set([...logs[0].keys(), ...logs[1].keys()])) {
    const [na, nb] = [logs[0].get(event) ?? 0, logs[1].get(event) ?? 0];
    if (na !== nb) out.add(`split ${event} ${A.name}:${bucket(na)} ${B.name}:${bucket(nb)}`);
  }
  const [ea, eb] = [exitFeature(v.a), exitFeature(v.b)];
  if (ea !== eb) out.add(`split exit ${A.name}:${ea} ${B.name}:${eb}`);
  out.add(`verdict ${v.kind}`);
  if (finding !== null) {
    out.add(`signature ${finding.signature}`);
    if (finding.first !== null) {
      out.add(`first ${finding.first.mode} ${instructionClass(finding.first.disasm)}`);
      for (const d of finding.first.diffs) out.add(`first ${finding.first.mode} differs ${pathClass(d.path)}`);
    }
  }
  return out;
}

export interface SignalRun {
  finding: Finding | null;
  stepLimited: boolean;
  signal: Set<string>;
}

/** Run `p` as a pair (as `hvdiff fuzz` does: step limits judged, a finding located) and take its signal. */
export function runWithSignal(runner: PairRunner, gen: ProgramGenerator, p: Program, id: string, A: Configuration, B: Configuration): SignalRun {
  const c = withKitLog(toRunnable(p, id), p.generator);
  const run = runBounded(runner, c, A, B, gen.compare);
  const finding = findingOf(runner, run.c, run.verdict, A, B, gen.compare);
  return { finding, stepLimited: run.stepLimited, signal: signalOf(p, A, B, run.verdict, finding) };
}
