// PV64 guests under the fuzzer, end to end: `hvdiff fuzz --pair xen-idt,xen-fred` finds the
// spec's case (a) (the user's RCX/R11 after SYSCALL differ) from scratch well inside two
// minutes, and its minimized report replays; with Xen's fix (`xen-fred-fixed`) case (a) is
// gone and what remains is HYPERVISOR_iret with VGCF_in_syscall (case (c)) and the paths the
// fix does not touch: SYSENTER, INT n and the bounce frames of exceptions.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkReport, type Report } from "../../harness/report/report.js";
import { PV64_LAYOUT } from "../../harness/gen/pv64.js";
import { iretStubReturn } from "../../src/hv/xen/pv64/guest.js";

const BIN = new URL("../../dist/harness/cli/main.js", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "hvdiff-pv64-"));
const hvdiff = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });

function reports(out: string): { file: string; r: Report }[] {
  return readdirSync(out)
    .filter((n) => n.startsWith("divergence-"))
    .map((n) => ({ file: join(out, n), r: checkReport(JSON.parse(readFileSync(join(out, n), "utf8")), n) }));
}

const kinds = (r: Report) => (r.minimized.program as { items: { kind: string }[] }).items.map((i) => i.kind);

describe("hvdiff fuzz on PV64 guests", () => {
  it("--pair xen-idt,xen-fred finds case (a) from scratch, names the paths, and the minimized report replays", () => {
    const out = join(dir, "a");
    const t0 = Date.now();
    const r = hvdiff(["fuzz", "--pair", "xen-idt,xen-fred", "--cases", "400", "--jobs", "2", "--out", out, "--no-progress"]);
    const seconds = (Date.now() - t0) / 1000;
    expect(r.status, r.stderr).toBe(0);
    expect(seconds).toBeLessThan(120);
    const a = reports(out).find((x) => x.r.signature === "divergence xen-idt/xen-fred long64 syscall: memory regs.r11 regs.rcx");
    expect(a, r.stdout).toBeDefined();
    const rep = a!.r;
    expect(rep.generator.name).toBe("pv64@1");
    expect(rep.first!.disasm).toBe("syscall");
    // Legacy: RCX = the RIP after the SYSCALL; FRED without the fix: the user's own RCX.
    const rcx = rep.first!.diffs.find((d) => d.path === "regs.rcx")!;
    expect(BigInt(rcx.a)).toBe(BigInt(rep.first!.rip) + 2n);
    expect(rcx.b).not.toBe(rcx.a);
    const k = kinds(rep);
    expect(k[k.length - 1]).toBe("user-syscall");
    expect(k).toContain("iret-user");
    // The paths each side took: lstar_enter against entry_from_pv.
    expect(rep.decisions!.a.some((d) => d.rule === "pv64.host.delivery" && /lstar_enter/.test(d.choice))).toBe(true);
    expect(rep.decisions!.b.some((d) => /entry_from_pv|76193ef47d/.test(`${d.rule} ${d.choice}`))).toBe(true);
    const re = hvdiff(["replay", a!.file]);
    expect(re.status, re.stdout).toBe(0);
  });

  it("--pair xen-idt,xen-fred-fixed: case (a) is gone; HYPERVISOR_iret with VGCF_in_syscall still differs (RCX = the iret stub's return)", () => {
    const out = join(dir, "fixed");
    const r = hvdiff(["fuzz", "--pair", "xen-idt,xen-fred-fixed", "--cases", "600", "--jobs", "2", "--out", out, "--no-progress"]);
    expect(r.status, r.stderr).toBe(0);
    const all = reports(out);
    for (const { r: x } of all) {
      // Only these remain: case (c) (directly, or through a callback returning with
      // VGCF_in_syscall), SYSENTER, INT n, and the exceptions' bounce frames (the FRED SS word).
      expect(x.signature).toMatch(/ jmp rdx: (regs\.r11 )?regs\.rcx$| syscall: (memory )?(regs\.r11 )?regs\.rcx( regs\.rflags)?$| syscall: memory regs\.rflags$| sysenter: | int N: | (int3|ud2|hlt|mov rax,\[N\]): memory$/);
      // RCX differing at a user SYSCALL is case (c) again (a callback returning with VGCF_in_syscall), never case (a).
      if (/ syscall: .*regs\.rcx/.test(x.signature)) expect(kinds(x).some((k) => k.includes("in-syscall")), x.signature).toBe(true);
      // A domain both hosts kill is reported the same way on both.
      expect(x.first!.diffs.find((d) => d.path === "exit.kind" && d.a === "triple-fault" && d.b === "exception")).toBeUndefined();
    }
    expect(all.some(({ r: x }) => / sysenter: /.test(x.signature))).toBe(true);
    const c = all.find((x) => x.r.signature === "divergence xen-idt/xen-fred-fixed long64 jmp rdx: regs.r11 regs.rcx");
    expect(c, r.stdout).toBeDefined();
    expect(kinds(c!.r)).toEqual(["iret-user-in-syscall"]);
    expect(c!.r.first!.diffs.find((d) => d.path === "regs.rcx")!.b).toBe(`0x${iretStubReturn(PV64_LAYOUT).toString(16)}`);
    expect(hvdiff(["replay", c!.file]).status).toBe(0);
  });
});
