// The x86-64 processor: the run loop, the decoded-instruction cache, effective
// addresses, and the fast memory paths. Instruction semantics live in exec/, one file
// per group; the page walk in mmu.ts; the opcode map in decode/.

import type { GuestMemory } from "../mem/memory.js";
import { PAGE_SHIFT } from "../mem/memory.js";
import { cpuFeatures, DEFAULT_CPU_MODEL, type CpuFeatures, type CpuModel } from "./cpuid.js";
import { Decoder, MAX_INSN_LEN, type ByteSource } from "./decode/decoder.js";
import { BASE_MOFFS, BASE_RIP, Insn, REG8_HIGH } from "./decode/insn.js";
import {
  CpuFault, DB, FAULT_HARDWARE, FAULT_PRIVILEGED_SOFTWARE, FAULT_SOFTWARE, GP, PF, RunStop, SS as SS_FAULT,
} from "./exceptions.js";
import { deliverEvent, deliverEventOnce, EventKind, TripleFault, type Event } from "./events.js";
import {
  ACC_FETCH, ACC_READ, ACC_WRITE, flushTlb, pageNumber, TLB_MASK, TLB_SIZE, translate, type MmuHost,
} from "./mmu.js";
import { MsrStore } from "./msr.js";
import { OPEN_BUS, type PortBus } from "./exec/io.js";
import {
  ATTR_DB, ATTR_L, ATTR_P, CR0_PE, CR4_SMAP, CS, CpuState, EFER_LMA, FS, SS, type U64,
} from "./state.js";
import { IF, RF, TF, VM } from "./flags.js";

/** DR6.BS: the #DB was a single-step trap. */
const DR6_BS = 1 << 14;

/** How a run ended (cases.md, exit.kind). */
export type Exit =
  | { kind: "end" }
  | { kind: "hlt" }
  | { kind: "exception"; vector: number; errorCode: number | null; rip: number }
  | { kind: "triple-fault" }
  | { kind: "step-limit" }
  | { kind: "unsupported"; bytes: Uint8Array; rip: number; what?: string }
  | { kind: "crash"; message: string };

/**
 * What the hypervisor model supplies to the CPU (src/hv implements it): VMCALL/VMMCALL
 * exits. The CPU knows nothing of Xen or KVM; without a hypervisor both raise #UD.
 */
export interface HypervisorHooks {
  /** The guest executed VMCALL or VMMCALL; may change registers and memory, or throw a CpuFault. */
  hypercallInstruction(cpu: Cpu, insn: "vmcall" | "vmmcall"): void;
  /**
   * RDMSR at CPL 0 (after the privilege check): the value of an MSR the hypervisor
   * intercepts, or null to leave `index` to the processor. May throw a CpuFault (#GP).
   */
  readMsr?(cpu: Cpu, index: number): U64 | null;
  /** WRMSR at CPL 0: true when the hypervisor took the write, false to leave it to the processor. May throw. */
  writeMsr?(cpu: Cpu, index: number, lo: number, hi: number): boolean;
  /** CPUID: what the guest sees, given what the processor reports (`native`, [EAX, EBX, ECX, EDX]). */
  cpuid?(cpu: Cpu, leaf: number, subleaf: number, native: readonly [number, number, number, number]): [number, number, number, number];
  /**
   * Execution reached a linear address inside the host code range registered with
   * `cpu.setHostCode()` (after the fetch's paging checks): the hypervisor runs its own
   * software path there, modelled outside the CPU, and leaves the CPU where that path
   * ends (registers, memory, RIP). Counts as one retired instruction. May throw a CpuFault
   * or a RunStop (with `cpu.exit` set).
   */
  enterHost?(cpu: Cpu): void;
}

/** A decision the configuration made: at which step and instruction, which rule, what it chose and why. */
export interface Decision {
  step: number;
  rip: number;
  rule: string;
  choice: string;
}

/** The processor state a snapshot keeps. */
export class CpuSnapshot extends CpuState {
  readonly msr = new MsrStore();
  cpl = 0;
  steps = 0;
}

/** Decoded instructions of one physical page for one code size. */
class CodePage {
  readonly insns: (Insn | undefined)[] = new Array<Insn | undefined>(4096);
  /** The offsets filled, so a page can be emptied for reuse without touching all 4096. */
  readonly filled: number[] = [];

  clear(): void {
    for (const off of this.filled) this.insns[off] = undefined;
    this.filled.length = 0;
  }
}

const TWO32 = 4294967296;
/** Canonical addresses lie in [-2^47, 2^47) once sign-extended (SDM Vol. 1 3.3.7.1). */
const CANON_LIMIT = 140737488355328;

export class Cpu extends CpuState implements MmuHost {
  readonly mem: GuestMemory;
  readonly model: CpuModel;
  readonly features: CpuFeatures;
  readonly msr = new MsrStore();

  readonly tlbR = new Float64Array(TLB_SIZE).fill(NaN);
  readonly tlbW = new Float64Array(TLB_SIZE).fill(NaN);
  readonly tlbX = new Float64Array(TLB_SIZE).fill(NaN);
  readonly tlbPpn = new Int32Array(TLB_SIZE);
  readonly tlbGlobal = new Uint8Array(TLB_SIZE);

  cpl = 0;
  /** Code size of the current CS: 2, 4 or 8 bytes. */
  codeSize = 8;
  /** Stack address size (SS.B, or 8 in 64-bit mode). */
  stackSize = 8;
  /** RIP values at or above this wrap (16/32-bit code) or are not canonical (64-bit). */
  private ripWrap = CANON_LIMIT;

