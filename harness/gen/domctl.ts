// Toolstack sequences for the domctl model (src/hv/xen/domctl/, domctl.md): the order
// libxl builds a domain in (create -> max_vcpus -> max_mem -> set_address_size ->
// populate memory -> setvcpucontext -> unpause, domctl.md section 5), the two ways of
// fixing a guest's width (XEN_DOMCTL_CDF_is_32bits at createdomain, or set_address_size
// later), and what a fuzzer adds: ops shuffled, repeated and dropped, bad flags and sizes,
// ops after memory is populated or a vCPU initialised, NULL-context resets.
//
// Every choice comes from the seeded `random`; the ops are written as cases.md spells
// them, so a sequence is a `domctl` case as it stands.

import type { DomctlArch } from "../../src/hv/xen/domctl/domain.js";

export const DOMCTL_GENERATOR = "domctl@1";
export const DOMCTL_STRATEGIES_GENERATOR = "domctl-strategies@1";

/** One op as the case format writes it (`{"op": "set_address_size", "size": 32}`). */
export type DomctlOpJson = { op: string } & Record<string, unknown>;

export interface DomctlProgram {
  generator: string;
  seed: string;
  arch: DomctlArch;
  ops: DomctlOpJson[];
  /** A strategy pair: the ops side B runs (side A runs `ops`), meant to build the same domain. */
  altOps?: DomctlOpJson[];
  /** A strategy pair's two strategies: "is_32bits/set_address_size 32". */
  strategies?: string;
}

type Random = () => number;

