// XenHvm: one HVM domain with one vCPU (vcpu 0) as Xen runs it, or as KVM's Xen emulation
// with QEMU as the VMM runs it; the knobs of an HvmPolicy pick the side, rule by rule
// (policy.ts). It implements the CPU's HypervisorHooks: VMCALL/VMMCALL, the hypercall-page
// MSR, the hypervisor CPUID leaves. It records every hypercall and every knob decision in
// plain JSON-serialisable form; the guest-visible state (shared_info, vcpu_info, the
// runstate area, upcalls) lives in guest memory and the CPU.
//
// Time: the model's system time is derived from the step count, 1 ns per retired
// instruction, plus the time the vCPU spent descheduled (blocked, or preempted at the end
// of a time slice). Schedule points (time-slice ends, timer expiries) are accounted when the
// guest next enters the hypervisor (a hypercall): deterministic, derived from steps only.

import type { Cpu, HypervisorHooks } from "../../cpu/cpu.js";
import type { U64 } from "../../cpu/state.js";
import { hexNumber } from "../../case/hex.js";
import type { HvmKnobName, HvmPolicy } from "../policy.js";
import { EvtchnState, sendVirq, VIRQ_TIMER } from "./event_channel.js";
import { PAGE_SIZE } from "./guest.js";
import { doHypercall } from "./hypercall.js";
import { hypervisorCpuid, readHypercallPageMsr, writeHypercallPageMsr } from "./hypercall_page.js";
import { fieldOf, offsetOf } from "./layout.js";
import { SharedInfoPage, shinfoAbi, writeWallclock } from "./shared_info.js";
import { RUNSTATE_blocked, RUNSTATE_runnable, RUNSTATE_running, updateRunstateArea } from "./vcpu.js";

/** One hypercall as the guest made it. */
export interface HypercallRecord {
  step: number;
  /** RIP of the VMCALL/VMMCALL. */
  rip: string;
  nr: number;
  name: string;
  /** hvm_guest_x86_mode() at the call: "64bit", "32bit", "16bit", "real", "vm86". */
  mode: string;
  /** The argument registers, as the call's width read them (rdi rsi rdx r10 r8 / ebx ecx edx esi edi). */
  args: string[];
  ret: number;
  errno: string | null;
  /** Who answered: the hypervisor ("xen"), KVM in-kernel ("kvm"), or the VMM after KVM_EXIT_XEN ("vmm"). */
  by: "xen" | "kvm" | "vmm";
}

/** A knob consulted: which branch it took, at which step, and why. */
export interface KnobDecision {
  knob: HvmKnobName;
  branch: string;
  step: number;
  /** The instruction that entered the hypervisor (VMCALL, WRMSR, CPUID). */
  rip: string;
  why: string;
}

/** Something the hypervisor did to the guest outside a hypercall's return value. */
export interface HvEvent {
  step: number;
  kind: "latch" | "wallclock" | "hypercall-page" | "upcall" | "runstate" | "schedule" | "timer" | "exit" | "fault" | "patch";
  detail: string;
}

/** A guest-physical range the hypervisor writes, by what it holds (for reading a memory difference). */
export interface HvArea {
  name: "hypercall page" | "shared_info" | "vcpu_info" | "runstate";
  addr: string;
  len: number;
}

/** The `hv` part of a result (cases.md): explanations, never compared. */
export interface HvmLog {
  hypercalls: HypercallRecord[];
  decisions: KnobDecision[];
  events: HvEvent[];
  /** Where the guest placed what the hypervisor writes, at the end of the run. */
  areas: HvArea[];
}

/** Xen hvm_set_callback_via(): the decoded HVM_PARAM_CALLBACK_IRQ. */
export type CallbackVia =
  | { type: "none" }
  | { type: "gsi"; gsi: number }
  | { type: "pci_intx"; dev: number; intx: number }
  | { type: "vector"; vector: number };

/** The vCPU's runstate as the scheduler accounts it (struct vcpu_runstate_info, in ns). */
export interface RunstateAccount {
  state: number;
  entryTime: number;
  time: [number, number, number, number];
}

/** Where the guest asked the runstate to be written. */
export interface RunstateAreas {
  /** Xen VCPUOP_register_runstate_memory_area: a guest linear address. */
  va: number | null;
  /** Xen VCPUOP_register_runstate_phys_area: a guest-physical address, layout fixed at registration. */
  phys: { gpa: number; compat: boolean } | null;
  /** KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR (set by QEMU from the GVA): a guest-physical address. */
  kvmGpa: number | null;
}

