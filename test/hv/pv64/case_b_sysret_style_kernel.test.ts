// Case (b) of spec 5.4: a guest kernel whose syscall entry returns to the RCX it finds in the
// bounce frame (the native SYSCALL convention) resumes the user at RIP+len on a legacy host and
// with the fix, and at whatever the user had in RCX before SYSCALL on a FRED host without it.

import { describe, expect, test } from "vitest";
import { PV64_PRESETS } from "../../../src/hv/policy.js";
import { FU, PRE_R11, PRE_RCX, R_FRAME, R_USER_R11, R_USER_RCX, R_WHERE, ru, syscallProgram } from "./programs.js";
import { guest, run, u64 } from "./support.js";

function runB(p: Parameters<typeof guest>[0]) {
  const g = guest(p);
  const a = syscallProgram(g, "sysret-style");
  const exit = run(g, a);
  return { a, exit, rcxSlot: u64(g, R_FRAME), where: u64(g, R_WHERE), user: [u64(g, R_USER_RCX), u64(g, R_USER_R11)] };
}

describe("case (b): a kernel that returns to the frame's RCX slot", () => {
  for (const p of ["xen-idt", "xen-fred-fixed"] as const) {
    test(`${p}: the RCX slot is the RIP after SYSCALL, so the user resumes right after it`, () => {
      const r = runB(p);
      expect(r.exit).toEqual({ kind: "end" });
      expect(r.rcxSlot).toBe(ru(r.a));
      expect(r.where).toBe(1n);
      expect(r.user).toEqual([ru(r.a), FU]);
    });
  }

  test("xen-fred: the RCX slot holds the user's stale RCX, and the user resumes there", () => {
    const r = runB("xen-fred");
    expect(r.exit).toEqual({ kind: "end" });
    expect(r.rcxSlot).toBe(PRE_RCX);
    expect(r.where).toBe(2n);
    expect(r.user).toEqual([PRE_RCX, PRE_R11]);
  });

  test("only the entry hunk matters here: the exit hunk alone still resumes at the stale RCX", () => {
    expect(runB({ ...PV64_PRESETS["xen-fred"], "pv64.fred.eretu_exit": "c5a4b9125b" }).where).toBe(2n);
    expect(runB({ ...PV64_PRESETS["xen-fred"], "pv64.fred.syscall_entry": "c5a4b9125b" }).where).toBe(1n);
  });
});
