// hvm_hypercall() (xen/arch/x86/hvm/hypercall.c; spec xen-hvm.md §4) and the KVM side's
// kvm_xen_hypercall() + the VMM's kvm_xen_handle_exit() where they differ (knobs):
//   - the other vendor's instruction (hvm.hypercall.foreign_insn);
//   - privilege: VM86 always -EPERM, CPL > 0 -EPERM in Xen; KVM exits to the VMM, which
//     answers -EPERM (hvm.hypercall.cpl);
//   - width, chosen by the mode at the call: 64-bit mode -> nr = rax, args rdi rsi rdx r10 r8;
//     otherwise nr = eax, args ebx ecx edx esi edi (32 bits each) and compat structs;
//   - the result: rax in 64-bit mode; otherwise eax only (Xen) or all of rax (KVM)
//     (hvm.hypercall.result32);
//   - numbers with no HVM handler (here: every number the model does not implement) -ENOSYS.
// Debug-build argument clobbering (clobber_regs64/32) is not modelled: a release build.

import type { Cpu } from "../../cpu/cpu.js";
import { CpuFault, UD } from "../../cpu/exceptions.js";
import { hex64 } from "../../case/hex.js";
import type { U64 } from "../../cpu/state.js";
import { RAX, RBX, RCX, RDI, RDX, RSI } from "../../cpu/state.js";
import { kvmCplExit } from "../kvm/vmm.js";
import type { Call } from "./call.js";
import { neg, errnoName } from "./errno.js";
import { doEventChannelOp } from "./event_channel.js";
import { hvmGuestX86Mode, x86ModeName, X86_MODE_64BIT, X86_MODE_REAL, X86_MODE_VM86 } from "./guest.js";
import { doHvmOp } from "./hvm_op.js";
import type { XenHvm } from "./hvm.js";
import { nativeHypercallBytes } from "./hypercall_page.js";
import { doMemoryOp } from "./memory_op.js";
import { doSchedOp } from "./sched_op.js";
import { doVcpuOp } from "./vcpu.js";
import { doXenVersion } from "./version.js";
import { doVmAssist } from "./vm_assist.js";
import { __HYPERVISOR_event_channel_op, __HYPERVISOR_hvm_op, __HYPERVISOR_memory_op, __HYPERVISOR_sched_op, __HYPERVISOR_vcpu_op, __HYPERVISOR_vm_assist, __HYPERVISOR_xen_version, hypercallName } from "./hypercall_numbers.js";

const R8 = 8;
const R10 = 10;

/** The hypercalls the model implements; every other number returns -ENOSYS. */
const HANDLERS: Readonly<Record<number, (c: Call) => number>> = {
  [__HYPERVISOR_memory_op]: doMemoryOp,
  [__HYPERVISOR_xen_version]: doXenVersion,
  [__HYPERVISOR_vm_assist]: doVmAssist,
  [__HYPERVISOR_vcpu_op]: doVcpuOp,
  [__HYPERVISOR_sched_op]: doSchedOp,
  [__HYPERVISOR_event_channel_op]: doEventChannelOp,
  [__HYPERVISOR_hvm_op]: doHvmOp,
};


