// The hvm@1 generator (harness/gen/ia32e.ts with hypercalls, harness/gen/hypercalls.ts):
// programs under the Xen HVM model, from 64-bit, compatibility and 32-bit protected code;
// a prot32 program is a bare case (no kit) of hypercall items only; each item lays out its
// argument struct in its width's layout.

import { describe, expect, it } from "vitest";
import seedrandom from "seedrandom";
import { Ia32eGenerator } from "../../harness/gen/ia32e.js";
import { HYPERCALL_KINDS } from "../../harness/gen/hypercalls.js";
import { SCRATCH, toCase, toRunnable } from "../../harness/gen/program.js";
import { PRESETS } from "../../harness/config/config.js";
import { PairRunner } from "../../harness/run/pair.js";
import { evaluate } from "../../harness/run/finding.js";
import { CaseRunner } from "../../src/case/run.js";
import { parseCase } from "../../src/case/case.js";

const gen = (seed: string) => new Ia32eGenerator(seedrandom(seed), { hypercalls: true }).program(seed);
const LABELS = /^(hypercall page|map shared_info|CALLBACK_IRQ|runstate|vcpu_info|event channel send|read shared_info|xen_version|vm_assist|sched_op)/;

describe("hvm@1 programs", () => {
  it("start in each mode; a prot32 program has only hypercall items and runs as a bare prot32 case", () => {
    const programs = Array.from({ length: 300 }, (_, i) => gen(`hvm/${i}`));
    const starts = new Set(programs.map((p) => p.start));
    expect([...starts].sort()).toEqual(["compat32", "long64", "prot32"]);
    for (const p of programs) {
      expect(p.hv).toBe("xen-hvm");
      expect(p.generator).toBe("hvm@1");
      if (p.start !== "prot32") continue;
      for (const it of p.items) {
        expect(it.mode).toBe("prot32");
        expect(it.kind).toMatch(LABELS);
      }
      const c = toRunnable(p, "x");
      expect([c.mode, c.exceptions, c.memory.length, c.entry]).toEqual(["prot32", "stop", 0, c.base]);
      // The JSON form parses to the same case (what a report's replay runs).
      const parsed = parseCase(toCase(p, "x"));
      expect(parsed.code).toEqual(c.code);
      expect(parsed.hv?.model).toBe("xen-hvm");
    }
    expect(HYPERCALL_KINDS.length).toBeGreaterThan(8);
  });

  it("from 32-bit protected mode every latch says 32-bit: Xen by hvm_guest_x86_mode, KVM by is_long_mode", () => {
    let checked = 0;
    for (let i = 0; i < 400 && checked < 3; i++) {
      const p = gen(`prot/${i}`);
      if (p.start !== "prot32" || !p.items.some((it) => it.kind === "hypercall page")) continue;
      for (const preset of ["xen", "kvm"] as const) {
        const c = toRunnable(p, "x");
        const r = new CaseRunner().run({ ...c, hv: { model: "xen-hvm", preset, policy: { ...PRESETS[preset]!.hvm! } } });
        const latch = r.hv!.decisions.find((d) => d.knob === "hvm.latch.hypercall_msr");
        if (latch === undefined) continue; // the MSR write faulted before the latch (Xen checks the index first)
        expect(latch.branch).toBe(preset === "xen" ? "hvm_guest_x86_mode" : "is_long_mode");
        expect(latch.why).toMatch(preset === "xen" ? /latched compat/ : /latched compat|= false/);
      }
      checked++;
    }
    expect(checked).toBe(3);
  });

  it("kvm against xen from prot32: the initial layout shows at the shared_info mapping", () => {
    for (let i = 0; i < 400; i++) {
      const p = gen(`first/${i}`);
      if (p.start !== "prot32" || p.items[0]?.kind !== "map shared_info") continue;
      const f = evaluate(new PairRunner(), toRunnable(p, "x"), PRESETS["kvm"]!, PRESETS["xen"]!, { prefixed: true, scratch: SCRATCH });
      expect(f?.signature).toBe("divergence kvm/xen prot32 vmcall memory_op/7: memory(shared_info)");
      return;
    }
    throw new Error("no prot32 program starting with map shared_info in 400 seeds");
  });
});
