// Configurations: what one side of a differential run is. A configuration is a plain
// object (the CPU model and the hypervisor model's knobs); a preset is a named one; a
// pair is two. `--pair A,B` takes preset names or configuration files.

import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import type { PlantedBug, Vendor } from "../../src/cpu/cpuid.js";
import {
  DOMCTL_KNOBS, DOMCTL_PRESET_DESCRIPTIONS, DOMCTL_PRESETS, HVM_KNOBS, HVM_PRESET_DESCRIPTIONS, HVM_PRESETS, withKnobs, DEFAULT_DOMCTL_PRESET, DEFAULT_HVM_PRESET, DEFAULT_PV64_PRESET,
  PV64_KNOBS, PV64_PRESET_DESCRIPTIONS, PV64_PRESETS,
  type DomctlPolicy, type HvmPolicy, type HvmPresetName, type Pv64Policy, type Pv64PresetName,
} from "../../src/hv/policy.js";

export interface Configuration {
  name: string;
  description: string;
  cpu: { vendor: Vendor; fred: boolean; plant?: PlantedBug };
  /** The domain-construction knobs (src/hv/policy.ts), every one set; toolstack sequences run under them. */
  domctl?: DomctlPolicy;
  /** The Xen HVM guest-ABI knobs (src/hv/policy.ts), every one set: guest programs run under that hypervisor. */
  hvm?: HvmPolicy;
  /** The Xen PV64 knobs (src/hv/policy.ts), every one set: PV64 guest programs run under that host. */
  pv64?: Pv64Policy;
}

function hvmPreset(name: HvmPresetName): Configuration {
  return { name, description: HVM_PRESET_DESCRIPTIONS[name], cpu: { vendor: "intel", fred: false }, hvm: { ...HVM_PRESETS[name] } };
}


/**
 * The PV64 presets share one processor, FRED-capable: whether Xen turns FRED on is the
 * preset's choice (init_fred or legacy_syscall_init with CR4.FRED clear). So a pair differs
 * in the hypervisor alone (CPUID is the same on both sides), and a domain can migrate from a
 * legacy host to a FRED one as well as back.
 */
function pv64Preset(name: Pv64PresetName): Configuration {
  return { name, description: PV64_PRESET_DESCRIPTIONS[name], cpu: { vendor: "intel", fred: true }, pv64: { ...PV64_PRESETS[name] } };
}

function domctlPreset(name: string): Configuration {
  return { name, description: DOMCTL_PRESET_DESCRIPTIONS[name]!, cpu: { vendor: "intel", fred: false }, domctl: { ...DOMCTL_PRESETS[name]! } };
}

export const PRESETS: Readonly<Record<string, Configuration>> = {
  intel: {
    name: "intel",
    description: "Intel CPU, IDT delivery: SYSCALL only in 64-bit mode, SYSRET #GP on a non-canonical RCX at CPL 0",
    cpu: { vendor: "intel", fred: false },
  },
  amd: {
    name: "amd",
    description: "AMD CPU: SYSCALL from compatibility mode through CSTAR, SYSRET to a non-canonical RCX faults at CPL 3",
    cpu: { vendor: "amd", fred: false },
  },
  "intel-fred": {
    name: "intel-fred",
    description: "Intel CPU with FRED: a guest that enables CR4.FRED gets SYSCALL as an event, RCX and R11 unchanged",
    cpu: { vendor: "intel", fred: true },
  },
  "xen-4.21": domctlPreset("xen-4.21"),
  "cdf-is-32bits-v1": domctlPreset("cdf-is-32bits-v1"),
  "cdf-is-32bits-reviewed": domctlPreset("cdf-is-32bits-reviewed"),
  xen: hvmPreset("xen"),
  kvm: hvmPreset("kvm"),
  "kvm-fixed": hvmPreset("kvm-fixed"),
  "kvm-2022": hvmPreset("kvm-2022"),
  "xen-idt": pv64Preset("xen-idt"),
  "xen-fred": pv64Preset("xen-fred"),
  "xen-fred-fixed": pv64Preset("xen-fred-fixed"),
};

export interface Knob {
  name: string;
  values: readonly (string | boolean)[];
  /** What the knob stands for in the real world. */
  models: string;
  /** Each behaviour that depends on it, with where the rule comes from. */
  decides: readonly string[];
}

