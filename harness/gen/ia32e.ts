// The IA-32e program generator: bodies in 64-bit and compatibility mode on the guest kit
// (kit/ia32e.s), weighted towards what the debates touch: MSR and control-register
// writes, SYSCALL/SYSRET/SYSENTER, INT and faults, far transfers between 64-bit and
// compatibility code, dropping to ring 3, VMCALL/VMMCALL; between them, random
// instruction sequences (sequence.ts). Every choice comes from one random source, so a
// seed (or a coverage-guided driver's bytes) gives back the same program.

import { Emit, RAX, RCX, RDX, R11, RSP, type Bits } from "./emit.js";
import { EXCLUDED, EXCLUDED_CODES, SequenceGenerator, type Target } from "./sequence.js";
import { iced, withIcedArena } from "./iced.js";
import { CODE_SELECTOR, BODY, CONT, DATA, DATA_USED, EVENT_STACK, type BodyMode, type Item, type KitMode, type Program } from "./program.js";
import { KIT } from "./kit/ia32e.js";
import { HYPERCALL_KINDS, hypercallItem, type HypercallKind } from "./hypercalls.js";

/** Bump when a change makes the same seed give a different program. */
export const IA32E_GENERATOR = "ia32e@1";
/** The same kit and items, weighted towards hypercalls, for the Xen HVM model. */
export const HVM_GENERATOR = "hvm@1";

const { Register } = iced;
const RING = KIT.symbols.RING;
const SAVED_RSP = KIT.symbols.SAVED_RSP;
const SAVED_FLAGS = KIT.symbols.SAVED_FLAGS;

/**
 * Random sequences: user-level instructions (the native oracle's pools: no CPUID, RDTSC,
 * privileged or descriptor-table instructions, whose effects belong to the system items
 * and the kit), memory operands and the stack in the kit's data region.
 */
const TARGETS: Record<KitMode, Target> = {
  long64: {
    name: "fuzz long64", oracle: "fuzz", mode: "long64", codeBase: BODY, codeSize: 0x10000, pack: false,
    dataBase: DATA, dataSize: DATA_USED, cpl0: false, segments: false, excluded: EXCLUDED, excludedCodes: EXCLUDED_CODES,
    overrides: [Register.ES, Register.CS, Register.SS, Register.DS], checksSegmentTypes: true, missing: [], endingRate: 0,
  },
  compat32: {
    name: "fuzz compat32", oracle: "fuzz", mode: "compat32", codeBase: BODY, codeSize: 0x10000, pack: false,
    dataBase: DATA, dataSize: DATA_USED, cpl0: false, segments: false,
    excluded: new Set([...EXCLUDED].filter((m) => !["bound", "arpl", "into"].includes(m))), excludedCodes: EXCLUDED_CODES,
    overrides: [Register.ES, Register.CS, Register.SS, Register.DS], checksSegmentTypes: true, missing: [], endingRate: 0,
  },
};

/** MSRs the body writes, with values worth trying (SDM Vol. 4; fred-syscall-pv.md 1.1). */
const MSR_WRITES: { name: string; index: number; values: [number, number][] }[] = [
  { name: "IA32_STAR", index: 0xc0000081, values: [[0, 0x00230008], [0, 0x00130008], [0, 0x001b0010]] },
  { name: "IA32_FMASK", index: 0xc0000084, values: [[0, 0], [0x47700, 0], [0x100, 0], [0x200, 0], [0xffffffff, 0]] },
  { name: "IA32_FS_BASE", index: 0xc0000100, values: [[0x1000, 0], [0, 0xffff8000], [0, 0x8000]] },
  { name: "IA32_GS_BASE", index: 0xc0000101, values: [[0x2000, 0], [0, 0xffff8000], [0, 0x8000]] },
  { name: "IA32_KERNEL_GS_BASE", index: 0xc0000102, values: [[0x3000, 0], [0, 0x8000]] },
  { name: "IA32_TSC_AUX", index: 0xc0000103, values: [[7, 0], [0xffffffff, 0]] },
  { name: "IA32_SYSENTER_CS", index: 0x174, values: [[0x08, 0], [0, 0], [0x18, 0]] },
  { name: "an MSR that does not exist", index: 0xc0001234, values: [[0, 0]] },
];
/** MSRs the body reads (not the FRED MSRs: that they exist is the configuration itself). */
const MSR_READS = [0xc0000080, 0xc0000081, 0xc0000082, 0xc0000084, 0xc0000100, 0xc0000102, 0x1234];

