// Determinism: the model's time comes from the step count, nothing else; the same program
// under the same preset gives the same memory, registers and log, and the log is plain JSON.

import { describe, expect, it } from "vitest";
import { offsetOf } from "../../../src/hv/xen/layout.js";
import { ARGS, Asm, DOMID_SELF, guest, HCALL_PAGE, RAM, run, SHINFO_GFN, Struct, type Guest } from "./support.js";

function program(preset: "xen" | "kvm" | "kvm-fixed" | "kvm-2022"): Guest {
  const g = guest("compat32", preset);
  const mem = g.m.mem;
  mem.writeBytes(ARGS, new Struct(16).u16(0, DOMID_SELF).u32(12, SHINFO_GFN).b);
  mem.writeBytes(ARGS + 0x40, new Struct(8).u64(0, 0x61000 - 44).b);
  mem.writeBytes(ARGS + 0x80, new Struct(12).u64(0, 30_000).b);
  mem.writeBytes(ARGS + 0xc0, new Struct(12).u32(0, 0).u32(4, 0).b);
  mem.writeBytes(ARGS + 0x100, new Struct(16).u16(0, DOMID_SELF).u64(8, 0xf3, 2 << 24).b);
  const a = new Asm(32)
    .wrmsr(0x40000000, HCALL_PAGE)
    .hypercallViaPage(12, 7, ARGS)
    .hypercall(21, 0, 5)
    .hypercall(24, 5, 0, ARGS + 0x40)
    .hypercall(32, 1, ARGS + 0xc0) // bind_virq(VIRQ_TIMER)
    .hypercall(24, 8, 0, ARGS + 0x80) // single-shot timer at 30 us
    .mov(1, 25_000).raw(0x49, 0x75, 0xfd) // dec ecx; jnz: a time slice passes
    .hypercall(29, 1, 0) // block until the timer
    .hypercall(34, 0, ARGS + 0x100); // CALLBACK_IRQ
  expect(run(g, a.bytes(), 200_000)).toEqual({ kind: "end" });
  return g;
}

describe("determinism", () => {
  for (const p of ["xen", "kvm", "kvm-fixed", "kvm-2022"] as const) {
    it(`${p}: two runs give identical memory, registers and log`, () => {
      const a = program(p);
      const b = program(p);
      expect(Buffer.compare(a.m.mem.readBytes(0, RAM), b.m.mem.readBytes(0, RAM))).toBe(0);
      expect([...a.m.cpu.lo, ...a.m.cpu.hi, a.m.cpu.rip, a.m.cpu.steps]).toEqual([...b.m.cpu.lo, ...b.m.cpu.hi, b.m.cpu.rip, b.m.cpu.steps]);
      const log = a.hv.log();
      expect(JSON.parse(JSON.stringify(log))).toEqual(b.hv.log());
      expect(log.hypercalls.length).toBe(7);
      expect(log.events.some((e) => e.kind === "timer")).toBe(true);
      // The timer's VIRQ reached the shared_info of the latched layout.
      expect(a.m.mem.read8(SHINFO_GFN * 4096 + offsetOf("x86_32", "shared_info", "evtchn_pending")) & 2).toBe(2);
    });
  }

  it("xen and kvm differ in what the guest sees (the latch), not only in the log", () => {
    const x = program("xen");
    const k = program("kvm");
    expect(Buffer.compare(x.m.mem.readBytes(SHINFO_GFN * 4096, 4096), k.m.mem.readBytes(SHINFO_GFN * 4096, 4096))).not.toBe(0);
  });
});
