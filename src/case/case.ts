// The case format (cases.md): validation against the JSON Schema, then the semantic
// checks the schema cannot express, giving either a typed Case or an error that names
// the field and the problem.

import { Ajv, type ErrorObject } from "ajv";
import { CASE_SCHEMA } from "./schema.js";
import { hexNumber, parseBytes, parseHex64, parseHexNumber, type Hex64 } from "./hex.js";
import { GPR_NAMES } from "../cpu/state.js";
import { RFLAGS_DEFINED, VM } from "../cpu/flags.js";
import type { CpuModel, Vendor } from "../cpu/cpuid.js";
import { DomctlError, parseDomctl, type DomctlCase } from "../hv/xen/domctl/case.js";
import { DEFAULT_HVM_PRESET, DEFAULT_PV64_PRESET, HVM_KNOBS, HVM_PRESETS, PV64_KNOBS, withKnobs, PV64_PRESETS, type HvmPolicy, type Pv64Policy, type Pv64PresetName } from "../hv/policy.js";

export type Mode = "real16" | "prot32" | "compat32" | "long64";
export const SEGMENT_FIELDS = ["es", "cs", "ss", "ds", "fs", "gs"] as const;

export interface Case {
  id: string | number | null;
  mode: Mode;
  base: number;
  code: Uint8Array;
  entry: number;
  memory: { addr: number; bytes: Uint8Array }[];
  /** GPR values by number (0 = rax ... 15 = r15); unset GPRs are 0. */
  gprs: Hex64[];
  rflags: number;
  sregs: Partial<Record<(typeof SEGMENT_FIELDS)[number], number>>;
  exceptions: "stop" | "deliver";
  /** The CPU model; the differential runner may set a planted bug (PlantedBug) here. */
  cpu: CpuModel;
  maxSteps: number;
  dump: { addr: number; len: number }[];
  ram: number;
  /** The hypervisor the guest runs under (cases.md `hv`); absent: a bare CPU. */
  hv?: HvCase;
}

/** A guest under a hypervisor model: the preset's knobs with the case's overrides applied. */
export type HvCase =
  | { model: "xen-hvm"; preset: string; policy: HvmPolicy }
  | { model: "xen-pv64"; preset: string; policy: Pv64Policy; migrate?: { on: "suspend"; to: string; policy: Pv64Policy } };


type HvInput = { model: string; preset?: string; knobs?: Record<string, unknown>; migrate?: { on: string; to: string } };

/** The preset's knobs with `knobs` applied, each checked by name and value. */
function policyOf<P extends object>(presets: Readonly<Record<string, P>>, preset: string, knobs: Record<string, unknown> | undefined, known: Parameters<typeof withKnobs>[2]): P {
  const base = presets[preset];
  if (base === undefined) throw new CaseError("hv.preset", `must be one of ${Object.keys(presets).map((p) => JSON.stringify(p)).join(", ")}`);
  const r = withKnobs(base, knobs ?? {}, known);
  if ("problem" in r) throw new CaseError(`hv.knobs.${r.knob}`, r.problem);
  return r.policy;
}

function parseHv(hv: HvInput, mode: string | undefined, fred: boolean): HvCase {
  if (hv.model === "xen-hvm") {
    if (hv.migrate !== undefined) throw new CaseError("hv.migrate", "only for the xen-pv64 model");
    const preset = hv.preset ?? DEFAULT_HVM_PRESET;
    return { model: "xen-hvm", preset, policy: policyOf<HvmPolicy>(HVM_PRESETS, preset, hv.knobs, HVM_KNOBS) };
  }
  // xen-pv64: a 64-bit guest kernel at CPL 3; a FRED host needs a CPU with FRED.
  if (mode !== "long64") throw new CaseError("mode", "a xen-pv64 guest starts in long64");
  const preset = hv.preset ?? DEFAULT_PV64_PRESET;
  const policy = policyOf<Pv64Policy>(PV64_PRESETS, preset, hv.knobs, PV64_KNOBS);
  const needsFred = (p: Pv64Policy) => p["pv64.host.delivery"] === "init_fred";
  if (needsFred(policy) && !fred) throw new CaseError("cpu.fred", `the ${preset} host delivers events with FRED: set cpu.fred to true`);
  if (hv.migrate === undefined) return { model: "xen-pv64", preset, policy };
  const to = PV64_PRESETS[hv.migrate.to as Pv64PresetName];
  if (to === undefined) throw new CaseError("hv.migrate.to", `must be one of ${Object.keys(PV64_PRESETS).map((p) => JSON.stringify(p)).join(", ")}`);
  if (needsFred(to) && !fred) throw new CaseError("cpu.fred", `migrating to ${hv.migrate.to} (a FRED host) needs cpu.fred true`);
  return { model: "xen-pv64", preset, policy, migrate: { on: "suspend", to: hv.migrate.to, policy: { ...to } } };
}