/** DOMID_SELF (public/xen.h) and the domain's own id. */
export const DOMID_SELF = 0x7ff0;
export const DOMID = 1;
/** Instructions per time slice: every TIMESLICE_STEPS the vCPU is preempted for STEAL_NS. */
export const TIMESLICE_STEPS = 20_000;
export const STEAL_NS = 5_000;
/** HVM_NR_PARAMS (public/hvm/params.h). */
export const HVM_NR_PARAMS = 39;

export class XenHvm implements HypervisorHooks {
  readonly policy: HvmPolicy;
  readonly hypercalls: HypercallRecord[] = [];
  readonly decisions: KnobDecision[] = [];
  readonly events: HvEvent[] = [];

  private cpuRef: Cpu | null = null;

  // ---- domain state
  /** Xen d->arch.has_32bit_shinfo; KVM !kvm->arch.xen.long_mode (knob hvm.shinfo.initial_layout before any latch). */
  has32bitShinfo: boolean;
  shinfo!: SharedInfoPage;
  /** HVM params (u64 each). */
  readonly params: U64[] = Array.from({ length: HVM_NR_PARAMS }, () => ({ lo: 0, hi: 0 }));
  callbackVia: CallbackVia = { type: "none" };
  /** HVMOP_set_evtchn_upcall_vector for vcpu 0, 0 = none. */
  upcallVector = 0;
  /** VCPUOP_register_vcpu_info: the guest-physical address of vcpu 0's vcpu_info, or null (shared_info.vcpu_info[0]). */
  vcpuInfoGpa: number | null = null;
  readonly runstate: RunstateAccount = { state: RUNSTATE_running, entryTime: 0, time: [0, 0, 0, 0] };
  readonly runstateAreas: RunstateAreas = { va: null, phys: null, kvmGpa: null };
  /** The GFN the hypercall page was last written at, or null. */
  hypercallPageGfn: number | null = null;
  /** VM_ASSIST(d, runstate_update_flag) / KVM_XEN_ATTR_TYPE_RUNSTATE_UPDATE_FLAG. */
  runstateUpdateFlag = false;
  readonly evtchn = new EvtchnState();
  /** VCPUOP_set_singleshot_timer deadline (ns), or null. */
  singleshot: number | null = null;
  /** ns the vCPU spent descheduled. */
  offCpuNs = 0;
  /** The step count at which the current time slice ends. */
  nextSliceStep = TIMESLICE_STEPS;

  constructor(policy: HvmPolicy) {
    this.policy = { ...policy };
    this.has32bitShinfo = policy["hvm.shinfo.initial_layout"] === "compat";
  }

  get cpu(): Cpu {
    if (this.cpuRef === null) throw new Error("XenHvm: not attached to a CPU");
    return this.cpuRef;
  }

  /** Become the hypervisor of `cpu` (cpu.hypervisor = this). */
  attach(cpu: Cpu): this {
    this.cpuRef = cpu;
    cpu.hypervisor = this;
    this.shinfo = new SharedInfoPage(cpu.mem);
    if (this.policy["hvm.shinfo.wallclock"] === "update_domain_wallclock_time") {
      // The toolstack's XEN_DOMCTL_settimeoffset at domain build: domain_set_time_offset() ->
      // update_domain_wallclock_time(), in the default (native) layout.
      writeWallclock(this.shinfo, shinfoAbi(this.has32bitShinfo), false);
      this.event("wallclock", "written at domain build (domain_set_time_offset), native layout");
    }
    return this;
  }

  // ---- records

  decide(knob: HvmKnobName, branch: string, why: string): void {
    this.decisions.push({ knob, branch, step: this.cpuRef?.steps ?? 0, rip: hexNumber(this.cpuRef?.insnRip ?? 0), why });
  }

  event(kind: HvEvent["kind"], detail: string): void {
    this.events.push({ step: this.cpuRef?.steps ?? 0, kind, detail });
  }

  /** The `hv` part of a result: a deep copy in plain JSON. */
  log(): HvmLog {
    return JSON.parse(JSON.stringify({ hypercalls: this.hypercalls, decisions: this.decisions, events: this.events, areas: this.areas() })) as HvmLog;
  }

