// XenPv64: one 64-bit PV domain with one vCPU on a Xen host that delivers events through the
// IDT with SYSCALL/SYSRET (legacy) or through FRED, with or without the two hunks of Xen's
// c5a4b9125b; the knobs of a Pv64Policy pick (policy.ts). It implements the CPU's
// HypervisorHooks through enterHost(): the host programs LSTAR/CSTAR/SYSENTER_EIP/the IDT or
// FRED_CONFIG with addresses in its host code range, and when the processor reaches one
// (after the architectural SYSCALL, exception or FRED delivery) the modelled Xen path runs
// (entry.ts, bounce.ts, hypercall.ts) and ends in a real SYSRET / IRETQ / ERETU (exit.ts).
// Everything is recorded in plain JSON: hypercalls, knob decisions, events, the migration record.
//
// Not modelled: event channels and upcalls (the event callback is registered, never entered),
// the failsafe callback's frame (Xen builds it when reloading the guest's data segments fails on
// a context switch; the model has one vCPU and never reloads them), NMI callbacks, #PF's CR2 in
// vcpu_info, GS-base switching in toggle_guest_mode, guest page tables (fixed direct map),
// privileged-instruction emulation on #GP(0) (the #GP goes to the guest), the
// architectural_iopl assist, debug-build argument clobbering.
//
// A domain crash ends the run: with the guest exception that caused it (exit "exception"),
// or as "triple-fault" for any other reason. SCHEDOP_shutdown ends it with "hlt", unless the
// case migrates on suspend.

import type { Cpu, HypervisorHooks } from "../../../cpu/cpu.js";
import { CpuFault, RunStop, UD } from "../../../cpu/exceptions.js";
import {
  MSR_CSTAR, MSR_IA32_FRED_CONFIG, MSR_IA32_FRED_RSP0, MSR_IA32_FRED_STKLVLS, MSR_IA32_SYSENTER_CS,
  MSR_IA32_SYSENTER_EIP, MSR_IA32_SYSENTER_ESP, MSR_LSTAR, MSR_STAR, MSR_SYSCALL_MASK,
} from "../../../cpu/msr.js";
import { CR4HI_FRED } from "../../../cpu/state.js";
import { hexNumber } from "../../../case/hex.js";
import type { Pv64KnobName, Pv64Policy } from "../../policy.js";
import { createBounceFrame, type TrapBounce } from "./bounce.js";
import { entryFredR0, entryFredR3, entryInt80, handleException, lstarEnter, sysenterEntry } from "./entry.js";
import { restoreAllGuest } from "./exit.js";
import { __HYPERVISOR_CS, buildDomain, loadGuestSelectors, pv64Layout, XEN_MSR_STAR_HI, XEN_SYSCALL_MASK, type Pv64Layout } from "./guest.js";
import { SHUTDOWN_suspend } from "./hypercall.js";
import { migrateOnSuspend, type Pv64MigrationRecord } from "./migrate.js";
import { copyFromGuest, copyToGuest } from "../guest.js";
import { asLinear, getGpr, popGprs, readHost64, saveAll, setGpr, type CpuUserRegs } from "./regs.js";

/** One hypercall as the guest made it. */
export interface Pv64HypercallRecord {
  step: number;
  /** RIP of the SYSCALL. */
  rip: string;
  nr: number;
  name: string;
  /** rdi rsi rdx r10 r8. */
  args: string[];
  /** regs->rax after the call (for iret: the context's rax). */
  ret: string;
  errno: string | null;
}

export interface Pv64KnobDecision {
  knob: Pv64KnobName;
  branch: string;
  step: number;
  rip: string;
  why: string;
}

export interface Pv64Event {
  step: number;
  kind: "entry" | "bounce" | "exit" | "iret" | "inject" | "toggle" | "shutdown" | "migrate" | "crash" | "host";
  detail: string;
}

export interface Pv64Area {
  name: "hypercall page" | "xen";
  addr: string;
  len: number;
}

/** The `hv` part of a result for the PV64 model: explanations, never compared. */
export interface Pv64Log {
  hypercalls: Pv64HypercallRecord[];
  decisions: Pv64KnobDecision[];
  events: Pv64Event[];
  /** The save record of a migration, or null. */
  migration: Pv64MigrationRecord | null;
  /** Where the hypervisor's pages are: the hypercall page (guest memory) and Xen's private area. */
  areas: Pv64Area[];
}

export interface TrapInfo {
  flags: number;
  cs: number;
  address: bigint;
}

