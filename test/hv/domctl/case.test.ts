// parseDomctl: the cases.md `domctl` object, and its one-line errors.

import { describe, expect, test } from "vitest";
import { DomctlError, parseDomctl } from "../../../src/hv/xen/domctl/case.js";
import { DOMCTL_KNOBS, DOMCTL_PRESETS, KNOBS } from "../../../src/hv/policy.js";

const err = (v: unknown): string => {
  try {
    parseDomctl(v, "domctl");
  } catch (e) {
    expect(e).toBeInstanceOf(DomctlError);
    return (e as Error).message;
  }
  throw new Error("no error");
};

describe("parseDomctl", () => {
  test("a well-formed case: preset defaults to xen-4.21, knobs override single values", () => {
    const c = parseDomctl({ arch: "arm64", knobs: { "domctl.arm64.switch_mode.same_type": "reapply" }, ops: [{ op: "createdomain", flags: ["hvm", "hap"], max_vcpus: 2 }, { op: "set_address_size", size: 64 }] }, "domctl");
    expect(c.preset).toBe("xen-4.21");
    expect(c.policy).toEqual({ ...DOMCTL_PRESETS["xen-4.21"], "domctl.arm64.switch_mode.same_type": "reapply" });
    expect(c.ops[0]).toMatchObject({ op: "createdomain", flags: ["hvm", "hap"], max_vcpus: 2, domid: 0 });
  });

  test.each([
    [{ arch: "arm64", ops: [{ op: "createdomain" }, {}, {}, { op: "set_address_size", size: 32.5 }] }, "domctl.ops[1].op: is required"],
    [{ arch: "arm64", ops: [{ op: "createdomain" }, { op: "max_vcpus", n: 1 }, { op: "max_mem", kb: 1 }, { op: "set_address_size", size: 32.5 }] }, "domctl.ops[3].size: must be a uint32_t (an integer in 0..4294967295)"],
    [{ arch: "arm64", ops: [{ op: "set_address_size" }] }, "domctl.ops[0].size: is required"],
    [{ arch: "riscv", ops: [] }, 'domctl.arch: must be one of "x86", "arm64", "arm32"'],
    [{ arch: "x86", preset: "xen-4.22", ops: [] }, 'domctl.preset: must be one of "xen-4.21", "cdf-is-32bits-v1", "cdf-is-32bits-reviewed"'],
    [{ arch: "x86", knobs: { "domctl.x86.opt_pv32": "off" }, ops: [] }, 'domctl.knobs["domctl.x86.opt_pv32"]: must be one of "enabled", "disabled"'],
    [{ arch: "x86", knobs: { "latch": "xen" }, ops: [] }, 'domctl.knobs["latch"]: unknown knob'],
    [{ arch: "x86", ops: [{ op: "createdomain", flags: ["hvm", "32bits_max"] }] }, 'domctl.ops[0].flags[1]: must be one of "hvm", "hap", "s3_integrity", "oos_off", "xs_domain", "iommu", "nested_virt", "vpmu", "trap_unmapped_accesses", "is_32bits"'],
    [{ arch: "x86", ops: [{ op: "setvcpucontext", vcpu: 0, mode: "aarch64" }] }, 'domctl.ops[0].mode: must be one of "x86_32", "x86_64", "null" on x86'],
    [{ arch: "x86", ops: [{ op: "pausedomain" }] }, 'domctl.ops[0].op: must be one of "createdomain", "max_vcpus", "max_mem", "populate_physmap", "set_address_size", "get_address_size", "setvcpucontext", "getvcpucontext", "unpausedomain", "destroydomain"'],
    [{ arch: "x86", ops: [{ op: "max_vcpus", n: 1, max: 1 }] }, "domctl.ops[0].max: unknown field for max_vcpus"],
    [{ arch: "x86", ops: [{ op: "createdomain", sve_vl: 1 }] }, "domctl.ops[0].sve_vl: is an Arm field (arch.sve_vl)"],
    [{ arch: "x86", ops: {} }, "domctl.ops: must be an array of ops"],
    [{ arch: "x86" }, "domctl.ops: is required"],
    [{ arch: "x86", ops: [], extra: 1 }, "domctl.extra: unknown field"],
    ["x86", "domctl: must be an object"],
  ])("%j -> %s", (v, msg) => {
    const m = err(v);
    expect(m).toBe(msg);
    expect(m).not.toContain("\n");
  });
});

describe("policy registry", () => {
  test("every preset sets every domctl knob to one of its values; the registry holds the domctl knobs", () => {
    for (const p of Object.values(DOMCTL_PRESETS)) {
      expect(Object.keys(p).sort()).toEqual(DOMCTL_KNOBS.map((k) => k.name).sort());
      for (const k of DOMCTL_KNOBS) expect(k.values.map((v) => v.value)).toContain((p as unknown as Record<string, string>)[k.name]);
    }
    for (const k of DOMCTL_KNOBS) expect(KNOBS).toContain(k);
  });

  test("the presets differ only where the spec says: reviewed = v1 + x86 rejects", () => {
    const v1 = DOMCTL_PRESETS["cdf-is-32bits-v1"]!, rev = DOMCTL_PRESETS["cdf-is-32bits-reviewed"]!;
    expect({ ...rev, "domctl.x86.cdf_is_32bits": v1["domctl.x86.cdf_is_32bits"] }).toEqual(v1);
    expect(rev["domctl.x86.cdf_is_32bits"]).toBe("rejected");
  });
});
