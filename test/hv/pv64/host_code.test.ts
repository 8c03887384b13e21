// The CPU's host-code hook: only a hypervisor with enterHost takes fetches in the registered
// range; a bare CPU (or one without the hook) decodes the bytes there as before.

import { describe, expect, test } from "vitest";
import { Machine } from "../../../src/case/machine.js";
import { RAX } from "../../../src/cpu/state.js";

function machine() {
  const m = new Machine(4 * 1024 * 1024, { vendor: "intel", fred: false });
  m.boot("long64");
  // mov eax, 0x1234 ; nop
  m.mem.writeBytes(0x1000, [0xb8, 0x34, 0x12, 0, 0, 0x90]);
  m.cpu.rip = 0x1000;
  m.cpu.stopRip = 0x1006;
  return m;
}

describe("HypervisorHooks.enterHost and Cpu.setHostCode", () => {
  test("a bare CPU executes the bytes inside a registered range", () => {
    const m = machine();
    m.cpu.setHostCode(0x1000, 0x100);
    expect(m.cpu.run()).toEqual({ kind: "end" });
    expect(m.cpu.lo[RAX]).toBe(0x1234);
  });

  test("a hypervisor with enterHost runs instead of the bytes, once per entry, counted as one step", () => {
    const m = machine();
    const seen: number[] = [];
    m.cpu.hypervisor = {
      hypercallInstruction: () => undefined,
      enterHost: (cpu) => {
        seen.push(cpu.insnRip);
        cpu.lo[RAX] = 0x99;
        cpu.rip = 0x1005;
      },
    };
    m.cpu.setHostCode(0x1000, 1);
    expect(m.cpu.run()).toEqual({ kind: "end" });
    expect(seen).toEqual([0x1000]);
    expect(m.cpu.lo[RAX]).toBe(0x99);
    expect(m.cpu.steps).toBe(2);
  });

  test("outside the range, or with no hook, nothing changes", () => {
    const m = machine();
    m.cpu.hypervisor = { hypercallInstruction: () => undefined };
    m.cpu.setHostCode(0x1000, 0x100);
    expect(m.cpu.run()).toEqual({ kind: "end" });
    expect(m.cpu.lo[RAX]).toBe(0x1234);
  });
});