/**
 * CR4 bits worth toggling: PGE, FSGSBASE, and FRED (bit 32). Not SMEP or SMAP: the kit's
 * pages are user pages (ring-3 items run from them), so either would stop the kit itself.
 */
const CR4_BITS = [7, 16, 32];
/** CR0 bits: WP, AM. */
const CR0_BITS = [16, 18];

type Rand = () => number;

interface State {
  mode: BodyMode;
  ring: 0 | 3;
}

export class Ia32eGenerator {
  private readonly rnd: Rand;
  private readonly sequences: Record<KitMode, SequenceGenerator>;

  /** With `hypercalls`: programs for the Xen HVM model (hvm@1), mostly hypercalls and mode switches. */
  constructor(random: Rand, private readonly opts: { hypercalls?: boolean } = {}) {
    this.rnd = random;
    this.sequences = {
      long64: new SequenceGenerator(random, TARGETS.long64),
      compat32: new SequenceGenerator(random, TARGETS.compat32),
    };
  }

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)]!;
  }
  private chance(p: number): boolean {
    return this.rnd() < p;
  }

  /**
   * One program of `opts.count` items (4 to 24 when not given), drawn from `opts.kinds`
   * (every kind when not given).
   */
  program(seed: string, opts: { count?: number; kinds?: readonly string[] } = {}): Program {
    return withIcedArena(() => this.draw(seed, opts));
  }

  private draw(seed: string, opts: { count?: number; kinds?: readonly string[] }): Program {
    const hv = this.opts.hypercalls === true;
    // Under the HVM model, also a guest that never enters long mode (a bare prot32 case).
    const start: BodyMode = hv && this.chance(0.2) ? "prot32" : this.chance(0.6) ? "long64" : "compat32";
    const st: State = { mode: start, ring: 0 };
    const n = opts.count ?? this.int(4, 24);
    const allowed = opts.kinds === undefined ? null : new Set(opts.kinds);
    const pick = (w: typeof RING0_WEIGHTS) => (allowed === null ? w : weights(w.list.filter(([k]) => allowed.has(k))));
    const ring0 = pick(start === "prot32" ? HVM_PROT32_WEIGHTS : hv ? HVM_RING0_WEIGHTS : RING0_WEIGHTS);
    const ring3 = pick(hv ? HVM_RING3_WEIGHTS : RING3_WEIGHTS);
    const items: Item[] = [];
    for (let k = 0; k < n; k++) items.push(this.item(st, st.ring === 0 ? ring0 : ring3));
    // The kit's start-up takes about 1000 steps; a body about 20 per item.
    if (hv) return { generator: HVM_GENERATOR, seed, start, items, maxSteps: 5000, hv: "xen-hvm" };
    return { generator: IA32E_GENERATOR, seed, start, items, maxSteps: 5000 };
  }

  private item(st: State, kinds: { list: [string, number][]; total: number }): Item {
    if (kinds.total === 0) return this.make("random", st);
    let r = this.rnd() * kinds.total;
    for (const [kind, w] of kinds.list) {
      r -= w;
      if (r < 0) return this.make(kind, st);
    }
    return this.make("random", st);
  }

  private emit(st: State): Emit {
    return new Emit(st.mode === "long64" ? 64 : 32);
  }

  private done(kind: string, st: State, e: Emit, switchTo?: KitMode): Item {
    const it: Item = { kind, mode: st.mode, ring: st.ring, code: e.bytes() };
    if (e.values.length > 0) it.values = e.values;
    if (switchTo !== undefined) {
      it.switchTo = switchTo;
      st.mode = switchTo;
    }
    return it;
  }

  private make(kind: string, st: State): Item {
    // Without the kit (prot32) only hypercall items: nothing resumes after an exception.
    if (st.mode === "prot32" && !(HYPERCALL_KINDS as readonly string[]).includes(kind)) return this.make("hc-version", st);
    const e = this.emit(st);
    const bits: Bits = e.bits;
    switch (kind) {
      case "random": {
        const t = this.sequences[st.mode as KitMode].generate({ count: 1, maxLength: this.int(2, 10), listing: false })[0]!;
        // The sequence's starting registers and flags, then the sequence.
        const nregs = bits === 64 ? 16 : 8;
        for (let r = 0; r < nregs; r++) {
          if (bits === 64 && t.regs[r]!.hi !== 0) e.movImm64(r, t.regs[r]!.lo, t.regs[r]!.hi);
          else e.movImm32(r, t.regs[r]!.lo);
        }
        e.pushImm(t.rflags | 2).popf();
        e.raw(...t.code);
        return this.done(kind, st, e);
      }
      case "wrmsr": {
        const m = this.pick(MSR_WRITES);
        const [lo, hi] = this.pick(m.values);
        e.movImm32(RCX, m.index).movImm32(RAX, lo).movImm32(RDX, hi).wrmsr();
        return this.done(`wrmsr ${m.name}`, st, e);
      }
      case "rdmsr":
        e.movImm32(RCX, this.pick(MSR_READS)).rdmsr();
        return this.done(kind, st, e);
      case "efer": {
        const bit = this.pick([0, 11]); // SCE, NXE
        e.movImm32(RCX, 0xc0000080).rdmsr().btcImm(RAX, bit).wrmsr();
        return this.done(`efer ^= ${bit === 0 ? "SCE" : "NXE"}`, st, e);
      }
      case "cr4": {
        const bit = bits === 64 ? this.pick(CR4_BITS) : this.pick(CR4_BITS.filter((b) => b < 32));
        // XOR with a mask in a register: the flags it leaves do not depend on the bit's old
        // value (BTC's CF would show CR4.FRED itself).
        e.movFromCr(4, RAX);
        if (bits === 64) e.movImm64(RDX, bit < 32 ? (1 << bit) >>> 0 : 0, bit < 32 ? 0 : 1 << (bit - 32)).raw(0x48, 0x31, 0xd0);
        else e.movImm32(RDX, (1 << bit) >>> 0).raw(0x31, 0xd0); // xor rax/eax, rdx/edx
        e.movToCr(4, RAX);
        return this.done(`cr4 ^= bit ${bit}`, st, e);
      }
      case "cr0": {
        const bit = this.pick(CR0_BITS);
        e.movFromCr(0, RAX).btcImm(RAX, bit).movToCr(0, RAX);
        return this.done(`cr0 ^= bit ${bit}`, st, e);
      }
      case "syscall":
        // (The generator's idea of the ring can be wrong after a faulting SYSRET: always.)
        e.movImm32(RSP, EVENT_STACK);
        // Recognisable RCX and R11 (64-bit only), to see whether SYSCALL replaces them.
        if (bits === 64) e.movImm64(RCX, 0x11112222, 0x33334444).movImm64(R11, 0x55556666, 0x7777);
        else e.movImm32(RCX, 0x11112222);
        e.syscall();
        return this.done(kind, st, e);
      case "sysenter":
        // SYSENTER saves nothing: the kit resumes with the RSP and RFLAGS saved here.
        e.movImm32(RSP, EVENT_STACK);
        e.storeReg(SAVED_RSP, RSP).pushf().popMem(SAVED_FLAGS).sysenter();
        return this.done(kind, st, e);
      case "sysret": {
        // From 64-bit code to ring 3 at the next item (CONT), or at a non-canonical RIP
        // (Intel: #GP(0) at CPL 0; AMD: the fault comes at CPL 3). SYSRETQ to 64-bit code,
        // SYSRETL to compatibility mode.
        if (bits !== 64) return this.make("syscall", st);
        const q = this.chance(0.7);
        const to: BodyMode = q ? "long64" : "compat32";
        e.storeImm32(RING, 3).storeImm32(CONT + 8, CODE_SELECTOR[to][0]);
        if (q && this.chance(0.3)) e.movImm64(RCX, 0, this.pick([0x8000, 0xffff7fff]));
        else e.loadEax(CONT).raw(0x48, 0x89, 0xc1); // mov rcx, rax
        e.movImm32(R11, 0x202).sysret(q);
        const it = this.done(q ? "sysretq" : "sysretl", st, e);
        st.ring = 3;
        st.mode = to;
        return it;
      }
      case "to-ring3": {
        // IRETQ to ring 3 at the next item (64-bit code only builds the frame here).
        if (bits !== 64) return this.make("random", st);
        const to: BodyMode = this.chance(0.6) ? "long64" : "compat32";
        e.storeImm32(RING, 3).storeImm32(CONT + 8, CODE_SELECTOR[to][0]).loadEax(CONT);
        // push 0x2b; push rsp-to-be (data region); push rflags; push cs; push rax; iretq
        e.pushImm(0x2b).pushImm(DATA + 0x2000).pushImm(0x202).pushImm(CODE_SELECTOR[to][3]).raw(0x50, 0x48, 0xcf);
        const it = this.done(`iretq to ring 3 ${to}`, st, e);
        st.ring = 3;
        st.mode = to;
        return it;
      }
      case "switch": {
        const to: BodyMode = st.mode === "long64" ? "compat32" : "long64";
        return this.done(`to ${to}`, st, e, to);
      }
      case "swapgs":
        if (bits !== 64) return this.make("random", st);
        return this.done(kind, st, e.swapgs());
      case "lkgs":
        if (bits !== 64) return this.make("random", st);
        e.movImm32(RAX, this.pick([0, 0x10, 0x28, 0x2b]));
        return this.done(kind, st, e.lkgs(RAX));
      case "vmcall":
        return this.done(kind, st, this.chance(0.5) ? e.vmcall() : e.vmmcall());
      case "int":
        e.movImm32(RSP, EVENT_STACK);
        return this.done(kind, st, e.int(this.pick([3, 0x80])));
      case "into":
        if (bits !== 32) return this.make("int", st);
        e.movImm32(RSP, EVENT_STACK);
        e.movImm32(RAX, 0x7fffffff).raw(0x83, 0xc0, 0x01).into(); // add eax,1 sets OF
        return this.done(kind, st, e);
      case "fault": {
        switch (this.int(0, 5)) {
          case 0:
            return this.done("#UD", st, e.ud2());
          case 1:
            e.movImm32(RAX, 1).movImm32(RDX, 0).movImm32(RCX, 0).divEcx();
            return this.done("#DE", st, e);
          case 2:
            return this.done("#PF read, not present", st, e.loadEax(0x600010));
          case 3:
            e.movImm32(RAX, 0x1234);
            return this.done("#PF write, read-only", st, e.storeEax(0x800020));
          case 4:
            e.movImm32(RAX, 0xa00000);
            return this.done("#PF fetch, no-execute", st, e.callReg(RAX));
          default:
            return this.done("INT1", st, e.int1());
        }
      }
      case "privileged":
        // At ring 3: #GP(0).
        return this.done(kind, st, this.chance(0.5) ? e.movImm32(RCX, 0xc0000080).rdmsr() : e.raw(0xfa)); // cli
      default:
        if ((HYPERCALL_KINDS as readonly string[]).includes(kind)) return this.done(hypercallItem(kind as HypercallKind, e, (xs) => this.pick(xs)), st, e);
        throw new Error(`unknown item kind ${kind}`);
    }
  }
}