/** The per-vCPU state Xen keeps for a PV64 guest (struct vcpu / arch.pv / vgc_flags). */
export interface Pv64Vcpu {
  /** TF_kernel_mode. */
  kernelMode: boolean;
  kernelSs: number;
  kernelSp: bigint;
  callbacks: { event: bigint; failsafe: bigint; syscall: bigint; syscall32: bigint; sysenter: bigint; nmi: bigint };
  syscallDisablesEvents: boolean;
  syscall32DisablesEvents: boolean;
  sysenterDisablesEvents: boolean;
  failsafeDisablesEvents: boolean;
  /** arch.pv.trap_ctxt, by vector. */
  trapTable: Map<number, TrapInfo>;
  /**
   * vcpu_info.evtchn_upcall_mask. The domain builder starts it at 1 (libxc xc_dom_x86.c
   * shared_info_x86_64(): every vcpu_info masked); the guest's first HYPERVISOR_iret with IF
   * set clears it. Kept here, not in a shared_info page (the model has none).
   */
  upcallMask: number;
}

export interface Pv64Options {
  /** `migrate: {"on": "suspend", "to": PRESET}` of cases.md, with the destination's policy. */
  migrate?: { on: "suspend"; to: Pv64Policy; toName: string };
}

/**
 * The legacy host's IDT: 256 64-bit interrupt gates. Vectors 0-31 go to handle_exception,
 * with DPL 3 for #BP and #OF (so INT3/INTO and INT $3/$4 work from the guest); 0x80 with
 * DPL 3 to entry_int80; the others (interrupts) with DPL 0, so an INT n from the guest is
 * #GP(n*8+2). Made once per layout.
 */
function legacyIdt(l: Pv64Layout): Uint8Array {
  const known = IDTS.get(l.idt);
  if (known !== undefined) return known;
  const img = new Uint8Array(256 * 16);
  const v = new DataView(img.buffer);
  for (let n = 0; n < 256; n++) {
    const off = n < 32 ? l.excEntry + 8 * n : n === 0x80 ? l.int80 : l.irqEntry;
    const dpl = n === 3 || n === 4 || n === 0x80 ? 3 : 0;
    v.setUint32(16 * n, ((off & 0xffff) | (__HYPERVISOR_CS << 16)) >>> 0, true);
    v.setUint32(16 * n + 4, ((off & 0xffff0000) | 0x8e00 | (dpl << 13)) >>> 0, true);
  }
  IDTS.set(l.idt, img);
  return img;
}
const IDTS = new Map<number, Uint8Array>();

export class XenPv64 implements HypervisorHooks {
  policy: Pv64Policy;
  readonly options: Pv64Options;
  readonly hypercalls: Pv64HypercallRecord[] = [];
  readonly decisions: Pv64KnobDecision[] = [];
  readonly events: Pv64Event[] = [];
  migration: Pv64MigrationRecord | null = null;
  /** The last iret_context read (hex fields), for tests and reports. */
  lastIret: Record<string, string> | null = null;
  readonly vcpu: Pv64Vcpu = {
    kernelMode: true,
    kernelSs: 0xe02b,
    kernelSp: 0n,
    callbacks: { event: 0n, failsafe: 0n, syscall: 0n, syscall32: 0n, sysenter: 0n, nmi: 0n },
    syscallDisablesEvents: false,
    syscall32DisablesEvents: false,
    sysenterDisablesEvents: false,
    failsafeDisablesEvents: false,
    trapTable: new Map(),
    upcallMask: 1,
  };
  /** arch.pv.trap_bounce: set by the injection paths, consumed by test_all_events. */
  trapBounce: TrapBounce | null = null;
  /** SCHEDOP_shutdown's reason while the domain is shutting down, else null. */
  shutdownReason: number | null = null;
  /** The cpu_user_regs of the guest's current entry into Xen (what a domain crash leaves behind). */
  current: CpuUserRegs | null = null;

  private cpuRef: Cpu | null = null;
  private layoutRef: Pv64Layout | null = null;

  constructor(policy: Pv64Policy, options: Pv64Options = {}) {
    this.policy = { ...policy };
    this.options = options;
  }

  get cpu(): Cpu {
    if (this.cpuRef === null) throw new Error("XenPv64: not attached to a CPU");
    return this.cpuRef;
  }

  get layout(): Pv64Layout {
    if (this.layoutRef === null) throw new Error("XenPv64: not attached to a CPU");
    return this.layoutRef;
  }

