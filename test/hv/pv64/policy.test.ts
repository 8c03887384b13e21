// The PV64 knobs in the registry and the three presets of design/cases.md.

import { describe, expect, test } from "vitest";
import { KNOBS, knobValueProblem, PV64_KNOBS, PV64_PRESETS } from "../../../src/hv/policy.js";

describe("PV64 knobs and presets", () => {
  test("every PV64 knob is registered, in area pv64, naming the code it models", () => {
    for (const k of PV64_KNOBS) {
      expect(KNOBS).toContain(k);
      expect(k.area).toBe("pv64");
      expect(k.models.length).toBeGreaterThan(0);
      for (const v of k.values) expect(v.models.length).toBeGreaterThan(0);
    }
  });

  test("each preset sets every PV64 knob to one of its values", () => {
    for (const [name, p] of Object.entries(PV64_PRESETS)) {
      expect(Object.keys(p).sort(), name).toEqual(PV64_KNOBS.map((k) => k.name).sort());
      for (const [k, v] of Object.entries(p)) expect(knobValueProblem(k, v), `${name} ${k}`).toBeNull();
    }
  });

  test("the presets differ exactly where cases.md says: host delivery, and the two hunks of the fix", () => {
    expect(PV64_PRESETS["xen-idt"]["pv64.host.delivery"]).toBe("legacy_syscall_init");
    expect(PV64_PRESETS["xen-fred"]).toEqual({ "pv64.host.delivery": "init_fred", "pv64.fred.syscall_entry": "76193ef47d", "pv64.fred.eretu_exit": "76193ef47d" });
    expect(PV64_PRESETS["xen-fred-fixed"]).toEqual({ "pv64.host.delivery": "init_fred", "pv64.fred.syscall_entry": "c5a4b9125b", "pv64.fred.eretu_exit": "c5a4b9125b" });
  });
});