  /** Instructions retired (REP iterations count one each). Drives RDTSC. */
  steps = 0;
  stepLimit = 100000;
  /** Stop with exit `end` when RIP reaches this address (NaN: never). */
  stopRip = NaN;
  exit: Exit | null = null;
  /** RIP of the instruction being executed. */
  insnRip = 0;
  /** High half of the last 64-bit memory read (and of 64-bit helper results). */
  rhi = 0;
  /** Added to the step count to form the time-stamp counter (IA32_TSC writes move it). */
  tscOffset = 0;
  /** The hypervisor this CPU runs under, or null for a bare CPU. */
  hypervisor: HypervisorHooks | null = null;
  /** Devices on the I/O ports (none by default: reads are all ones). */
  ports: PortBus = OPEN_BUS;
  /** The hypervisor's host code range [hostCodeBase, hostCodeEnd) of linear addresses (empty: none). */
  private hostCodeBase = 0;
  private hostCodeEnd = 0;
  /** The pseudo-instruction that hands a fetch in the host code range to the hypervisor. Never cached. */
  private readonly hostInsn = new Insn((cpu) => cpu.hypervisor!.enterHost!(cpu));

  /**
   * Register the linear range where the hypervisor's own software paths live (Xen's
   * entry points that LSTAR, CSTAR, the IDT or FRED_CONFIG name): reaching it calls
   * HypervisorHooks.enterHost instead of decoding. `len` 0 removes the range.
   */
  setHostCode(base: number, len: number): void {
    this.hostCodeBase = base;
    this.hostCodeEnd = base + len;
    this.fetchBase = NaN;
  }

  // Decode cache, keyed by physical page and code size.
  private readonly decoder: Decoder;
  private readonly codePages = new Map<number, CodePage>();
  private readonly freeCodePages: CodePage[] = [];
  /** RIP of the first byte of the current fetch page, or NaN; and that page's cache. */
  private fetchBase = NaN;
  private fetchPage: CodePage = new CodePage();
  /**
   * Where the CPU model's configuration (vendor, FRED) decided an outcome, in order; null
   * (the default) records nothing. The differential runner turns it on to explain a finding.
   */
  decisions: Decision[] | null = null;

  /** Record a configuration-dependent decision (a no-op unless `decisions` is on). */
  decide(rule: string, choice: string): void {
    if (this.decisions !== null) this.decisions.push({ step: this.steps, rip: this.insnRip, rule, choice });
  }

  /** Instructions decoded (decode-cache misses), for the benchmark's hit rate. */
  decodes = 0;
  /** Page-table walks (TLB misses with paging on), for the benchmark. */
  pageWalks = 0;

  constructor(mem: GuestMemory, model: CpuModel = DEFAULT_CPU_MODEL) {
    super();
    this.mem = mem;
    this.model = model;
    this.features = cpuFeatures(model);
    this.decoder = new Decoder(model.vendor, this.features);
    mem.onWatchedWrite = (ppn) => this.invalidateCode(ppn);
  }

  // ---------------------------------------------------------------- mode

  /** Recompute the code and stack sizes after CR0, EFER, CS, SS or EFLAGS.VM change. */
  refreshMode(): void {
    const attr = this.segAttr[CS]!;
    if ((this.cr0 & CR0_PE) === 0 || (this.flagsOther & VM) !== 0) this.codeSize = 2;
    else if ((this.efer & EFER_LMA) !== 0 && (attr & ATTR_L) !== 0) this.codeSize = 8;
    else this.codeSize = (attr & ATTR_DB) !== 0 ? 4 : 2;
    if (this.codeSize === 8) this.stackSize = 8;
    else if ((this.cr0 & CR0_PE) === 0 || (this.flagsOther & VM) !== 0) this.stackSize = 2;
    else this.stackSize = (this.segAttr[SS]! & ATTR_DB) !== 0 ? 4 : 2;
    this.ripWrap = this.codeSize === 8 ? CANON_LIMIT : this.codeSize === 4 ? TWO32 : 0x10000;
    this.fetchBase = NaN;
  }

  /** The processor mode name used in results. */
  modeName(): "real16" | "prot32" | "long64" | "compat32" | "prot16" | "v8086" | "compat16" {
    if ((this.cr0 & CR0_PE) === 0) return "real16";
    if ((this.flagsOther & VM) !== 0) return "v8086";
    if ((this.efer & EFER_LMA) !== 0) {
      return this.codeSize === 8 ? "long64" : this.codeSize === 4 ? "compat32" : "compat16";
    }
    return this.codeSize === 4 ? "prot32" : "prot16";
  }

  /** The time-stamp counter: deterministic, derived from the step count. */
  tsc(): number {
    return this.steps + this.tscOffset;
  }

  onTlbChange(): void {
    this.fetchBase = NaN;
    this.sysVpn[0] = NaN;
    this.sysVpn[1] = NaN;
  }

  flushTlb(): void {
    flushTlb(this, false);
  }

  // ---------------------------------------------------------------- run loop

  /** Run until an exit; the result is in `this.exit`. */
  run(): Exit {
    this.exit = null;
    while (this.exit === null) {
      try {
        this.loop();
      } catch (e) {
        if (!(e instanceof CpuFault)) this.stopWith(e);
        else {
          // Delivering the exception can itself end the run (a triple fault, a task gate).
          try {
            this.fault(e);
          } catch (f) {
            this.stopWith(f);
          }
        }
      }
    }
    return this.exit;
  }

  /** The run stops on something thrown other than an exception to deliver. */
  private stopWith(e: unknown): void {
    if (e instanceof TripleFault) this.exit = { kind: "triple-fault" };
    else if (e instanceof RunStop) {
      // RunStop's thrower has set the exit, except for HLT and a triple fault.
      if (e.reason === "hlt") this.exit = { kind: "hlt" };
      else if (e.reason === "triple-fault") this.exit = { kind: "triple-fault" };
    } else {
      this.rip = this.insnRip;
      this.exit = { kind: "crash", message: e instanceof Error ? `${e.message}` : String(e) };
      this.crashError = e;
    }
  }