  /**
   * Become the hypervisor of `cpu`: build the domain (tables, direct map, hypercall page), set
   * the host up as the policy says, and leave the vCPU in guest kernel mode at CPL 3 at the
   * CPU's RIP and RSP; kernel_sp starts as that RSP (the builder's initial stack). Every guest
   * exception goes to Xen: the CPU's exceptionMode becomes "deliver".
   */
  attach(cpu: Cpu): this {
    this.cpuRef = cpu;
    this.layoutRef = pv64Layout(cpu.mem.bytes);
    cpu.hypervisor = this;
    buildDomain(cpu, this.layout);
    this.vcpu.kernelSp = getGpr(cpu, 4);
    cpu.exceptionMode = "deliver";
    cpu.setHostCode(this.layout.hostCode, this.layout.hostCodeLen);
    this.configureHost();
    return this;
  }

  /** Program the processor as this host does at boot: legacy_syscall_init() + the IDT, or init_fred(). */
  private configureHost(): void {
    const cpu = this.cpu;
    const l = this.layout;
    cpu.msr.set(MSR_STAR, 0, XEN_MSR_STAR_HI | 0);
    if (this.policy["pv64.host.delivery"] === "init_fred") {
      if (!cpu.features.fred) throw new Error("xen-pv64: a FRED host needs a CPU model with FRED ({\"fred\": true})");
      cpu.cr4Hi |= CR4HI_FRED;
      cpu.msr.set(MSR_IA32_FRED_CONFIG, l.fredPage, 0);
      cpu.msr.set(MSR_IA32_FRED_RSP0, l.stackTop, 0);
      cpu.msr.set(MSR_IA32_FRED_STKLVLS, 0, 0);
      for (const m of [MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_EIP, MSR_IA32_SYSENTER_ESP]) cpu.msr.set(m, 0, 0);
      cpu.idtrBase = 0;
      cpu.idtrLimit = 0;
    } else {
      cpu.cr4Hi &= ~CR4HI_FRED;
      cpu.msr.set(MSR_IA32_FRED_CONFIG, 0, 0);
      cpu.msr.set(MSR_LSTAR, l.lstar, 0);
      cpu.msr.set(MSR_CSTAR, l.cstar, 0);
      cpu.msr.set(MSR_SYSCALL_MASK, XEN_SYSCALL_MASK, 0);
      cpu.msr.set(MSR_IA32_SYSENTER_CS, __HYPERVISOR_CS, 0);
      cpu.msr.set(MSR_IA32_SYSENTER_EIP, l.sysenter, 0);
      cpu.msr.set(MSR_IA32_SYSENTER_ESP, l.stackTop - 16, 0);
      cpu.mem.writeBytes(l.idt, legacyIdt(l));
      cpu.idtrBase = l.idt;
      cpu.idtrLimit = 256 * 16 - 1;
    }
    cpu.refreshMode();
    cpu.flushTlb();
    this.event("host", this.policy["pv64.host.delivery"] === "init_fred"
      ? `init_fred: CR4.FRED, FRED_CONFIG 0x${l.fredPage.toString(16)} (entry_FRED_R3), FRED_RSP0 0x${l.stackTop.toString(16)}`
      : `legacy_syscall_init: LSTAR 0x${l.lstar.toString(16)} (lstar_enter), CSTAR 0x${l.cstar.toString(16)}, IDT 0x${l.idt.toString(16)}`);
  }

  /** The vCPU now runs on a host of policy `to` (migration's destination). */
  switchHost(to: Pv64Policy): void {
    this.policy = { ...to };
    this.configureHost();
  }

  // ---- records

  decide(knob: Pv64KnobName, branch: string, why: string): void {
    this.decisions.push({ knob, branch, step: this.cpuRef?.steps ?? 0, rip: hexNumber(this.cpuRef?.insnRip ?? 0), why });
  }

  event(kind: Pv64Event["kind"], detail: string): void {
    this.events.push({ step: this.cpuRef?.steps ?? 0, kind, detail });
  }

  log(): Pv64Log {
    const l = this.layoutRef;
    const areas: Pv64Area[] = l === null ? [] : [
      { name: "hypercall page", addr: hexNumber(l.hypercallPage), len: 4096 },
      { name: "xen", addr: hexNumber(l.host), len: this.cpu.mem.bytes - l.host },
    ];
    // Plain JSON already (strings and numbers): copies of the lists, so the log does not change
    // if the domain runs on.
    return { hypercalls: [...this.hypercalls], decisions: [...this.decisions], events: [...this.events], migration: this.migration, areas };
  }

  // ---- HypervisorHooks

  hypercallInstruction(): void {
    // VMCALL/VMMCALL in a PV guest: #UD, delivered to Xen like any other guest exception.
    throw new CpuFault(UD);
  }

