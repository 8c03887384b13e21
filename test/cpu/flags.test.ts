// Lazy flags: explicit writes read back exactly, and the condition codes follow their
// definitions (SDM Vol. 1 Appendix B, Table B-1).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AF, ARITH_FLAGS, CF, LazyFlags, OF, PF, SF, ZF } from "../../src/cpu/flags.js";

describe("LazyFlags", () => {
  it("set() then get() returns the same six flags, for all 64 combinations", () => {
    const lf = new LazyFlags();
    for (let k = 0; k < 64; k++) {
      const f = [CF, PF, AF, ZF, SF, OF].reduce((acc, bit, j) => ((k >> j) & 1 ? acc | bit : acc), 0);
      lf.set(f);
      expect(lf.get()).toBe(f);
    }
  });

  it("property: condition codes match their flag formulas", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xfff }), (bits) => {
        const lf = new LazyFlags();
        const f = bits & ARITH_FLAGS;
        lf.set(f);
        const cf = (f & CF) !== 0, zf = (f & ZF) !== 0, sf = (f & SF) !== 0, of = (f & OF) !== 0, pf = (f & PF) !== 0;
        const want = [of, cf, zf, cf || zf, sf, pf, sf !== of, zf || sf !== of];
        for (let cc = 0; cc < 16; cc++) {
          expect(lf.cond(cc)).toBe(cc & 1 ? !want[cc >> 1] : want[cc >> 1]);
        }
      }),
      { seed: 3, numRuns: 300 },
    );
  });

  it("setCf keeps the other five flags", () => {
    const lf = new LazyFlags();
    lf.set(OF | SF | PF);
    lf.setCf(1);
    expect(lf.get()).toBe(OF | SF | PF | CF);
    lf.setCf(0);
    expect(lf.get()).toBe(OF | SF | PF);
  });
});