  /** The internal error behind a `crash` exit (with its stack, for reports). */
  crashError: unknown = null;

  private loop(): void {
    const limit = this.stepLimit;
    for (;;) {
      if (this.steps >= limit) {
        this.exit = { kind: "step-limit" };
        return;
      }
      if (this.eventPending && this.serviceEvents()) continue;
      const rip = this.rip;
      if (rip === this.stopRip) {
        this.exit = { kind: "end" };
        return;
      }
      const off = rip - this.fetchBase;
      let i: Insn | undefined;
      if (off >= 0 && off < 4096) i = this.fetchPage.insns[off];
      // Set first: a fault while fetching (#PF, #GP) belongs to this instruction.
      this.insnRip = rip;
      if (i === undefined) i = this.fetchSlow(rip);
      let next = rip + i.len;
      if (next >= this.ripWrap) next = this.wrapRip(next);
      this.rip = next;
      i.fn(this, i);
      this.steps++;
      if (this.eventPending) this.afterInstruction();
    }
  }

  private wrapRip(next: number): number {
    if (this.codeSize === 8) return next; // the next fetch raises #GP on a non-canonical RIP
    return this.codeSize === 4 ? next % TWO32 : next & 0xffff;
  }

  // ---------------------------------------------------------------- events

  /** `stop`: the first exception ends the run; `deliver`: through the IVT/IDT/FRED. */
  exceptionMode: "stop" | "deliver" = "stop";
  /** Something needs the slow path at an instruction boundary (see serviceEvents). */
  private eventPending = false;
  /** External interrupt vectors waiting for IF = 1, oldest first. */
  private readonly pendingInterrupts: number[] = [];
  /** Interrupts are blocked before the instruction at this step count (STI, MOV SS). */
  private shadowAt = -1;
  /** TF was set when the current instruction began: #DB (single step) follows it. */
  private stepTrap = false;

  /** The hypervisor model raises an external interrupt (delivered when IF = 1). */
  injectInterrupt(vector: number): void {
    this.pendingInterrupts.push(vector & 0xff);
    this.eventPending = true;
  }

  /** STI / MOV SS / POP SS: block interrupts until after the next instruction. */
  setInterruptShadow(): void {
    this.shadowAt = this.steps + 1;
    this.eventPending = true;
  }

  /** True while interrupts are blocked by STI or MOV SS (FRED's SS word bit 16). */
  stiBlocking(): boolean {
    return this.shadowAt === this.steps;
  }

  /** A single-step #DB is due after the next instruction (ERETx with TF, POPF...). */
  pendSingleStep(): void {
    this.eventPending = true;
  }

  override setRflags(v: number): void {
    super.setRflags(v);
    if ((v & (TF | IF | RF)) !== 0) this.eventPending = true;
    if ((v & RF) !== 0) this.rfWrites++;
  }

  /** Writes of RF = 1 (IRET, ERETx, a case's registers), and their count at the instruction's start. */
  private rfWrites = 0;
  private rfWritesAtStart = 0;

  /**
   * Before an instruction: deliver a pending external interrupt when IF = 1 and no
   * shadow; arm the single-step trap when TF = 1. Returns true when an event was
   * delivered (the loop then starts again at the handler).
   */
  private serviceEvents(): boolean {
    const shadow = this.shadowAt === this.steps;
    if (!shadow && this.pendingInterrupts.length > 0 && (this.flagsOther & IF) !== 0) {
      const vector = this.pendingInterrupts.shift()!;
      this.insnRip = this.rip;
      this.raiseEvent({ vector, errorCode: null, kind: EventKind.External, returnRip: this.rip, data: 0 });
      this.eventPending = true;
      return true;
    }
    this.stepTrap = (this.flagsOther & TF) !== 0;
    this.rfWritesAtStart = this.rfWrites;
    const rf = (this.flagsOther & RF) !== 0;
    this.eventPending = this.stepTrap || rf || this.pendingInterrupts.length > 0 || this.shadowAt >= this.steps;
    return false;
  }

  /**
   * An event was delivered: a single-step trap armed by the instruction that raised it
   * is dropped (TF is saved in the frame and comes back with IRET/ERETx; SDM Vol. 3A
   * 18.3.1.4, Bochs `interrupt()` "traps will resume upon return").
   */
  discardTraps(): void {
    this.stepTrap = false;
  }

  /** After an instruction: the single-step trap (#DB with DR6.BS, SDM Vol. 3A 18.3.1.4). */
  private afterInstruction(): void {
    // RF lasts one instruction: cleared when one completes, unless it loaded RF itself
    // (IRET, ERETx) (SDM Vol. 3A 18.3.1.1).
    if ((this.flagsOther & RF) !== 0 && this.rfWrites === this.rfWritesAtStart) this.flagsOther &= ~RF;
    if (this.stepTrap) {
      this.stepTrap = false;
      throw new CpuFault(DB, null, true, FAULT_HARDWARE, DR6_BS);
    }
  }

  /** FRED event data of an exception: CR2 for #PF, the DR6 bits for #DB. */
  faultData(e: CpuFault): number {
    if (e.vector === PF) return this.cr2Hi * TWO32 + (this.cr2Lo >>> 0);
    return e.data;
  }

