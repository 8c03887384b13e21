// The HVM knobs in the registry: every preset gives every HVM knob a valid value, every knob
// names the real code it models, and the presets differ where cases.md says they do.

import { describe, expect, it } from "vitest";
import { HVM_KNOBS, HVM_PRESETS, KNOBS, knobValueProblem } from "../../../src/hv/policy.js";

describe("HVM knobs and presets", () => {
  it("are registered, area hvm, each value documented", () => {
    for (const k of HVM_KNOBS) {
      expect(KNOBS).toContain(k);
      expect(k.area).toBe("hvm");
      expect(k.models.length).toBeGreaterThan(0);
      for (const v of k.values) expect(v.models.length).toBeGreaterThan(0);
    }
  });

  it("every preset sets every HVM knob to one of its values", () => {
    for (const [name, p] of Object.entries(HVM_PRESETS)) {
      expect(Object.keys(p).sort(), name).toEqual(HVM_KNOBS.map((k) => k.name).sort());
      for (const [knob, value] of Object.entries(p)) expect(knobValueProblem(knob, value), `${name} ${knob}`).toBeNull();
    }
  });

  it("kvm-fixed and kvm-2022 differ from kvm in one knob each", () => {
    const diff = (a: object, b: object) => Object.keys(a).filter((k) => (a as Record<string, string>)[k] !== (b as Record<string, string>)[k]);
    expect(diff(HVM_PRESETS.kvm, HVM_PRESETS["kvm-fixed"])).toEqual(["hvm.latch.hypercall_msr"]);
    expect(diff(HVM_PRESETS.kvm, HVM_PRESETS["kvm-2022"])).toEqual(["hvm.runstate.area"]);
    expect(HVM_PRESETS.xen["hvm.latch.hypercall_msr"]).toBe("hvm_guest_x86_mode");
    expect(HVM_PRESETS.kvm["hvm.latch.hypercall_msr"]).toBe("is_long_mode");
    expect(HVM_PRESETS["kvm-fixed"]["hvm.latch.hypercall_msr"]).toBe("is_64_bit_hypercall");
  });
});