/** Every knob a configuration sets (`hvdiff knobs`). The hypervisor issues add theirs. */
export const KNOBS: readonly Knob[] = [
  {
    name: "cpu.vendor",
    values: ["intel", "amd"],
    models: "whose definition applies where the Intel SDM and the AMD APM differ",
    decides: [
      "SYSCALL outside 64-bit mode: #UD on Intel; AMD enters through CSTAR (compatibility mode) or STAR[31:0] (SDM Vol. 2B SYSCALL; Xen x86_emulate.c syscall case)",
      "SYSRET to a non-canonical RCX: #GP(0) at CPL 0 on Intel; AMD returns and faults at CPL 3 (SDM Vol. 2B SYSRET; XSA-7)",
      "SYSENTER/SYSEXIT in IA-32e mode: Intel only; #UD on AMD (APM Vol. 3 SYSENTER)",
      "CMPXCHG with a register destination that does not match: Intel writes it back, AMD does not",
      "PUSH of a segment register with a 32-bit operand: Intel writes 16 bits, AMD zero-extends",
      "CPUID's vendor and leaves (src/cpu/cpuid.ts)",
    ],
  },
  {
    name: "cpu.fred",
    values: [false, true],
    models: "CPUID.(7,1):EAX[17] (FRED) and [18] (LKGS): a guest may set CR4.FRED (bit 32)",
    decides: [
      "events through the FRED entry points and stack levels instead of the IDT, once the guest sets CR4.FRED (fred-syscall-pv.md 2.3)",
      "SYSCALL and SYSENTER as FRED events: RCX and R11 unchanged, LSTAR/CSTAR/FMASK not used (fred-syscall-pv.md 2.4)",
      "SYSRET, SYSEXIT and SWAPGS: #UD under CR4.FRED; LKGS, ERETS and ERETU: #UD without it (fred-syscall-pv.md 1.3, 2.5, 2.6)",
      "the FRED MSRs (IA32_FRED_CONFIG, RSP0-3, STKLVLS, SSP1-3): #GP without FRED",
    ],
  },
  {
    name: "cpu.plant",
    values: ["cmc-af"],
    models: "test only: a deliberate bug the harness must find (CMC also complements AF)",
    decides: ["CMC"],
  },
];

/** What `hvdiff fuzz` runs with no --pair: each pair one of the debates turns on. */
export const DEFAULT_PAIRS: readonly (readonly [string, string])[] = [
  ["intel", "amd"],
  ["intel", "intel-fred"],
  ["xen-4.21", "cdf-is-32bits-v1"],
  ["kvm", "xen"],
  ["kvm", "kvm-2022"],
  ["xen-idt", "xen-fred"],
];

const CONFIG_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["name", "cpu"],
  properties: {
    name: { type: "string", minLength: 1 },
    description: { type: "string" },
    cpu: {
      type: "object",
      additionalProperties: false,
      required: ["vendor", "fred"],
      properties: {
        vendor: { enum: ["intel", "amd"] },
        fred: { type: "boolean" },
        plant: { enum: ["cmc-af"] },
      },
    },
    domctl: { type: "object", additionalProperties: { type: "string" } },
    hvm: { type: "object", additionalProperties: { type: "string" } },
    pv64: { type: "object", additionalProperties: { type: "string" } },
  },
} as const;

const validate = new Ajv({ allErrors: false, strict: true }).compile(CONFIG_SCHEMA);

export class ConfigError extends Error {}

/** A configuration given as an object (a file's contents, a report's copy); `where` names its origin. */
export function parseConfiguration(v: unknown, where: string): Configuration {
  if (!validate(v)) {
    const e = validate.errors![0]!;
    const at = e.instancePath === "" ? "" : `${e.instancePath.slice(1).replace(/\//g, ".")}: `;
    const extra = e.keyword === "additionalProperties" ? ` '${String((e.params as { additionalProperty: string }).additionalProperty)}'` : "";
    throw new ConfigError(`${where}: ${at}${e.message ?? e.keyword}${extra}`);
  }
  const c = v as unknown as Configuration;
  const out: Configuration = { name: c.name, description: c.description ?? "", cpu: { ...c.cpu } };
  // A hypervisor part: its knobs over the default preset's (knobs not given keep that value).
  const part = <P extends object>(name: string, given: object, base: P, knobs: Parameters<typeof withKnobs>[2]): P => {
    const r = withKnobs(base, given, knobs);
    if ("problem" in r) throw new ConfigError(`${where}: ${name}["${r.knob}"]: ${r.problem}`);
    return r.policy;
  };
  if (c.domctl !== undefined) out.domctl = part("domctl", c.domctl, DOMCTL_PRESETS[DEFAULT_DOMCTL_PRESET]!, DOMCTL_KNOBS);
  if (c.hvm !== undefined) out.hvm = part("hvm", c.hvm, HVM_PRESETS[DEFAULT_HVM_PRESET], HVM_KNOBS);
  if (c.pv64 !== undefined) {
    out.pv64 = part("pv64", c.pv64, PV64_PRESETS[DEFAULT_PV64_PRESET], PV64_KNOBS);
    if (out.pv64["pv64.host.delivery"] === "init_fred" && !out.cpu.fred) {
      throw new ConfigError(`${where}: pv64["pv64.host.delivery"]: a FRED host (init_fred) needs cpu.fred true`);
    }
  }
  return out;
}

/** A preset name, or a path to a JSON configuration file. */
export function resolveConfiguration(nameOrFile: string): Configuration {
  const preset = PRESETS[nameOrFile];
  if (preset !== undefined) return preset;
  if (!nameOrFile.endsWith(".json")) {
    throw new ConfigError(`${nameOrFile}: not a preset (${Object.keys(PRESETS).join(", ")}) or a .json configuration file`);
  }
  let text: string;
  try {
    text = readFileSync(nameOrFile, "utf8");
  } catch (e) {
    throw new ConfigError(`${nameOrFile}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${nameOrFile}: invalid JSON: ${(e as Error).message}`);
  }
  return parseConfiguration(v, nameOrFile);
}

/** `A,B` -> two configurations. */
export function parsePair(spec: string): [Configuration, Configuration] {
  const parts = spec.split(",");
  if (parts.length !== 2 || parts[0] === "" || parts[1] === "") throw new ConfigError(`--pair '${spec}': give two configurations as A,B`);
  return [resolveConfiguration(parts[0]!), resolveConfiguration(parts[1]!)];
}