  private areas(): HvArea[] {
    const out: HvArea[] = [];
    const add = (name: HvArea["name"], addr: number | null, len: number) => {
      if (addr !== null) out.push({ name, addr: hexNumber(addr), len });
    };
    add("hypercall page", this.hypercallPageGfn === null ? null : this.hypercallPageGfn * PAGE_SIZE, PAGE_SIZE);
    add("shared_info", this.shinfo?.gfn == null ? null : this.shinfo.gfn * PAGE_SIZE, PAGE_SIZE);
    add("vcpu_info", this.vcpuInfoGpa, 64);
    // The runstate area: 48 bytes covers either layout (and a second page when it crosses).
    for (const at of [this.runstateAreas.va, this.runstateAreas.phys?.gpa ?? null, this.runstateAreas.kvmGpa]) add("runstate", at, 48);
    return out;
  }

  // ---- HypervisorHooks

  hypercallInstruction(cpu: Cpu, insn: "vmcall" | "vmmcall"): void {
    doHypercall(this, cpu, insn);
  }

  readMsr(cpu: Cpu, index: number): U64 | null {
    return readHypercallPageMsr(this, cpu, index);
  }

  writeMsr(cpu: Cpu, index: number, lo: number, hi: number): boolean {
    return writeHypercallPageMsr(this, cpu, index, lo, hi);
  }

  cpuid(cpu: Cpu, leaf: number, subleaf: number, native: readonly [number, number, number, number]): [number, number, number, number] {
    return hypervisorCpuid(this, cpu, leaf, subleaf, native);
  }

  // ---- time and scheduling

  /** System time (ns). */
  now(): number {
    return this.cpu.steps + this.offCpuNs;
  }

  /**
   * Account the schedule points that passed since the last entry: time-slice ends (the vCPU
   * is preempted: running -> runnable -> running, a context switch out and in, each updating
   * the runstate area) and the single-shot timer (VIRQ_TIMER).
   */
  schedulePoints(): void {
    for (;;) {
      const sliceAt = this.nextSliceStep + this.offCpuNs;
      const timerAt = this.singleshot ?? Infinity;
      const now = this.now();
      if (timerAt <= now && timerAt <= sliceAt) {
        this.fireTimer();
        continue;
      }
      if (sliceAt > now) return;
      this.nextSliceStep += TIMESLICE_STEPS;
      this.event("schedule", `time slice ended at ${sliceAt} ns: preempted for ${STEAL_NS} ns`);
      this.runstateChange(RUNSTATE_runnable, sliceAt);
      this.offCpuNs += STEAL_NS;
      this.runstateChange(RUNSTATE_running, sliceAt + STEAL_NS);
    }
  }

  /** SCHEDOP_block / SCHEDOP_poll: blocked from now until `wakeAt` (ns). */
  blockUntil(wakeAt: number): void {
    const t0 = this.now();
    this.runstateChange(RUNSTATE_blocked, t0);
    const t1 = Math.max(wakeAt, t0);
    this.offCpuNs += t1 - t0;
    this.event("schedule", `blocked from ${t0} to ${t1} ns`);
    if (this.singleshot !== null && this.singleshot <= t1) this.fireTimer();
    this.runstateChange(RUNSTATE_running, t1);
  }

  /** The end of the current time slice (ns): where a vCPU blocked with no wake-up source is woken. */
  sliceEndNs(): number {
    return this.nextSliceStep + this.offCpuNs;
  }

  private fireTimer(): void {
    const at = this.singleshot!;
    this.singleshot = null;
    this.event("timer", `single-shot timer fired at ${at} ns`);
    sendVirq(this, VIRQ_TIMER);
  }

  /** vcpu_runstate_change() followed by the context switch's update of the runstate area. */
  runstateChange(state: number, at: number): void {
    const r = this.runstate;
    if (r.state !== state) {
      r.time[r.state as 0 | 1 | 2 | 3] += at - r.entryTime;
      r.state = state;
      r.entryTime = at;
    }
    updateRunstateArea(this);
    if (state === RUNSTATE_running) this.updateVcpuTime();
  }

  // ---- vcpu_info

  /** Guest-physical address of a vcpu_info byte, or null while it is in the (unmapped or mapped) shared_info. */
  private vcpuInfoBase(): number | null {
    return this.vcpuInfoGpa;
  }

  vcpuInfoRead8(off: number): number {
    const b = this.vcpuInfoBase();
    return b === null ? this.shinfo.read8(offsetOf("x86_64", "shared_info", "vcpu_info[0]") + off) : this.cpu.mem.read8(b + off);
  }

  vcpuInfoWrite8(off: number, v: number): void {
    const b = this.vcpuInfoBase();
    if (b === null) this.shinfo.write8(offsetOf("x86_64", "shared_info", "vcpu_info[0]") + off, v);
    else this.cpu.mem.write8(b + off, v & 0xff);
  }