export const DEFAULT_RAM = 256 * 1024 * 1024;
export const DEFAULT_MAX_STEPS = 100000;
/** The emulator's own tables live in the top 1 MiB of guest RAM (cases.md). */
export const RESERVED_TOP = 1024 * 1024;

export class CaseError extends Error {
  constructor(
    /** Where in the case: a dotted field path ("regs.rax", "memory[2].addr"), or "" for the whole case. */
    readonly field: string,
    readonly problem: string,
  ) {
    super(field === "" ? problem : `${field}: ${problem}`);
  }
}

const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true });
const validate = ajv.compile(CASE_SCHEMA);

/** "/memory/2/addr" -> "memory[2].addr" */
function fieldPath(pointer: string): string {
  let out = "";
  for (const part of pointer.split("/").slice(1)) {
    const p = part.replace(/~1/g, "/").replace(/~0/g, "~");
    out += /^\d+$/.test(p) ? `[${p}]` : out === "" ? p : `.${p}`;
  }
  return out;
}

function describe(e: ErrorObject): CaseError {
  const at = fieldPath(e.instancePath);
  const join = (f: string) => (at === "" ? f : `${at}.${f}`);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "additionalProperties":
      return new CaseError(join(String(p["additionalProperty"])), "unknown field");
    case "required":
      return new CaseError(join(String(p["missingProperty"])), "is required");
    case "pattern":
      return new CaseError(
        at,
        String(p["pattern"]).startsWith("^0x") ? "must be a 0x-prefixed hex number of at most 64 bits" : "must be a string of hex bytes",
      );
    case "enum":
      return new CaseError(at, `must be one of ${(p["allowedValues"] as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`);
    case "oneOf":
      return new CaseError(at, "must have either `code` and `base` (a guest program) or `domctl` (a toolstack sequence), not both");
    default:
      return new CaseError(at, e.message ?? e.keyword);
  }
}

/** A case of either kind: a guest program, or a toolstack sequence of domctls. */
export type AnyCase = { kind: "program"; case: Case } | { kind: "domctl"; id: string | number | null; domctl: DomctlCase };

/** Validate and convert one case object of either kind. Throws CaseError. */
export function parseAnyCase(input: unknown): AnyCase {
  if (!validate(input)) throw describe(validate.errors![0]!);
  const o = input as Record<string, unknown>;
  if (o["domctl"] === undefined) return { kind: "program", case: parseCase(input) };
  // A toolstack sequence runs no guest: the program's fields mean nothing to it.
  const extra = Object.keys(o).find((k) => k !== "id" && k !== "domctl");
  if (extra !== undefined) throw new CaseError(extra, "only for a guest program (`code`), not with `domctl`");
  try {
    return { kind: "domctl", id: (o["id"] as string | number | undefined) ?? null, domctl: parseDomctl(o["domctl"], "domctl") };
  } catch (e) {
    if (e instanceof DomctlError) throw new CaseError(e.field, e.problem);
    throw e;
  }
}

