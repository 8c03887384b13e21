// Effective addresses: the fast double-precision path of Cpu.ea() must agree with the
// exact 32-bit-halves computation for every register value, fault included.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Machine } from "../../src/case/machine.js";
import { BASE_RIP, Insn } from "../../src/cpu/decode/insn.js";
import { CpuFault } from "../../src/cpu/exceptions.js";
import { lea } from "../../src/cpu/exec/mov.js";

const m = new Machine(4 * 1024 * 1024, { vendor: "intel", fred: false });
m.boot("long64");
const cpu = m.cpu as unknown as { ea(i: Insn): number; eaExact(i: Insn): number; lo: Int32Array; hi: Int32Array; rip: number; segBaseLo: Int32Array; segBaseHi: Int32Array };

function outcome(f: () => number): string {
  try {
    return `ok ${f()}`;
  } catch (e) {
    if (e instanceof CpuFault) return `fault ${e.vector}`;
    throw e;
  }
}

const half = fc.oneof(fc.constantFrom(0, -1, 1, 0x7fff, -0x8000, 0x100000, -0x100001, 0x7fffffff, -0x80000000), fc.integer({ min: -0x80000000, max: 0x7fffffff }));

describe("effective addresses", () => {
  it("property: the fast path equals the exact one (value or fault) for any registers", () => {
    fc.assert(
      fc.property(
        fc.record({
          base: fc.integer({ min: -1, max: 16 }),
          index: fc.integer({ min: -1, max: 15 }).filter((x) => x !== 4),
          scale: fc.integer({ min: 0, max: 3 }),
          disp: half,
          seg: fc.constantFrom(2, 3, 4, 5),
          bLo: half, bHi: half, iLo: half, iHi: half, sLo: half,
          sHi: fc.constantFrom(0, -1, 0x7fff, -0x8000),
          rip: fc.integer({ min: -0x800000000000, max: 0x7fffffffffff }),
        }),
        (r) => {
          const i = new Insn(lea);
          i.asize = 8;
          i.mod = 0;
          i.base = r.base;
          i.index = r.base === BASE_RIP ? -1 : r.index; // RIP-relative has no index (no SIB)
          i.scale = r.scale;
          i.disp = r.disp;
          i.seg = r.seg;
          if (r.base >= 0 && r.base < 16) {
            cpu.lo[r.base] = r.bLo;
            cpu.hi[r.base] = r.bHi;
          }
          if (i.index >= 0) {
            cpu.lo[r.index] = r.iLo;
            cpu.hi[r.index] = r.iHi;
          }
          cpu.segBaseLo[r.seg] = r.sLo;
          cpu.segBaseHi[r.seg] = r.sHi;
          cpu.rip = r.base === BASE_RIP ? r.rip : 0x1000;
          expect(outcome(() => cpu.ea(i))).toBe(outcome(() => cpu.eaExact(i)));
        },
      ),
      { seed: 99, numRuns: 20000 },
    );
  });
});
