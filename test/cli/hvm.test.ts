// Guest programs under the Xen HVM model, end to end: `hvdiff exec` runs a case with `hv`
// (xen-hvm, and a xen-pv64 guest kernel) and returns the hypervisor's log; `hvdiff fuzz --pair kvm,xen` finds the mode latch from
// scratch well inside two minutes, and its minimized report names the knob each side
// consulted and the instruction; `--pair kvm,kvm-2022` finds the runstate rule.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkReport, type Report } from "../../harness/report/report.js";

const BIN = new URL("../../dist/harness/cli/main.js", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "hvdiff-hvm-"));
const hvdiff = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });

function reports(out: string): Report[] {
  return readdirSync(out)
    .filter((n) => n.startsWith("divergence-"))
    .map((n) => checkReport(JSON.parse(readFileSync(join(out, n), "utf8")), n));
}

describe("hvdiff exec with hv", () => {
  it("runs the guest under the preset and returns its hypercalls and knob decisions", () => {
    // WRMSR 0x40000000 = 0x400000, then xen_version(XENVER_version) with VMCALL, in 64-bit mode.
    const c = { id: "hv", mode: "long64", base: "0x1000", code: "b900000040 b800004000 31d2 0f30 b811000000 31ff 0f01c1", hv: { model: "xen-hvm", preset: "kvm" } };
    const file = join(dir, "hv.json");
    writeFileSync(file, JSON.stringify(c));
    const r = hvdiff(["exec", file]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { exit: { kind: string }; hv: { hypercalls: { name: string; by: string; ret: number }[]; decisions: { knob: string; branch: string }[] } };
    expect(out.exit.kind).toBe("end");
    expect(out.hv.hypercalls.map((h) => [h.name, h.by])).toEqual([["xen_version", "kvm"]]);
    expect(out.hv.decisions).toContainEqual(expect.objectContaining({ knob: "hvm.latch.hypercall_msr", branch: "is_long_mode" }));
    // Xen's own latch for the same program.
    writeFileSync(file, JSON.stringify({ ...c, hv: { model: "xen-hvm", preset: "xen" } }));
    const x = JSON.parse(hvdiff(["exec", file]).stdout) as typeof out;
    expect(x.hv.decisions).toContainEqual(expect.objectContaining({ knob: "hvm.latch.hypercall_msr", branch: "hvm_guest_x86_mode" }));
  });

  it("a PV64 guest kernel runs at CPL 3 on Xen's flat selectors; a FRED host without FRED and a bad knob are one line each", () => {
    // xor edi,edi; mov rax, hypercall page + 32 * 17; call rax: xen_version through the PV64 page.
    const page = 256 * 1024 * 1024 - 1024 * 1024 - 4096;
    const code = `31ff 48b8${(page + 32 * 17).toString(16).padStart(8, "0").match(/../g)!.reverse().join("")}00000000 ffd0`;
    const pv = join(dir, "pv.json");
    for (const [preset, fred] of [["xen-idt", false], ["xen-fred", true], ["xen-fred-fixed", true]] as const) {
      writeFileSync(pv, JSON.stringify({ mode: "long64", base: "0x10000", code, regs: { rsp: "0x9000" }, cpu: { fred }, hv: { model: "xen-pv64", preset } }));
      const r = hvdiff(["exec", pv]);
      expect(r.status, r.stdout).toBe(0);
      const out = JSON.parse(r.stdout) as { exit: { kind: string }; regs: Record<string, string>; sregs: { cs: { sel: string } }; hv: { hypercalls: { name: string }[] } };
      expect(out.exit.kind, preset).toBe("end");
      expect(out.sregs.cs.sel).toBe("0xe033"); // FLAT_KERNEL_CS64
      expect(out.hv.hypercalls.map((h) => h.name)).toEqual(["xen_version"]);
      expect(BigInt(out.regs["rax"]!) > 0n).toBe(true);
    }
    writeFileSync(pv, JSON.stringify({ mode: "long64", base: "0x10000", code: "90", hv: { model: "xen-pv64", preset: "xen-fred" } }));
    expect((JSON.parse(hvdiff(["exec", pv]).stdout) as { error: string }).error).toBe(`${pv}: cpu.fred: the xen-fred host delivers events with FRED: set cpu.fred to true`);
    const knob = join(dir, "knob.json");
    writeFileSync(knob, JSON.stringify({ mode: "long64", base: "0x1000", code: "90", hv: { model: "xen-hvm", knobs: { "hvm.latch.hypercall_msr": "cs_l" } } }));
    const r = hvdiff(["exec", knob]);
    expect(r.status).toBe(1);
    expect((JSON.parse(r.stdout) as { error: string }).error).toBe(`${knob}: hv.knobs.hvm.latch.hypercall_msr: must be one of "hvm_guest_x86_mode", "is_long_mode", "is_64_bit_hypercall"`);
  });
});

describe("hvdiff fuzz under the HVM model", () => {
  it("--pair kvm,xen finds the latch at the hypercall-page MSR from scratch, and the report names the knob and the instruction", () => {
    const out = join(dir, "latch");
    const t0 = Date.now();
    const r = hvdiff(["fuzz", "--pair", "kvm,xen", "--cases", "4000", "--jobs", "2", "--out", out, "--no-progress"]);
    const seconds = (Date.now() - t0) / 1000;
    expect(r.status, r.stderr).toBe(0);
    expect(seconds).toBeLessThan(120);
    const latch = reports(out).find((x) => x.signature === "divergence kvm/xen compat32 wrmsr: memory(hypercall page) memory(shared_info)");
    expect(latch, r.stdout).toBeDefined();
    const rep = latch!;
    expect(rep.generator.name).toBe("hvm@1");
    expect(rep.first!.disasm).toBe("wrmsr");
    expect(rep.first!.mode).toBe("compat32");
    // The decision each side took at the instruction where they part.
    const knob = (side: "a" | "b") => rep.decisions![side].find((d) => d.rule === "hvm.latch.hypercall_msr" && d.rip === rep.first!.rip);
    expect(knob("a")!.choice).toMatch(/^is_long_mode: latched native .*EFER\.LMA=1/);
    expect(knob("b")!.choice).toMatch(/^hvm_guest_x86_mode: latched compat .*CS\.L=0/);
    // The minimized case keeps the MSR write from compatibility mode after shared_info is mapped.
    const kinds = (rep.minimized.program as { items: { kind: string }[] }).items.map((i) => i.kind);
    expect(kinds).toContain("map shared_info");
    expect(kinds[kinds.length - 1]).toBe("hypercall page");
    const file = join(out, readdirSync(out).find((n) => JSON.parse(readFileSync(join(out, n), "utf8")).signature === rep.signature)!);
    const re = hvdiff(["replay", file]);
    expect(re.status, re.stdout).toBe(0);
    const t = hvdiff(["triage", out]);
    expect(t.stdout).toMatch(/hvm\.latch\.hypercall_msr: is_long_mode/);
  });

  it("--pair kvm,kvm-2022 finds the runstate rule: -EINVAL where the native 48 bytes cross a page", () => {
    const out = join(dir, "runstate");
    const r = hvdiff(["fuzz", "--pair", "kvm,kvm-2022", "--cases", "600", "--jobs", "2", "--out", out, "--no-progress"]);
    expect(r.status, r.stderr).toBe(0);
    const rs = reports(out).filter((x) => /vmcall vcpu_op\/5: regs\.rax$/.test(x.signature));
    expect(rs.length).toBeGreaterThan(0);
    const d = rs[0]!.first!.diffs.find((x) => x.path === "regs.rax")!;
    expect(BigInt(d.a)).toBe(0n);
    expect(BigInt.asIntN(64, BigInt(d.b))).toBe(-22n);
  });
});
