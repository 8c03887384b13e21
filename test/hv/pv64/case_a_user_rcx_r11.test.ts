// Case (a) of spec 5.4: the guest user reads RCX/R11 after its SYSCALL returns through a
// Linux-style guest kernel (the syscall callback pops RCX/R11 from the bounce frame and returns
// with HYPERVISOR_iret, flags 0). Expected values follow the code paths: lstar_enter takes the
// hardware-written RCX/R11 into the frame; entry_from_pv leaves the guest's values (76193ef47d)
// or sets regs->rcx/r11 (c5a4b9125b entry hunk); the callback is entered through SYSRET
// (legacy: RCX = callback, R11 = adjusted RFLAGS) or ERETU (RCX/R11 = regs, or the frame's
// RIP/RFLAGS with the exit hunk).

import { describe, expect, test } from "vitest";
import { PV64_PRESETS, type Pv64Policy } from "../../../src/hv/policy.js";
import { FLAT_KERNEL_CS64, FLAT_KERNEL_SS } from "../../../src/hv/xen/pv64/guest.js";
import { CB, FU, PRE_R11, PRE_RCX, R_CB_R11, R_CB_RCX, R_FRAME, R_USER_R11, R_USER_RCX, R_WHERE, ru, syscallProgram } from "./programs.js";
import { guest, run, u64, USTACK } from "./support.js";

function runA(p: Pv64Policy | "xen-idt" | "xen-fred" | "xen-fred-fixed") {
  const g = guest(p);
  const a = syscallProgram(g, "linux");
  const exit = run(g, a);
  const frame = Array.from({ length: 7 }, (_, k) => u64(g, R_FRAME + 8 * k));
  return { g, a, exit, frame, cb: [u64(g, R_CB_RCX), u64(g, R_CB_R11)], user: [u64(g, R_USER_RCX), u64(g, R_USER_R11)], where: u64(g, R_WHERE) };
}

const ENTRY_ONLY: Pv64Policy = { ...PV64_PRESETS["xen-fred"], "pv64.fred.syscall_entry": "c5a4b9125b" };
const EXIT_ONLY: Pv64Policy = { ...PV64_PRESETS["xen-fred"], "pv64.fred.eretu_exit": "c5a4b9125b" };

describe("case (a): user RCX/R11 after SYSCALL through a Linux-style PV kernel", () => {
  test("xen-idt: the bounce frame holds the hardware RCX/R11 (RIP after SYSCALL, RFLAGS); the callback is entered by SYSRET; the user sees native values", () => {
    const r = runA("xen-idt");
    expect(r.exit).toEqual({ kind: "end" });
    const Ru = ru(r.a);
    expect(r.frame).toEqual([Ru, FU, Ru, BigInt(FLAT_KERNEL_CS64), FU, BigInt(USTACK), BigInt(FLAT_KERNEL_SS)]);
    expect(r.cb).toEqual([BigInt(CB), FU]);
    expect(r.user).toEqual([Ru, FU]);
    expect(r.where).toBe(1n);
    const knobs = r.g.hv.log().decisions.map((d) => d.knob);
    expect(knobs).not.toContain("pv64.fred.syscall_entry");
    expect(r.g.hv.log().decisions.some((d) => /lstar_enter/.test(d.why))).toBe(true);
  });

  test("xen-fred: the frame carries the user's pre-SYSCALL RCX/R11; the callback and then the user see them unchanged", () => {
    const r = runA("xen-fred");
    expect(r.exit).toEqual({ kind: "end" });
    const Ru = ru(r.a);
    expect(r.frame).toEqual([PRE_RCX, PRE_R11, Ru, BigInt(FLAT_KERNEL_CS64), FU, BigInt(USTACK), BigInt(FLAT_KERNEL_SS)]);
    expect(r.cb).toEqual([PRE_RCX, PRE_R11]);
    expect(r.user).toEqual([PRE_RCX, PRE_R11]);
    expect(r.where).toBe(1n);
    expect(r.g.hv.log().decisions.some((d) => d.knob === "pv64.fred.syscall_entry" && d.branch === "76193ef47d")).toBe(true);
  });

  test("xen-fred-fixed: frame and user values as on xen-idt; the callback gets RCX = callback, R11 = frame RFLAGS", () => {
    const r = runA("xen-fred-fixed");
    expect(r.exit).toEqual({ kind: "end" });
    const Ru = ru(r.a);
    expect(r.frame).toEqual([Ru, FU, Ru, BigInt(FLAT_KERNEL_CS64), FU, BigInt(USTACK), BigInt(FLAT_KERNEL_SS)]);
    expect(r.cb).toEqual([BigInt(CB), FU]);
    expect(r.user).toEqual([Ru, FU]);
  });

  test("the entry hunk alone fixes the frame but not the callback's registers (RCX/R11 = regs: the RIP/RFLAGS of the user's SYSCALL)", () => {
    const r = runA(ENTRY_ONLY);
    const Ru = ru(r.a);
    expect(r.frame.slice(0, 2)).toEqual([Ru, FU]);
    expect(r.cb).toEqual([Ru, FU]);
    expect(r.user).toEqual([Ru, FU]);
  });

  test("the exit hunk alone gives the callback SYSRET-like registers but leaves the user's values in the frame", () => {
    const r = runA(EXIT_ONLY);
    expect(r.frame.slice(0, 2)).toEqual([PRE_RCX, PRE_R11]);
    expect(r.cb).toEqual([BigInt(CB), FU]);
    expect(r.user).toEqual([PRE_RCX, PRE_R11]);
  });

  test("hypercalls are logged with their results, and the user/kernel toggles follow TF_kernel_mode", () => {
    const r = runA("xen-fred-fixed");
    const log = r.g.hv.log();
    expect(log.hypercalls.map((h) => [h.name, h.ret])).toEqual([["callback_op", "0x0"], ["stack_switch", "0x0"], ["iret", "0x0"], ["iret", expect.any(String)]]);
    expect(log.events.filter((e) => e.kind === "toggle").map((e) => /now guest (\w+)/.exec(e.detail)![1])).toEqual(["user", "kernel", "user"]);
    expect(JSON.parse(JSON.stringify(log))).toEqual(log);
  });
});
