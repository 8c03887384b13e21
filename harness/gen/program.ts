// A generated guest program: a guest kit (a tiny kernel: tables, event handlers, a log)
// and a body, a list of items. Items are position-independent byte strings; the layout
// puts them one after another and writes, before each, the address the kit resumes at
// when the item raises an event (the next item). Removing items (the minimizer) needs
// nothing but a new layout.

import { Emit, type Bits } from "./emit.js";
import { KIT } from "./kit/ia32e.js";
import { DEFAULT_HVM_PRESET, HVM_PRESETS, type Pv64PresetName } from "../../src/hv/policy.js";
import { pv64Case, pv64Runnable } from "./pv64.js";
import { formatBytes, hexNumber } from "../../src/case/hex.js";
import { DEFAULT_RAM, type Case } from "../../src/case/case.js";

/** The modes the IA-32e kit runs bodies in. */
export type KitMode = "long64" | "compat32";
/**
 * A body's mode: the kit's, or 32-bit protected mode without the kit (a bare prot32 case:
 * flat segments, no paging; its first exception ends the run). Programs under the HVM
 * model use it to reach the latch points from a guest that is not in long mode at all.
 */
export type BodyMode = KitMode | "prot32" | "pv64";

/** Code selectors of the kit's GDT (the built-in layout) per mode and ring. */
export const CODE_SELECTOR: Record<KitMode, Record<0 | 3, number>> = {
  long64: { 0: 0x08, 3: 0x33 },
  compat32: { 0: 0x18, 3: 0x23 },
};

export interface Item {
  /** What the item does: `random`, `wrmsr`, `syscall`, `to-compat32`... (reports show these). */
  kind: string;
  /** The mode and ring the item's code is for. */
  mode: BodyMode;
  ring: 0 | 3;
  /** Position-independent code; for a mode switch, `switchTo` adds the far transfer. */
  code: Uint8Array;
  /** The item ends with a far transfer to the next item in this mode. */
  switchTo?: KitMode;
  /** Data immediates in `code` the minimizer may set to 0 (register and flag values). */
  values?: { at: number; size: 4 | 8 }[];
}

export interface Program {
  /** Which generator made it (`ia32e@1`), and the seed it drew from. */
  generator: string;
  seed: string;
  start: BodyMode;
  items: Item[];
  maxSteps: number;
  /** The program makes hypercalls: it runs under the Xen HVM model (each side's configuration's knobs; Xen's by itself). */
  hv?: "xen-hvm" | "xen-pv64";
  /** A pv64 program (start "pv64", hv "xen-pv64") whose SCHEDOP_shutdown(SHUTDOWN_suspend) migrates to this preset's host. */
  migrate?: Pv64PresetName;
}

export const BODY = KIT.symbols.BODY;
export const CONT = KIT.symbols.CONT;
export const DATA = KIT.symbols.DATA;
/** The part of the data region random sequences use (their memory operands and stack). */
export const DATA_USED = 0x3800;
/**
 * The stack a ring-0 item switches to before an event that stays on the current stack
 * under one delivery and not the other (INT n and SYSCALL push a FRED frame there; the
 * IDT kit uses IST1): its top, in the data region above what random sequences use.
 */
export const EVENT_STACK = DATA + 0x3f00;

/**
 * Guest-physical ranges the differential runner does not compare: the kit's stacks, and
 * the event stack below EVENT_STACK. What lands there depends on the delivery mechanism
 * (which frames, which layout), not on what the guest program computes.
 */
export const SCRATCH: readonly { addr: number; len: number }[] = [
  { addr: KIT.symbols.SCRATCH, len: KIT.symbols.SCRATCH_END - KIT.symbols.SCRATCH },
  { addr: DATA + 0x3c00, len: 0x400 },
];

function bitsOf(mode: BodyMode): Bits {
  return mode === "long64" ? 64 : 32;
}

/** The bytes before an item: CONT = the next item's address. Fixed length per mode. */
function contStore(mode: BodyMode, next: number): Uint8Array {
  // A pv64 program has no kit: its items simply follow one another.
  if (mode === "pv64") return new Uint8Array(0);
  const e = new Emit(bitsOf(mode));
  // 64-bit: a sign-extended imm32 fills all of CONT's RIP; 32-bit code writes the low half
  // (the high half stays 0: every address is below 4 GiB).
  return (mode === "long64" ? e.storeImm64(CONT, next) : e.storeImm32(CONT, next)).bytes();
}

