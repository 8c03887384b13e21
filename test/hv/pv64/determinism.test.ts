// The same PV64 program twice on each preset: identical guest memory, registers and logs.

import { createHash } from "node:crypto";
import { describe, expect, test } from "vitest";
import { syscallProgram } from "./programs.js";
import { guest, run } from "./support.js";

function once(p: "xen-idt" | "xen-fred" | "xen-fred-fixed") {
  const g = guest(p);
  const exit = run(g, syscallProgram(g, "linux"));
  const h = createHash("sha256");
  for (let pa = 0; pa < g.m.mem.bytes; pa += 1 << 20) h.update(g.m.mem.readBytes(pa, 1 << 20));
  return { exit, mem: h.digest("hex"), regs: [...g.m.cpu.lo, ...g.m.cpu.hi, g.m.cpu.rip, g.m.cpu.getRflags(), g.m.cpu.steps], log: JSON.stringify(g.hv.log()) };
}

describe("determinism", () => {
  for (const p of ["xen-idt", "xen-fred", "xen-fred-fixed"] as const) {
    test(`${p}: two runs of the case (a) program give the same memory, registers and log`, () => {
      expect(once(p)).toEqual(once(p));
    });
  }
});
