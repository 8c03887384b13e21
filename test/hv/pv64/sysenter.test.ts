// SYSENTER from a PV64 guest (spec 3.3, 3.4, 5.1): sysenter_entry on a legacy host,
// entry_from_pv()'s SYSENTER case on a FRED host. Both recreate the same frame (RIP 0, CS 3,
// RSP 0, SS FLAT_USER_SS) and bounce to the sysenter callback, so the bounce frame agrees; what
// differs is how the callback is entered: SYSRET on the legacy host (RCX = callback, R11 =
// RFLAGS | IF), ERETU on a FRED host with RCX/R11 as the guest left them (or, with the exit
// hunk of c5a4b9125b, the frame's RIP/RFLAGS), and with IF clear, because entry_from_pv clears
// IF where sysenter_entry sets it again. With no callback: #GP(0) at the null RIP on both,
// its handler entered with IF clear on a FRED host.

import { describe, expect, test } from "vitest";
import { __HYPERVISOR_callback_op, __HYPERVISOR_iret, __HYPERVISOR_set_trap_table, __HYPERVISOR_stack_switch } from "../../../src/hv/xen/hypercall_numbers.js";
import { CALLBACKTYPE_sysenter, FLAT_KERNEL_SS, FLAT_RING3_CS64, FLAT_USER_SS } from "../../../src/hv/xen/pv64/guest.js";
import { CALLBACKOP_register } from "../../../src/hv/xen/pv64/hypercall.js";
import type { Pv64PresetName } from "../../../src/hv/policy.js";
import { ARGS, Asm, callbackRegister, CODE, guest, HCALL, KSTACK, R11, RAX, RCX, RDX, RES, run, trapTable, u64, USTACK } from "./support.js";

const USER = CODE + 0x1000, CB = CODE + 0x2000, H_GP = CODE + 0x2100, END = CODE + 0x3000;
const PRE_RCX = 0x5ca1ab1e0b57ac1en, PRE_R11 = 0xfeedfacedeadbeefn;
/** Result slots: RCX, R11 and RFLAGS at the callback's first instruction, then 8 frame words. */
const R_RCX = RES, R_R11 = RES + 8, R_FL = RES + 16, R_FRAME = RES + 24;

function program(g: ReturnType<typeof guest>, withCallback: boolean, withGp = true): Asm {
  if (withCallback) callbackRegister(g, ARGS, CALLBACKTYPE_sysenter, 0, CB);
  trapTable(g, ARGS + 0x100, withGp ? [[13, 0, H_GP]] : []);
  const a = new Asm();
  if (withCallback) a.hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, ARGS);
  a.hypercall(__HYPERVISOR_set_trap_table, ARGS + 0x100)
    .hypercall(__HYPERVISOR_stack_switch, FLAT_KERNEL_SS, KSTACK)
    .pushImm(FLAT_KERNEL_SS).pushImm(USTACK).pushImm(0x202).pushImm(FLAT_RING3_CS64).pushImm(USER).pushImm(0)
    .jmpAbs(HCALL + 32 * __HYPERVISOR_iret);
  a.org(USER).mov(RCX, PRE_RCX).mov(R11, PRE_R11).stc().raw(0x0f, 0x34);
  for (const at of [CB, H_GP]) {
    a.org(at).store(R_RCX, RCX).store(R_R11, R11).raw(0x9c).pop(RAX).store(R_FL, RAX);
    for (let k = 0; k < 8; k++) a.loadRsp(RDX, 8 * k).store(R_FRAME + 8 * k, RDX);
    a.jmpAbs(END);
  }
  a.org(END).at("end").raw(0x90);
  return a;
}

function runSysenter(p: Pv64PresetName, withCallback = true, withGp = true) {
  const g = guest(p);
  const exit = run(g, program(g, withCallback, withGp));
  return { g, exit, entry: [u64(g, R_RCX), u64(g, R_R11)], rflags: u64(g, R_FL), frame: Array.from({ length: 8 }, (_, k) => u64(g, R_FRAME + 8 * k)) };
}