/** Item kinds whose effect does not depend on the CPU's vendor or FRED: both sides of any pair must agree on them. */
export const NEUTRAL_KINDS = ["int", "fault", "switch", "to-ring3", "privileged", "cr0", "vmcall"] as const;

function weights(list: [string, number][]): { list: [string, number][]; total: number } {
  return { list, total: list.reduce((a, [, w]) => a + w, 0) };
}

const RING0_WEIGHTS = weights([
  ["random", 6], ["wrmsr", 3], ["rdmsr", 1], ["efer", 1], ["cr4", 2], ["cr0", 1], ["syscall", 2], ["sysenter", 1],
  ["sysret", 2], ["to-ring3", 1], ["switch", 3], ["swapgs", 1], ["lkgs", 1], ["vmcall", 1], ["int", 1], ["into", 1], ["fault", 3],
]);
/** hvm@1: the latch points in both widths (mode switches), the areas the debates are about, and what the guest reads back. */
const HVM_RING0_WEIGHTS = weights([
  ["hc-page", 3], ["hc-shinfo", 3], ["hc-callback", 2], ["hc-runstate", 2], ["hc-runstate-phys", 1], ["hc-vcpu-info", 2],
  ["hc-evtchn", 2], ["hc-look", 3], ["hc-version", 1], ["hc-vm-assist", 1], ["hc-yield", 1], ["switch", 4], ["random", 1], ["to-ring3", 1],
]);
/** hvm@1 in 32-bit protected mode: hypercalls only (no kit, no mode switches). */
const HVM_PROT32_WEIGHTS = weights([
  ["hc-page", 3], ["hc-shinfo", 3], ["hc-callback", 2], ["hc-runstate", 2], ["hc-runstate-phys", 1], ["hc-vcpu-info", 2],
  ["hc-evtchn", 2], ["hc-look", 3], ["hc-version", 1], ["hc-vm-assist", 1],
]);
const HVM_RING3_WEIGHTS = weights([["hc-version", 2], ["hc-look", 1], ["switch", 2], ["random", 1], ["syscall", 1]]);
const RING3_WEIGHTS = weights([
  ["random", 6], ["syscall", 4], ["sysenter", 1], ["switch", 2], ["int", 1], ["fault", 2], ["privileged", 1], ["vmcall", 1],
]);