/** VMCALL/VMMCALL from the guest (RIP already points after the instruction). */
export function doHypercall(hv: XenHvm, cpu: Cpu, insn: "vmcall" | "vmmcall"): void {
  const native = cpu.model.vendor === "intel" ? "vmcall" : "vmmcall";
  if (insn !== native) {
    const rule = hv.policy["hvm.hypercall.foreign_insn"];
    if (rule === "update_guest_vendor") {
      hv.decide("hvm.hypercall.foreign_insn", rule, `${insn.toUpperCase()} on ${cpu.model.vendor}: #UD is not intercepted for a same-vendor guest, the guest gets #UD`);
      throw new CpuFault(UD);
    }
    // emulator_fix_hypercall(): patch the 3 bytes at RIP to the native instruction and let
    // the guest execute it again (a write through the guest's page tables, as
    // emulator_write_emulated() does; a fault there is the guest's).
    hv.decide("hvm.hypercall.foreign_insn", rule, `${insn.toUpperCase()} on ${cpu.model.vendor}: #UD intercepted, emulator_fix_hypercall() rewrites it to ${native.toUpperCase()} and re-executes`);
    const bytes = nativeHypercallBytes(cpu);
    cpu.rip = cpu.insnRip;
    for (let k = 0; k < 3; k++) cpu.wr8(cpu.insnRip + k, bytes[k]!);
    hv.event("patch", `${insn} at 0x${cpu.insnRip.toString(16)} rewritten to ${native}`);
    return;
  }

  hv.schedulePoints();
  const mode = hvmGuestX86Mode(cpu);
  const wide = mode === X86_MODE_64BIT;
  let nrLo: number;
  let nrHi: number;
  let args: U64[];
  if (wide) {
    nrLo = cpu.lo[RAX]! >>> 0;
    nrHi = cpu.hi[RAX]! >>> 0;
    args = [RDI, RSI, RDX, R10, R8].map((r) => ({ lo: cpu.lo[r]! >>> 0, hi: cpu.hi[r]! >>> 0 }));
  } else {
    nrLo = cpu.lo[RAX]! >>> 0;
    nrHi = 0;
    args = [RBX, RCX, RDX, RSI, RDI].map((r) => ({ lo: cpu.lo[r]! >>> 0, hi: 0 }));
  }
  const nr = nrHi === 0 ? nrLo : -1;
  const rec = {
    step: cpu.steps,
    rip: hex64(cpu.insnRip % 4294967296, Math.floor(cpu.insnRip / 4294967296)),
    nr,
    name: nrHi === 0 ? hypercallName(nrLo) : `hypercall_${hex64(nrLo, nrHi)}`,
    mode: x86ModeName(mode),
    args: args.map((a) => hex64(a.lo, a.hi)),
    ret: 0,
    errno: null as string | null,
    by: "xen" as "xen" | "kvm" | "vmm",
  };
  const kvm = hv.policy["hvm.hypercall.cpl"] === "kvm_xen_hypercall";
  if (kvm) rec.by = "kvm";

  let ret: number;
  if (mode === X86_MODE_VM86 || (mode !== X86_MODE_REAL && cpu.cpl !== 0)) {
    const rule = hv.policy["hvm.hypercall.cpl"];
    if (rule === "hvm_hypercall") {
      hv.decide("hvm.hypercall.cpl", rule, mode === X86_MODE_VM86 ? "VM86: hvm_hypercall() returns -EPERM" : `CPL ${cpu.cpl} > 0: hvm_hypercall() returns -EPERM in the hypervisor`);
      ret = neg("EPERM");
    } else {
      hv.decide("hvm.hypercall.cpl", rule, `CPL ${mode === X86_MODE_VM86 ? 3 : cpu.cpl} > 0: kvm_xen_hypercall() handles nothing in-kernel, KVM_EXIT_XEN to the VMM`);
      ret = kvmCplExit(hv, cpu, wide, nr, args);
      rec.by = "vmm";
    }
  } else {
    const handler = nr >= 0 && nr <= 63 ? HANDLERS[nr] : undefined;
    ret = handler === undefined ? neg("ENOSYS") : handler({ hv, cpu, wide, abi: wide ? "x86_64" : "x86_32", args });
  }
  rec.ret = ret;
  rec.errno = errnoName(ret);
  hv.hypercalls.push(rec);
  setResult(hv, cpu, wide, ret);
}

/** The return value into RAX by the call's width. */
function setResult(hv: XenHvm, cpu: Cpu, wide: boolean, ret: number): void {
  const lo = ret | 0;
  const ext = ret < 0 ? -1 : 0;
  if (wide) {
    cpu.lo[RAX] = lo;
    cpu.hi[RAX] = ext;
    return;
  }
  const rule = hv.policy["hvm.hypercall.result32"];
  if (cpu.hi[RAX] !== ext) {
    hv.decide("hvm.hypercall.result32", rule, rule === "regs->eax"
      ? "32-bit call: regs->eax = ret, RAX[63:32] keeps its old value"
      : "32-bit call: kvm_rax_write() writes all 64 bits of RAX");
  }
  cpu.lo[RAX] = lo;
  if (rule === "kvm_rax_write") cpu.hi[RAX] = ext;
}