  vcpuInfoReadBytes(len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let k = 0; k < len; k++) out[k] = this.vcpuInfoRead8(k);
    return out;
  }

  vcpuInfoWriteBytes(off: number, b: Uint8Array): void {
    for (let k = 0; k < b.length; k++) this.vcpuInfoWrite8(off + k, b[k]!);
  }

  /**
   * Xen update_vcpu_system_time() / KVM's pvclock update: vcpu_info.time (the same offset,
   * 32, in both layouts) with the version protocol. 1 TSC tick = 1 ns: mul 2^31, shift 1.
   */
  updateVcpuTime(): void {
    const abi = shinfoAbi(this.has32bitShinfo);
    const base = offsetOf(abi, "vcpu_info", "time");
    const ver = base + offsetOf(abi, "vcpu_time_info", "version");
    let v = 0;
    for (let k = 0; k < 4; k++) v |= this.vcpuInfoRead8(ver + k) << (8 * k);
    const t = new Uint8Array(32);
    const odd = ((v >>> 0) + 1) | 1;
    const put32 = (off: number, x: number) => { for (let k = 0; k < 4; k++) t[off + k] = (x >>> (8 * k)) & 0xff; };
    const put64 = (off: number, x: number) => { put32(off, x % 4294967296); put32(off + 4, Math.floor(x / 4294967296)); };
    put32(offsetOf(abi, "vcpu_time_info", "version"), odd);
    put64(offsetOf(abi, "vcpu_time_info", "tsc_timestamp"), Math.max(0, this.cpu.tsc()));
    put64(offsetOf(abi, "vcpu_time_info", "system_time"), this.now());
    put32(offsetOf(abi, "vcpu_time_info", "tsc_to_system_mul"), 0x80000000);
    t[offsetOf(abi, "vcpu_time_info", "tsc_shift")] = 1;
    this.vcpuInfoWriteBytes(base, t);
    put32(0, odd + 1);
    this.vcpuInfoWriteBytes(ver, t.subarray(0, 4));
  }

  /** evtchn_pending_sel of vcpu 0 in the latched layout: its offset in vcpu_info and its width in bits. */
  pendingSel(): { off: number; bits: number } {
    const abi = shinfoAbi(this.has32bitShinfo);
    return { off: offsetOf(abi, "vcpu_info", "evtchn_pending_sel"), bits: fieldOf(abi, "vcpu_info", "evtchn_pending_sel").size * 8 };
  }

  /**
   * vcpu_mark_events_pending(): set evtchn_upcall_pending; on its 0 -> 1 edge,
   * hvm_assert_evtchn_irq(): the per-vCPU upcall vector, else the callback vector, is
   * injected (through the guest's IDT once IF = 1). GSI and PCI INTx callbacks need a
   * vIOAPIC/vPIC, which the model does not have: recorded, not delivered.
   */
  markEventsPending(): void {
    const off = offsetOf("x86_64", "vcpu_info", "evtchn_upcall_pending");
    if ((this.vcpuInfoRead8(off) & 1) !== 0) return;
    this.vcpuInfoWrite8(off, 1);
    const via = this.callbackVia;
    if (this.upcallVector !== 0) {
      this.cpu.injectInterrupt(this.upcallVector);
      this.event("upcall", `vector 0x${this.upcallVector.toString(16)} (HVMOP_set_evtchn_upcall_vector)`);
    } else if (via.type === "vector") {
      this.cpu.injectInterrupt(via.vector);
      this.event("upcall", `vector 0x${via.vector.toString(16)} (HVM_PARAM_CALLBACK_IRQ vector)`);
    } else if (via.type !== "none") {
      this.event("upcall", `callback via ${via.type}: no vIOAPIC/vPIC in the model, not delivered`);
    } else {
      this.event("upcall", "no callback set: evtchn_upcall_pending only");
    }
  }

  /** The guest RAM page of a GFN, for areas registered by frame number. */
  gfnIsRam(gfn: number): boolean {
    return gfn >= 0 && (gfn + 1) * PAGE_SIZE <= this.cpu.mem.bytes;
  }

  /** Wallclock rewrite in the current layout, with the side's versioning. */
  rewriteWallclock(kvm: boolean, why: string): void {
    writeWallclock(this.shinfo, shinfoAbi(this.has32bitShinfo), kvm);
    this.event("wallclock", `${why}: written at the ${this.has32bitShinfo ? "compat" : "native"} offsets`);
  }
}
