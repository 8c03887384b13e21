// `hvdiff knobs`: every preset (configurations and the PV64 presets) and every knob, the
// CPU's and the hypervisor model's, each with the real code it models.

import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { KNOBS, PRESETS } from "../../harness/config/config.js";
import { KNOBS as HV_KNOBS, PV64_PRESETS } from "../../src/hv/policy.js";

const BIN = new URL("../../dist/harness/cli/main.js", import.meta.url).pathname;
const hvdiff = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

describe("hvdiff knobs", () => {
  it("lists every preset and every knob with what it models", () => {
    const r = hvdiff(["knobs"]);
    expect(r.status).toBe(0);
    for (const name of [...Object.keys(PRESETS), ...Object.keys(PV64_PRESETS)]) expect(r.stdout).toMatch(new RegExp(`^  ${name.replace(/[.]/g, "\\.")} `, "m"));
    for (const k of KNOBS) expect(r.stdout).toContain(`  ${k.name} = `);
    for (const k of HV_KNOBS) {
      expect(r.stdout).toContain(`  ${k.name}  [${k.area}]`);
      expect(r.stdout).toContain(`models: ${k.models}`);
    }
    expect(HV_KNOBS.map((k) => k.area).sort().filter((a, i, all) => all.indexOf(a) === i)).toEqual(["domctl", "hvm", "pv64"]);
  });

  it("--json has the same presets and knobs", () => {
    const j = JSON.parse(hvdiff(["knobs", "--json"]).stdout) as { presets: object; pv64Presets: object; knobs: { name: string }[]; hypervisorKnobs: { name: string }[] };
    expect(Object.keys(j.presets)).toEqual(Object.keys(PRESETS));
    expect(Object.keys(j.pv64Presets)).toEqual(Object.keys(PV64_PRESETS));
    expect(j.hypervisorKnobs.map((k) => k.name)).toEqual(HV_KNOBS.map((k) => k.name));
  });
});
