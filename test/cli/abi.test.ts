// `hvdiff abi`: the stable JSON document of cases.md is what src/hv/xen/layout.ts computes
// (checked against Xen's headers in test/hv/xen/layout.test.ts), and the table names
// every struct.

import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { abiJson, structNames } from "../../src/hv/xen/layout.js";

const BIN = new URL("../../dist/harness/cli/main.js", import.meta.url).pathname;
const hvdiff = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

describe("hvdiff abi", () => {
  it("--json prints the layouts in the cases.md shape, the runstate area 48 bytes native and 44 compat", () => {
    const r = hvdiff(["abi", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, Record<string, { size: number; fields: Record<string, { offset: number; size: number }> }>>;
    expect(doc).toEqual(abiJson());
    expect(Object.keys(doc)).toEqual(["x86_64", "x86_32"]);
    expect(doc["x86_64"]!["vcpu_runstate_info"]!.size).toBe(48);
    expect(doc["x86_32"]!["vcpu_runstate_info"]!.size).toBe(44);
    for (const s of ["shared_info", "vcpu_info", "vcpu_time_info", "arch_vcpu_info", "arch_shared_info", "vcpu_register_vcpu_info", "vcpu_register_runstate_memory_area", "xen_add_to_physmap", "xen_hvm_param"]) {
      expect(doc["x86_64"]![s], s).toBeDefined();
      expect(doc["x86_32"]![s], s).toBeDefined();
    }
  });

  it("without --json, a table per struct", () => {
    const r = hvdiff(["abi"]);
    expect(r.status).toBe(0);
    for (const s of structNames("x86_64")) expect(r.stdout).toMatch(new RegExp(`^${s}: `, "m"));
    expect(r.stdout).toMatch(/^vcpu_runstate_info: x86_64 48 bytes, x86_32 44 bytes$/m);
  });
});