  private fault(e: CpuFault): void {
    // Faults report the faulting instruction; traps the instruction after it.
    if (!e.trap) this.rip = this.insnRip;
    if (this.exceptionMode === "stop") {
      this.exit = { kind: "exception", vector: e.vector, errorCode: e.errorCode, rip: this.insnRip };
      return;
    }
    const kind = e.source === FAULT_SOFTWARE ? EventKind.SoftwareException
      : e.source === FAULT_PRIVILEGED_SOFTWARE ? EventKind.PrivilegedSoftwareException : EventKind.Exception;
    // A delivered exception is a step of the budget: a handler that faults on its own
    // first instruction must end in step-limit, not loop without retiring anything.
    this.steps++;
    this.raiseEvent({
      vector: e.vector,
      errorCode: e.errorCode,
      kind,
      returnRip: this.rip,
      data: this.faultData(e),
      insnLen: kind === EventKind.Exception ? 0 : this.rip - this.insnRip,
      // No instruction breakpoints in this model: every non-trap exception is a fault.
      fault: !e.trap,
    });
  }

  /**
   * Deliver an event now (an exception in `deliver` mode, INT n, an external interrupt).
   * In `stop` mode a fault during delivery ends the run as that exception.
   */
  raiseEvent(ev: Event): void {
    try {
      if (this.exceptionMode === "stop") deliverEventOnce(this, ev);
      else deliverEvent(this, ev);
      this.discardTraps();
    } catch (e) {
      if (e instanceof TripleFault) {
        this.exit = { kind: "triple-fault" };
        throw new RunStop("triple-fault");
      }
      throw e;
    }
  }

  /** End the run at an instruction the emulator does not implement. */
  stopUnsupported(what?: string): never {
    this.rip = this.insnRip;
    this.exit = { kind: "unsupported", bytes: this.peekCode(this.insnRip), rip: this.insnRip };
    if (what !== undefined) this.exit.what = what;
    throw new RunStop("unsupported");
  }

  /** Up to 15 readable code bytes at `rip`. */
  peekCode(rip: number): Uint8Array {
    const out: number[] = [];
    try {
      for (let n = 0; n < MAX_INSN_LEN; n++) out.push(this.fetchByte(rip, n));
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
    }
    return Uint8Array.from(out);
  }

  // ---------------------------------------------------------------- fetch and decode cache

  /** The linear address of code offset `rip` (+ `n`), with the code-segment checks. */
  private codeLinear(rip: number, n: number): number {
    let a = rip + n;
    if (this.codeSize === 8) {
      if (a >= CANON_LIMIT || a < -CANON_LIMIT) throw new CpuFault(GP, 0);
      return a;
    }
    a = this.codeSize === 4 ? a % TWO32 : a & 0xffff;
    // Fetching past the CS limit raises #GP(0) (SDM Vol. 3A 5.3).
    if (a > this.segLimit[CS]!) throw new CpuFault(GP, 0);
    return (this.segBase(CS) + a) % TWO32;
  }

  private fetchByte(rip: number, n: number): number {
    const lin = this.codeLinear(rip, n);
    const pa = this.translateFor(lin, ACC_FETCH);
    return pa < this.mem.bytes ? this.mem.pages[pa >>> PAGE_SHIFT]![pa & 0xfff]! : 0xff;
  }

  private readonly byteSource: ByteSource & { rip: number } = {
    rip: 0,
    byte: (n: number) => this.fetchByte(this.byteSource.rip, n),
  };

  private fetchSlow(rip: number): Insn {
    const lin = this.codeLinear(rip, 0);
    const pa = this.translateFor(lin, ACC_FETCH);
    // Host code: modelled by the hypervisor, not decoded (and so never in the cache).
    if (lin < this.hostCodeEnd && lin >= this.hostCodeBase && this.hypervisor?.enterHost !== undefined) return this.hostInsn;
    const ppn = Math.floor(pa / 4096);
    const off = pa & 0xfff;
    const inRam = ppn < this.mem.npages;
    let page: CodePage | undefined;
    if (inRam) {
      const key = ppn * 8 + this.decodeMode();
      page = this.codePages.get(key);
      if (page === undefined) {
        page = this.freeCodePages.pop() ?? new CodePage();
        this.codePages.set(key, page);
      }
      const cached = page.insns[off];
      if (cached !== undefined) {
        this.setFetchWindow(rip, off, page);
        return cached;
      }
    }
    this.byteSource.rip = rip;
    this.decodes++;
    const i = this.decoder.decode(this.byteSource, this.codeSize, (this.decodeMode() & 4) !== 0);
    // Cache only instructions wholly inside one RAM page: the page's mapping and its
    // contents are then all the cache depends on. The page is write-watched so a
    // store to it (self-modifying code) drops its instructions.
    if (page !== undefined && off + i.len <= 4096) {
      page.insns[off] = i;
      page.filled.push(off);
      if (!this.mem.isWatched(ppn)) this.mem.watch(ppn);
      this.setFetchWindow(rip, off, page);
    }
    return i;
  }

  private setFetchWindow(rip: number, off: number, page: CodePage): void {
    // The window is the RIP range that maps onto this page without wrapping.
    const base = rip - off;
    if (this.codeSize === 8 || (base >= 0 && base + 4096 <= (this.codeSize === 4 ? TWO32 : 0x10000) && this.segBase(CS) % 4096 === 0)) {
      this.fetchBase = base;
      this.fetchPage = page;
    }
  }

  /**
   * What decoding depends on besides the bytes: the code size, and real or virtual-8086
   * mode (where VEX prefixes do not exist). 0..7, the low bits of a decode-cache key.
   */
  private decodeMode(): number {
    const real = (this.cr0 & CR0_PE) === 0 || (this.flagsOther & VM) !== 0;
    return (this.codeSize >> 1) | (real ? 4 : 0);
  }