  enterHost(cpu: Cpu): void {
    const l = this.layout;
    const rip = cpu.insnRip;
    if (rip === l.lstar) lstarEnter(this, cpu, false);
    else if (rip === l.cstar) lstarEnter(this, cpu, true);
    else if (rip === l.sysenter) sysenterEntry(this, cpu);
    else if (rip === l.int80) entryInt80(this, cpu);
    else if (rip === l.irqEntry) this.domainCrash("common_interrupt", "an interrupt gate the model never raises was taken");
    else if (rip === l.fredPage) entryFredR3(this, cpu);
    else if (rip === l.fredPage + 0x100) entryFredR0(this, cpu);
    else if (rip >= l.excEntry && rip < l.excEntry + 8 * 32 && (rip - l.excEntry) % 8 === 0) handleException(this, cpu, (rip - l.excEntry) / 8);
    else throw new Error(`xen-pv64: no host path at 0x${rip.toString(16)}`);
  }

  // ---- what the paths share

  /**
   * SAVE_ALL / PUSH_AND_CLEAR_GPRS: the guest's registers and the `words` hardware-frame words
   * at the exception frame become this entry's cpu_user_regs.
   */
  enter(words: number): CpuUserRegs {
    const frame: bigint[] = [];
    for (let k = 0; k < words; k++) frame.push(readHost64(this.cpu, this.layout.eframe + 8 * k));
    this.current = saveAll(this.cpu, frame);
    return this.current;
  }

  /** test_all_events: a pending trap_bounce becomes a bounce frame; a shutdown stops here; then restore_all_guest. */
  testAllEvents(regs: CpuUserRegs): void {
    const tb = this.trapBounce;
    if (tb !== null) {
      this.trapBounce = null;
      createBounceFrame(this, regs, tb);
    }
    if (this.shutdownReason !== null) {
      const reason = this.shutdownReason;
      const m = this.options.migrate;
      if (reason === SHUTDOWN_suspend && m !== undefined && m.on === "suspend") {
        this.shutdownReason = null;
        regs = migrateOnSuspend(this, regs, m.to, m.toName);
      } else {
        this.event("shutdown", `SCHEDOP_shutdown reason ${reason}: the domain stops`);
        this.cpu.rip = asLinear(regs.rip);
        this.cpu.exit = { kind: "hlt" };
        throw new RunStop("hypercall");
      }
    }
    restoreAllGuest(this, this.cpu, regs);
  }

  toggleGuestMode(why: string): void {
    this.vcpu.kernelMode = !this.vcpu.kernelMode;
    this.event("toggle", `${why}: now guest ${this.vcpu.kernelMode ? "kernel" : "user"} mode`);
  }

  /** True when [lin, lin+len) touches Xen's private area (create_bounce_frame's range check). */
  inXenArea(lin: number, len: number): boolean {
    const l = this.layout;
    return lin + len > l.host && lin < this.cpu.mem.bytes;
  }

  /** STORE_GUEST_STACK: one u64 to the guest stack through the guest's paging; false on a fault. */
  storeGuest64(lin: number, v: bigint): boolean {
    if (this.inXenArea(lin, 8)) return false;
    const b = new Uint8Array(8);
    for (let k = 0; k < 8; k++) b[k] = Number((v >> BigInt(8 * k)) & 0xffn);
    return copyToGuest(this.cpu, lin, b);
  }

  /**
   * copy_from_guest: through the guest's paging; null on a fault, and for any byte in Xen's
   * private area (access_ok() / __addr_ok() refuse hypervisor addresses).
   */
  readGuest(lin: number, len: number): Uint8Array | null {
    if (this.inXenArea(lin, len)) return null;
    return copyFromGuest(this.cpu, lin, len);
  }

  /**
   * domain_crash(): the run ends (see the header). The processor is left in the dead vCPU's
   * state as Xen holds it (the cpu_user_regs of the last entry, as the paths changed them),
   * with the guest's flat selectors at CPL 3, not in Xen's own, which differs between hosts
   * by design: a dump of the domain shows the guest, whoever delivered its events.
   */
  domainCrash(where: string, why: string, exc?: { vector: number; errorCode: number | null; rip: bigint }): never {
    this.event("crash", `${where}: ${why}`);
    const cpu = this.cpu;
    const regs = this.current;
    if (regs !== null) {
      popGprs(cpu, regs);
      setGpr(cpu, 4, regs.rsp);
      cpu.rip = asLinear(regs.rip);
      cpu.setRflags(Number(regs.rflags & 0xffffffffn) | 2);
      loadGuestSelectors(cpu, Number(regs.cs & 0xffffn), Number(regs.ss & 0xffffn));
    }
    if (exc !== undefined) {
      cpu.rip = asLinear(exc.rip);
      cpu.exit = { kind: "exception", vector: exc.vector, errorCode: exc.errorCode, rip: asLinear(exc.rip) };
    } else {
      cpu.exit = { kind: "triple-fault" };
    }
    throw new RunStop("hypercall");
  }
}
