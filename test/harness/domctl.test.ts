// Toolstack sequences as pairs (harness/gen/domctl.ts, harness/run/domctl.ts): generated
// sequences are valid cases and reproducible from their seed; a pair names the first op
// whose return value differs, with each side's errno and Xen's rule; the two ways of
// fixing a guest's width are compared by the domain they build; a fault of the model is a
// crash finding; the fuzzer finds the series' differences from scratch.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import seedrandom from "seedrandom";
import { parseDomctl } from "../../src/hv/xen/domctl/case.js";
import { PRESETS, type Configuration } from "../../harness/config/config.js";
import { generateDomctl, generateStrategies, type DomctlOpJson, type DomctlProgram } from "../../harness/gen/domctl.js";
import { evaluateDomctl } from "../../harness/run/domctl.js";
import { runChunk } from "../../harness/run/chunk.js";
import { checkReport } from "../../harness/report/report.js";

const base = PRESETS["xen-4.21"]!;
const v1 = PRESETS["cdf-is-32bits-v1"]!;
const reviewed = PRESETS["cdf-is-32bits-reviewed"]!;

const program = (arch: DomctlProgram["arch"], ops: DomctlOpJson[], altOps?: DomctlOpJson[]): DomctlProgram => ({
  generator: "test",
  seed: "t/0",
  arch,
  ops,
  ...(altOps === undefined ? {} : { altOps, strategies: "test" }),
});

/** libxl's order for one vCPU: create, max_vcpus, max_mem, [set_address_size], populate, setvcpucontext. */
function libxl(flags: string[], size: number | null, mode: string): DomctlOpJson[] {
  return [
    { op: "createdomain", flags, max_vcpus: 1 },
    { op: "max_vcpus", n: 1 },
    { op: "max_mem", kb: 4096 },
    ...(size === null ? [] : [{ op: "set_address_size", size }]),
    { op: "populate_physmap", pages: 16 },
    { op: "setvcpucontext", vcpu: 0, mode },
  ];
}

describe("domctl generator", () => {
  it("every generated sequence is a valid domctl case, and a seed gives the same sequence", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.boolean(), (seed, strategies) => {
        const gen = strategies ? generateStrategies : generateDomctl;
        const p = gen(seedrandom(seed), seed);
        expect(gen(seedrandom(seed), seed)).toEqual(p);
        parseDomctl({ arch: p.arch, ops: p.ops }, "domctl");
        if (p.altOps !== undefined) parseDomctl({ arch: p.arch, ops: p.altOps }, "domctl");
        expect(p.ops[0]!.op).toBe("createdomain");
      }),
      { numRuns: 300 },
    );
  });

  it("the strategies differ only in how the width is fixed: the flag (or nothing) against set_address_size", () => {
    for (let i = 0; i < 200; i++) {
      const p = generateStrategies(seedrandom(`s/${i}`), `s/${i}`);
      const size = p.altOps!.find((o) => o.op === "set_address_size")!["size"] as number;
      const strip = (ops: DomctlOpJson[]) =>
        ops.filter((o) => o.op !== "set_address_size").map((o) => (o.op === "createdomain" ? { ...o, flags: (o["flags"] as string[]).filter((f) => f !== "is_32bits") } : o));
      expect(strip(p.ops)).toEqual(strip(p.altOps!));
      expect((p.ops[0]!["flags"] as string[]).includes("is_32bits")).toBe(size === 32);
    }
  });
});