  /** A watched code page is about to be written: forget what was decoded from it. */
  invalidateCode(ppn: number): void {
    for (let m = 0; m < 8; m++) {
      const page = this.codePages.get(ppn * 8 + m);
      if (page === undefined) continue;
      this.codePages.delete(ppn * 8 + m);
      // Kept for reuse: a fuzzer writes new code into the same pages for every case.
      if (this.freeCodePages.length < 16) {
        page.clear();
        this.freeCodePages.push(page);
      }
    }
    this.fetchBase = NaN;
  }

  // ---------------------------------------------------------------- effective addresses

  /**
   * The effective address (offset, before the segment base) of the memory operand of
   * `i`, at its address size: the low half is returned, the high half left in `rhi`.
   * LEA stores exactly this.
   */
  effOffset(i: Insn): number {
    const asize = i.asize;
    const base = i.base;
    if (asize === 8) {
      let lo: number;
      let hi: number;
      if (base === BASE_RIP) {
        // RIP-relative: relative to the next instruction (this.rip is already there).
        const a = this.rip + i.disp;
        lo = a % TWO32;
        hi = Math.floor(a / TWO32);
        if (lo < 0) lo += TWO32;
      } else if (base === BASE_MOFFS) {
        this.rhi = i.dispHi;
        return i.disp;
      } else {
        // lo may go negative or past 2^32 here; the carry into hi is taken below.
        lo = i.disp;
        hi = 0;
        if (base >= 0) {
          lo += this.lo[base]! >>> 0;
          hi += this.hi[base]!;
        }
        const index = i.index;
        if (index >= 0) {
          const s = 1 << i.scale;
          lo += (this.lo[index]! >>> 0) * s;
          hi += this.hi[index]! * s;
        }
      }
      if (lo >= TWO32 || lo < 0) {
        const carry = Math.floor(lo / TWO32);
        lo -= carry * TWO32;
        hi += carry;
      }
      this.rhi = hi | 0;
      return lo | 0;
    }
    let off: number;
    if (base === BASE_RIP) {
      off = this.rip + i.disp;
    } else {
      off = i.disp;
      if (base >= 0 && base !== BASE_MOFFS) off += this.lo[base]!;
      if (i.index >= 0) off += this.lo[i.index]! << i.scale;
    }
    this.rhi = 0;
    return asize === 4 ? off | 0 : off & 0xffff;
  }

  /**
   * The linear address of the memory operand of `i`: segment base included, checked
   * for canonical form in 64-bit mode (#GP(0), or #SS(0) for the stack segment).
   */
  ea(i: Insn, size = i.osize): number {
    if (this.codeSize !== 8) return this.segAddr(i.seg, this.effOffset(i), 0, size, false);
    if (i.asize === 8) {
      // Fast path: when every register term is below 2^52 in magnitude the double sum
      // is the exact integer, and within the canonical range it equals the 64-bit
      // (mod 2^64) result. Anything else takes the exact 32-bit-halves path.
      const base = i.base;
      let a: number;
      if (base >= 0 && base < 16) {
        const h = this.hi[base]!;
        if (((h + 0x100000) >>> 21) !== 0) return this.eaExact(i);
        a = h * TWO32 + (this.lo[base]! >>> 0) + i.disp;
      } else if (base === BASE_RIP) {
        a = this.rip + i.disp;
      } else if (base === BASE_MOFFS) {
        return this.eaExact(i);
      } else {
        a = i.disp;
      }
      const index = i.index;
      if (index >= 0) {
        const h = this.hi[index]!;
        if (((h + 0x20000) >>> 18) !== 0) return this.eaExact(i);
        a += (h * TWO32 + (this.lo[index]! >>> 0)) * (1 << i.scale);
      }
      if (i.seg >= FS) a += this.segBase(i.seg);
      if (a >= CANON_LIMIT || a < -CANON_LIMIT) throw new CpuFault(i.seg === SS ? SS_FAULT : GP, 0);
      return a;
    }
    return this.eaExact(i);
  }

  /** ea() computed exactly on 32-bit halves (any register values). */
  private eaExact(i: Insn): number {
    const lo = this.effOffset(i);
    return this.linear(i.seg, lo, i.asize === 8 ? this.rhi : 0);
  }

  /**
   * The linear address of a memory operand `i` is about to write: as ea(), and outside
   * 64-bit mode the segment must be writable (SDM Vol. 3A 5.5).
   */
  eaW(i: Insn, size = i.osize): number {
    if (this.codeSize !== 8) return this.segAddr(i.seg, this.effOffset(i), 0, size, true);
    return this.ea(i, size);
  }

  /**
   * seg:offset -> linear for an access of `size` bytes. In 64-bit mode: the FS/GS base and
   * the canonical check. Elsewhere: the segment's limit (expand-up or expand-down) and,
   * in protected mode, its type (SDM Vol. 3A 5.3, 5.5): #GP(0), or #SS(0) for SS.
   */
  segAddr(seg: number, lo: number, hi: number, size: number, write: boolean): number {
    if (this.codeSize === 8) return this.linear(seg, lo, hi);
    const off = lo >>> 0;
    this.segCheck(seg, off, size, write);
    return (this.segBase(seg) + off) % TWO32;
  }

  /**
   * The linear address of `i`'s memory operand without segment checks (INVLPG): NaN for
   * a non-canonical address in 64-bit mode, which INVLPG treats as a no-op.
   */
  linearNoCheck(i: Insn): number {
    const lo = this.effOffset(i);
    if (this.codeSize !== 8) return (this.segBase(i.seg) + (lo >>> 0)) % TWO32;
    try {
      return this.linear(i.seg, lo, i.asize === 8 ? this.rhi : 0);
    } catch (e) {
      if (e instanceof CpuFault) return NaN;
      throw e;
    }
  }

