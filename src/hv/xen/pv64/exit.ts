// The exits to the guest (spec 3.6, 5.2): restore_all_guest on a legacy host (SYSRETQ/SYSRETL
// when TRAP_syscall is set, else iret_exit_to_guest's IRETQ) and eretu_exit_to_guest on a FRED
// host (restore_all_guest's ALTERNATIVE under X86_FEATURE_XEN_FRED). Each ends by handing the
// processor a real SYSRET / IRETQ / ERETU in host memory, which the emulated CPU executes as the
// architecture says.

import type { Cpu } from "../../../cpu/cpu.js";
import { IF, IOPL, VM } from "../../../cpu/flags.js";
import { RCX, RSP } from "../../../cpu/state.js";
import { FLAT_USER_CS32 } from "./guest.js";
import type { XenPv64 } from "./pv64.js";
import { frameWords, hex, isCanonical, popGprs, setGpr, TRAP_syscall, writeHost64, type CpuUserRegs } from "./regs.js";

const R11 = 11;

/** restore_all_guest, or its FRED ALTERNATIVE. */
export function restoreAllGuest(hv: XenPv64, cpu: Cpu, regs: CpuUserRegs): void {
  if (hv.policy["pv64.host.delivery"] === "init_fred") {
    hv.decide("pv64.host.delivery", "init_fred", "restore_all_guest: ALTERNATIVE X86_FEATURE_XEN_FRED -> eretu_exit_to_guest");
    eretuExitToGuest(hv, cpu, regs);
    return;
  }
  const l = hv.layout;
  popGprs(cpu, regs);
  if ((regs.entry_vector & TRAP_syscall) === 0) {
    hv.decide("pv64.host.delivery", "legacy_syscall_init", "restore_all_guest: TRAP_syscall clear -> iret_exit_to_guest (RCX/R11 = regs->rcx/r11)");
    iretExitToGuest(hv, cpu, regs);
    return;
  }
  // movq EFRAME_eflags,%r11; andq $~(IOPL|VM),%r11; orq $IF,%r11; movq EFRAME_rip,%rcx
  const r11 = (regs.rflags & ~BigInt(IOPL | VM)) | BigInt(IF);
  setGpr(cpu, R11, r11);
  setGpr(cpu, RCX, regs.rip);
  if (!isCanonical(regs.rip)) {
    hv.decide("pv64.host.delivery", "legacy_syscall_init", `restore_all_guest: TRAP_syscall set, RIP ${hex(regs.rip)} not canonical -> iret_exit_to_guest with RCX = RIP, R11 = RFLAGS`);
    iretExitToGuest(hv, cpu, regs);
    return;
  }
  const l32 = (regs.cs & 0xffffn) === BigInt(FLAT_USER_CS32);
  hv.decide("pv64.host.delivery", "legacy_syscall_init", `restore_all_guest: TRAP_syscall set -> ${l32 ? "SYSRETL" : "SYSRETQ"} to ${hex(regs.rip)} (RCX = RIP, R11 = RFLAGS & ~(IOPL|VM) | IF)`);
  setGpr(cpu, RSP, regs.rsp);
  hv.event("exit", `${l32 ? "sysretl" : "sysretq"} rip ${hex(regs.rip)} rsp ${hex(regs.rsp)} r11 ${hex(r11)}`);
  cpu.rip = l32 ? l.exitSysretl : l.exitSysretq;
}

/** iret_exit_to_guest: IOPL and VM cleared, IF set in the frame; IRETQ. */
function iretExitToGuest(hv: XenPv64, cpu: Cpu, regs: CpuUserRegs): void {
  const l = hv.layout;
  const lo = (Number(regs.rflags & 0xffffffffn) & ~(IOPL | VM)) | IF;
  regs.rflags = (regs.rflags & ~0xffffffffn) | BigInt(lo >>> 0);
  const w = frameWords(regs);
  for (let k = 0; k < 6; k++) writeHost64(cpu, l.eframe + 8 * k, w[k]!);
  setGpr(cpu, RSP, BigInt(l.eframe + 8));
  hv.event("exit", `iretq rip ${hex(regs.rip)} cs ${hex(regs.cs & 0xffffn)} rflags ${hex(regs.rflags)} rsp ${hex(regs.rsp)} ss ${hex(regs.ss & 0xffffn)}`);
  cpu.rip = l.exitIretq;
}

/** eretu_exit_to_guest (entry-fred.S): POP_GPRS, then, with c5a4b9125b, cmovnz RCX/R11 from the frame when TRAP_syscall. */
function eretuExitToGuest(hv: XenPv64, cpu: Cpu, regs: CpuUserRegs): void {
  const l = hv.layout;
  const syscall = (regs.entry_vector & TRAP_syscall) !== 0;
  popGprs(cpu, regs);
  const hunk = hv.policy["pv64.fred.eretu_exit"];
  if (hunk === "c5a4b9125b") {
    hv.decide("pv64.fred.eretu_exit", hunk, syscall
      ? `TRAP_syscall set: cmovnz RCX = frame RIP ${hex(regs.rip)}, R11 = frame RFLAGS ${hex(regs.rflags)}`
      : "TRAP_syscall clear: the cmovs do nothing, RCX/R11 = regs->rcx/r11");
    if (syscall) {
      setGpr(cpu, RCX, regs.rip);
      setGpr(cpu, R11, regs.rflags);
    }
  } else {
    hv.decide("pv64.fred.eretu_exit", hunk, `POP_GPRS; eretu: RCX/R11 = regs->rcx/r11 (${hex(regs.gpr[RCX]!)}, ${hex(regs.gpr[R11]!)})${syscall ? " although TRAP_syscall is set" : ""}`);
  }
  const w = frameWords(regs);
  for (let k = 0; k < 8; k++) writeHost64(cpu, l.eframe + 8 * k, w[k]!);
  setGpr(cpu, RSP, BigInt(l.eframe));
  hv.event("exit", `eretu rip ${hex(regs.rip)} cs ${hex(regs.cs)} rflags ${hex(regs.rflags)} rsp ${hex(regs.rsp)} ss ${hex(regs.ss)}`);
  cpu.rip = l.exitEretu;
}