describe("domctl pairs", () => {
  it("x86 with XEN_DOMCTL_CDF_is_32bits: -EINVAL before the series, accepted and ignored by v1, rejected after review", () => {
    const p = program("x86", libxl(["is_32bits"], null, "x86_32"));
    const f = evaluateDomctl(p, base, v1)!;
    expect(f.signature).toBe("divergence xen-4.21/cdf-is-32bits-v1 x86 createdomain is_32bits: ret -EINVAL/0");
    expect(f.first!.index).toBe(0);
    expect(f.first!.a.explain).toMatch(/^createdomain: -EINVAL on x86 because /);
    const g = evaluateDomctl(p, v1, reviewed)!;
    expect(g.signature).toBe("divergence cdf-is-32bits-v1/cdf-is-32bits-reviewed x86 createdomain is_32bits: ret 0/-EINVAL");
    expect(g.first!.b.explain).toMatch(/-EINVAL on x86/);
  });

  it("arm64 set_address_size after memory: -EBUSY on both sides, even for the same type: no finding", () => {
    const ops: DomctlOpJson[] = [...libxl(["hvm", "hap"], null, "aarch64").slice(0, 3), { op: "populate_physmap", pages: 1 }, { op: "set_address_size", size: 64 }, { op: "set_address_size", size: 32 }];
    // The sides differ from createdomain on (the default type: 32 before the series, 64
    // with it), but every op returns the same: both -EBUSY, whatever the type.
    const f = evaluateDomctl(program("arm64", ops), base, v1)!;
    expect(f.signature).toBe("divergence xen-4.21/cdf-is-32bits-v1 arm64 createdomain: domain.type domain.width");
    expect(f.first!.index).toBe(0);
    expect(f.diffs.filter((d) => d.path.startsWith("ops."))).toEqual([]);
  });

  it("arm64 set_address_size after setvcpucontext: 0 before the series, -EBUSY with vcpus_check_initialised", () => {
    const ops: DomctlOpJson[] = [{ op: "createdomain", flags: ["hvm", "hap"], max_vcpus: 1 }, { op: "max_vcpus", n: 1 }, { op: "set_address_size", size: 64 }, { op: "setvcpucontext", vcpu: 0, mode: "aarch64" }, { op: "set_address_size", size: 64 }];
    const f = evaluateDomctl(program("arm64", ops), base, v1)!;
    expect(f.signature).toBe("divergence xen-4.21/cdf-is-32bits-v1 arm64 set_address_size 64: ret 0/-EBUSY");
    expect(f.first!.index).toBe(4);
    expect(f.first!.b.explain).toContain("vcpus_check_initialised");
    expect(f.first!.b.decisions.some((d) => d.knob === "domctl.arm64.switch_mode.vcpus_check_initialised" && d.value === "ebusy")).toBe(true);
    // With that knob as before the series, the two agree at that op.
    const v1Without: Configuration = { ...v1, name: "v1-no-check", domctl: { ...v1.domctl!, "domctl.arm64.switch_mode.vcpus_check_initialised": "absent" } };
    expect(evaluateDomctl(program("arm64", ops), base, v1Without)?.first?.index ?? null).not.toBe(4);
  });

  it("two strategies under v1: a 64-bit arm64 domain by default leaves its vCPU's RW clear; set_address_size(64) sets it", () => {
    const f = evaluateDomctl(program("arm64", libxl(["hvm", "hap"], null, "aarch64"), libxl(["hvm", "hap"], 64, "aarch64")), v1, v1)!;
    expect(f.signature).toBe("divergence cdf-is-32bits-v1/cdf-is-32bits-v1 arm64 strategies test: domain.vcpus.N.hcr_el2_rw domain.vcpus.N.width");
    expect(f.diffs).toContainEqual({ path: "domain.vcpus.0.hcr_el2_rw", a: "false", b: "true" });
    // 32-bit by the flag and by set_address_size agree under v1.
    expect(evaluateDomctl(program("arm64", libxl(["hvm", "hap", "is_32bits"], null, "aarch32"), libxl(["hvm", "hap"], 32, "aarch32")), v1, v1)).toBeNull();
  });

  it("a fault inside the model is a crash finding, not an exception", () => {
    const broken: Configuration = {
      ...v1,
      name: "broken",
      domctl: new Proxy({ ...v1.domctl! }, {
        get(t, k) {
          if (k === "domctl.arm64.default_type") throw new Error("knob read failed at 0x10");
          return t[k as keyof typeof t];
        },
      }),
    };
    const f = evaluateDomctl(program("arm64", libxl(["hvm", "hap"], null, "aarch64")), base, broken)!;
    expect(f.kind).toBe("crash");
    expect(f.signature).toBe("crash xen-4.21/broken broken: knob read failed at N");
    expect(f.crash!.side).toBe("b");
  });

  it("the fuzzer finds the series' differences from scratch in one chunk, with minimized, valid reports", () => {
    const r = runChunk({ runSeed: "scratch", generator: "domctl", pair: [base, v1], from: 0, to: 1000, known: {} });
    const sigs = r.findings.map((f) => f.signature);
    expect(r.harnessErrors).toEqual([]);
    expect(sigs).toContain("divergence xen-4.21/cdf-is-32bits-v1 x86 createdomain is_32bits: ret -EINVAL/0");
    expect(sigs).toContain("divergence xen-4.21/cdf-is-32bits-v1 arm64 createdomain is_32bits: ret -EINVAL/0");
    expect(sigs.some((s) => /arm64 set_address_size (32|64): ret 0\/-EBUSY$/.test(s))).toBe(true);
    for (const f of r.findings) {
      const rep = checkReport(JSON.parse(JSON.stringify(f.report)), f.signature);
      expect(rep.minimized.size.items).toBeLessThanOrEqual(rep.original.size.items);
      const min = rep.minimized.program as { arch: DomctlProgram["arch"]; ops: DomctlOpJson[] };
      expect(evaluateDomctl(program(min.arch, min.ops), base, v1)?.signature).toBe(f.signature);
      if (rep.firstOp !== undefined) expect(rep.firstOp.a.ret !== rep.firstOp.b.ret || rep.diffs!.length > 0).toBe(true);
    }
    // The x86 flag needs only createdomain.
    const x86 = r.findings.find((f) => f.signature.includes("x86 createdomain is_32bits"))!;
    expect((x86.report!.minimized.program as { ops: DomctlOpJson[] }).ops).toEqual([{ op: "createdomain", flags: ["is_32bits"], max_vcpus: expect.any(Number) as number }]);
  });
});
