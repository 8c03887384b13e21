// The differential runner: the guest-visible difference of one case under two
// configurations, and the first instruction after which they differ.

import { describe, expect, it } from "vitest";
import { parseCase } from "../../src/case/case.js";
import { PairRunner } from "../../harness/run/pair.js";
import { PRESETS, type Configuration } from "../../harness/config/config.js";

const planted: Configuration = { name: "planted", description: "test", cpu: { vendor: "intel", fred: false, plant: "cmc-af" } };

describe("PairRunner", () => {
  it("the same configuration twice gives no difference", () => {
    const c = parseCase({ id: 1, mode: "long64", base: "0x1000", code: "48c7c001000000 f5 50 c3" });
    const v = new PairRunner().run(c, PRESETS["intel"]!, PRESETS["intel"]!);
    expect(v.kind).toBe("same");
  });

  it("finds a planted flag divergence in rflags and in the memory PUSHFQ wrote, and the CMC that made it", () => {
    // mov rsp,0x8000; add eax,1; cmc; pushfq; nop; nop
    const c = parseCase({ id: 2, mode: "long64", base: "0x1000", code: "48c7c400800000 83c001 f5 9c 90 90" });
    const r = new PairRunner();
    const v = r.run(c, PRESETS["intel"]!, planted);
    expect(v.kind).toBe("divergence");
    if (v.kind !== "divergence") return;
    expect(v.diffs.map((d) => d.path)).toEqual(["regs.rflags", "memory.0x7ff8"]);
    const first = r.firstDivergence(c, PRESETS["intel"]!, planted);
    expect(first).toMatchObject({ step: 2, rip: "0x100a", bytes: "f5", disasm: "cmc" });
    expect(first!.diffs.map((d) => d.path)).toEqual(["regs.rflags"]);
    const [a, b] = [BigInt(first!.diffs[0]!.a), BigInt(first!.diffs[0]!.b)];
    expect(a ^ b).toBe(0x10n); // AF only
  });

  it("a vendor difference: SYSCALL in compatibility mode is #UD on Intel and goes through CSTAR on AMD", () => {
    // compat32 with EFER.SCE set by WRMSR first: mov ecx,0xc0000080; rdmsr; or eax,1; wrmsr; syscall
    const c = parseCase({ id: 3, mode: "compat32", base: "0x1000", code: "b9800000c0 0f32 83c801 0f30 0f05" });
    const r = new PairRunner();
    const v = r.run(c, PRESETS["intel"]!, PRESETS["amd"]!);
    expect(v.kind).toBe("divergence");
    const first = r.firstDivergence(c, PRESETS["intel"]!, PRESETS["amd"]!);
    expect(first).toMatchObject({ step: 4, disasm: "syscall", mode: "compat32" });
    expect(first!.diffs[0]!.path).toBe("exit.kind");
  });
});
