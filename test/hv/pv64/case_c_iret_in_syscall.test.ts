// Case (c) of spec 5.4: HYPERVISOR_iret with VGCF_in_syscall ("return to guest with SYSRET"):
// do_iret() leaves regs->rcx, regs->r11 and TRAP_syscall as the entry left them.
//   legacy: lstar_enter set TRAP_syscall -> SYSRET: RCX = context.rip, R11 = context.rflags
//           & ~(IOPL|VM) | IF;
//   FRED, no fix: entry_vector = 1 wiped TRAP_syscall -> ERETU with regs->rcx/r11 = the kernel's
//           RCX/R11 at the stub's SYSCALL (= context.rcx/r11, which the stub pushed);
//   FRED + fix: the entry hunk set regs->rcx = RIP after the stub's SYSCALL (hypercall page +
//           32*23 + 11), regs->r11 = the kernel's RFLAGS; TRAP_syscall is still clear (only
//           create_bounce_frame sets it under FRED), so the exit hunk's cmovs do nothing:
//           the guest sees the stub address and its own flags, still not what a legacy host gives.

import { __HYPERVISOR_iret } from "../../../src/hv/xen/hypercall_numbers.js";
import { describe, expect, test } from "vitest";
import { PV64_PRESETS, type Pv64Policy } from "../../../src/hv/policy.js";
import { FLAT_KERNEL_SS, iretStubReturn } from "../../../src/hv/xen/pv64/guest.js";
import { VGCF_in_syscall } from "../../../src/hv/xen/pv64/hypercall.js";
import { Asm, CODE, guest, HCALL, LAYOUT, R11, RAX, RCX, reg, RES, run, u64 } from "./support.js";

const KRET = CODE + 0x400;
/** The RFLAGS the kernel asks for in the context: ZF, PF, IF. */
const CTX_RFLAGS = 0x246n;
/** The kernel's own RFLAGS at the stub's SYSCALL: IF (from Xen's exit), bit 1, CF (stc). */
const KFLAGS = 0x203n;
const K_RCX = 0xc1c1n, K_R11 = 0xd2d2n, K_RAX = 0x77n;

function runC(p: Pv64Policy | "xen-idt" | "xen-fred" | "xen-fred-fixed", flags = VGCF_in_syscall) {
  const g = guest(p);
  const a = new Asm();
  // iret_context, built by the guest: ss, rsp, rflags, cs (RPL 0: stay in kernel mode), rip, flags.
  a.pushImm(FLAT_KERNEL_SS).pushImm(0x8000).pushImm(Number(CTX_RFLAGS)).pushImm(0xe030).pushImm(KRET).pushImm(flags)
    .mov(RCX, K_RCX).mov(R11, K_R11).mov(RAX, K_RAX).stc().jmpAbs(HCALL + 32 * __HYPERVISOR_iret);
  a.org(KRET).store(RES, RCX).store(RES + 8, R11).store(RES + 16, RAX).at("end").raw(0x90);
  const exit = run(g, a);
  return { g, exit, rcx: u64(g, RES), r11: u64(g, RES + 8), rax: u64(g, RES + 16), rflags: BigInt(g.m.cpu.getRflags()), rsp: reg(g, 4) };
}

describe("case (c): HYPERVISOR_iret with VGCF_in_syscall", () => {
  test("xen-idt: SYSRET, RCX = context.rip, R11 = adjusted context.rflags", () => {
    const r = runC("xen-idt");
    expect(r.exit).toEqual({ kind: "end" });
    expect([r.rcx, r.r11, r.rax]).toEqual([BigInt(KRET), CTX_RFLAGS, K_RAX]);
    expect(r.rsp).toBe(0x8000n);
    expect(r.g.hv.log().decisions.some((d) => /SYSRETQ/.test(d.why))).toBe(true);
  });

  test("xen-fred: ERETU with the kernel's RCX/R11 from the SYSCALL (= context.rcx/r11)", () => {
    const r = runC("xen-fred");
    expect(r.exit).toEqual({ kind: "end" });
    expect([r.rcx, r.r11, r.rax]).toEqual([K_RCX, K_R11, K_RAX]);
  });

  test("xen-fred-fixed: RCX = the iret stub's SYSCALL return address, R11 = the kernel's RFLAGS: still not the legacy values", () => {
    const r = runC("xen-fred-fixed");
    expect(r.exit).toEqual({ kind: "end" });
    expect(r.rcx).toBe(BigInt(iretStubReturn(LAYOUT)));
    expect(r.rcx).toBe(BigInt(HCALL + 32 * 23 + 11));
    expect(r.r11).toBe(KFLAGS);
    expect([r.rcx, r.r11]).not.toEqual([BigInt(KRET), CTX_RFLAGS]);
    // The exit hunk saw TRAP_syscall clear.
    expect(r.g.hv.log().decisions.some((d) => d.knob === "pv64.fred.eretu_exit" && /TRAP_syscall clear/.test(d.why))).toBe(true);
  });

  test("on a FRED host the result is the entry hunk's alone: the exit hunk changes nothing", () => {
    const entryOnly = runC({ ...PV64_PRESETS["xen-fred"], "pv64.fred.syscall_entry": "c5a4b9125b" });
    const exitOnly = runC({ ...PV64_PRESETS["xen-fred"], "pv64.fred.eretu_exit": "c5a4b9125b" });
    expect([entryOnly.rcx, entryOnly.r11]).toEqual([BigInt(iretStubReturn(LAYOUT)), KFLAGS]);
    expect([exitOnly.rcx, exitOnly.r11]).toEqual([K_RCX, K_R11]);
  });

  test("with the entry hunk as [PATCH v2] posted it (TRAP_syscall set for hypercalls), the exit hunk's cmovs give the legacy values", () => {
    const v2 = runC({ ...PV64_PRESETS["xen-fred-fixed"], "pv64.fred.syscall_entry": "c5a4b9125b-v2" });
    expect([v2.rcx, v2.r11, v2.rax]).toEqual([BigInt(KRET), CTX_RFLAGS, K_RAX]);
    // ...which needs both halves: without the exit hunk ERETU leaves the entry hunk's values.
    const v2EntryOnly = runC({ ...PV64_PRESETS["xen-fred"], "pv64.fred.syscall_entry": "c5a4b9125b-v2" });
    expect([v2EntryOnly.rcx, v2EntryOnly.r11]).toEqual([BigInt(iretStubReturn(LAYOUT)), KFLAGS]);
  });

  test("without VGCF_in_syscall every preset restores RCX/R11 from the context (IRET / ERETU)", () => {
    for (const p of ["xen-idt", "xen-fred", "xen-fred-fixed"] as const) {
      const r = runC(p, 0);
      expect([r.rcx, r.r11, r.rax], p).toEqual([K_RCX, K_R11, K_RAX]);
      expect(r.rflags, p).toBe(CTX_RFLAGS);
    }
  });
});
