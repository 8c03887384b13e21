// Running one case: boot (or restore a booted machine), load the case, run, project.

import type { Exit } from "../cpu/cpu.js";
import { ATTR_P, CS } from "../cpu/state.js";
import { loadReal } from "../cpu/segment.js";
import { CaseError, SEGMENT_FIELDS, type Case } from "./case.js";
import { Machine, type MachineSnapshot } from "./machine.js";
import { project, type CaseResult } from "./result.js";
import { XenHvm } from "../hv/xen/hvm.js";
import { XenPv64 } from "../hv/xen/pv64/pv64.js";

const SEG_INDEX = { es: 0, cs: 1, ss: 2, ds: 3, fs: 4, gs: 5 } as const;

/**
 * Runs cases on booted machines kept per (RAM size, CPU model, mode): each case starts
 * from a copy-on-write snapshot of the freshly booted machine, never from a re-boot.
 */
interface Booted {
  m: Machine;
  s: MachineSnapshot;
  /** The state a prefix reached (see preparePrefixed), for the prefix `key`. */
  prefix: { key: string; s: MachineSnapshot } | null;
}

export class CaseRunner {
  private readonly booted = new Map<string, Booted>();
  /**
   * The machine of the last prepared case, the booted snapshot, and the snapshot the case's
   * own run started from (its prefix's, or the booted one).
   */
  last: { machine: Machine; booted: MachineSnapshot; start: MachineSnapshot } | null = null;

  private machineFor(c: Case): Booted {
    this.last = null;
    const key = `${c.ram}/${c.cpu.vendor}/${c.cpu.fred}/${c.cpu.plant ?? ""}/${c.mode}`;
    let b = this.booted.get(key);
    if (b === undefined) {
      const m = new Machine(c.ram, c.cpu);
      m.boot(c.mode);
      b = { m, s: m.snapshot(), prefix: null };
      this.booted.set(key, b);
    }
    this.last = { machine: b.m, booted: b.s, start: b.s };
    b.m.cpu.crashError = null;
    return b;
  }

  /**
   * Restore the booted machine for `c` and load the case into it, ready to run (or to
   * step: the differential runner runs two of them in lockstep).
   */
  prepare(c: Case): Machine {
    const b = this.machineFor(c);
    b.m.restore(b.s);
    b.prefix = null;
    load(b.m, c, true);
    attachHypervisor(b.m, c);
    return b.m;
  }

  /**
   * Prepare `c` from the state its prefix reaches: the run from `entry` until execution
   * first arrives at `base`. The prefix runs once per distinct prefix (everything in the
   * case but its code) and is kept as a snapshot, so a case pays only for its code. Only
   * for cases whose prefix does not depend on `code` (the generators' guest kits): the
   * prefix runs before the code is written. Null when the prefix ends some other way;
   * then prepare() runs the case whole.
   */
  preparePrefixed(c: Case): Machine | null {
    const b = this.machineFor(c);
    const key = prefixKey(c);
    if (b.prefix !== null && b.prefix.key === key) {
      b.m.restore(b.prefix.s);
    } else {
      b.m.restore(b.s);
      b.prefix = null;
      load(b.m, c, false);
      attachHypervisor(b.m, c);
      const cpu = b.m.cpu;
      cpu.stopRip = c.base - cpu.segBase(CS);
      let exit: Exit;
      try {
        exit = cpu.run();
      } catch {
        exit = { kind: "crash", message: "" };
      }
      if (exit.kind !== "end") return null;
      b.prefix = { key, s: b.m.snapshot() };
    }
    this.last!.start = b.prefix.s;
    // The code runs under a hypervisor of its own (the prefix's made no hypercalls it keeps).
    attachHypervisor(b.m, c);
    const cpu = b.m.cpu;
    b.m.mem.writeBytes(c.base, c.code);
    cpu.stopRip = c.base + c.code.length - cpu.segBase(CS);
    cpu.stepLimit = c.maxSteps;
    return b.m;
  }

  /** The state at the end of `c`'s prefix (after preparePrefixed), projected. */
  prefixResult(c: Case): CaseResult | null {
    const m = this.preparePrefixed(c);
    return m === null ? null : project(c.id, m.cpu, m.mem, { kind: "step-limit" }, []);
  }

  /** Run `c`, from its prefix snapshot when `prefixed` (see preparePrefixed). */
  runPrefixed(c: Case): CaseResult {
    let exit: Exit;
    try {
      const m = this.preparePrefixed(c) ?? this.prepare(c);
      exit = m.cpu.run();
    } catch (e) {
      if (e instanceof CaseError || this.last === null) throw e;
      exit = { kind: "crash", message: e instanceof Error ? e.message : String(e) };
      this.last.machine.cpu.crashError = e;
    }
    return withHvLog(project(c.id, this.last!.machine.cpu, this.last!.machine.mem, exit, c.dump), this.last!.machine);
  }

  run(c: Case): CaseResult {
    let exit: Exit;
    try {
      exit = this.prepare(c).cpu.run();
    } catch (e) {
      // An internal error while loading the case: a crash of this case, if it got a machine.
      if (e instanceof CaseError || this.last === null) throw e;
      exit = { kind: "crash", message: e instanceof Error ? e.message : String(e) };
      this.last.machine.cpu.crashError = e;
    }
    return withHvLog(project(c.id, this.last!.machine.cpu, this.last!.machine.mem, exit, c.dump), this.last!.machine);
  }
}

