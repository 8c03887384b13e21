// Two ways to fix a guest's width (spec domctl.md, scope): (A) XEN_DOMCTL_CDF_is_32bits at
// createdomain, (B) set_address_size later, in the toolstack's order (spec 5:
// create -> max_vcpus -> max_mem -> set_address_size -> populate -> setvcpucontext -> unpause).

import fc from "fast-check";
import { describe, expect, test } from "vitest";
import type { DomctlResult } from "../../../src/hv/xen/domctl/case.js";
import { PRESETS, run } from "./helpers.js";

type Arch = "x86" | "arm64" | "arm32";
const base = (arch: Arch): string[] => (arch === "x86" ? [] : ["hvm", "hap"]);
const mode = (arch: Arch, w: 32 | 64): string => (arch === "x86" ? `x86_${w}` : w === 32 ? "aarch32" : "aarch64");

/** (A): the flag at creation (for width 32), never set_address_size. */
function flagAtCreation(arch: Arch, w: 32 | 64, n: number, pages: number): unknown[] {
  return [
    { op: "createdomain", flags: [...base(arch), ...(w === 32 ? ["is_32bits"] : [])], max_vcpus: n },
    { op: "max_vcpus", n }, { op: "max_mem", kb: pages * 4 }, { op: "populate_physmap", pages },
    { op: "setvcpucontext", vcpu: 0, mode: mode(arch, w) }, { op: "unpausedomain" },
  ];
}
/** (B): no flag; set_address_size(w) before memory, as libxenguest's meminit hook does. */
function setLater(arch: Arch, w: 32 | 64, n: number, pages: number): unknown[] {
  return [
    { op: "createdomain", flags: base(arch), max_vcpus: n },
    { op: "max_vcpus", n }, { op: "max_mem", kb: pages * 4 }, { op: "set_address_size", size: w }, { op: "populate_physmap", pages },
    { op: "setvcpucontext", vcpu: 0, mode: mode(arch, w) }, { op: "unpausedomain" },
  ];
}

/** What a guest sees of the domain: its width and each vCPU's execution width and context. */
const seen = (r: DomctlResult): unknown =>
  r.domain === null ? null : { type: r.domain.type, width: r.domain.width, vcpus: r.domain.vcpus.map((v) => [v.width, v.is_initialised, v.ctxt]) };