const pick = <T>(random: Random, xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const chance = (random: Random, p: number): boolean => random() < p;

/** Flags libxl passes by domain type (domctl.md 5.1): Arm guests are PVH-type (hvm|hap). */
function typeFlags(random: Random, arch: DomctlArch): { flags: string[]; hvm: boolean } {
  if (arch !== "x86") return { flags: ["hvm", "hap"], hvm: true };
  if (chance(random, 0.55)) return { flags: [], hvm: false }; // PV
  return { flags: chance(random, 0.8) ? ["hvm", "hap"] : ["hvm"], hvm: true };
}

/** Flags a fuzzer adds: each real XEN_DOMCTL_CDF_* flag now and then. */
const EXTRA_FLAGS = ["s3_integrity", "oos_off", "xs_domain", "iommu", "nested_virt", "vpmu"] as const;

/** The context setvcpucontext loads for a guest of `width` bits. */
function ctxtMode(arch: DomctlArch, width: 32 | 64): string {
  if (arch === "x86") return width === 32 ? "x86_32" : "x86_64";
  return width === 32 ? "aarch32" : "aarch64";
}

/** What a domain build chooses before its width strategy. */
interface BuildParams {
  arch: DomctlArch;
  width: 32 | 64;
  flags: string[];
  vcpus: number;
  kb: number;
  pages: number;
  getSize: boolean;
  /** Memory is populated (a build; a restore populates later, or a test harness not at all). */
  populate: boolean;
}

function buildParams(random: Random, arch: DomctlArch, width: 32 | 64): BuildParams {
  const { flags } = typeFlags(random, arch);
  if (chance(random, 0.15)) flags.push(pick(random, EXTRA_FLAGS));
  return { arch, width, flags, vcpus: pick(random, [1, 1, 2, 4]), kb: pick(random, [4096, 65536, 262144]), pages: pick(random, [1, 16, 256]), getSize: chance(random, 0.3), populate: chance(random, 0.75) };
}

type Strategy = "flag" | "set_address_size" | "both" | "none";

/** A libxl-ordered build of one domain, its width fixed by `strategy` (domctl.md 5). */
function build(b: BuildParams, strategy: Strategy): DomctlOpJson[] {
  // The flag fixes 32-bit at creation; a 64-bit guest relies on the default.
  const flags = (strategy === "flag" || strategy === "both") && b.width === 32 ? [...b.flags, "is_32bits"] : [...b.flags];
  const ops: DomctlOpJson[] = [
    { op: "createdomain", flags, max_vcpus: b.vcpus },
    { op: "max_vcpus", n: b.vcpus },
    { op: "max_mem", kb: b.kb },
  ];
  if (strategy === "set_address_size" || strategy === "both") ops.push({ op: "set_address_size", size: b.width });
  if (b.populate) ops.push({ op: "populate_physmap", pages: b.pages });
  ops.push({ op: "setvcpucontext", vcpu: 0, mode: ctxtMode(b.arch, b.width) });
  if (b.getSize) ops.push({ op: "get_address_size" });
  ops.push({ op: "unpausedomain" });
  return ops;
}

/**
 * Two ways to the same domain (the debate): the width fixed at createdomain (the flag for
 * 32-bit, the default for 64-bit) against set_address_size in libxl's place. x86 HVM never
 * calls set_address_size (meminit_hvm), so its builds are PV or Arm.
 */
export function generateStrategies(random: Random, seed: string): DomctlProgram {
  const arch = pick(random, ["arm64", "arm64", "x86", "arm32"] as const);
  const width = pick(random, [32, 64] as const);
  let b = buildParams(random, arch, width);
  if (arch === "x86") b = { ...b, flags: b.flags.filter((f) => f !== "hvm" && f !== "hap") };
  return {
    generator: DOMCTL_STRATEGIES_GENERATOR,
    seed,
    arch,
    ops: build(b, "flag"),
    altOps: build(b, "set_address_size"),
    strategies: `${width === 32 ? "is_32bits" : "default"}/set_address_size ${width}`,
  };
}

/** One op a fuzzer inserts somewhere: odd sizes, late width changes, resets, lookups. */
function strayOp(random: Random, arch: DomctlArch): DomctlOpJson {
  switch (pick(random, ["size", "size", "ctxt", "null", "get", "pop", "mem", "vcpus", "getctxt", "destroy"] as const)) {
    case "size":
      return { op: "set_address_size", size: pick(random, [32, 64, 32, 64, 0, 16, 48, 128]) };
    case "ctxt":
      return { op: "setvcpucontext", vcpu: pick(random, [0, 0, 1, 7]), mode: ctxtMode(arch, pick(random, [32, 64] as const)) };
    case "null":
      return { op: "setvcpucontext", vcpu: 0, mode: "null" };
    case "get":
      return { op: "get_address_size" };
    case "pop":
      return { op: "populate_physmap", pages: pick(random, [1, 8]) };
    case "mem":
      return { op: "max_mem", kb: pick(random, [0, 4096]) };
    case "vcpus":
      return { op: "max_vcpus", n: pick(random, [1, 2, 0]) };
    case "getctxt":
      return { op: "getvcpucontext", vcpu: 0 };
    case "destroy":
      return { op: "destroydomain" };
  }
}

/**
 * A toolstack sequence: a libxl-ordered build under one of the width strategies, then, as
 * the fuzzer likes, ops inserted, one dropped, two swapped or one repeated.
 */
export function generateDomctl(random: Random, seed: string): DomctlProgram {
  const arch = pick(random, ["arm64", "arm64", "x86", "x86", "arm32"] as const);
  const width = pick(random, [32, 64] as const);
  const strategy = pick(random, ["flag", "set_address_size", "set_address_size", "both", "none"] as const);
  const ops = build(buildParams(random, arch, width), strategy);
  // What the issue asks after: width changes once a vCPU is initialised (or memory is
  // there), and a vCPU context of the other width.
  if (chance(random, 0.3)) {
    const after = ops.findIndex((o) => o.op === "setvcpucontext") + 1;
    const late = chance(random, 0.7) ? { op: "set_address_size", size: pick(random, [32, 64] as const) } : { op: "setvcpucontext", vcpu: 0, mode: ctxtMode(arch, width === 32 ? 64 : 32) };
    ops.splice(after + Math.floor(random() * (ops.length - after + 1)), 0, late);
  }
  const edits = Math.floor(random() * 5);
  for (let e = 0; e < edits; e++) {
    const at = 1 + Math.floor(random() * ops.length); // never before createdomain
    switch (pick(random, ["insert", "insert", "drop", "swap", "repeat"] as const)) {
      case "insert":
        ops.splice(at, 0, strayOp(random, arch));
        break;
      case "drop":
        if (at < ops.length) ops.splice(at, 1);
        break;
      case "swap":
        if (at + 1 < ops.length) [ops[at], ops[at + 1]] = [ops[at + 1]!, ops[at]!];
        break;
      case "repeat":
        if (at < ops.length) ops.splice(at, 0, { ...ops[at]! });
        break;
    }
  }
  return { generator: DOMCTL_GENERATOR, seed, arch, ops };
}
