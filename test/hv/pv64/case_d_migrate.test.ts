// Case (d) of spec 5.4: SCHEDOP_shutdown(SHUTDOWN_suspend) made with a raw SYSCALL (RCX/R11
// live), the vCPU saved as vcpu_guest_context and restored on a host of the other kind. The
// record carries regs->rcx/r11 as the source host left them: the hardware-written RIP after
// SYSCALL and RFLAGS on a legacy source or with the fix, the guest's stale values on a FRED
// source without it. The destination (arch_set_info_guest: entry_vector not carried, so
// TRAP_syscall clear) resumes at the record's RIP with the record's RCX/R11.

import { __HYPERVISOR_callback_op, __HYPERVISOR_sched_op, __HYPERVISOR_xen_version } from "../../../src/hv/xen/hypercall_numbers.js";
import { describe, expect, test } from "vitest";
import { PV64_PRESETS, type Pv64PresetName } from "../../../src/hv/policy.js";
import { CALLBACKTYPE_syscall } from "../../../src/hv/xen/pv64/guest.js";

import { CALLBACKOP_register, SCHEDOP_shutdown, SHUTDOWN_suspend } from "../../../src/hv/xen/pv64/hypercall.js";
import { ARGS, Asm, callbackRegister, guest, R11, RAX, RCX, RDI, RES, RSI, run, u64 } from "./support.js";

const STALE_RCX = 0xdead0n, STALE_R11 = 0xbeefn;
const SHUTDOWN_ARG = ARGS + 0x100;
const KFLAGS = 0x203n;

function runD(from: Pv64PresetName, to?: Pv64PresetName) {
  const g = guest(from, to === undefined ? {} : { migrate: { on: "suspend", to: PV64_PRESETS[to], toName: to } });
  g.m.mem.write32(SHUTDOWN_ARG, SHUTDOWN_suspend);
  callbackRegister(g, ARGS, CALLBACKTYPE_syscall, 0, 0x15000);
  const a = new Asm();
  a.hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, ARGS)
    .mov(RAX, __HYPERVISOR_sched_op).mov(RDI, SCHEDOP_shutdown).mov(RSI, SHUTDOWN_ARG)
    .mov(RCX, STALE_RCX).mov(R11, STALE_R11).stc().syscall().at("resumed")
    .store(RES, RCX).store(RES + 8, R11).store(RES + 16, RAX)
    .mov(RAX, __HYPERVISOR_xen_version).mov(RDI, 0).syscall().store(RES + 24, RAX)
    .at("end").raw(0x90);
  const exit = run(g, a);
  return { g, a, exit, rcx: u64(g, RES), r11: u64(g, RES + 8), rax: u64(g, RES + 16), version: u64(g, RES + 24), log: g.hv.log() };
}

describe("case (d): suspend on one host, resume on another", () => {
  test("without migration the suspend stops the domain", () => {
    const r = runD("xen-idt");
    expect(r.exit).toEqual({ kind: "hlt" });
    expect(r.log.migration).toBeNull();
    expect(r.log.events.some((e) => e.kind === "shutdown")).toBe(true);
  });

  test("xen-idt -> xen-fred: the record has the hardware RCX/R11; the FRED destination resumes after the SYSCALL with them", () => {
    const r = runD("xen-idt", "xen-fred");
    const Rk = BigInt(r.a.label("resumed"));
    expect(r.exit).toEqual({ kind: "end" });
    const rec = r.log.migration!;
    expect(rec.from).toBe("legacy_syscall_init");
    expect(rec.to).toBe("xen-fred (init_fred)");
    expect(rec.vcpu_guest_context.user_regs).toMatchObject({ rip: `0x${Rk.toString(16)}`, rcx: `0x${Rk.toString(16)}`, r11: `0x${KFLAGS.toString(16)}`, rax: "0x0", entry_vector: 256 });
    expect(rec.vcpu_guest_context.flags).toEqual(["VGCF_online", "VGCF_in_kernel"]);
    expect(rec.vcpu_guest_context.syscall_callback_eip).toBe("0x15000");
    expect([r.rcx, r.r11, r.rax]).toEqual([Rk, KFLAGS, 0n]);
    // After the move the next SYSCALL is a FRED event handled by entry_from_pv.
    expect(r.version).toBe(0x40016n);
    const after = r.log.decisions.filter((d) => d.step > rec.step);
    expect(after.some((d) => d.knob === "pv64.fred.syscall_entry")).toBe(true);
  });

  test("xen-fred -> xen-idt: the record carries the stale RCX/R11, and the guest resumes with them", () => {
    const r = runD("xen-fred", "xen-idt");
    const Rk = BigInt(r.a.label("resumed"));
    expect(r.exit).toEqual({ kind: "end" });
    expect(r.log.migration!.vcpu_guest_context.user_regs).toMatchObject({ rip: `0x${Rk.toString(16)}`, rcx: `0x${STALE_RCX.toString(16)}`, r11: `0x${STALE_R11.toString(16)}`, entry_vector: 1 });
    expect([r.rcx, r.r11, r.rax]).toEqual([STALE_RCX, STALE_R11, 0n]);
    const after = r.log.decisions.filter((d) => d.step > r.log.migration!.step);
    expect(after.some((d) => /lstar_enter/.test(d.why))).toBe(true);
  });

  test("xen-fred-fixed -> xen-idt: the entry hunk put RIP/RFLAGS in the record, as a legacy source would", () => {
    const r = runD("xen-fred-fixed", "xen-idt");
    const Rk = BigInt(r.a.label("resumed"));
    expect(r.log.migration!.vcpu_guest_context.user_regs).toMatchObject({ rcx: `0x${Rk.toString(16)}`, r11: `0x${KFLAGS.toString(16)}` });
    expect([r.rcx, r.r11]).toEqual([Rk, KFLAGS]);
    const legacy = runD("xen-idt", "xen-idt");
    expect([legacy.rcx, legacy.r11]).toEqual([Rk, KFLAGS]);
  });
});
