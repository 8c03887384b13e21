// Shared helpers for the domctl model tests.

import { parseDomctl, runDomctl, type DomctlResult, type DomctlOpResult } from "../../../src/hv/xen/domctl/case.js";

export type Preset = "xen-4.21" | "cdf-is-32bits-v1" | "cdf-is-32bits-reviewed";
export const PRESETS: readonly Preset[] = ["xen-4.21", "cdf-is-32bits-v1", "cdf-is-32bits-reviewed"];

export function run(arch: string, preset: string, ops: unknown[], knobs?: Record<string, string>): DomctlResult {
  return runDomctl(parseDomctl(knobs === undefined ? { arch, preset, ops } : { arch, preset, knobs, ops }, "domctl"));
}

export function last(r: DomctlResult): DomctlOpResult {
  return r.ops[r.ops.length - 1]!;
}

// The toolstack's prefix (spec 5): create -> max_vcpus -> max_mem.
export const armCreate = (n = 2, extra: string[] = []) => [
  { op: "createdomain", flags: ["hvm", "hap", ...extra], max_vcpus: n },
  { op: "max_vcpus", n },
  { op: "max_mem", kb: 65536 },
];
export const pvCreate = (n = 2, extra: string[] = []) => [
  { op: "createdomain", flags: extra, max_vcpus: n },
  { op: "max_vcpus", n },
  { op: "max_mem", kb: 65536 },
];
export const hvmCreate = (n = 2) => [
  { op: "createdomain", flags: ["hvm", "hap"], max_vcpus: n },
  { op: "max_vcpus", n },
  { op: "max_mem", kb: 65536 },
];
export const populate = (pages = 16) => ({ op: "populate_physmap", pages });