/** The user's RFLAGS at SYSENTER: IF, bit 1, CF. */
const FU = 0x203n;

describe("SYSENTER from guest user mode to the sysenter callback", () => {
  for (const p of ["xen-idt", "xen-fred", "xen-fred-fixed"] as const) {
    test(`${p}: the bounce frame is the recreated legacy frame: the guest's RCX/R11, RIP 0, CS 3, RSP 0, FLAT_USER_SS`, () => {
      const r = runSysenter(p);
      expect(r.exit).toEqual({ kind: "end" });
      expect(r.frame.slice(0, 7)).toEqual([PRE_RCX, PRE_R11, 0n, 3n, FU, 0n, BigInt(FLAT_USER_SS)]);
      expect(r.g.hv.vcpu.kernelMode).toBe(true);
    });
  }

  test("xen-idt: the callback is entered by SYSRET: RCX = the callback, R11 = RFLAGS with IF, and IF is set", () => {
    const r = runSysenter("xen-idt");
    expect(r.entry).toEqual([BigInt(CB), FU]);
    expect(r.rflags).toBe(FU);
    expect(r.g.hv.log().decisions.some((d) => /sysenter_entry/.test(d.why))).toBe(true);
  });

  test("xen-fred: ERETU leaves the guest's RCX/R11, and the callback runs with IF clear", () => {
    const r = runSysenter("xen-fred");
    expect(r.entry).toEqual([PRE_RCX, PRE_R11]);
    expect(r.rflags).toBe(0x3n);
  });

  test("xen-fred-fixed: the exit hunk's cmovs give RCX = the callback and R11 = the frame RFLAGS, IF still clear", () => {
    const r = runSysenter("xen-fred-fixed");
    expect(r.entry).toEqual([BigInt(CB), 0x3n]);
    expect(r.rflags).toBe(0x3n);
  });
});

describe("SYSENTER with no sysenter callback: #GP(0) through the trap table", () => {
  for (const p of ["xen-idt", "xen-fred", "xen-fred-fixed"] as const) {
    test(`${p}: the #GP frame is the recreated one, RIP 0`, () => {
      const r = runSysenter(p, false);
      expect(r.exit).toEqual({ kind: "end" });
      expect(r.frame).toEqual([PRE_RCX, PRE_R11, 0n, 0n, 3n, FU, 0n, BigInt(FLAT_USER_SS)]);
      // The handler is entered by SYSRET with IF set, or by ERETU with the IF entry_from_pv cleared.
      expect(r.rflags).toBe(p === "xen-idt" ? FU : 0x3n);
    });
  }

  test("with no #GP handler either, the domain dies of that #GP on every host, at RIP 0", () => {
    for (const p of ["xen-idt", "xen-fred"] as const) {
      const r = runSysenter(p, false, false);
      expect(r.exit, p).toEqual({ kind: "exception", vector: 13, errorCode: 0, rip: 0 });
      expect(r.g.hv.log().events.filter((e) => e.kind === "crash").map((e) => e.detail), p).toEqual([expect.stringMatching(/create_bounce_frame_bad_bounce_ip/)]);
    }
  });

  test("in guest kernel mode the bounce goes on the current stack, RSP 0: writing it faults and the domain dies of the #GP", () => {
    for (const p of ["xen-idt", "xen-fred-fixed"] as const) {
      const g = guest(p);
      trapTable(g, ARGS, [[13, 0, H_GP]]);
      const a = new Asm().hypercall(__HYPERVISOR_set_trap_table, ARGS).raw(0x0f, 0x34).at("end").raw(0x90);
      expect(run(g, a), p).toMatchObject({ kind: "exception", vector: 13, errorCode: 0 });
      expect(g.hv.log().events.filter((e) => e.kind === "crash").map((e) => e.detail), p).toEqual([expect.stringMatching(/create_bounce_frame: fault writing SS/)]);
    }
  });
});
