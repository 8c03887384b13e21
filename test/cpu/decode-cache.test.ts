// The decoded-instruction cache: a loop decodes each instruction once; a store to a page
// that holds decoded code drops it (self-modifying code runs its new bytes; more cases
// in test/vectors); a snapshot restore drops code whose page the restore rewrote.

import { describe, expect, it } from "vitest";
import { Machine } from "../../src/case/machine.js";
import { parseBytes } from "../../src/case/hex.js";

function boot(): Machine {
  const m = new Machine(16 * 1024 * 1024, { vendor: "intel", fred: false });
  m.boot("long64");
  return m;
}

function run(m: Machine, at: number, len: number, limit = 1_000_000): void {
  m.cpu.rip = at;
  m.cpu.stopRip = at + len;
  m.cpu.steps = 0;
  m.cpu.stepLimit = limit;
  m.cpu.run();
}

describe("decode cache", () => {
  it("a loop of 5 instructions run 100000 times decodes 5 instructions", () => {
    const m = boot();
    // mov ecx,20000; top: add eax,ecx; xor edx,eax; dec ecx; jnz top
    const code = parseBytes("b9204e0000 01c8 31c2 ffc9 75f8");
    m.mem.writeBytes(0x1000, code);
    run(m, 0x1000, code.length);
    expect(m.cpu.exit).toEqual({ kind: "end" });
    expect(m.cpu.steps).toBe(1 + 4 * 20000);
    expect(m.cpu.decodes).toBe(5);
  });

  it("a store into a page with decoded code makes the next fetch decode again", () => {
    const m = boot();
    // mov ecx,2; top: add eax,1 (imm at 0x1007); mov byte [0x1007],0x10; dec ecx; jnz top
    const code = parseBytes("b902000000 83c001 c6042507100000 10 ffc9 75f1");
    m.mem.writeBytes(0x1000, code);
    run(m, 0x1000, code.length);
    expect(m.cpu.exit).toEqual({ kind: "end" });
    expect(m.cpu.lo[0]).toBe(0x11);
    expect(m.cpu.decodes).toBeGreaterThan(5);
  });

  it("restoring a snapshot that rewrites a code page drops the instructions decoded from it", () => {
    const m = boot();
    m.mem.writeBytes(0x1000, parseBytes("b801000000")); // mov eax,1
    const s = m.snapshot();
    m.mem.writeBytes(0x1000, parseBytes("b802000000")); // mov eax,2
    run(m, 0x1000, 5);
    expect(m.cpu.lo[0]).toBe(2);
    m.restore(s);
    run(m, 0x1000, 5);
    expect(m.cpu.lo[0]).toBe(1);
  });
});
