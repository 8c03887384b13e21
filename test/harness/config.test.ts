// Configurations (harness/config/config.ts): presets are complete plain objects, and a
// configuration file's hypervisor knobs are checked by name and value and completed from
// the default preset, so a report's copy of a configuration reads back as the same object.

import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_PAIRS, parseConfiguration, PRESETS } from "../../harness/config/config.js";
import { DOMCTL_KNOBS, DOMCTL_PRESETS, HVM_KNOBS, HVM_PRESETS } from "../../src/hv/policy.js";

describe("configurations", () => {
  it("every default pair names presets; HVM and domctl presets set every knob of their area", () => {
    for (const [a, b] of DEFAULT_PAIRS) {
      expect(PRESETS[a], a).toBeDefined();
      expect(PRESETS[b], b).toBeDefined();
    }
    for (const name of Object.keys(HVM_PRESETS)) expect(Object.keys(PRESETS[name]!.hvm!).sort()).toEqual(HVM_KNOBS.map((k) => k.name).sort());
    for (const name of Object.keys(DOMCTL_PRESETS)) expect(Object.keys(PRESETS[name]!.domctl!).sort()).toEqual(DOMCTL_KNOBS.map((k) => k.name).sort());
  });

  it("a file's hvm knobs override Xen's; the result parses back to itself", () => {
    const c = parseConfiguration({ name: "xen-with-kvm-latch", cpu: { vendor: "intel", fred: false }, hvm: { "hvm.latch.hypercall_msr": "is_long_mode" } }, "f.json");
    expect(c.hvm).toEqual({ ...HVM_PRESETS.xen, "hvm.latch.hypercall_msr": "is_long_mode" });
    expect(parseConfiguration(JSON.parse(JSON.stringify(c)), "report")).toEqual(c);
    expect(parseConfiguration(JSON.parse(JSON.stringify(PRESETS["kvm-2022"])), "report")).toEqual(PRESETS["kvm-2022"]);
  });

  it("an unknown knob or value is one error naming the file and the knob", () => {
    const bad = (hvm: Record<string, string>) => () => parseConfiguration({ name: "x", cpu: { vendor: "intel", fred: false }, hvm }, "f.json");
    expect(bad({ "hvm.latch.nope": "x" })).toThrow(new ConfigError('f.json: hvm["hvm.latch.nope"]: unknown knob'));
    expect(bad({ "hvm.latch.hypercall_msr": "cs_l" })).toThrow(/^f\.json: hvm\["hvm\.latch\.hypercall_msr"\]: must be one of "hvm_guest_x86_mode", "is_long_mode", "is_64_bit_hypercall"$/);
    expect(() => parseConfiguration({ name: "x", cpu: { vendor: "intel", fred: false }, domctl: { "domctl.x86.cdf_is_32bits": "maybe" } }, "g.json")).toThrow(/^g\.json: domctl\["domctl\.x86\.cdf_is_32bits"\]: must be one of/);
  });
});