/** Validate and convert one guest-program case. Throws CaseError. */
export function parseCase(input: unknown): Case {
  if (!validate(input)) throw describe(validate.errors![0]!);
  const c = input as Record<string, unknown> & {
    mode: Mode;
    base?: string;
    code?: string;
    entry?: string;
    memory?: { addr: string; hex: string }[];
    regs?: Record<string, string>;
    sregs?: Record<string, string>;
    exceptions?: "stop" | "deliver";
    cpu?: { fred?: boolean; vendor?: Vendor };
    hv?: HvInput;
    domctl?: unknown;
    maxSteps?: number;
    dump?: { addr: string; len: number }[];
    ram?: number;
  };
  const id = (c["id"] as string | number | undefined) ?? null;

  if (c.domctl !== undefined) throw new CaseError("domctl", "a toolstack sequence, not a guest program");
  if (c["mode"] === undefined) throw new CaseError("mode", "is required");
  const hv = c.hv === undefined ? undefined : parseHv(c.hv, c.mode, c.cpu?.fred ?? false);

  const ram = c.ram ?? DEFAULT_RAM;
  const caseTop = ram - RESERVED_TOP;
  const hexNum = (field: string, s: string): number => {
    try {
      return parseHexNumber(s);
    } catch (e) {
      throw new CaseError(field, (e as Error).message);
    }
  };
  const base = hexNum("base", c.base!);
  const code = parseBytes(c.code!);
  if (base + code.length > caseTop) {
    throw new CaseError("base", `code [${hexAddr(base)}, ${hexAddr(base + code.length)}) does not fit below ${hexAddr(caseTop)} (RAM minus the top 1 MiB)`);
  }
  const entry = c.entry === undefined ? base : entryPoint(c.entry);

  const memory = (c.memory ?? []).map((m, k) => {
    const addr = hexNum(`memory[${k}].addr`, m.addr);
    const bytes = parseBytes(m.hex);
    if (addr + bytes.length > ram) {
      throw new CaseError(`memory[${k}]`, `[${hexAddr(addr)}, ${hexAddr(addr + bytes.length)}) is beyond guest RAM (${hexAddr(ram)})`);
    }
    return { addr, bytes };
  });

  const gprs: Hex64[] = GPR_NAMES.map(() => ({ lo: 0, hi: 0 }));
  let rflags = 0x2;
  for (const [name, value] of Object.entries(c.regs ?? {})) {
    const v = parseHex64(value);
    if (name === "rflags") {
      if (v.hi !== 0 || (v.lo & ~RFLAGS_DEFINED & ~2) !== 0) {
        throw new CaseError("regs.rflags", "sets reserved bits");
      }
      if ((v.lo & VM) !== 0) throw new CaseError("regs.rflags", "VM (virtual-8086 mode) is not a starting mode");
      rflags = v.lo | 2;
    } else {
      gprs[GPR_NAMES.indexOf(name as (typeof GPR_NAMES)[number])] = v;
    }
  }

  const sregs: Case["sregs"] = {};
  for (const [name, value] of Object.entries(c.sregs ?? {})) {
    const v = hexNum(`sregs.${name}`, value);
    if (v > 0xffff) throw new CaseError(`sregs.${name}`, "a selector is 16 bits");
    sregs[name as (typeof SEGMENT_FIELDS)[number]] = v;
  }

  const dump = (c.dump ?? []).map((d, k) => {
    const addr = hexNum(`dump[${k}].addr`, d.addr);
    if (addr + d.len > ram) throw new CaseError(`dump[${k}]`, `[${hexAddr(addr)}, ${hexAddr(addr + d.len)}) is beyond guest RAM (${hexAddr(ram)})`);
    return { addr, len: d.len };
  });

  return {
    id,
    mode: c.mode,
    base,
    code,
    entry,
    memory,
    gprs,
    rflags,
    sregs,
    exceptions: c.exceptions ?? "stop",
    cpu: { fred: c.cpu?.fred ?? false, vendor: c.cpu?.vendor ?? "intel" },
    maxSteps: c.maxSteps ?? DEFAULT_MAX_STEPS,
    dump,
    ram,
    ...(hv === undefined ? {} : { hv }),
  };

  /** The first RIP: canonical in 64-bit mode, an offset in CS elsewhere (16 bits in real mode). */
  function entryPoint(s: string): number {
    const v = parseHex64(s);
    if (c.mode === "long64") {
      if (((v.hi << 16) >> 16) !== v.hi) throw new CaseError("entry", "is not a canonical address");
      return v.hi * 4294967296 + (v.lo >>> 0);
    }
    const limit = c.mode === "real16" ? 0xffff : 0xffffffff;
    if (v.hi !== 0 || (v.lo >>> 0) > limit) throw new CaseError("entry", `is beyond the ${c.mode} code segment (0x${limit.toString(16)})`);
    return v.lo >>> 0;
  }
}

const hexAddr = hexNumber;

/** The id of a case-like value, for error lines about input that did not parse. */
export function idOf(input: unknown): string | number | null {
  if (typeof input === "object" && input !== null && !Array.isArray(input)) {
    const id = (input as Record<string, unknown>)["id"];
    if (typeof id === "string" || typeof id === "number") return id;
  }
  return null;
}
