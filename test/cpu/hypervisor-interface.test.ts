// The interface the hypervisor models use (cpu.ts HypervisorHooks, injectInterrupt):
// VMCALL/VMMCALL exit to the model, #UD without one; injected interrupts wait for IF = 1
// and the STI shadow.

import { describe, expect, it } from "vitest";
import { Machine } from "../../src/case/machine.js";
import { parseBytes } from "../../src/case/hex.js";
import type { Cpu, HypervisorHooks } from "../../src/cpu/cpu.js";
import { CpuFault, UD } from "../../src/cpu/exceptions.js";
import { RAX } from "../../src/cpu/state.js";

const CODE = 0x10000;

function machine(mode: "long64" | "real16", code: string, vendor: "intel" | "amd" = "intel"): Machine {
  const m = new Machine(16 * 1024 * 1024, { vendor, fred: false });
  m.boot(mode);
  const bytes = parseBytes(code);
  m.mem.writeBytes(CODE, bytes);
  m.cpu.rip = CODE;
  m.cpu.stopRip = CODE + bytes.length;
  m.cpu.stepLimit = 1000;
  return m;
}

/** A model like KVM's: the vendor's own instruction is native, the other one is #UD. */
class Model implements HypervisorHooks {
  readonly calls: string[] = [];
  hypercallInstruction(cpu: Cpu, insn: "vmcall" | "vmmcall"): void {
    this.calls.push(insn);
    const native = cpu.model.vendor === "intel" ? "vmcall" : "vmmcall";
    if (insn !== native) throw new CpuFault(UD);
    cpu.lo[RAX] = 0x42;
  }
}

describe("VMCALL / VMMCALL", () => {
  for (const [name, hex] of [["vmcall", "0f01c1"], ["vmmcall", "0f01d9"]] as const) {
    it(`${name} raises #UD on a bare CPU, at the instruction`, () => {
      const m = machine("long64", `90 ${hex} 90`);
      expect(m.cpu.run()).toEqual({ kind: "exception", vector: UD, errorCode: null, rip: CODE + 1 });
    });
  }

  it("with a hypervisor, the instruction exits to its model, which decides by vendor", () => {
    for (const vendor of ["intel", "amd"] as const) {
      const native = vendor === "intel" ? "0f01c1" : "0f01d9";
      const other = vendor === "intel" ? "0f01d9" : "0f01c1";
      const m = machine("long64", `${native} 90`, vendor);
      const model = new Model();
      m.cpu.hypervisor = model;
      expect(m.cpu.run()).toEqual({ kind: "end" });
      expect(m.cpu.lo[RAX]).toBe(0x42);
      expect(model.calls).toEqual([vendor === "intel" ? "vmcall" : "vmmcall"]);

      const n = machine("long64", `90 ${other}`, vendor);
      n.cpu.hypervisor = new Model();
      expect(n.cpu.run()).toEqual({ kind: "exception", vector: UD, errorCode: null, rip: CODE + 1 });
      expect(n.cpu.lo[RAX]).toBe(0);
    }
  });
});

describe("injected external interrupts", () => {
  // Real mode: vector 0x20's IVT entry points at a handler that halts.
  const HANDLER = 0x20000;
  function withHandler(code: string): Machine {
    const m = machine("real16", code);
    m.mem.write32(0x20 * 4, ((HANDLER >>> 4) << 16) | (HANDLER & 0xf)); // offset, segment
    m.mem.write8(HANDLER, 0xf4); // hlt
    m.cpu.lo[4] = 0x8000; // SP
    // Real-mode CS:IP for CODE: CS = 0x1000, IP = 0.
    m.cpu.rip = 0;
    m.cpu.segSel[1] = 0x1000;
    m.cpu.segBaseLo[1] = CODE;
    m.cpu.stopRip = parseBytes(code).length;
    return m;
  }

  it("waits while IF = 0, then comes after the instruction that follows STI", () => {
    // nop; sti; nop; nop: the interrupt is taken before the second nop after STI.
    const m = withHandler("90 fb 90 90");
    m.cpu.injectInterrupt(0x20);
    expect(m.cpu.run()).toEqual({ kind: "hlt" });
    // The IVT frame at SS:SP: IP, CS, FLAGS. IP is 3: after nop (0), sti (1), nop (2).
    const frame = m.mem.readBytes(0x8000 - 6, 6);
    const word = (k: number) => frame[2 * k]! | (frame[2 * k + 1]! << 8);
    expect(word(0)).toBe(3);
    expect(word(1)).toBe(0x1000);
    expect(word(2) & 0x200).toBe(0x200); // IF was 1
    expect(m.cpu.getRflags() & 0x200).toBe(0); // the handler runs with IF = 0
  });

  it("is never taken while IF stays 0", () => {
    const m = withHandler("90 90 90");
    m.cpu.injectInterrupt(0x20);
    expect(m.cpu.run()).toEqual({ kind: "end" });
  });
});