/** The far transfer ending a mode-switching item: CONT+8 first (the resume CS), then the jump. */
function switchCode(from: BodyMode, to: KitMode, ring: 0 | 3, next: number): Uint8Array {
  const e = new Emit(bitsOf(from));
  const sel = CODE_SELECTOR[to][ring];
  e.storeImm32(CONT + 8, CODE_SELECTOR[to][0]);
  return (from === "long64" ? e.farJmp64(sel, next) : e.farJmp32(sel, next)).bytes();
}

/** Where each item starts (its CONT store) and where its code starts, from BODY. */
export function itemAddresses(items: readonly Item[]): { start: number; code: number; end: number }[] {
  const out: { start: number; code: number; end: number }[] = [];
  let at: number = BODY;
  for (const it of items) {
    const pre = contStore(it.mode, 0).length;
    const post = it.switchTo === undefined ? 0 : switchCode(it.mode, it.switchTo, it.ring, 0).length;
    out.push({ start: at, code: at + pre, end: at + pre + it.code.length + post });
    at += pre + it.code.length + post;
  }
  return out;
}

/** Lay the items out from BODY: the case's code. */
export function layout(items: readonly Item[]): Uint8Array {
  const pieces: Uint8Array[] = [];
  let at: number = BODY;
  // Lengths do not depend on addresses, so one pass with the next address known.
  for (const it of items) {
    const pre = contStore(it.mode, 0).length;
    const post = it.switchTo === undefined ? 0 : switchCode(it.mode, it.switchTo, it.ring, 0).length;
    const next = at + pre + it.code.length + post;
    pieces.push(contStore(it.mode, next), it.code);
    if (it.switchTo !== undefined) pieces.push(switchCode(it.mode, it.switchTo, it.ring, next));
    at = next;
  }
  const out = new Uint8Array(at - BODY);
  let o = 0;
  for (const p of pieces) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const kits = new Map<KitMode, Uint8Array>();

/** The kit's bytes with the body's starting code selector patched in (one array per mode, shared: never written). */
function kitBytes(start: KitMode): Uint8Array {
  const known = kits.get(start);
  if (known !== undefined) return known;
  const bytes = Uint8Array.from(Buffer.from(KIT.hex, "hex"));
  const at = KIT.symbols.body_cs - KIT.base;
  const sel = CODE_SELECTOR[start][0];
  bytes[at] = sel;
  for (let k = 1; k < 8; k++) bytes[at + k] = 0;
  kits.set(start, bytes);
  return bytes;
}

/**
 * The case as the runner takes it (what parseCase would give for toCase's JSON), built
 * directly: the fuzzer runs thousands a second and needs the JSON only for reports.
 */
export function toRunnable(p: Program, id: string): Case {
  // A pv64 program: its items, and the run ends where they end, in the guest's own state.
  if (p.start === "pv64") return pv64Runnable(p, id, layout(p.items));
  const kit = p.start !== "prot32";
  return {
    id,
    mode: p.start,
    base: BODY,
    code: layout(p.items),
    entry: p.start === "prot32" ? BODY : p.start === "long64" ? KIT.symbols.entry_long64 : KIT.symbols.entry_compat32,
    memory: p.start === "prot32" ? [] : [{ addr: KIT.base, bytes: kitBytes(p.start) }],
    gprs: Array.from({ length: 16 }, () => ({ lo: 0, hi: 0 })),
    rflags: 2,
    sregs: {},
    exceptions: kit ? "deliver" : "stop",
    cpu: { vendor: "intel", fred: false },
    maxSteps: p.maxSteps,
    dump: [],
    ram: DEFAULT_RAM,
    ...(p.hv === undefined ? {} : { hv: { model: "xen-hvm" as const, preset: DEFAULT_HVM_PRESET, policy: { ...HVM_PRESETS[DEFAULT_HVM_PRESET] } } }),
  };
}

/** The case (cases.md) that runs `p`: the kit in `memory`, the body as `code`. */
export function toCase(p: Program, id: string): Record<string, unknown> {
  if (p.start === "pv64") return pv64Case(p, id, layout(p.items));
  if (p.start === "prot32") {
    return { id, mode: p.start, base: hexNumber(BODY), code: formatBytes(layout(p.items)), exceptions: "stop", maxSteps: p.maxSteps, ...(p.hv === undefined ? {} : { hv: { model: p.hv } }) };
  }
  return {
    id,
    mode: p.start,
    base: hexNumber(BODY),
    code: formatBytes(layout(p.items)),
    entry: hexNumber(p.start === "long64" ? KIT.symbols.entry_long64 : KIT.symbols.entry_compat32),
    memory: [{ addr: hexNumber(KIT.base), hex: formatBytes(kitBytes(p.start)) }],
    exceptions: "deliver",
    maxSteps: p.maxSteps,
    ...(p.hv === undefined ? {} : { hv: { model: p.hv } }),
  };
}
