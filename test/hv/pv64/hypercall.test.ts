// The PV64 hypercalls outside the four cases: set_trap_table and the exception bounce (a
// guest fault reaches the guest kernel's handler on every host, frame word by word), the
// syscall-without-callback #UD, the errno values, and page-table updates refused.

import { __HYPERVISOR_callback_op, __HYPERVISOR_fpu_taskswitch, __HYPERVISOR_iret, __HYPERVISOR_mmu_update, __HYPERVISOR_sched_op, __HYPERVISOR_set_callbacks, __HYPERVISOR_set_trap_table } from "../../../src/hv/xen/hypercall_numbers.js";
import { describe, expect, test } from "vitest";
import { ERRNO } from "../../../src/hv/xen/errno.js";
import { offsetOf } from "../../../src/hv/xen/layout.js";
import { CALLBACKTYPE_event, CALLBACKTYPE_syscall } from "../../../src/hv/xen/pv64/guest.js";
import { FLAT_KERNEL_SS, FLAT_RING3_CS64 } from "../../../src/hv/xen/pv64/guest.js";
import { CALLBACKOP_register, CALLBACKOP_unregister, SCHEDOP_yield } from "../../../src/hv/xen/pv64/hypercall.js";
import { ARGS, Asm, callbackRegister, CODE, guest, HCALL, KSTACK, LAYOUT, put64, R11, RAX, RCX, RDX, reg, RES, run, trapTable, u64, USTACK } from "./support.js";
import { CS, SS } from "../../../src/cpu/state.js";

const PRESETS = ["xen-idt", "xen-fred", "xen-fred-fixed"] as const;
const H_UD = CODE + 0x2000, H_GP = CODE + 0x2100;

/** A handler that records RCX/R11 at entry and `words` frame words, then ends. */
function handler(a: Asm, at: number, slot: number, words: number): void {
  a.org(at).store(slot, RCX).store(slot + 8, R11);
  for (let k = 0; k < words; k++) a.loadRsp(RDX, 8 * k).store(slot + 16 + 8 * k, RDX);
  a.jmp("end");
}