  /** The limit and type checks of a segmented access (not in 64-bit mode). */
  segCheck(seg: number, off: number, size: number, write: boolean): void {
    const attr = this.segAttr[seg]!;
    const vector = seg === SS ? SS_FAULT : GP;
    if ((this.cr0 & CR0_PE) !== 0 && (this.flagsOther & VM) === 0) {
      // A null selector leaves the register unusable; code is never writable and an
      // execute-only code segment is not readable.
      if ((attr & ATTR_P) === 0) throw new CpuFault(vector, 0);
      if (write ? (attr & 0xa) !== 0x2 : (attr & 0xa) === 0x8) throw new CpuFault(vector, 0);
    }
    const limit = this.segLimit[seg]!;
    const last = off + size - 1;
    if ((attr & 0x1c) === 0x14) {
      // Expand-down data: valid offsets are (limit, 0xFFFF or 0xFFFFFFFF by the B flag].
      const upper = (attr & ATTR_DB) !== 0 ? 0xffffffff : 0xffff;
      if (off <= limit || last > upper) throw new CpuFault(vector, 0);
    } else if (last > limit) {
      throw new CpuFault(vector, 0);
    }
  }

  /** Segment `seg` + offset (lo, hi) -> linear address, with the mode's checks. */
  linear(seg: number, lo: number, hi: number): number {
    if (this.codeSize === 8) {
      let l = lo >>> 0;
      let h = hi;
      if (seg >= FS) {
        l += this.segBaseLo[seg]! >>> 0;
        h += this.segBaseHi[seg]!;
        if (l >= TWO32) {
          l -= TWO32;
          h++;
        }
        h |= 0;
      }
      if (((h << 16) >> 16) !== h) throw new CpuFault(seg === SS ? SS_FAULT : GP, 0);
      return h * TWO32 + l;
    }
    return (this.segBase(seg) + (lo >>> 0)) % TWO32;
  }

  /** Linear address of a `size`-byte stack slot at rSP + delta, with the SS checks. */
  stackAddr(delta: number, size: number): number {
    if (this.stackSize === 8) {
      const lo = (this.lo[4]! >>> 0) + delta;
      const hi = (this.hi[4]! + Math.floor(lo / TWO32)) | 0;
      if (((hi << 16) >> 16) !== hi) throw new CpuFault(SS_FAULT, 0);
      return hi * TWO32 + (lo >>> 0);
    }
    const sp = this.stackSize === 4 ? (this.lo[4]! + delta) >>> 0 : (this.lo[4]! + delta) & 0xffff;
    return this.segAddr(SS, sp, 0, size, true);
  }

  // ---------------------------------------------------------------- memory

  /** The physical address of `lin` for an access of `kind`: the TLB, or a walk that fills it. */
  private translateFor(lin: number, kind: number): number {
    const vpn = pageNumber(lin);
    const t = vpn & TLB_MASK;
    const tag = kind === ACC_READ ? this.tlbR[t] : kind === ACC_WRITE ? this.tlbW[t] : this.tlbX[t];
    if (tag === vpn) return this.tlbPpn[t]! * 4096 + (lin & 0xfff);
    return translate(this, lin, kind, this.cpl === 3, true);
  }

  /**
   * Implicit supervisor-mode accesses: descriptor tables, the IDT, the TSS, FRED and
   * IDT stack frames pushed for another privilege level. No TLB fill (the TLB holds the
   * current privilege's view).
   */
  sysRead32(lin: number): number {
    if ((lin & 0xfff) <= 0xffc) {
      // One page: one translation.
      const pa = this.sysTranslate(lin, ACC_READ);
      if (pa + 4 <= this.mem.bytes) return this.mem.read32(pa);
    }
    let v = 0;
    for (let k = 0; k < 4; k++) v |= this.physRead8(this.sysTranslate(this.sysByte(lin, k), ACC_READ)) << (8 * k);
    return v;
  }

  sysWrite32(lin: number, v: number): void {
    const pa: number[] = [];
    for (let k = 0; k < 4; k++) pa.push(this.sysTranslate(this.sysByte(lin, k), ACC_WRITE));
    for (let k = 0; k < 4; k++) this.physWrite8(pa[k]!, (v >>> (8 * k)) & 0xff);
  }

  /**
   * The last page a supervisor-mode implicit access translated, per kind (a walk sets the
   * accessed and dirty bits, so a repeat needs none). Dropped whenever the TLB changes.
   */
  private sysVpn: [number, number] = [NaN, NaN];
  private sysPpn: [number, number] = [0, 0];

  private sysTranslate(lin: number, kind: number): number {
    // At CPL 0 without SMAP the TLB already holds the supervisor's view.
    if (this.cpl === 0 && (this.cr4Lo & CR4_SMAP) === 0) return this.translateFor(lin, kind);
    const k = kind === ACC_WRITE ? 1 : 0;
    const vpn = pageNumber(lin);
    if (this.sysVpn[k] === vpn) return this.sysPpn[k]! * 4096 + (lin & 0xfff);
    const pa = translate(this, lin, kind, false, false);
    // With SMAP the outcome depends on CPL and EFLAGS.AC as well: no caching then.
    if ((this.cr4Lo & CR4_SMAP) !== 0) return pa;
    this.sysVpn[k] = vpn;
    this.sysPpn[k] = Math.floor(pa / 4096);
    return pa;
  }

  /** Linear address of byte k of a system-structure access (32-bit wrap outside long mode). */
  private sysByte(lin: number, k: number): number {
    return (this.efer & EFER_LMA) !== 0 ? lin + k : (lin + k) % TWO32;
  }

