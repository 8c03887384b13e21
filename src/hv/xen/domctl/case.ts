// The `domctl` part of a case (cases.md "Toolstack sequences: domctl"): parse and validate,
// then run. A bad value throws DomctlError, one line naming the place and the problem.

import { DEFAULT_DOMCTL_PRESET, DOMCTL_KNOBS, DOMCTL_PRESETS, withKnobs, type DomctlPolicy } from "../../policy.js";
import {
  CDF_NAMES, CTXT_MODES, OP_NAMES,
  type CdfName, type DomctlArch, type DomctlCase, type DomctlOp, type DomctlOpName, type VcpuCtxtMode,
} from "./domain.js";

export { runDomctl, describeOp, type DomctlResult, type DomctlOpResult } from "./run.js";
export type { DomctlCase, DomctlOp } from "./domain.js";


export class DomctlError extends Error {
  constructor(
    /** Where: "domctl.ops[3].size". */
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

const ARCHES: readonly DomctlArch[] = ["x86", "arm64", "arm32"];
const U32_MAX = 0xffffffff;

/** The fields each op takes besides "op" (all optional ones included). */
const FIELDS: Readonly<Record<DomctlOpName, readonly string[]>> = {
  createdomain: ["flags", "max_vcpus", "domid", "grant_opts", "iommu_opts", "vmtrace_size", "altp2m_opts", "misc_flags", "sve_vl", "interface_version"],
  max_vcpus: ["n", "interface_version"],
  max_mem: ["kb", "interface_version"],
  populate_physmap: ["pages"],
  set_address_size: ["size", "interface_version"],
  get_address_size: ["interface_version"],
  setvcpucontext: ["vcpu", "mode", "interface_version"],
  getvcpucontext: ["vcpu", "interface_version"],
  unpausedomain: ["interface_version"],
  destroydomain: ["interface_version"],
};

const list = (xs: readonly string[]): string => xs.map((x) => JSON.stringify(x)).join(", ");

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function integer(o: Record<string, unknown>, key: string, at: string, min: number, max: number, what: string): number {
  const v = o[key];
  if (v === undefined) throw new DomctlError(`${at}.${key}`, "is required");
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new DomctlError(`${at}.${key}`, `must be ${what}`);
  }
  return v;
}

function optInteger(o: Record<string, unknown>, key: string, at: string, min: number, max: number, what: string, dflt: number): number {
  return o[key] === undefined ? dflt : integer(o, key, at, min, max, what);
}

const U32 = "a uint32_t (an integer in 0..4294967295)";

/** Validate a case's `domctl` object; `where` is its place ("domctl"). Throws DomctlError. */
export function parseDomctl(v: unknown, where: string): DomctlCase {
  if (!isObject(v)) throw new DomctlError(where, "must be an object");
  for (const k of Object.keys(v)) {
    if (!["arch", "preset", "knobs", "ops"].includes(k)) throw new DomctlError(`${where}.${k}`, "unknown field");
  }
  if (v["arch"] === undefined) throw new DomctlError(`${where}.arch`, "is required");
  if (typeof v["arch"] !== "string" || !ARCHES.includes(v["arch"] as DomctlArch)) {
    throw new DomctlError(`${where}.arch`, `must be one of ${list(ARCHES)}`);
  }
  const arch = v["arch"] as DomctlArch;

  let preset = DEFAULT_DOMCTL_PRESET;
  if (v["preset"] !== undefined) {
    if (typeof v["preset"] !== "string" || DOMCTL_PRESETS[v["preset"]] === undefined) {
      throw new DomctlError(`${where}.preset`, `must be one of ${list(Object.keys(DOMCTL_PRESETS))}`);
    }
    preset = v["preset"];
  }
  let policy: DomctlPolicy = { ...DOMCTL_PRESETS[preset]! };
  if (v["knobs"] !== undefined) {
    if (!isObject(v["knobs"])) throw new DomctlError(`${where}.knobs`, "must be an object of knob values by knob name");
    const r = withKnobs(policy, v["knobs"], DOMCTL_KNOBS);
    if ("problem" in r) throw new DomctlError(`${where}.knobs[${JSON.stringify(r.knob)}]`, r.problem);
    policy = r.policy;
  }

  if (v["ops"] === undefined) throw new DomctlError(`${where}.ops`, "is required");
  if (!Array.isArray(v["ops"])) throw new DomctlError(`${where}.ops`, "must be an array of ops");
  const ops = v["ops"].map((o, i) => parseOp(o, `${where}.ops[${i}]`, arch));
  return { arch, preset, policy, ops };
}

function parseOp(o: unknown, at: string, arch: DomctlArch): DomctlOp {
  if (!isObject(o)) throw new DomctlError(at, "must be an object");
  if (o["op"] === undefined) throw new DomctlError(`${at}.op`, "is required");
  if (typeof o["op"] !== "string" || !OP_NAMES.includes(o["op"] as DomctlOpName)) {
    throw new DomctlError(`${at}.op`, `must be one of ${list(OP_NAMES)}`);
  }
  const name = o["op"] as DomctlOpName;
  for (const k of Object.keys(o)) {
    if (k !== "op" && !FIELDS[name].includes(k)) throw new DomctlError(`${at}.${k}`, `unknown field for ${name}`);
  }
  const hdr = o["interface_version"] === undefined ? {} : { interface_version: integer(o, "interface_version", at, 0, U32_MAX, U32) };
  switch (name) {
    case "createdomain": {
      const flags: CdfName[] = [];
      if (o["flags"] !== undefined) {
        if (!Array.isArray(o["flags"])) throw new DomctlError(`${at}.flags`, "must be an array of XEN_DOMCTL_CDF_* names");
        o["flags"].forEach((f, j) => {
          if (typeof f !== "string" || !CDF_NAMES.includes(f as CdfName)) throw new DomctlError(`${at}.flags[${j}]`, `must be one of ${list(CDF_NAMES)}`);
          if (!flags.includes(f as CdfName)) flags.push(f as CdfName);
        });
      }
      if (arch === "x86" && o["sve_vl"] !== undefined) throw new DomctlError(`${at}.sve_vl`, "is an Arm field (arch.sve_vl)");
      if (arch !== "x86" && o["misc_flags"] !== undefined) throw new DomctlError(`${at}.misc_flags`, "is an x86 field (arch.misc_flags)");
      return {
        op: name,
        flags,
        max_vcpus: optInteger(o, "max_vcpus", at, 0, U32_MAX, U32, 1),
        domid: optInteger(o, "domid", at, 0, 0xffff, "a domid_t (an integer in 0..65535)", 0),
        grant_opts: optInteger(o, "grant_opts", at, 0, U32_MAX, U32, 0),
        iommu_opts: optInteger(o, "iommu_opts", at, 0, U32_MAX, U32, 0),
        vmtrace_size: optInteger(o, "vmtrace_size", at, 0, U32_MAX, U32, 0),
        altp2m_opts: optInteger(o, "altp2m_opts", at, 0, U32_MAX, U32, 0),
        misc_flags: optInteger(o, "misc_flags", at, 0, U32_MAX, U32, 0),
        sve_vl: optInteger(o, "sve_vl", at, 0, 0xff, "a uint8_t (an integer in 0..255)", 0),
        ...hdr,
      };
    }
    case "max_vcpus":
      return { op: name, n: integer(o, "n", at, 0, U32_MAX, U32), ...hdr };
    case "max_mem":
      return { op: name, kb: integer(o, "kb", at, 0, Number.MAX_SAFE_INTEGER, "a number of KiB (an integer in 0..2^53-1)"), ...hdr };
    case "populate_physmap":
      return { op: name, pages: integer(o, "pages", at, 0, Number.MAX_SAFE_INTEGER, "a number of pages (an integer in 0..2^53-1)") };
    case "set_address_size":
      return { op: name, size: integer(o, "size", at, 0, U32_MAX, U32), ...hdr };
    case "setvcpucontext": {
      const vcpu = integer(o, "vcpu", at, 0, U32_MAX, U32);
      const modes = CTXT_MODES[arch];
      if (o["mode"] === undefined) throw new DomctlError(`${at}.mode`, "is required");
      if (typeof o["mode"] !== "string" || !modes.includes(o["mode"] as VcpuCtxtMode)) {
        throw new DomctlError(`${at}.mode`, `must be one of ${list(modes)} on ${arch}`);
      }
      return { op: name, vcpu, mode: o["mode"] as VcpuCtxtMode, ...hdr };
    }
    case "getvcpucontext":
      return { op: name, vcpu: integer(o, "vcpu", at, 0, U32_MAX, U32), ...hdr };
    case "get_address_size":
    case "unpausedomain":
    case "destroydomain":
      return { op: name, ...hdr };
  }
}
