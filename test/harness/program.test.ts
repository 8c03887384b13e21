// Generated programs on the IA-32e guest kit: deterministic from their seed, runnable as
// the JSON case they print, and neutral where they should be: items whose effect does
// not depend on the vendor or on FRED must give the same guest-visible state on both
// sides of every pair (the kit's IDT and FRED handlers are equivalent).

import { describe, expect, it } from "vitest";
import seedrandom from "seedrandom";
import { Ia32eGenerator, NEUTRAL_KINDS } from "../../harness/gen/ia32e.js";
import { SCRATCH, toCase, toRunnable } from "../../harness/gen/program.js";
import { parseCase } from "../../src/case/case.js";
import { PairRunner } from "../../harness/run/pair.js";
import { PRESETS } from "../../harness/config/config.js";

const program = (seed: string, opts: { kinds?: readonly string[] } = {}) => new Ia32eGenerator(seedrandom(seed)).program(seed, opts);
const opts = { prefixed: true, scratch: SCRATCH };

describe("IA-32e programs", () => {
  it("the same seed gives the same program; the runnable case is the JSON case parsed", () => {
    for (let i = 0; i < 20; i++) {
      const a = program(`det/${i}`);
      const b = program(`det/${i}`);
      expect(toCase(a, "x")).toEqual(toCase(b, "x"));
      expect(toRunnable(a, "x")).toEqual(parseCase(toCase(a, "x")));
    }
  });

  it("a prefixed run from the kit's snapshot gives exactly the whole run's result", () => {
    const r = new PairRunner();
    for (let i = 0; i < 30; i++) {
      const c = toRunnable(program(`prefix/${i}`), "p");
      const whole = r.run(c, PRESETS["intel"]!, PRESETS["intel"]!);
      const pre = r.run(c, PRESETS["intel"]!, PRESETS["intel"]!, opts);
      expect(pre.a).toEqual(whole.a);
    }
  });

  it("vendor- and FRED-neutral items: no divergence between intel and intel-fred, nor intel and amd", () => {
    const r = new PairRunner();
    const seen = new Set<string>();
    for (let i = 0; i < 150; i++) {
      const p = program(`neutral/${i}`, { kinds: NEUTRAL_KINDS });
      p.items.forEach((it) => seen.add(it.kind.split(" ")[0]!));
      const c = toRunnable(p, `neutral/${i}`);
      for (const other of ["intel-fred", "amd"]) {
        const v = r.run(c, PRESETS["intel"]!, PRESETS[other]!, opts);
        expect(v.kind === "divergence" ? v.diffs : v.kind, `neutral/${i} intel vs ${other}: ${p.items.map((x) => x.kind).join(" | ")}`).toBe("same");
      }
    }
    // The programs did exercise events and mode switches, not only plain code.
    for (const k of ["#UD", "#DE", "#PF", "int", "to", "iretq"]) expect([...seen], k).toContain(k);
  });

  it("every kind of program runs to an end under every preset, never a crash", () => {
    const r = new PairRunner();
    const exits = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const c = toRunnable(program(`any/${i}`), `any/${i}`);
      for (const other of ["amd", "intel-fred"]) {
        const v = r.run(c, PRESETS["intel"]!, PRESETS[other]!, opts);
        expect(v.kind, `any/${i}`).not.toBe("crash");
        for (const x of [v.a, v.b]) exits.set(x.exit.kind, (exits.get(x.exit.kind) ?? 0) + 1);
      }
    }
    // Most programs reach their end; a few wander off into step-limit.
    expect(exits.get("end") ?? 0).toBeGreaterThan(300);
  });
});