  rd8(lin: number): number {
    const vpn = pageNumber(lin);
    const t = vpn & TLB_MASK;
    if (this.tlbR[t] === vpn) return this.mem.pages[this.tlbPpn[t]!]![lin & 0xfff]!;
    return this.readSlow(lin, 1, ACC_READ);
  }

  rd16(lin: number): number {
    const vpn = pageNumber(lin);
    const t = vpn & TLB_MASK;
    const off = lin & 0xfff;
    if (this.tlbR[t] === vpn && off <= 4094) {
      const p = this.mem.pages[this.tlbPpn[t]!]!;
      return p[off]! | (p[off + 1]! << 8);
    }
    return this.readSlow(lin, 2, ACC_READ);
  }

  rd32(lin: number): number {
    const vpn = pageNumber(lin);
    const t = vpn & TLB_MASK;
    const off = lin & 0xfff;
    if (this.tlbR[t] === vpn && off <= 4092) {
      const p = this.mem.pages[this.tlbPpn[t]!]!;
      return p[off]! | (p[off + 1]! << 8) | (p[off + 2]! << 16) | (p[off + 3]! << 24);
    }
    return this.readSlow(lin, 4, ACC_READ);
  }

  /** Returns the low half; the high half is left in `rhi`. */
  rd64(lin: number): number {
    const vpn = pageNumber(lin);
    const t = vpn & TLB_MASK;
    const off = lin & 0xfff;
    if (this.tlbR[t] === vpn && off <= 4088) {
      const p = this.mem.pages[this.tlbPpn[t]!]!;
      this.rhi = p[off + 4]! | (p[off + 5]! << 8) | (p[off + 6]! << 16) | (p[off + 7]! << 24);
      return p[off]! | (p[off + 1]! << 8) | (p[off + 2]! << 16) | (p[off + 3]! << 24);
    }
    const lo = this.readSlow(lin, 4, ACC_READ);
    this.rhi = this.readSlow(lin + 4, 4, ACC_READ);
    return lo;
  }

  /** Read with write intent (the read half of a read-modify-write: faults as a write). */
  rdw(lin: number, size: number): number {
    const vpn = pageNumber(lin);
    const t = vpn & TLB_MASK;
    const off = lin & 0xfff;
    if (this.tlbW[t] === vpn && off <= 4096 - size) {
      const p = this.mem.pages[this.tlbPpn[t]!]!;
      switch (size) {
        case 1: return p[off]!;
        case 2: return p[off]! | (p[off + 1]! << 8);
        case 4: return p[off]! | (p[off + 1]! << 8) | (p[off + 2]! << 16) | (p[off + 3]! << 24);
        default:
          this.rhi = p[off + 4]! | (p[off + 5]! << 8) | (p[off + 6]! << 16) | (p[off + 7]! << 24);
          return p[off]! | (p[off + 1]! << 8) | (p[off + 2]! << 16) | (p[off + 3]! << 24);
      }
    }
    // Check write access to every byte first, then read.
    this.probeWrite(lin, size === 8 ? 8 : size);
    if (size === 8) {
      const lo = this.readSlow(lin, 4, ACC_READ);
      this.rhi = this.readSlow(lin + 4, 4, ACC_READ);
      return lo;
    }
    return this.readSlow(lin, size, ACC_READ);
  }

  wr8(lin: number, v: number): void {
    const vpn = pageNumber(lin);
    const t = vpn & TLB_MASK;
    if (this.tlbW[t] === vpn) {
      const ppn = this.tlbPpn[t]!;
      const mem = this.mem;
      const p = mem.wfast[ppn] === mem.fastEpoch ? mem.pages[ppn]! : mem.prepareWrite(ppn);
      p[lin & 0xfff] = v;
      return;
    }
    this.writeSlow(lin, 1, v);
  }

  wr16(lin: number, v: number): void {
    const vpn = pageNumber(lin);
    const t = vpn & TLB_MASK;
    const off = lin & 0xfff;
    if (this.tlbW[t] === vpn && off <= 4094) {
      const ppn = this.tlbPpn[t]!;
      const mem = this.mem;
      const p = mem.wfast[ppn] === mem.fastEpoch ? mem.pages[ppn]! : mem.prepareWrite(ppn);
      p[off] = v;
      p[off + 1] = v >>> 8;
      return;
    }
    this.writeSlow(lin, 2, v);
  }

  wr32(lin: number, v: number): void {
    const vpn = pageNumber(lin);
    const t = vpn & TLB_MASK;
    const off = lin & 0xfff;
    if (this.tlbW[t] === vpn && off <= 4092) {
      const ppn = this.tlbPpn[t]!;
      const mem = this.mem;
      const p = mem.wfast[ppn] === mem.fastEpoch ? mem.pages[ppn]! : mem.prepareWrite(ppn);
      p[off] = v;
      p[off + 1] = v >>> 8;
      p[off + 2] = v >>> 16;
      p[off + 3] = v >>> 24;
      return;
    }
    this.writeSlow(lin, 4, v);
  }

  wr64(lin: number, lo: number, hi: number): void {
    const vpn = pageNumber(lin);
    const t = vpn & TLB_MASK;
    const off = lin & 0xfff;
    if (this.tlbW[t] === vpn && off <= 4088) {
      const ppn = this.tlbPpn[t]!;
      const mem = this.mem;
      const p = mem.wfast[ppn] === mem.fastEpoch ? mem.pages[ppn]! : mem.prepareWrite(ppn);
      p[off] = lo;
      p[off + 1] = lo >>> 8;
      p[off + 2] = lo >>> 16;
      p[off + 3] = lo >>> 24;
      p[off + 4] = hi;
      p[off + 5] = hi >>> 8;
      p[off + 6] = hi >>> 16;
      p[off + 7] = hi >>> 24;
      return;
    }
    // Both halves must be writable before either is written.
    this.probeWrite(lin, 8);
    this.writeSlow(lin, 4, lo);
    this.writeSlow(lin + 4, 4, hi);
  }

