// Toolstack sequences end to end: `hvdiff exec` runs a domctl case (cases.md) and lists each
// op's return value by errno name and the final domain; `hvdiff fuzz --pair
// xen-4.21,cdf-is-32bits-v1` finds the series' differences from scratch in seconds, its
// reports name the op, each side's errno and Xen's rule, and replay and triage read them.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkReport } from "../../harness/report/report.js";

const BIN = new URL("../../dist/harness/cli/main.js", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "hvdiff-domctl-"));
const hvdiff = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });

function file(name: string, v: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof v === "string" ? v : JSON.stringify(v));
  return p;
}

describe("hvdiff exec with a domctl case", () => {
  it("lists each op's return value by errno name and the final domain state", () => {
    const c = file("arm64.json", {
      id: "arm64-late",
      domctl: {
        arch: "arm64",
        preset: "cdf-is-32bits-v1",
        ops: [
          { op: "createdomain", flags: ["hvm", "hap"], max_vcpus: 1 },
          { op: "max_vcpus", n: 1 },
          { op: "max_mem", kb: 4096 },
          { op: "populate_physmap", pages: 4 },
          { op: "set_address_size", size: 32 },
        ],
      },
    });
    const r = hvdiff(["exec", c]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { id: string; domctl: { ops: { op: string; ret: number; errno: string | null; rule?: { fn: string } }[]; domain: { type: string; vcpus: { hcr_el2_rw: boolean }[] } } };
    expect(out.id).toBe("arm64-late");
    expect(out.domctl.ops.map((o) => [o.op, o.ret, o.errno])).toEqual([
      ["createdomain", 0, null],
      ["max_vcpus", 0, null],
      ["max_mem", 0, null],
      ["populate_physmap", 0, null],
      ["set_address_size", -16, "-EBUSY"],
    ]);
    expect(out.domctl.ops[4]!.rule!.fn).toBe("switch_mode()");
    // 64-bit by default under the series; the vCPU max_vcpus made has RW clear.
    expect(out.domctl.domain.type).toBe("DOMAIN_64BIT");
    expect(out.domctl.domain.vcpus[0]!.hcr_el2_rw).toBe(false);
  });

  it("a malformed domctl case is one line naming the place and the problem", () => {
    const bad = file("bad.json", { domctl: { arch: "arm64", ops: [{ op: "createdomain", flags: ["hvm"] }, { op: "set_address_size", size: "32" }] } });
    const r = hvdiff(["exec", bad]);
    expect(r.status).toBe(1);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(r.stdout).toContain(`${bad}: domctl.ops[1].size: must be`);
    const mixed = file("mixed.json", { mode: "long64", domctl: { arch: "x86", ops: [] } });
    expect(hvdiff(["exec", mixed]).stdout).toContain(`${mixed}: mode: only for a guest program`);
  });
});

describe("hvdiff fuzz on toolstack sequences", () => {
  it("--pair xen-4.21,cdf-is-32bits-v1 finds the differences in seconds; replay and triage explain them", () => {
    const out = join(dir, "fuzz");
    const r = hvdiff(["fuzz", "--pair", "xen-4.21,cdf-is-32bits-v1", "--time", "3s", "--jobs", "1", "--out", out, "--no-progress"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("divergence xen-4.21/cdf-is-32bits-v1 x86 createdomain is_32bits: ret -EINVAL/0");
    expect(r.stdout).toMatch(/divergence xen-4.21\/cdf-is-32bits-v1 arm64 set_address_size (32|64): ret 0\/-EBUSY/);
    const files = readdirSync(out).filter((n) => n.startsWith("divergence-"));
    expect(files.length).toBeGreaterThan(3);
    const x86 = files.map((n) => join(out, n)).find((p) => JSON.parse(readFileSync(p, "utf8")).signature.includes("x86 createdomain is_32bits"))!;
    const rep = checkReport(JSON.parse(readFileSync(x86, "utf8")), x86);
    expect(rep.generator.name).toBe("domctl@1");
    expect(rep.firstOp!.a.errno).toBe("-EINVAL");
    expect(rep.firstOp!.a.explain).toMatch(/^createdomain: -EINVAL on x86 because .*\(xen\/common\/domain\.c sanitise_domain_config\(\)/);
    expect(rep.firstOp!.b.ret).toBe(0);
    const re = hvdiff(["replay", x86]);
    expect(re.status, re.stdout).toBe(0);
    expect(re.stdout).toMatch(/^reproduces: divergence xen-4.21\/cdf-is-32bits-v1 x86 createdomain is_32bits/);
    const t = hvdiff(["triage", out]);
    expect(t.status).toBe(0);
    expect(t.stdout).toMatch(/first op +0: \{"op":"createdomain"/);
    expect(t.stdout).toMatch(/A createdomain: -EINVAL on x86 because/);
    const html = join(dir, "triage.html");
    expect(hvdiff(["triage", out, "--html", html]).status).toBe(0);
    expect(readFileSync(html, "utf8")).toContain("First differing op");
  });

  it("--generator domctl-strategies compares the two ways of fixing the width under one preset", () => {
    const out = join(dir, "strategies");
    const r = hvdiff(["fuzz", "--generator", "domctl-strategies", "--pair", "cdf-is-32bits-v1,cdf-is-32bits-v1", "--cases", "400", "--jobs", "1", "--out", out, "--no-progress"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("divergence cdf-is-32bits-v1/cdf-is-32bits-v1 arm64 strategies default/set_address_size 64: domain.vcpus.N.hcr_el2_rw domain.vcpus.N.width");
    expect(r.stdout).toContain("x86 strategies is_32bits/set_address_size 32");
    expect(r.stdout).not.toContain("arm64 strategies is_32bits/set_address_size 32");
  });
});