describe("the vCPU RW bit after each strategy (arm64)", () => {
  test("xen-4.21: (A) is refused at creation; (B) 64 sets RW, 32 leaves it clear", () => {
    expect(run("arm64", "xen-4.21", flagAtCreation("arm64", 32, 2, 8)).ops[0]!.errno).toBe("-EINVAL");
    const b64 = run("arm64", "xen-4.21", setLater("arm64", 64, 2, 8));
    expect(b64.domain!.vcpus.map((v) => v.hcr_el2_rw)).toEqual([true, true]);
    const b32 = run("arm64", "xen-4.21", setLater("arm64", 32, 2, 8));
    expect(b32.domain!.type).toBe("DOMAIN_32BIT");
    expect(b32.domain!.vcpus.map((v) => v.hcr_el2_rw)).toEqual([false, false]);
  });

  for (const p of ["cdf-is-32bits-v1", "cdf-is-32bits-reviewed"]) {
    test(`${p}: 32-bit by (A) and by (B) reach the same domain (type 32, RW clear)`, () => {
      const a = run("arm64", p, flagAtCreation("arm64", 32, 2, 8));
      const b = run("arm64", p, setLater("arm64", 32, 2, 8));
      expect(a.ops.every((o) => o.ret === 0)).toBe(true);
      expect(b.ops.every((o) => o.ret === 0)).toBe(true);
      expect(seen(a)).toEqual(seen(b));
      expect(a.domain!.vcpus.map((v) => v.hcr_el2_rw)).toEqual([false, false]);
    });

    // The spec's inferred case (4.4): a domain 64-bit from creation (no flag under v1) whose
    // vCPUs were created by max_vcpus with RW clear; nothing ever sets RW when the toolstack
    // relies on creation alone. setvcpucontext checks PSRs against the type, not HCR, so it
    // accepts an AArch64 context: vCPU 0 is initialised, AArch64 context, RW clear.
    test(`${p}: 64-bit fixed at creation, no set_address_size -> vCPUs keep HCR_EL2.RW clear (inferred case)`, () => {
      const a = run("arm64", p, flagAtCreation("arm64", 64, 2, 8));
      expect(a.ops.map((o) => o.ret)).toEqual([0, 0, 0, 0, 0, 0]);
      expect(a.domain).toMatchObject({ type: "DOMAIN_64BIT", width: 64 });
      expect(a.domain!.vcpus.map((v) => [v.hcr_el2_rw, v.is_initialised, v.ctxt])).toEqual([[false, true, "aarch64"], [false, false, null]]);
      expect(a.ops[4]!.decisions.map((d) => d.branch)).toContain("psr-vs-hcr");
      const b = run("arm64", p, setLater("arm64", 64, 2, 8));
      expect(b.domain!.vcpus.map((v) => v.hcr_el2_rw)).toEqual([true, true]);
      expect(seen(a)).not.toEqual(seen(b));
    });
  }

  test("dropping the early return is what sets RW under (B): v1 with same_type=early-return leaves RW clear", () => {
    const r = run("arm64", "cdf-is-32bits-v1", setLater("arm64", 64, 2, 8), { "domctl.arm64.switch_mode.same_type": "early-return" });
    expect(r.domain!.type).toBe("DOMAIN_64BIT");
    expect(r.domain!.vcpus.map((v) => v.hcr_el2_rw)).toEqual([false, false]);
  });
});

describe("strategies (A) and (B) across presets", () => {
  // Where (A) and (B) give the guest the same domain, per preset (arch, width). arm32/64
  // agrees trivially: both strategies leave vCPU 0 without a context (an arm32 domain is 32-bit).
  const AGREE: Record<string, Record<string, boolean>> = {
    "xen-4.21": { "x86/32": false, "x86/64": true, "arm64/32": false, "arm64/64": false, "arm32/32": false, "arm32/64": true },
    "cdf-is-32bits-v1": { "x86/32": false, "x86/64": true, "arm64/32": true, "arm64/64": false, "arm32/32": true, "arm32/64": true },
    "cdf-is-32bits-reviewed": { "x86/32": false, "x86/64": true, "arm64/32": true, "arm64/64": false, "arm32/32": true, "arm32/64": true },
  };

  test("property: (A) and (B) agree exactly where the table says, for any vCPU count and memory size", () => {
    const arch = fc.constantFrom<Arch>("x86", "arm64", "arm32");
    fc.assert(
      fc.property(fc.constantFrom(...PRESETS), arch, fc.constantFrom<32 | 64>(32, 64), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 64 }),
        (p, a, w, n, pages) => {
          const same = JSON.stringify(seen(run(a, p, flagAtCreation(a, w, n, pages)))) === JSON.stringify(seen(run(a, p, setLater(a, w, n, pages))));
          return same === AGREE[p]![`${a}/${w}`];
        }),
      { seed: 42, numRuns: 300 },
    );
  });

  test("the presets differ on the 32-bit strategies: x86 (A) is pv64 under v1, refused after review; arm64 (A) refused before the series", () => {
    const x86 = PRESETS.map((p) => { const r = run("x86", p, flagAtCreation("x86", 32, 1, 4)); return [r.ops[0]!.errno, r.domain?.type ?? null]; });
    expect(x86).toEqual([["-EINVAL", null], [null, "pv64"], ["-EINVAL", null]]);
    // (B) makes x86 a 32-bit PV domain under every preset.
    for (const p of PRESETS) expect(run("x86", p, setLater("x86", 32, 1, 4)).domain!.type).toBe("pv32");
  });
});