  /** Write `size` bytes of lo (size <= 4) or lo:hi (size 8). */
  wr(lin: number, size: number, lo: number, hi: number): void {
    switch (size) {
      case 1: this.wr8(lin, lo); break;
      case 2: this.wr16(lin, lo); break;
      case 4: this.wr32(lin, lo); break;
      default: this.wr64(lin, lo, hi); break;
    }
  }

  /** Read `size` bytes (1, 2, 4, 8); for 8 the high half goes to `rhi`. */
  rd(lin: number, size: number): number {
    switch (size) {
      case 1: return this.rd8(lin);
      case 2: return this.rd16(lin);
      case 4: return this.rd32(lin);
      default: return this.rd64(lin);
    }
  }

  /** Fault now if any byte of [lin, lin+size) is not writable. */
  probeWrite(lin: number, size: number): void {
    this.translateFor(lin, ACC_WRITE);
    const last = this.addLinear(lin, size - 1);
    if (pageNumber(last) !== pageNumber(lin)) this.translateFor(last, ACC_WRITE);
  }

  /**
   * The linear address of byte `n` of an access at `lin`. Outside 64-bit mode linear
   * addresses wrap at 4 GiB; in 64-bit mode an access whose last byte is not canonical
   * raises #GP(0).
   */
  private addLinear(lin: number, n: number): number {
    const a = lin + n;
    if (this.codeSize !== 8) return a % TWO32;
    if (a >= CANON_LIMIT) throw new CpuFault(GP, 0);
    return a;
  }

  private readSlow(lin: number, size: number, kind: number): number {
    // Translate every page the access touches before reading any byte.
    const pa0 = this.translateFor(lin, kind);
    const lastLin = this.addLinear(lin, size - 1);
    const samePage = pageNumber(lastLin) === pageNumber(lin);
    const pa1 = samePage ? pa0 + size - 1 : this.translateFor(lastLin, kind);
    let v = 0;
    for (let k = 0; k < size; k++) {
      const pa = samePage ? pa0 + k : k === size - 1 ? pa1 : this.translateFor(this.addLinear(lin, k), kind);
      v |= this.physRead8(pa) << (8 * k);
    }
    return v;
  }

  private writeSlow(lin: number, size: number, v: number): void {
    const pa0 = this.translateFor(lin, ACC_WRITE);
    const lastLin = this.addLinear(lin, size - 1);
    const samePage = pageNumber(lastLin) === pageNumber(lin);
    if (!samePage) this.translateFor(lastLin, ACC_WRITE);
    for (let k = 0; k < size; k++) {
      const pa = samePage ? pa0 + k : this.translateFor(this.addLinear(lin, k), ACC_WRITE);
      this.physWrite8(pa, (v >>> (8 * k)) & 0xff);
    }
  }

  /** Physical byte read: RAM, or all ones where nothing answers. */
  physRead8(pa: number): number {
    return pa < this.mem.bytes ? this.mem.read8(pa) : 0xff;
  }

  /** Physical byte write: RAM, or dropped where nothing answers. */
  physWrite8(pa: number, v: number): void {
    if (pa < this.mem.bytes) this.mem.write8(pa, v);
  }

  // ---------------------------------------------------------------- registers by size

  /** Read GPR `r` at `size` bytes; 8-bit r >= 16 names AH..BH. For size 8, hi in `rhi`. */
  getReg(size: number, r: number): number {
    switch (size) {
      case 1: return r >= REG8_HIGH ? (this.lo[r - REG8_HIGH]! >>> 8) & 0xff : this.lo[r]! & 0xff;
      case 2: return this.lo[r]! & 0xffff;
      case 4: return this.lo[r]!;
      default:
        this.rhi = this.hi[r]!;
        return this.lo[r]!;
    }
  }

  /** Write GPR `r` at `size` bytes: 8/16-bit writes merge, 32-bit writes zero the top. */
  setReg(size: number, r: number, lo: number, hi: number): void {
    switch (size) {
      case 1:
        if (r >= REG8_HIGH) {
          const q = r - REG8_HIGH;
          this.lo[q] = (this.lo[q]! & ~0xff00) | ((lo & 0xff) << 8);
        } else {
          this.lo[r] = (this.lo[r]! & ~0xff) | (lo & 0xff);
        }
        break;
      case 2:
        this.lo[r] = (this.lo[r]! & ~0xffff) | (lo & 0xffff);
        break;
      case 4:
        this.lo[r] = lo;
        this.hi[r] = 0;
        break;
      default:
        this.lo[r] = lo;
        this.hi[r] = hi;
        break;
    }
  }

  // ---------------------------------------------------------------- snapshots

  /** Copy the whole processor state (registers, MSRs, counters) into `dst`. */
  saveTo(dst: CpuSnapshot): void {
    this.copyStateTo(dst);
    this.msr.copyTo(dst.msr);
    dst.cpl = this.cpl;
    dst.steps = this.steps;
  }

  /** Load state saved by saveTo(); TLB and fetch window are dropped. */
  loadFrom(src: CpuSnapshot): void {
    // Events in flight belong to the run that is being discarded.
    this.pendingInterrupts.length = 0;
    this.shadowAt = -1;
    this.stepTrap = false;
    src.copyStateTo(this);
    this.eventPending = (this.flagsOther & TF) !== 0;
    src.msr.copyTo(this.msr);
    this.cpl = src.cpl;
    this.steps = src.steps;
    this.refreshMode();
    this.flushTlb();
  }
}

export { ACC_READ, ACC_WRITE, ACC_FETCH };