describe("set_trap_table: guest faults bounce to the guest kernel", () => {
  for (const p of PRESETS) {
    test(`${p}: #GP(0) from HLT in guest kernel mode bounces with an error-code frame, CS RPL cleared`, () => {
      const g = guest(p);
      trapTable(g, ARGS, [[13, 0, H_GP], [6, 0, H_UD]]);
      const a = new Asm();
      a.hypercall(__HYPERVISOR_set_trap_table, ARGS).mov(RCX, 0x1234).mov(R11, 0x5678).at("hlt").raw(0xf4);
      handler(a, H_GP, RES, 8);
      a.org(CODE + 0x3000).at("end").raw(0x90);
      const exit = run(g, a);
      expect(exit).toEqual({ kind: "end" });
      const hlt = BigInt(a.label("hlt"));
      const frame = Array.from({ length: 8 }, (_, k) => u64(g, RES + 16 + 8 * k));
      // rcx, r11, error code, rip, cs (kernel context: 0xe030), rflags (RF from the fault image), rsp, ss
      // On a FRED host regs->ss is the whole SS word of the FRED frame, and create_bounce_frame
      // stores the slot with a movq (spec 3.5): the event information above bit 31 (vector 13,
      // type 3, L) reaches the guest. Derived from the code as the spec gives it; whether Xen
      // clears that metadata for exceptions (it does for SYSCALL) is not established.
      const ss = p === "xen-idt" ? BigInt(FLAT_KERNEL_SS) : BigInt(FLAT_KERNEL_SS) | (13n << 32n) | (3n << 48n) | (1n << 57n);
      // The builder left events masked (upcall mask 1) and no iret has cleared it: the CS slot
      // saves the mask in bits 32-39 and RFLAGS shows IF = !mask = 0.
      expect(frame).toEqual([0x1234n, 0x5678n, 0n, hlt, (1n << 32n) | 0xe030n, 0x10002n, BigInt(KSTACK), ss]);
      const entry = [u64(g, RES), u64(g, RES + 8)];
      if (p === "xen-fred") expect(entry).toEqual([0x1234n, 0x5678n]);
      else expect(entry).toEqual([BigInt(H_GP), 0x202n]);
    });
  }

  test("a fault with no trap_info crashes the domain: the run ends with that exception", () => {
    for (const p of PRESETS) {
      const g = guest(p);
      const a = new Asm().raw(0x0f, 0x0b).at("end").raw(0x90);
      expect(run(g, a), p).toEqual({ kind: "exception", vector: 6, errorCode: null, rip: CODE });
      expect(g.hv.log().events.some((e) => e.kind === "crash")).toBe(true);
    }
  });

  for (const p of PRESETS) {
    test(`${p}: a user SYSCALL with no syscall callback becomes #UD at the SYSCALL itself`, () => {
      const g = guest(p);
      trapTable(g, ARGS, [[6, 0, H_UD]]);
      const a = new Asm();
      a.hypercall(__HYPERVISOR_set_trap_table, ARGS)
        .pushImm(FLAT_KERNEL_SS).pushImm(USTACK).pushImm(0x202).pushImm(FLAT_RING3_CS64).pushImm(CODE + 0x1000).pushImm(0)
        .jmpAbs(HCALL + 32 * __HYPERVISOR_iret);
      a.org(CODE + 0x1000).at("sys").syscall();
      handler(a, H_UD, RES, 7);
      a.org(CODE + 0x3000).at("end").raw(0x90);
      expect(run(g, a)).toEqual({ kind: "end" });
      expect(u64(g, RES + 16 + 16)).toBe(BigInt(a.label("sys")));
      expect(u64(g, RES + 16 + 24)).toBe(0xe033n); // from guest user mode: RPL kept
      expect(g.hv.vcpu.kernelMode).toBe(true);
    });
  }
});

describe("a user SYSCALL with neither a syscall callback nor a #UD handler", () => {
  test("every host kills the domain in create_bounce_frame and reports the #UD at the SYSCALL", () => {
    for (const p of PRESETS) {
      const g = guest(p);
      const a = new Asm();
      a.pushImm(FLAT_KERNEL_SS).pushImm(USTACK).pushImm(0x202).pushImm(FLAT_RING3_CS64).pushImm(CODE + 0x1000).pushImm(0)
        .jmpAbs(HCALL + 32 * __HYPERVISOR_iret);
      a.org(CODE + 0x1000).at("sys").syscall().at("end").raw(0x90);
      expect(run(g, a), p).toEqual({ kind: "exception", vector: 6, errorCode: null, rip: a.label("sys") });
      expect(g.hv.log().events.filter((e) => e.kind === "crash").map((e) => e.detail), p).toEqual([expect.stringMatching(/^create_bounce_frame_bad_bounce_ip/)]);
    }
  });

  test("the dead domain's state is the guest's as Xen held it, the same on every host: not Xen's stack, flags or selectors", () => {
    const states = PRESETS.map((p) => {
      const g = guest(p);
      const a = new Asm();
      a.pushImm(FLAT_KERNEL_SS).pushImm(USTACK).pushImm(0x202).pushImm(FLAT_RING3_CS64).pushImm(CODE + 0x1000).pushImm(0)
        .jmpAbs(HCALL + 32 * __HYPERVISOR_iret);
      a.org(CODE + 0x1000).mov(RCX, 0x1234).syscall().at("after").at("end").raw(0x90);
      run(g, a);
      const c = g.m.cpu;
      // RCX is the one register the hosts part on: what SYSCALL (or the fix) left in it.
      expect(reg(g, RCX), p).toBe(p === "xen-fred" ? 0x1234n : BigInt(a.label("after")));
      return { rsp: reg(g, 4), flags: c.getRflags(), cs: c.segSel[CS], ss: c.segSel[SS], cpl: c.cpl };
    });
    // create_bounce_frame had rewritten the frame for the guest kernel (its stack, FLAT_KERNEL_CS)
    // before it found the null bounce address.
    expect(states[0]!.cpl).toBe(3);
    expect(states[0]!.cs).toBe(0xe033);
    expect(states[0]!.ss).toBe(FLAT_KERNEL_SS);
    expect(states[0]!.rsp).toBeLessThan(BigInt(KSTACK));
    expect(states[0]!.rsp).toBeGreaterThan(BigInt(KSTACK - 64));
    expect(states[1]).toEqual(states[0]);
    expect(states[2]).toEqual(states[0]);
  });
});

