// INT n from a PV64 guest. Legacy host: Xen's IDT gate 0x80 has DPL 3 and entry_int80 bounces
// straight to trap_ctxt[0x80] whatever its DPL (int80_direct_trap); every other vector's gate
// has DPL 0, so INT n is #GP(n*8+2) and do_general_protection turns it into a software
// interrupt after it (pv_emulate_sw_interrupt decodes its length) when trap_ctxt[n]'s DPL
// permits it. FRED host: entry_from_pv() sees the event type and applies the DPL check to every
// INT n, 0x80 included. Where they part: INT 0x80 to a DPL-0 handler from guest user mode; a
// prefixed INT 0x80 refused on the slow path (its #GP at the CD byte, RIP - 2, or at the prefix).

import { describe, expect, test } from "vitest";
import { __HYPERVISOR_iret, __HYPERVISOR_set_trap_table, __HYPERVISOR_stack_switch } from "../../../src/hv/xen/hypercall_numbers.js";
import { FLAT_KERNEL_SS, FLAT_RING3_CS64 } from "../../../src/hv/xen/pv64/guest.js";
import { ARGS, Asm, CODE, guest, HCALL, KSTACK, RDX, RES, run, trapTable, u64, USTACK } from "./support.js";

const PRESETS = ["xen-idt", "xen-fred", "xen-fred-fixed"] as const;
const USER = CODE + 0x1000, H_INT = CODE + 0x2000, H_GP = CODE + 0x2100, END = CODE + 0x3000;
/** Result: which handler ran (1 = the INT's, 2 = #GP), then 8 words of its frame. */
const R_WHO = RES, R_FRAME = RES + 8;

/** Run `insn` (an INT n, maybe prefixed) in guest user or kernel mode, with trap_ctxt[vector] = (dpl, H_INT) unless dpl is null. */
function runInt(p: (typeof PRESETS)[number], mode: "user" | "kernel", insn: number[], vector: number, dpl: number | null) {
  const g = guest(p);
  trapTable(g, ARGS, dpl === null ? [[13, 0, H_GP]] : [[vector, dpl, H_INT], [13, 0, H_GP]]);
  const a = new Asm().hypercall(__HYPERVISOR_set_trap_table, ARGS).hypercall(__HYPERVISOR_stack_switch, FLAT_KERNEL_SS, KSTACK);
  if (mode === "user") {
    a.pushImm(FLAT_KERNEL_SS).pushImm(USTACK).pushImm(0x202).pushImm(FLAT_RING3_CS64).pushImm(USER).pushImm(0).jmpAbs(HCALL + 32 * __HYPERVISOR_iret);
    a.org(USER);
  }
  a.at("int").raw(...insn).at("after").jmpAbs(END);
  for (const [at, who] of [[H_INT, 1], [H_GP, 2]] as const) {
    a.org(at).mov(RDX, who).store(R_WHO, RDX);
    for (let k = 0; k < 8; k++) a.loadRsp(RDX, 8 * k).store(R_FRAME + 8 * k, RDX);
    a.jmpAbs(END);
  }
  a.org(END).at("end").raw(0x90);
  const exit = run(g, a);
  return { exit, who: Number(u64(g, R_WHO)), frame: Array.from({ length: 8 }, (_, k) => u64(g, R_FRAME + 8 * k)), int: BigInt(a.label("int")), after: BigInt(a.label("after")) };
}

describe("INT n from the guest", () => {
  for (const p of PRESETS) {
    test(`${p}: INT 0x80 from guest user mode to a DPL-3 handler: the handler, at the RIP after the INT`, () => {
      const r = runInt(p, "user", [0xcd, 0x80], 0x80, 3);
      expect(r.exit).toEqual({ kind: "end" });
      expect(r.who).toBe(1);
      expect(r.frame[2]).toBe(r.after);
    });

    test(`${p}: INT 0x81 from guest kernel mode to a DPL-1 handler: permitted (DPL >= 1), RIP after the INT`, () => {
      const r = runInt(p, "kernel", [0xcd, 0x81], 0x81, 1);
      expect(r.who).toBe(1);
      expect(r.frame[2]).toBe(r.after);
      // Kernel context: RPL cleared; bits 32-39 the saved upcall mask (1: no iret has cleared the builder's).
      expect(r.frame[3]).toBe((1n << 32n) | 0xe030n);
    });

    test(`${p}: INT 0x81 from guest user mode to a DPL-1 handler: #GP(0x40a) at the INT itself`, () => {
      const r = runInt(p, "user", [0xcd, 0x81], 0x81, 1);
      expect(r.who).toBe(2);
      expect(r.frame.slice(2, 5)).toEqual([0x40an, r.int, 0xe033n]);
    });

    test(`${p}: INT 0x81 with no trap_info: #GP(0x40a) at the INT`, () => {
      const r = runInt(p, "kernel", [0xcd, 0x81], 0x81, null);
      expect(r.who).toBe(2);
      expect(r.frame.slice(2, 4)).toEqual([0x40an, r.int]);
    });
  }

  test("INT 0x80 from guest user mode to a DPL-0 handler: entry_int80 ignores the DPL (legacy), entry_from_pv checks it (FRED)", () => {
    const legacy = runInt("xen-idt", "user", [0xcd, 0x80], 0x80, 0);
    expect(legacy.who).toBe(1);
    expect(legacy.frame[2]).toBe(legacy.after);
    for (const p of ["xen-fred", "xen-fred-fixed"] as const) {
      const r = runInt(p, "user", [0xcd, 0x80], 0x80, 0);
      expect(r.who, p).toBe(2);
      expect(r.frame.slice(2, 4), p).toEqual([0x402n, r.int]);
    }
  });

  test("INT 0x80 with no trap_info: int80_slow_path's #GP(0x402) at RIP - 2 (legacy) equals FRED's #GP at the INT", () => {
    for (const p of PRESETS) {
      const r = runInt(p, "user", [0xcd, 0x80], 0x80, null);
      expect(r.who, p).toBe(2);
      expect(r.frame.slice(2, 4), p).toEqual([0x402n, r.int]);
    }
  });

  test("a prefixed INT n: both hosts resume after the whole instruction (Xen decodes its length)", () => {
    for (const p of PRESETS) {
      const r = runInt(p, "kernel", [0x66, 0xcd, 0x81], 0x81, 1);
      expect(r.who, p).toBe(1);
      expect(r.frame[2], p).toBe(r.after);
      expect(r.after).toBe(r.int + 3n);
    }
  });

  test("a prefixed INT 0x80 with no trap_info: int80_slow_path's RIP - 2 puts the #GP at the CD byte (legacy), FRED at the prefix", () => {
    const legacy = runInt("xen-idt", "user", [0x66, 0xcd, 0x80], 0x80, null);
    expect(legacy.who).toBe(2);
    expect(legacy.frame.slice(2, 4)).toEqual([0x402n, legacy.int + 1n]);
    const fred = runInt("xen-fred-fixed", "user", [0x66, 0xcd, 0x80], 0x80, null);
    expect(fred.who).toBe(2);
    expect(fred.frame.slice(2, 4)).toEqual([0x402n, fred.int]);
  });

  test("INT3 and INT $3 reach trap_ctxt[3] on every host whatever its DPL (Xen's gates 3 and 4 have DPL 3)", () => {
    for (const p of PRESETS) {
      for (const insn of [[0xcc], [0xcd, 0x03]]) {
        const r = runInt(p, "user", insn, 3, 0);
        expect(r.who, `${p} ${insn}`).toBe(1);
        expect(r.frame[2], `${p} ${insn}`).toBe(r.after);
      }
    }
  });
});
