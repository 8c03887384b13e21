// Derived from the paths as the spec gives them, outside the four cases: where DF is cleared.
// Legacy switch_to_kernel runs create_bounce_frame first and clears DF in the guest RFLAGS
// afterwards, so the frame keeps the user's DF; entry_from_pv clears DF before
// pv_inject_callback, and test_all_events builds the frame afterwards, so on a FRED host the
// frame's RFLAGS has DF clear, with or without c5a4b9125b. The kernel callback runs with DF
// clear on every host.

import { __HYPERVISOR_callback_op, __HYPERVISOR_iret, __HYPERVISOR_stack_switch } from "../../../src/hv/xen/hypercall_numbers.js";
import { describe, expect, test } from "vitest";
import { CALLBACKTYPE_syscall } from "../../../src/hv/xen/pv64/guest.js";
import { FLAT_KERNEL_SS, FLAT_RING3_CS64 } from "../../../src/hv/xen/pv64/guest.js";
import { CALLBACKOP_register } from "../../../src/hv/xen/pv64/hypercall.js";
import { ARGS, Asm, callbackRegister, CODE, guest, HCALL, KSTACK, RDX, RES, run, u64, USTACK } from "./support.js";

const USER = CODE + 0x1000, CB = CODE + 0x2000;

function runDf(p: "xen-idt" | "xen-fred" | "xen-fred-fixed") {
  const g = guest(p);
  callbackRegister(g, ARGS, CALLBACKTYPE_syscall, 0, CB);
  const a = new Asm();
  a.hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, ARGS).hypercall(__HYPERVISOR_stack_switch, FLAT_KERNEL_SS, KSTACK)
    .pushImm(FLAT_KERNEL_SS).pushImm(USTACK).pushImm(0x202).pushImm(FLAT_RING3_CS64).pushImm(USER).pushImm(0)
    .jmpAbs(HCALL + 32 * __HYPERVISOR_iret);
  a.org(USER).raw(0xfd).syscall(); // std; syscall
  a.org(CB).raw(0x9c).pop(RDX).store(RES, RDX) // pushfq: the kernel's RFLAGS at the callback
    .loadRsp(RDX, 32).store(RES + 8, RDX).at("end").raw(0x90); // the frame's RFLAGS slot
  expect(run(g, a)).toEqual({ kind: "end" });
  return { kernel: u64(g, RES), frame: u64(g, RES + 8) };
}

describe("DF across a user SYSCALL", () => {
  test("xen-idt: the frame keeps the user's DF; the callback runs with DF clear", () => {
    expect(runDf("xen-idt")).toEqual({ kernel: 0x202n, frame: 0x602n });
  });
  for (const p of ["xen-fred", "xen-fred-fixed"] as const) {
    test(`${p}: the frame's RFLAGS has DF clear already (entry_from_pv cleared it before the bounce)`, () => {
      expect(runDf(p)).toEqual({ kernel: 0x202n, frame: 0x202n });
    });
  }
});