describe("faults of Xen's own exit are the guest's", () => {
  for (const p of PRESETS) {
    test(`${p}: HYPERVISOR_iret to a non-canonical RIP: the IRETQ / ERETU faults, and the guest's #GP handler gets #GP(0) at that RIP`, () => {
      const g = guest(p);
      trapTable(g, ARGS, [[13, 0, H_GP]]);
      const a = new Asm().hypercall(__HYPERVISOR_set_trap_table, ARGS);
      a.pushImm(FLAT_KERNEL_SS).pushImm(0x8000).pushImm(0x202).pushImm(0xe030).mov(RAX, 0x800000000000n).push(RAX).pushImm(0)
        .jmpAbs(HCALL + 32 * __HYPERVISOR_iret);
      handler(a, H_GP, RES, 5);
      a.org(CODE + 0x3000).at("end").raw(0x90);
      expect(run(g, a)).toEqual({ kind: "end" });
      // Error code 0, the RIP the exit tried, the guest's own CS (kernel context: RPL cleared).
      expect([u64(g, RES + 16 + 16), u64(g, RES + 16 + 24), u64(g, RES + 16 + 32)]).toEqual([0n, 0x800000000000n, 0xe030n]);
      expect(g.hv.log().events.filter((e) => e.kind === "crash")).toHaveLength(0);
    });

    test(`${p}: with no #GP handler the domain dies of that #GP`, () => {
      const g = guest(p);
      const a = new Asm();
      a.pushImm(FLAT_KERNEL_SS).pushImm(0x8000).pushImm(0x202).pushImm(0xe030).mov(RAX, 0x800000000000n).push(RAX).pushImm(0)
        .jmpAbs(HCALL + 32 * __HYPERVISOR_iret).at("end").raw(0x90);
      expect(run(g, a)).toEqual({ kind: "exception", vector: 13, errorCode: 0, rip: 0x800000000000 });
      expect(g.hv.log().events.filter((e) => e.kind === "crash")).toHaveLength(1);
    });
  }
});

describe("HYPERVISOR_iret's RFLAGS", () => {
  test("only the defined flags travel (X86_EFLAGS_ALL), IOPL and VM are dropped, IF and bit 1 are set: the same on every host", () => {
    for (const p of PRESETS) {
      const g = guest(p);
      const a = new Asm();
      // Reserved bits 63, 22 and 3, IOPL 3, VM, CF; IF clear.
      a.pushImm(FLAT_KERNEL_SS).pushImm(0x8000).mov(RAX, 0x8000000000423009n).push(RAX).pushImm(0xe030).pushLabel("back").pushImm(0)
        .jmpAbs(HCALL + 32 * __HYPERVISOR_iret);
      a.at("back").raw(0x9c).pop(RAX).store(RES, RAX).at("end").raw(0x90);
      expect(run(g, a), p).toEqual({ kind: "end" });
      expect(u64(g, RES), p).toBe(0x203n);
    }
  });
});

