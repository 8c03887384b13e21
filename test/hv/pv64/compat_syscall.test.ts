// SYSCALL from compatibility mode (guest user code on FLAT_USER_CS32), derived from the paths:
//   legacy host, AMD: CSTAR -> cstar_enter (frame CS/SS = FLAT_USER_CS32/SS32), switch_to_kernel
//     takes syscall32_addr for FLAT_USER_CS32 (a cmove: no fallback), #UD when it is 0;
//   legacy host, Intel: SYSCALL outside 64-bit mode is #UD (spec 1.2), through the IDT;
//   FRED host: the event has L = 0, entry_from_pv() rebuilds FLAT_USER_CS32/SS32 and takes the
//     syscall32 callback, or #UD (RIP rewound by the instruction length) when it is 0.

import { __HYPERVISOR_callback_op, __HYPERVISOR_iret, __HYPERVISOR_stack_switch } from "../../../src/hv/xen/hypercall_numbers.js";
import { describe, expect, test } from "vitest";
import { CALLBACKTYPE_syscall, CALLBACKTYPE_syscall32 } from "../../../src/hv/xen/pv64/guest.js";
import { FLAT_KERNEL_SS, FLAT_USER_CS32, FLAT_USER_SS32 } from "../../../src/hv/xen/pv64/guest.js";
import { CALLBACKOP_register } from "../../../src/hv/xen/pv64/hypercall.js";
import { ARGS, Asm, callbackRegister, CODE, guest, HCALL, KSTACK, RDX, RES, run, u64, USTACK } from "./support.js";

const USER32 = CODE + 0x1000, CB32 = CODE + 0x2000, CB64 = CODE + 0x2800;

function runCompat(p: "xen-idt" | "xen-fred" | "xen-fred-fixed", vendor: "intel" | "amd", withSyscall32: boolean) {
  const g = guest(p, {}, vendor);
  callbackRegister(g, ARGS, CALLBACKTYPE_syscall, 0, CB64);
  callbackRegister(g, ARGS + 0x40, CALLBACKTYPE_syscall32, 0, CB32);
  const a = new Asm();
  a.hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, ARGS);
  if (withSyscall32) a.hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, ARGS + 0x40);
  a.hypercall(__HYPERVISOR_stack_switch, FLAT_KERNEL_SS, KSTACK)
    .pushImm(FLAT_USER_SS32).pushImm(USTACK).pushImm(0x202).pushImm(FLAT_USER_CS32).pushImm(USER32).pushImm(0)
    .jmpAbs(HCALL + 32 * __HYPERVISOR_iret);
  a.org(USER32).at("sys").syscall();
  for (const [at, tag] of [[CB32, 32], [CB64, 64]] as const) {
    a.org(at).mov(RDX, tag).store(RES + 0x40, RDX);
    for (let k = 0; k < 7; k++) a.loadRsp(RDX, 8 * k).store(RES + 8 * k, RDX);
    a.jmp("end");
  }
  a.org(CODE + 0x3000).at("end").raw(0x90);
  const exit = run(g, a);
  return { a, exit, cb: u64(g, RES + 0x40), frame: Array.from({ length: 7 }, (_, k) => u64(g, RES + 8 * k)) };
}

describe("SYSCALL from compatibility mode", () => {
  test("xen-idt on AMD: cstar_enter, the syscall32 callback, frame CS/SS = FLAT_USER_CS32/SS32, RCX = next EIP", () => {
    const r = runCompat("xen-idt", "amd", true);
    expect(r.exit).toEqual({ kind: "end" });
    expect(r.cb).toBe(32n);
    const next = BigInt(r.a.label("sys") + 2);
    expect(r.frame).toEqual([next, 0x202n, next, BigInt(FLAT_USER_CS32), 0x202n, BigInt(USTACK), BigInt(FLAT_USER_SS32)]);
  });

  test("xen-idt on AMD without a syscall32 callback: #UD at the SYSCALL, not the 64-bit callback (as on FRED)", () => {
    const r = runCompat("xen-idt", "amd", false);
    expect(r.exit).toEqual({ kind: "exception", vector: 6, errorCode: null, rip: r.a.label("sys") });
  });

  test("xen-idt on Intel: #UD at the SYSCALL; with no trap table the domain crashes", () => {
    const r = runCompat("xen-idt", "intel", true);
    expect(r.exit).toEqual({ kind: "exception", vector: 6, errorCode: null, rip: r.a.label("sys") });
  });

  for (const vendor of ["intel", "amd"] as const) {
    test(`xen-fred-fixed on ${vendor}: the syscall32 callback, frame as on a legacy AMD host`, () => {
      const r = runCompat("xen-fred-fixed", vendor, true);
      expect(r.exit).toEqual({ kind: "end" });
      expect(r.cb).toBe(32n);
      const next = BigInt(r.a.label("sys") + 2);
      expect(r.frame).toEqual([next, 0x202n, next, BigInt(FLAT_USER_CS32), 0x202n, BigInt(USTACK), BigInt(FLAT_USER_SS32)]);
    });

    test(`xen-fred on ${vendor} without a syscall32 callback: #UD at the SYSCALL (no fallback to the 64-bit callback)`, () => {
      const r = runCompat("xen-fred", vendor, false);
      expect(r.exit).toEqual({ kind: "exception", vector: 6, errorCode: null, rip: r.a.label("sys") });
    });
  }
});