/**
 * A fresh hypervisor for the case (cases.md `hv`), or none: a bare CPU. After the case is
 * loaded: a PV64 domain is built around the guest's RIP and RSP (its kernel stack).
 */
function attachHypervisor(m: Machine, c: Case): void {
  m.cpu.setHostCode(0, 0);
  if (c.hv === undefined) m.cpu.hypervisor = null;
  else if (c.hv.model === "xen-hvm") new XenHvm(c.hv.policy).attach(m.cpu);
  else {
    const migrate = c.hv.migrate === undefined ? undefined : { on: "suspend" as const, to: c.hv.migrate.policy, toName: c.hv.migrate.to };
    new XenPv64(c.hv.policy, migrate === undefined ? {} : { migrate }).attach(m.cpu);
  }
}

/** The result with the hypervisor's log (hypercalls, knob decisions), when there is one. */
function withHvLog(r: CaseResult, m: Machine): CaseResult {
  const hv = m.cpu.hypervisor;
  if (hv instanceof XenHvm || hv instanceof XenPv64) r.hv = hv.log();
  return r;
}

/** Everything in a case but its code, its id and what it asks back: what its prefix depends on. */
export function prefixKey(c: Case): string {
  const mem = c.memory.map((b) => `${b.addr}:${b.bytes.length}:${fingerprint(b.bytes)}`).join(",");
  const regs = c.gprs.map((g) => `${g.lo}:${g.hi}`).join(",");
  return `${c.mode}|${c.base}|${c.entry}|${mem}|${regs}|${c.rflags}|${JSON.stringify(c.sregs)}|${c.exceptions}|${c.maxSteps}|${JSON.stringify(c.hv ?? null)}`;
}

const fingerprints = new WeakMap<Uint8Array, string>();

/** Two independent 32-bit FNV-1a hashes of `bytes`, as one string (kept per array: cases share their kit's bytes). */
function fingerprint(bytes: Uint8Array): string {
  const known = fingerprints.get(bytes);
  if (known !== undefined) return known;
  const f = hashBytes(bytes);
  fingerprints.set(bytes, f);
  return f;
}

function hashBytes(bytes: Uint8Array): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ bytes.length;
  for (let i = 0; i < bytes.length; i++) {
    h1 = Math.imul(h1 ^ bytes[i]!, 0x01000193);
    h2 = Math.imul(h2 ^ bytes[bytes.length - 1 - i]!, 0x5bd1e995);
  }
  return `${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}`;
}

/** Put the case's memory, registers and (with `withCode`) code into a booted machine. */
function load(m: Machine, c: Case, withCode: boolean): void {
  const cpu = m.cpu;
  if (withCode) m.mem.writeBytes(c.base, c.code);
  for (const blk of c.memory) m.mem.writeBytes(blk.addr, blk.bytes);
  for (let r = 0; r < 16; r++) {
    cpu.lo[r] = c.gprs[r]!.lo;
    cpu.hi[r] = c.gprs[r]!.hi;
  }
  cpu.setRflags(c.rflags);
  for (const name of SEGMENT_FIELDS) {
    const sel = c.sregs[name];
    if (sel === undefined) continue;
    loadCaseSelector(m, name, sel);
  }
  cpu.refreshMode();
  cpu.rip = c.entry;
  // `end` is RIP reaching the byte after the code: an offset in CS (real mode: CS * 16 away).
  cpu.stopRip = c.base + c.code.length - cpu.segBase(CS);
  cpu.steps = 0;
  cpu.stepLimit = c.maxSteps;
  cpu.exceptionMode = c.exceptions;
}

/**
 * A selector from the case's `sregs`, loaded from the built-in GDT. Only selectors that
 * keep the starting mode are accepted: CS must stay the mode's code segment, SS a
 * writable data segment of DPL 0, the others a data or readable code segment or null.
 */
function loadCaseSelector(m: Machine, name: (typeof SEGMENT_FIELDS)[number], sel: number): void {
  const field = `sregs.${name}`;
  const seg = SEG_INDEX[name];
  if (m.cpu.modeName() === "real16") {
    loadReal(m.cpu, seg, sel);
    return;
  }
  if ((sel & 3) !== 0) throw new CaseError(field, "the case starts at CPL 0: RPL must be 0");
  if (name === "cs") {
    if (sel !== m.cpu.segSel[1]) throw new CaseError(field, `must be the starting mode's code selector 0x${m.cpu.segSel[1]!.toString(16)}`);
    return;
  }
  if (sel === 0) {
    if (name === "ss") throw new CaseError(field, "SS cannot be null at the start of a case");
    m.cpu.segSel[seg] = 0;
    m.cpu.segAttr[seg] = 0;
    return;
  }
  const d = m.gdtDescriptor(sel);
  if (d === null || (d.attr & ATTR_P) === 0) throw new CaseError(field, `selector 0x${sel.toString(16)} names no present descriptor in the built-in GDT`);
  const isCode = (d.attr & 8) !== 0;
  const writable = !isCode && (d.attr & 2) !== 0;
  const readable = !isCode || (d.attr & 2) !== 0;
  if ((d.attr & 0x10) === 0 || !readable) throw new CaseError(field, `selector 0x${sel.toString(16)} is not a readable segment`);
  if (name === "ss" && (!writable || ((d.attr >> 5) & 3) !== 0)) throw new CaseError(field, `selector 0x${sel.toString(16)} is not a writable DPL 0 data segment`);
  m.loadSegment(seg, sel);
}

/** Run one validated case on a fresh runner (convenience for tests and tools). */
export function runCase(c: Case): CaseResult {
  return new CaseRunner().run(c);
}