describe("errno values", () => {
  test("unknown and unmodelled hypercalls -ENOSYS; callback_op checks", () => {
    for (const p of PRESETS) {
      const g = guest(p);
      callbackRegister(g, ARGS, CALLBACKTYPE_syscall, 0, 0x4000);
      callbackRegister(g, ARGS + 0x40, CALLBACKTYPE_event, 0, 0);
      put64(g, ARGS + 0x40 + offsetOf("x86_64", "callback_register", "address"), 0x800000000000n);
      g.m.mem.writeBytes(ARGS + 0x80, [CALLBACKTYPE_syscall, 0, 0, 0]);
      const calls: [number, ...number[]][] = [
        [__HYPERVISOR_mmu_update, 0, 0, 0, 0],
        [__HYPERVISOR_fpu_taskswitch, 1],
        [63],
        [__HYPERVISOR_callback_op, CALLBACKOP_register, ARGS],
        [__HYPERVISOR_callback_op, CALLBACKOP_register, ARGS + 0x40],
        [__HYPERVISOR_callback_op, CALLBACKOP_unregister, ARGS + 0x80],
        [__HYPERVISOR_callback_op, 7, ARGS],
        [__HYPERVISOR_sched_op, SCHEDOP_yield],
        [__HYPERVISOR_sched_op, 1],
      ];
      const a = new Asm();
      calls.forEach(([nr, ...args], i) => a.hypercall(nr, ...args).store(RES + 8 * i, RAX));
      a.at("end").raw(0x90);
      expect(run(g, a), p).toEqual({ kind: "end" });
      const got = calls.map((_, i) => Number(BigInt.asIntN(64, u64(g, RES + 8 * i))));
      expect(got, p).toEqual([-ERRNO.ENOSYS, -ERRNO.ENOSYS, -ERRNO.ENOSYS, 0, -ERRNO.EINVAL, -ERRNO.EINVAL, -ERRNO.ENOSYS, 0, -ERRNO.ENOSYS]);
      expect(g.hv.vcpu.callbacks.syscall).toBe(0x4000n);
      expect(g.hv.log().hypercalls.map((h) => h.errno)).toEqual(["-ENOSYS", "-ENOSYS", "-ENOSYS", null, "-EINVAL", "-EINVAL", "-ENOSYS", null, "-ENOSYS"]);
    }
  });

  test("set_callbacks registers the three with flags 0 (the syscall callback stops masking events) and skips a non-canonical one", () => {
    const g = guest("xen-idt");
    callbackRegister(g, ARGS, CALLBACKTYPE_syscall, 1, 0x4000);
    const a = new Asm().hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, ARGS).store(RES, RAX)
      .hypercall(__HYPERVISOR_set_callbacks, 0x5000, 0x800000000000n, 0x6000).store(RES + 8, RAX).at("end").raw(0x90);
    expect(run(g, a)).toEqual({ kind: "end" });
    expect([u64(g, RES), u64(g, RES + 8)]).toEqual([0n, 0n]);
    expect(g.hv.vcpu.callbacks).toMatchObject({ event: 0x5000n, failsafe: 0n, syscall: 0x6000n });
    expect(g.hv.vcpu.syscallDisablesEvents).toBe(false);
  });

  test("guest pointers into Xen's private area are -EFAULT, as are unmapped ones", () => {
    const g = guest("xen-fred-fixed");
    const a = new Asm().hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, LAYOUT.gdt).store(RES, RAX)
      .hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, 0x40000000).store(RES + 8, RAX).at("end").raw(0x90);
    expect(run(g, a)).toEqual({ kind: "end" });
    expect([u64(g, RES), u64(g, RES + 8)].map((v) => Number(BigInt.asIntN(64, v)))).toEqual([-ERRNO.EFAULT, -ERRNO.EFAULT]);
  });

  test("the hypercall page stubs keep RCX and R11", () => {
    for (const p of PRESETS) {
      const g = guest(p);
      const a = new Asm().mov(RCX, 0xaaaa).mov(R11, 0xbbbb).hypercall(__HYPERVISOR_sched_op, SCHEDOP_yield).store(RES, RCX).store(RES + 8, R11).at("end").raw(0x90);
      expect(run(g, a)).toEqual({ kind: "end" });
      expect([u64(g, RES), u64(g, RES + 8)], p).toEqual([0xaaaan, 0xbbbbn]);
    }
  });
});
