// Properties of the domctl model over random op sequences.

import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { parseDomctl, runDomctl } from "../../../src/hv/xen/domctl/case.js";
import { CDF_NAMES } from "../../../src/hv/xen/domctl/domain.js";
import { DOMCTL_KNOBS } from "../../../src/hv/policy.js";

const u = (max: number) => fc.integer({ min: 0, max });
const version = fc.option(fc.constantFrom(0x17, 0x17, 0x17, 0x18), { nil: undefined });
const hdr = (v: number | undefined) => (v === undefined ? {} : { interface_version: v });

const opArb = (arch: "x86" | "arm64" | "arm32") => fc.oneof(
  fc.record({ flags: fc.subarray([...CDF_NAMES]), max_vcpus: u(10), domid: fc.constantFrom(0, 0, 1, 2), v: version })
    .map(({ v, ...o }) => ({ op: "createdomain", ...o, ...hdr(v) })),
  fc.record({ n: u(10), v: version }).map(({ n, v }) => ({ op: "max_vcpus", n, ...hdr(v) })),
  fc.record({ kb: u(1 << 20) }).map(({ kb }) => ({ op: "max_mem", kb })),
  fc.record({ pages: u(300) }).map(({ pages }) => ({ op: "populate_physmap", pages })),
  fc.record({ size: fc.constantFrom(0, 16, 32, 32, 64, 64, 48), v: version }).map(({ size, v }) => ({ op: "set_address_size", size, ...hdr(v) })),
  fc.constant({ op: "get_address_size" }),
  fc.record({ vcpu: u(10), mode: fc.constantFrom(...(arch === "x86" ? ["x86_32", "x86_64", "null"] : ["aarch32", "aarch64", "null"])) })
    .map((o) => ({ op: "setvcpucontext", ...o })),
  fc.record({ vcpu: u(10) }).map((o) => ({ op: "getvcpucontext", ...o })),
  fc.constant({ op: "unpausedomain" }),
  fc.constant({ op: "destroydomain" }),
);

const knobsArb = fc.record(Object.fromEntries(DOMCTL_KNOBS.map((k) => [k.name, fc.constantFrom(...k.values.map((v) => v.value))])), { requiredKeys: [] });

const caseArb = fc.constantFrom<"x86" | "arm64" | "arm32">("x86", "arm64", "arm32").chain((arch) =>
  fc.record({
    arch: fc.constant(arch),
    preset: fc.constantFrom("xen-4.21", "cdf-is-32bits-v1", "cdf-is-32bits-reviewed"),
    knobs: knobsArb,
    ops: fc.array(opArb(arch), { maxLength: 14 }),
  }));

describe("domctl model properties", () => {
  test("random op sequences never throw: every op returns 0 or a named negative errno", () => {
    fc.assert(fc.property(caseArb, (c) => {
      const r = runDomctl(parseDomctl(c, "domctl"));
      expect(r.ops).toHaveLength(c.ops.length);
      for (const o of r.ops) {
        expect(o.ret <= 0).toBe(true);
        expect(o.errno === null).toBe(o.ret === 0);
        if (o.ret < 0) {
          expect(o.errno).toMatch(/^-E[A-Z]+$/);
          expect(o.rule).toBeDefined();
        }
      }
    }), { seed: 7, numRuns: 2000 });
  });

  test("results are deterministic and JSON-serialisable: same input, deep-equal output", () => {
    fc.assert(fc.property(caseArb, (c) => {
      const a = runDomctl(parseDomctl(c, "domctl"));
      const b = runDomctl(parseDomctl(structuredClone(c), "domctl"));
      expect(b).toEqual(a);
      expect(JSON.parse(JSON.stringify(a))).toEqual(a);
    }), { seed: 11, numRuns: 500 });
  });

  test("ops before createdomain or after destroydomain find no domain: -ESRCH (populate_physmap: -EBUSY)", () => {
    fc.assert(fc.property(caseArb, (c) => {
      const ops = [{ op: "createdomain", flags: c.arch === "x86" ? [] : ["hvm", "hap"], max_vcpus: 1 }, { op: "destroydomain" }, ...c.ops.filter((o) => o.op !== "createdomain")];
      const r = runDomctl(parseDomctl({ ...c, knobs: {}, ops }, "domctl"));
      for (const o of r.ops.slice(2)) {
        const versionFail = o.errno === "-EACCES";
        expect(versionFail || o.errno === (o.op === "populate_physmap" ? (o.ret === 0 ? null : "-EBUSY") : "-ESRCH")).toBe(true);
      }
      expect(r.domain).toBeNull();
    }), { seed: 3, numRuns: 300 });
  });

  test("set_address_size never changes a domain's width once it has memory (arm64, x86)", () => {
    fc.assert(fc.property(caseArb.filter((c) => c.arch !== "arm32"), (c) => {
      const r = runDomctl(parseDomctl(c, "domctl"));
      // Replay op by op: a successful set_address_size with tot_pages > 0 must be a no-op.
      for (let i = 0; i < c.ops.length; i++) {
        if (c.ops[i]!.op !== "set_address_size" || r.ops[i]!.ret !== 0) continue;
        const before = runDomctl(parseDomctl({ ...c, ops: c.ops.slice(0, i) }, "domctl")).domain;
        const after = runDomctl(parseDomctl({ ...c, ops: c.ops.slice(0, i + 1) }, "domctl")).domain;
        if (before !== null && before.tot_pages > 0) expect(after).toEqual(before);
      }
    }), { seed: 5, numRuns: 300 });
  });
});
