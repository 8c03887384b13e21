// Random instruction sequences for the oracles (this machine's CPU, Unicorn; their targets
// are in test/oracle/targets.ts) and for the fuzzer's program bodies, built with
// iced-x86's encoder over every encoding form (iced `Code`) of the mnemonics our opcode
// map implements, in 16-, 32- or 64-bit code.
//
// Every sequence is well-defined on the oracle: memory operands are pointed into the data
// region by `mov` set-up instructions, the stack pointer stays inside it, branches go
// forward to instruction boundaries, and an instruction that reads a flag the SDM leaves
// undefined (iced's per-instruction rflagsUndefined) is preceded by a CMP that defines all
// six. The flags still undefined at the end are returned as a mask for the comparison.
//
// A `Target` says where the sequences run and what may be drawn there (policy is data):
// the code and data addresses, the mode, whether the oracle runs at CPL 0 and shares the
// emulator's segment registers (then segment loads, far transfers, INT n, port I/O and
// the like are drawn), and what the oracle's CPU model cannot run. Each avoided thing is
// listed below with its reason; nothing is filtered after a run.

import seedrandom from "seedrandom";
import { iced, implementedMnemonics, type Iced } from "./iced.js";
import { CF, DF, OF, PF, SF, ZF, AF, IF } from "../../src/cpu/flags.js";

const { Code, CodeExt, Instruction, MemoryOperand, Register, OpCodeOperandKind: K, Encoder, RegisterExt } = iced;

export type Bitness = 16 | 32 | 64;
export type TargetMode = "real16" | "prot32" | "compat32" | "long64";

/** Where sequences run, and what may be drawn there. */
export interface Target {
  name: string;
  /** Who runs the sequences: this machine's CPU (test/oracle/native.ts), Unicorn, or the fuzzer's pairs. */
  oracle: "native" | "unicorn" | "fuzz";
  /** The emulator's starting mode (cases.md) the oracle matches. */
  mode: TargetMode;
  /** Where code goes: tests of a batch at consecutive addresses (`pack`, one program), or each at codeBase (one machine each). */
  codeBase: number;
  codeSize: number;
  pack: boolean;
  /** The data region (linear addresses): memory operands and the stack stay inside it. */
  dataBase: number;
  dataSize: number;
  /** The oracle runs at CPL 0 like the emulator: privileged and IOPL-sensitive instructions are drawn. */
  cpl0: boolean;
  /**
   * The oracle starts with the emulator's segment registers (built-in GDT or real-mode
   * paragraphs): segment loads and pushes, far transfers, IRET and INT n are drawn.
   */
  segments: boolean;
  /** Segment override prefixes drawn on memory operands. */
  overrides: number[];
  /** The oracle checks segment types on data accesses (a write through CS faults). */
  checksSegmentTypes: boolean;
  /** Mnemonics the oracle's CPU does not have (its CPUID lacks them: #UD there). */
  missing: string[];
  /** Mnemonics not drawn (16/32-bit targets; the 64-bit pool is EXCLUDED's), each list with its reasons. */
  excluded: ReadonlySet<string>;
  /** Encoding forms (iced Code names) not drawn for the same reasons. */
  excludedCodes?: RegExp;
  /** Encoding forms (iced Code names) the oracle models differently from the SDM, never drawn. */
  avoidCodes?: RegExp;
  /** The same, in real-address mode only. */
  avoidCodesReal?: RegExp;
  /** INT n may be drawn (with `segments`). */
  intN?: boolean;
  /**
   * The oracle's ENTER with a 32-bit operand size on a 16-bit stack takes only SP where the
   * SDM takes all of ESP: the upper half of ESP is cleared before one.
   */
  enter32TakesOnlySp?: boolean;
  /** real16: offset (CS 0) of the IRET every interrupt vector points to. */
  ivtHandler?: number;
  /** Chance that a sequence ends on an instruction that traps or faults. */
  endingRate: number;
}

export const SEG_REGS = [Register.ES, Register.CS, Register.SS, Register.DS, Register.FS, Register.GS];
const ES = 0, CS = 1, SS = 2, DS = 3;
export const SEGMENT_NAMES = ["es", "cs", "ss", "ds", "fs", "gs"] as const;

/**
 * Mnemonics not drawn at random natively. CPUID and RDTSC/RDTSCP differ by design (a model, a
 * step counter); the trapping ones (UD0-2, INT3) only end a sequence. The rest need CPL 0 or
 * see state that differs between a Linux process and the emulator's booted machine
 * (selectors and descriptors, FS/GS bases, XCR0, UMIP, the I/O bitmap, the IDT): they are
 * checked by the vectors, the system-program tests and the Unicorn oracle instead.
 */
export const EXCLUDED = new Set([
  "cpuid", "rdtsc", "rdtscp", "hlt", "ud0", "ud1", "ud2", "int3",
  "in", "out", "insb", "insw", "insd", "outsb", "outsw", "outsd", "cli", "sti", "clts",
  "lmsw", "smsw", "sgdt", "sidt", "lgdt", "lidt", "sldt", "str", "lldt", "ltr", "lar", "lsl",
  "verr", "verw", "invlpg", "invd", "wbinvd", "wbnoinvd", "rdmsr", "wrmsr", "swapgs",
  "rdfsbase", "rdgsbase", "wrfsbase", "wrgsbase", "clac", "stac", "xgetbv", "xsetbv",
  "vmcall", "vmmcall", "syscall", "sysret", "sysretq", "sysenter", "sysexit", "sysexitq",
  "int", "into", "int1", "iret", "iretd", "iretq", "retf", "lss", "lfs", "lgs", "lds", "les",
  "lkgs", "erets", "eretu", "arpl", "bound",
]);
/** Forms of generated mnemonics that touch segment registers or far pointers (see above). */
export const EXCLUDED_CODES = /Sreg|_m16(16|32|64)$|^Push[wdq]?_(ES|CS|SS|DS|FS|GS)$|^Pop[wdq]?_(ES|SS|DS|FS|GS)$/;

/**
 * At CPL 0 (Unicorn), not drawn:
 *  - CPUID, RDTSC, RDTSCP: a CPU model and a clock of their own on each side, by design.
 *  - LGDT, LIDT, LLDT, LTR, LMSW, WRMSR, XSETBV: they replace the machine state both sides
 *    were booted with (descriptor tables, CR0, MSRs); the system-program tests check them.
 *  - RDMSR: which MSRs exist is a CPU model of its own (QEMU 5 also reads MSRs it does not
 *    know as 0 where the SDM says #GP(0)).
 * (SWAPGS, RD/WRFSBASE, RD/WRGSBASE, FRED, CMPXCHG16B... exist only in 64-bit mode: iced's
 * tables leave them out.)
 */
export const UNICORN_EXCLUDED = new Set([
  "cpuid", "rdtsc", "rdtscp", "lgdt", "lidt", "lldt", "ltr", "lmsw", "wrmsr", "xsetbv", "rdmsr",
]);
/** Drawn only as the last instruction of a sequence (they end the run). */
const ENDING_MNEMONICS = new Set(["hlt", "ud0", "ud1", "ud2", "int3", "int1", "syscall", "sysenter", "sysexit", "sysret", "xgetbv", "vmcall", "vmmcall"]);
/**
 * Forms not drawn in any target:
 *  - Popw_CS: 0F was POP CS on the 8086 only; since the 80286 it is the two-byte escape.
 *  - Codes iced decodes only with a decoder option (CMPXCHG of the 486 A-step, MOV to/from
 *    test registers): other CPUs' opcodes.
 *  - BSWAP r16: the result is undefined (SDM Vol. 2A BSWAP).
 */
const NEVER_CODES = /^Popw_CS$|^Bswap_r16/;

export function bitnessOf(mode: TargetMode): Bitness {
  return mode === "real16" ? 16 : mode === "long64" ? 64 : 32;
}

/** One generated sequence: its code at its address and the state it starts from. */
export interface SequenceTest {
  /** Instruction bytes, placed at exactly `codeAddr`; control leaves by falling through the end, or by an exception. */
  code: Uint8Array;
  codeAddr: number;
  /** Initial GPRs rax..r15 as 32-bit halves. */
  regs: { lo: number; hi: number }[];
  /** Initial RFLAGS (arithmetic flags and DF). */
  rflags: number;
  /** 32-bit code to run in compatibility mode. */
  compat32?: boolean;
}

export interface GenTest extends SequenceTest {
  /** RFLAGS bits (architectural positions) whose value is undefined after the sequence. */
  undefinedFlags: number;
  /** The same, before the instruction at each address (for a fault there). */
  undefinedAt: Map<number, number>;
  /** Disassembly, one line per instruction, for failure messages. */
  listing: string[];
  /** iced mnemonic of each instruction (lower case), for coverage checks. */
  mnemonics: string[];
  /** Targets with `segments`: the starting ES CS SS DS FS GS (selectors, or real-mode paragraphs). */
  sregs?: number[];
}

export interface GenOptions {
  count: number;
  /** Main instructions per sequence (set-up instructions come on top). */
  maxLength?: number;
  /** Disassemble each sequence into `listing` (for failure messages; off for the fuzzer's speed). */
  listing?: boolean;
}

// iced RflagsBits -> architectural RFLAGS positions.
const ICED_FLAGS: [number, number][] = [[1, OF], [2, SF], [4, ZF], [8, AF], [16, CF], [32, PF], [64, DF]];
function archFlags(icedBits: number): number {
  let f = 0;
  for (const [b, a] of ICED_FLAGS) if ((icedBits & b) !== 0) f |= a;
  return f;
}

const R64 = [Register.RAX, Register.RCX, Register.RDX, Register.RBX, Register.RSP, Register.RBP, Register.RSI, Register.RDI,
  Register.R8, Register.R9, Register.R10, Register.R11, Register.R12, Register.R13, Register.R14, Register.R15];
const R32 = [Register.EAX, Register.ECX, Register.EDX, Register.EBX, Register.ESP, Register.EBP, Register.ESI, Register.EDI,
  Register.R8D, Register.R9D, Register.R10D, Register.R11D, Register.R12D, Register.R13D, Register.R14D, Register.R15D];
const R16 = [Register.AX, Register.CX, Register.DX, Register.BX, Register.SP, Register.BP, Register.SI, Register.DI,
  Register.R8W, Register.R9W, Register.R10W, Register.R11W, Register.R12W, Register.R13W, Register.R14W, Register.R15W];
const R8 = [Register.AL, Register.CL, Register.DL, Register.BL, Register.SPL, Register.BPL, Register.SIL, Register.DIL,
  Register.R8L, Register.R9L, Register.R10L, Register.R11L, Register.R12L, Register.R13L, Register.R14L, Register.R15L,
  Register.AH, Register.CH, Register.DH, Register.BH];
/** Byte registers without REX (16- and 32-bit code): encodings 4-7 are AH CH DH BH. */
const R8_LEGACY = [Register.AL, Register.CL, Register.DL, Register.BL, Register.AH, Register.CH, Register.DH, Register.BH];
const BX = 3, BP = 5, SI = 6, DI = 7;


type Rand = () => number;

interface Item {
  /** Build the instructions of this item; `target` is the resolved branch target (or 0). */
  make(target: number): Iced.Instruction[];
  /** Undefined-flag mask before each instruction of the item. */
  masks: number[];
  /** Encoded length (independent of addresses). */
  len: number;
  /** For branches: the largest forward distance from the item's end (127 for rel8). */
  reach: number;
  needsTarget: boolean;
  /** The generator's segment state changes here: no branch may jump over this item. */
  barrier?: boolean;
}

const encoders = new Map<number, Iced.Encoder>();
function encoderFor(bitness: Bitness): Iced.Encoder {
  let e = encoders.get(bitness);
  if (e === undefined) {
    e = new Encoder(bitness);
    encoders.set(bitness, e);
  }
  return e;
}

function encodeWith(bitness: Bitness, ins: Iced.Instruction, rip: number): Uint8Array {
  const encoder = encoderFor(bitness);
  try {
    encoder.encode(ins, BigInt(rip));
  } catch (e) {
    encoder.takeBuffer(); // a failed encode may leave partial bytes behind
    throw e;
  }
  return encoder.takeBuffer();
}

interface Pool {
  /** Codes drawn at random. */
  codes: number[];
  /** Codes of ending mnemonics, and (real16) codes that exist in 16-bit code but are #UD in real mode. */
  endings: number[];
}

const pools = new Map<string, Pool>();

/** What the generator asks of an iced `Code` (its name, mnemonic, operand kinds), asked of iced once. */
const facts = new Map<number, { name: string; mnem: string; kinds: readonly number[] }>();
function codeFacts(code: number): { name: string; mnem: string; kinds: readonly number[] } {
  let f = facts.get(code);
  if (f === undefined) {
    const info = CodeExt.opCode(code);
    const kinds: number[] = [];
    for (let k = 0; k < info.opCount; k++) kinds.push(info.opKind(k));
    f = { name: Code[code]!, mnem: iced.Mnemonic[info.mnemonic]!.toLowerCase(), kinds };
    info.free();
    facts.set(code, f);
  }
  return f;
}

/** Operand kinds the generator can fill. */
const SUPPORTED_KINDS = new Set<number>([
  K.r8_or_mem, K.r16_or_mem, K.r32_or_mem, K.r64_or_mem, K.r8_reg, K.r8_opcode, K.r16_reg, K.r16_opcode,
  K.r32_reg, K.r32_opcode, K.r64_reg, K.r64_opcode, K.mem, K.mem_offs, K.al, K.cl, K.ax, K.dx, K.eax, K.rax,
  K.imm8, K.imm8_const_1, K.imm8sex16, K.imm8sex32, K.imm8sex64, K.imm16, K.imm32, K.imm32sex64, K.imm64,
  K.br64_1, K.br64_4, K.seg_rSI, K.es_rDI, K.seg_rDI, K.seg_rBX_al,
]);
/** More kinds for 16/32-bit code. */
const LEGACY_KINDS = new Set<number>([
  K.br16_1, K.br16_2, K.br32_1, K.br32_4, K.farbr2_2, K.farbr4_2, K.seg_reg, K.es, K.cs, K.ss, K.ds, K.fs, K.gs,
]);

/** Generatable codes of a target. */
function codePool(t: Target): Pool {
  const cached = pools.get(t.name);
  if (cached !== undefined) return cached;
  const pool = t.mode === "long64" ? { codes: codePool64(), endings: [] } : codePoolLegacy(t);
  pools.set(t.name, pool);
  return pool;
}

/** 64-bit: legacy-encoded, valid in 64-bit mode, with operand kinds we can fill. */
function codePool64(): number[] {
  const names = implementedMnemonics();
  const out: number[] = [];
  for (const v of Object.values(Code)) {
    if (typeof v !== "number" || v === Code.INVALID) continue;
    const info = CodeExt.opCode(v);
    try {
      if (info.encoding !== iced.EncodingKind.Legacy || !info.isInstruction || !info.longMode) continue;
      const m = iced.Mnemonic[info.mnemonic]!.toLowerCase();
      if (!names.has(m) || EXCLUDED.has(m)) continue;
      let ok = true;
      for (let k = 0; k < info.opCount; k++) if (!SUPPORTED_KINDS.has(info.opKind(k))) ok = false;
      // 16-bit near branches and returns (66 prefix: RIP truncated on AMD), and BSWAP r16
      // (undefined result) are not generated.
      const name = Code[v]!;
      if (/^(J[a-z]+|Jmp|Call|Loop\w*|Jrcxz|Jecxz|Jcxz)_\w*16$/.test(name) || /^Retnw|^Bswap_r16/.test(name)) ok = false;
      if (EXCLUDED_CODES.test(name)) ok = false;
      if (ok) out.push(v);
    } finally {
      info.free?.();
    }
  }
  return out;
}

/**
 * 16/32-bit code: codes iced says exist at this bitness (mode16/mode32: no REX registers,
 * no 64-bit operands, and PUSHA, BCD, INTO, BOUND, LDS/LES, PUSH/POP ES/DS/SS... are in),
 * executable in the target's mode (realMode/protectedMode/compatibilityMode).
 */
function codePoolLegacy(t: Target): Pool {
  const bits = bitnessOf(t.mode);
  const names = implementedMnemonics();
  const codes: number[] = [];
  const endings: number[] = [];
  for (const v of Object.values(Code)) {
    if (typeof v !== "number" || v === Code.INVALID) continue;
    const info = CodeExt.opCode(v);
    try {
      if (info.encoding !== iced.EncodingKind.Legacy || !info.isInstruction || info.decoderOption !== 0) continue;
      if (!(bits === 16 ? info.mode16 : info.mode32)) continue;
      const m = iced.Mnemonic[info.mnemonic]!.toLowerCase();
      if (!names.has(m) || t.missing.includes(m)) continue;
      const name = Code[v]!;
      if (NEVER_CODES.test(name) || t.avoidCodes?.test(name) === true) continue;
      if (t.mode === "real16" && t.avoidCodesReal?.test(name) === true) continue;
      if (name === "Int_imm8" && t.intN !== true) continue;
      let ok = true;
      for (let k = 0; k < info.opCount; k++) if (!SUPPORTED_KINDS.has(info.opKind(k)) && !LEGACY_KINDS.has(info.opKind(k))) ok = false;
      if (!ok) continue;
      if (t.excluded.has(m) || t.excludedCodes?.test(name) === true) continue;
      // SMSW r32: the high half is undefined (SDM Vol. 2B SMSW) and Unicorn's differs (its
      // memory form is Smsw_rm16's, which stays).
      if (/^Smsw_r32m16$/.test(name)) continue;
      const validHere = t.mode === "real16" ? info.realMode : t.mode === "prot32" ? info.protectedMode : info.compatibilityMode;
      if (ENDING_MNEMONICS.has(m)) {
        if (t.cpl0 && validHere) endings.push(v);
        continue;
      }
      if (!validHere) {
        // #UD in real mode (LAR, LSL, VERR, VERW, SLDT, STR, ARPL...): an ending.
        if (t.cpl0) endings.push(v);
        continue;
      }
      codes.push(v);
    } finally {
      info.free?.();
    }
  }
  return { codes, endings };
}

export class SequenceGenerator {
  private readonly t: Target;
  private readonly bits: Bitness;
  private readonly legacy: boolean;
  private readonly pool: number[];
  private readonly endingPool: number[];
  private readonly rnd: Rand;
  /** 32-bit code may use 16-bit IP (66-prefixed near branches): code below 64 KiB. */
  private readonly ip16: boolean;
  /** 16-bit addressing reaches the data region from every segment base. */
  private readonly addr16: boolean;

  /** `random`: a seed, or a source of numbers in [0, 1) (a coverage-guided driver's bytes). */
  constructor(random: string | (() => number), target: Target) {
    this.t = target;
    this.bits = bitnessOf(target.mode);
    this.legacy = this.bits !== 64;
    const p = codePool(target);
    this.pool = p.codes;
    this.endingPool = p.endings;
    this.rnd = typeof random === "string" ? seedrandom(random) : random;
    this.ip16 = this.bits === 16 || (this.bits === 32 && target.codeBase + target.codeSize <= 0x10000);
    this.addr16 = this.bits === 16 || target.dataBase + target.dataSize <= 0x10000;
  }

  /** Mnemonics this generator can draw (at random or as endings). */
  mnemonicsDrawn(): Set<string> {
    const out = new Set<string>();
    for (const c of [...this.pool, ...this.endingPool]) {
      const info = CodeExt.opCode(c);
      out.add(iced.Mnemonic[info.mnemonic]!.toLowerCase());
      info.free?.();
    }
    return out;
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
  private u32(): number {
    // Bias towards corner values: they find carry, overflow and sign bugs.
    const corners = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe];
    return this.chance(0.3) ? this.pick(corners) : Math.floor(this.rnd() * 4294967296);
  }

  private encode(ins: Iced.Instruction, rip: number): Uint8Array {
    return encodeWith(this.bits, ins, rip);
  }
  private lenOf(list: Iced.Instruction[]): number {
    let n = 0;
    for (const x of list) n += this.encode(x, this.t.codeBase).length;
    return n;
  }
  private encodable(ins: Iced.Instruction): boolean {
    try {
      this.encode(ins, this.t.codeBase);
      return true;
    } catch {
      return false;
    }
  }
  private stackOk(st: GenState, inc: number): boolean {
    const after = st.rsp + inc;
    return after >= this.t.dataBase + 0x400 && after <= this.t.dataBase + this.t.dataSize - 0x400;
  }

  /** The tests of one batch: at consecutive code addresses (packed targets), or each at codeBase. */
  generate(opts: GenOptions): GenTest[] {
    const out: GenTest[] = [];
    let addr = this.t.codeBase;
    for (let k = 0; k < opts.count; k++) {
      const test = this.one(addr, opts.maxLength ?? 24, opts.listing ?? true);
      out.push(test);
      if (this.t.pack) addr += (test.code.length + 16 + 15) & ~15;
      if (addr + test.code.length + 16 >= this.t.codeBase + this.t.codeSize - (this.t.pack ? 0x1000 : 0)) {
        throw new Error(this.t.pack ? "code region full: use fewer tests per batch" : "sequence longer than the code region");
      }
    }
    return out;
  }

  // ---- segments -----------------------------------------------------------------------

  /** Real-mode paragraphs whose segment covers the whole data region (base <= data, base + 64 KiB >= end). */
  private realParagraphs(): number[] {
    const { dataBase, dataSize } = this.t;
    return [0, 0x100, 0x3ff, 0x555, 0x7f0, 0x800].filter((p) => p * 16 <= dataBase && p * 16 + 0x10000 >= dataBase + dataSize);
  }
  /** Data selectors of the built-in GDT a CPL 0 data segment register may hold: 0x10 (DPL 0), 0x28 (DPL 3). */
  private static readonly DATA_SELECTORS = [0x10, 0x28];
  /** A value to load into segment register `seg` that keeps every access in the data region. */
  private segmentValue(st: GenState, seg: number): number {
    if (seg === SS) return st.segSel[SS]!; // the stack stays where the generator keeps it
    return this.t.mode === "real16" ? this.pick(this.realParagraphs()) : this.pick(SequenceGenerator.DATA_SELECTORS);
  }
  private setSegment(st: GenState, seg: number, value: number): boolean {
    const base = this.t.mode === "real16" ? value * 16 : 0;
    const changed = st.segBase[seg] !== base;
    st.segSel[seg] = value;
    st.segBase[seg] = base;
    return changed;
  }

  private one(codeAddr: number, maxLength: number, withListing: boolean): GenTest {
    const t = this.t;
    const regs = R64.map(() => ({ lo: this.u32() | 0, hi: this.u32() | 0 }));
    const rsp0 = t.dataBase + t.dataSize / 2;
    regs[4] = { lo: rsp0, hi: 0 };
    let rflags = (this.int(0, 0xfff) & (CF | PF | AF | ZF | SF | OF)) | (this.chance(0.2) ? DF : 0);
    const st: GenState = { undef: 0, rsp: rsp0, segBase: [0, 0, 0, 0, 0, 0], segSel: [0, 0, 0, 0, 0, 0] };
    let sregs: number[] | undefined;
    if (t.segments) {
      if (t.mode === "real16") {
        sregs = SEG_REGS.map((_, s) => (s === CS ? 0 : this.pick(this.realParagraphs())));
        // The upper half of ESP is not part of a 16-bit stack: random, to see it kept.
        regs[4] = { lo: ((this.int(0, 0xffff) << 16) | (rsp0 - sregs[SS]! * 16)) | 0, hi: 0 };
      } else {
        sregs = SEG_REGS.map((_, s) => (s === CS ? 0x18 : s === SS ? 0x10 : this.pick(SequenceGenerator.DATA_SELECTORS)));
      }
      sregs.forEach((v, s) => this.setSegment(st, s, v));
    }
    if (t.cpl0 && this.chance(0.5)) rflags |= IF;
    const items: Item[] = [];
    const n = this.int(1, maxLength);
    for (let k = 0; k < n; k++) {
      for (let tries = 0; tries < 20; tries++) {
        const made = this.item(st);
        if (made !== null) {
          items.push(...made);
          break;
        }
      }
    }
    // Now and then end on an instruction that traps or faults: #BP and #UD must match too.
    if (!this.legacy) {
      if (this.chance(t.endingRate)) {
        const end = this.pick([Code.Ud2, Code.Int3, Code.Ud1_r32_rm32, Code.Ud0_r32_rm32]);
        items.push(this.emit(st, [end === Code.Ud2 || end === Code.Int3 ? Instruction.create(end) : Instruction.createRegReg(end, Register.EAX, Register.ECX)]));
      }
    } else if (this.chance(t.endingRate)) {
      for (let tries = 0; tries < 20; tries++) {
        const made = this.ending(st);
        if (made !== null) {
          items.push(...made);
          break;
        }
      }
    }

    // Layout, then forward branch targets at item boundaries within reach (never past a barrier).
    const starts: number[] = [];
    let pos = codeAddr;
    for (const it of items) {
      starts.push(pos);
      pos += it.len;
    }
    const end = pos;
    const bytes: number[] = [];
    const listing: string[] = [];
    const undefinedAt = new Map<number, number>();
    const mnemonics: string[] = [];
    const fmt = withListing ? new iced.Formatter(iced.FormatterSyntax.Intel) : null;
    items.forEach((it, k) => {
      let target = 0;
      if (it.needsTarget) {
        const from = starts[k]! + it.len;
        const barrier = items.findIndex((x, j) => j > k && x.barrier === true);
        const reachable = barrier < 0 ? [...starts.slice(k + 1), end] : starts.slice(k + 1, barrier + 1);
        const options = reachable.filter((b) => b - from <= it.reach);
        target = this.pick(options);
      }
      let at = starts[k]!;
      it.make(target).forEach((ins, j) => {
        undefinedAt.set(at, it.masks[j]!);
        mnemonics.push(iced.Mnemonic[ins.mnemonic]!.toLowerCase());
        const b = this.encode(ins, at);
        if (fmt !== null) {
          ins.ip = BigInt(at);
          listing.push(`${at.toString(16)}: ${Buffer.from(b).toString("hex").padEnd(24)} ${fmt.format(ins)}`);
        }
        at += b.length;
        bytes.push(...b);
        ins.free();
      });
      if (at !== starts[k]! + it.len) throw new Error(`generator: item length changed (${at - starts[k]!} vs ${it.len}) at ${listing.slice(-3).join(" / ")}`);
    });
    fmt?.free();
    const test: GenTest = { code: Uint8Array.from(bytes), codeAddr, regs, rflags, undefinedFlags: st.undef, undefinedAt, listing, mnemonics };
    if (sregs !== undefined) test.sregs = sregs;
    if (t.mode === "compat32" && t.oracle === "native") test.compat32 = true;
    return test;
  }

  // ---- items --------------------------------------------------------------------------

  /** One random instruction with its set-up, or null to retry. */
  private item(st: GenState, forced?: number): Item[] | null {
    const code = forced ?? this.pick(this.pool);
    const { name, mnem, kinds } = codeFacts(code);
    const setup: Iced.Instruction[] = [];

    // Control transfer and stack forms with their own rules.
    if (kinds.includes(K.br64_1) || kinds.includes(K.br64_4)) return this.branch(st, code, kinds.includes(K.br64_1) ? 127 : 1 << 30);
    if (this.legacy) {
      if (kinds.includes(K.br16_1) || kinds.includes(K.br16_2)) return this.ip16 ? this.branch(st, code, kinds.includes(K.br16_1) ? 127 : 0x7fff) : null;
      if (kinds.includes(K.br32_1) || kinds.includes(K.br32_4)) return this.branch(st, code, kinds.includes(K.br32_1) ? 127 : 1 << 30);
      if (/^(Jmp|Call)_(ptr16(16|32)|m16(16|32))$/.test(name)) return this.far(st, code, name);
      if (/^Retf/.test(name)) return this.retf(st, code, name);
      if (/^Iret/.test(name)) return this.iret(st, code, name);
      if (/^Int_imm8$/.test(name)) return this.intN(st, code);
      if (/^(Push|Pop)[wd]_(ES|CS|SS|DS|FS|GS)$/.test(name)) return this.pushPopSegment(st, code, name);
      if (/^Mov_Sreg_/.test(name)) return this.movToSegment(st, code, name);
      if (/^L(ds|es|ss|fs|gs)_/.test(name)) return this.loadFarPointer(st, code, name);
      if (/^Bound_/.test(name)) return this.bound(st, code, name);
    }
    if (/^Ret/.test(name)) return this.ret(st, code, name);
    if (/^(Jmp|Call)_rm64$/.test(name)) return this.indirect(st, code);
    if (/^(Jmp|Call)_rm(16|32)$/.test(name)) return this.legacy ? this.indirectLegacy(st, code, name) : null;
    if (/^Leave/.test(name) || /^Enter/.test(name)) return this.frame(st, code, name);
    if (/^Popf/.test(name)) return this.popf(st, code, name);
    if (kinds.some((x) => x === K.seg_rSI || x === K.es_rDI || x === K.seg_rDI || x === K.seg_rBX_al)) return this.stringOp(st, code, mnem);

    // Generic: fill each operand.
    const ops: Operand[] = [];
    // Registers the set-up owns: never RSP; RAX/RDX for a division's set-up; RCX for a
    // 16-bit SHLD/SHRD count.
    const busy = new Set<number>([4]);
    if (mnem === "div" || mnem === "idiv") [0, 2].forEach((r) => busy.add(r));
    const isShift = /^(rol|ror|rcl|rcr|shl|sal|shr|sar|shld|shrd)$/.test(mnem);
    if (isShift) busy.add(1);
    for (let k = 0; k < kinds.length; k++) {
      const o = this.operand(st, kinds[k]!, mnem, setup, busy);
      if (o === null) return null;
      ops.push(o);
    }
    const ins = create(code, ops);
    if (ins === null) return null;
    // Explicit operands must never write RSP (the stack must stay in the data region).
    if (writesRspExplicitly(ins)) return null;
    if (!this.stackOk(st, ins.stackPointerIncrement)) return null;
    if (!this.encodable(ins)) return null;
    if (this.legacy && !this.segmentUseOk(ins)) return null;

    // Per-mnemonic constraints that keep the result defined.
    if (mnem === "div" || mnem === "idiv") this.divSetup(setup, ins, mnem);
    // Shift counts are always known (CL is set first), so the flags they leave undefined
    // can be computed exactly (SDM rules in shiftFlagEffect).
    let count = -1;
    if (isShift) {
      const countOp = ins.opCount - 1;
      if (ins.opKind(countOp) === iced.OpKind.Register) {
        count = this.int(0, 255);
        if (size16DoubleShift(ins, mnem)) count = this.int(0, 16);
        setup.push(Instruction.createRegI32(Code.Mov_r8_imm8, Register.CL, count));
      } else {
        if (size16DoubleShift(ins, mnem)) ins.setImmediateI32(countOp, this.int(0, 16));
        count = Number(ins.immediate(countOp)) & 0xff;
      }
    }
    // BTx with a register bit offset and a memory operand addresses a bit string: keep
    // the offset small so the access stays in the data region.
    if (/^bt[src]?$/.test(mnem) && ins.op0Kind === iced.OpKind.Memory && ins.op1Kind === iced.OpKind.Register) {
      const off = RegisterExt.fullRegister(ins.op1Register);
      if (busy.has(R64.indexOf(off))) return null;
      setup.push(this.legacy
        ? Instruction.createRegU32(Code.Mov_r32_imm32, R32[R64.indexOf(off)]!, this.int(-512, 511) >>> 0)
        : Instruction.createRegI32(Code.Mov_rm64_imm32, off, this.int(-512, 511)));
    }
    // LAR, LSL, VERR, VERW: a selector of the built-in GDT (or a bad one) in the register.
    if (this.legacy && /^(lar|lsl|verr|verw)$/.test(mnem)) {
      const k = ins.opCount - 1;
      if (ins.opKind(k) === iced.OpKind.Register) {
        const r = R64.indexOf(RegisterExt.fullRegister(ins.opRegister(k)));
        if (r === 4) return null; // the set-up never writes ESP
        const sel = this.pick([0, 0x08, 0x10, 0x18, 0x20, 0x23, 0x28, 0x2b, 0x30, 0x38, 0x3b, 0x40, 0x48, 0x0b, 0x13, 0x04, this.int(0, 0xffff)]);
        setup.push(Instruction.createRegU32(Code.Mov_r32_imm32, R32[r]!, ((this.int(0, 0xffff) << 16) | sel) >>> 0));
      }
    }
    st.rsp += ins.stackPointerIncrement;
    const effects = new Map<Iced.Instruction, (u: number) => number>();
    if (isShift) effects.set(ins, (u) => shiftFlagEffect(mnem, operandSize(ins), count, u));
    return [this.emit(st, [...setup, ins], effects)];
  }

  private operand(st: GenState, kind: number, mnem: string, setup: Iced.Instruction[], busy: Set<number>): Operand | null {
    const regs = this.legacy ? 8 : 16;
    const reg = (table: number[], allowHigh = false): Operand => {
      if (this.legacy) return { reg: (table === R8 ? R8_LEGACY : table)[this.int(0, 7)]! };
      const n = allowHigh ? this.int(0, 19) : this.int(0, regs - 1);
      return { reg: table[n]! };
    };
    const mem = (size: number): Operand => (this.legacy ? { mem: memOp(this.legacyMemory(st, setup, busy).spec) } : this.memory(setup, busy, size));
    switch (kind) {
      case K.r8_reg: case K.r8_opcode: return reg(R8, true);
      case K.r16_reg: case K.r16_opcode: return reg(R16);
      case K.r32_reg: case K.r32_opcode: return reg(R32);
      case K.r64_reg: case K.r64_opcode: return reg(R64);
      case K.r8_or_mem: return this.chance(0.5) ? reg(R8, true) : mem(1);
      case K.r16_or_mem: return this.chance(0.5) ? reg(R16) : mem(2);
      case K.r32_or_mem: return this.chance(0.5) ? reg(R32) : mem(4);
      case K.r64_or_mem: return this.chance(0.5) ? reg(R64) : mem(8);
      case K.mem:
        if (mnem === "lea") return this.legacy ? this.leaMemoryLegacy() : this.leaMemory();
        return mem(/16b/.test(mnem) ? 16 : 8);
      case K.mem_offs: {
        if (this.legacy) return this.moffs(st);
        const a = this.t.dataBase + this.int(0x200, this.t.dataSize - 0x200);
        return { mem: MemoryOperand.new64(Register.None, Register.None, 1, BigInt(a), 8, false, Register.None) };
      }
      case K.seg_reg: return { reg: this.pick(SEG_REGS) };
      case K.al: return { reg: Register.AL };
      case K.cl: return { reg: Register.CL };
      case K.ax: return { reg: Register.AX };
      case K.dx: return { reg: Register.DX };
      case K.eax: return { reg: Register.EAX };
      case K.rax: return { reg: Register.RAX };
      case K.imm8: return { imm: this.int(0, 255) };
      case K.imm8_const_1: return { imm: 1 };
      case K.imm8sex16: case K.imm8sex32: case K.imm8sex64: return { imm: this.int(-128, 127) };
      case K.imm16: return { imm: this.int(0, 0xffff) };
      case K.imm32: return { imm: this.u32() | 0 };
      case K.imm32sex64: return { imm: this.u32() | 0 };
      case K.imm64: return { imm64: (BigInt(this.u32()) << 32n) | BigInt(this.u32()) };
      default:
        return null;
    }
  }

  /** A memory operand inside the data region, with `mov` set-up of its registers (64-bit code). */
  private memory(setup: Iced.Instruction[], busy: Set<number>, size: number): Operand {
    const align = size === 16 ? 16 : 1;
    let target = this.t.dataBase + this.int(0x200, this.t.dataSize - 0x200 - 32);
    if (align > 1) target &= ~(align - 1);
    const mode = this.rnd();
    if (mode < 0.1 && align === 1) {
      return { mem: MemoryOperand.new64(Register.RIP, Register.None, 1, BigInt(target), 8, false, Register.None) };
    }
    if (mode < 0.15 && align === 1) {
      return { mem: MemoryOperand.new64(Register.None, Register.None, 1, BigInt(target), 4, false, this.noopSegment()) };
    }
    const base = this.freeReg(busy);
    const use32 = this.chance(0.1); // 0x67: 32-bit addressing
    let index = -1;
    let scale = 1;
    let idxVal = 0;
    if (this.chance(0.3) && align === 1) {
      index = this.freeReg(busy);
      scale = this.pick([1, 2, 4, 8]);
      idxVal = this.int(0, 16);
    }
    const disp = align > 1 ? 0 : this.chance(0.5) ? 0 : this.int(-128, 300);
    const baseVal = target - disp - idxVal * scale;
    setup.push(Instruction.createRegU64(Code.Mov_r64_imm64, R64[base]!, BigInt(baseVal)));
    if (index >= 0) setup.push(Instruction.createRegU32(Code.Mov_r32_imm32, R32[index]!, idxVal));
    const table = use32 ? R32 : R64;
    const m = MemoryOperand.new64(
      table[base]!, index >= 0 ? table[index]! : Register.None, scale, BigInt(disp),
      disp === 0 ? 0 : disp >= -128 && disp <= 127 ? 1 : 4, false, this.noopSegment(),
    );
    return { mem: m };
  }

  /** Address size of a memory operand in 16/32-bit code: the mode's, or the other one (67). */
  private addressSize(): 16 | 32 {
    if (this.bits === 16) return this.chance(0.2) ? 32 : 16; // 32-bit offsets below 64 KiB stay in the limit
    return this.addr16 && this.chance(0.2) ? 16 : 32;
  }

  /** A random place in the data region, at least 32 bytes before its end (any operand fits). */
  private dataTarget(): number {
    return this.t.dataBase + this.int(0x200, this.t.dataSize - 0x200 - 32);
  }

  /**
   * A memory operand at a random place in the data region (16/32-bit code): 16-bit
   * ModRM forms ([BX+SI], [BP+DI], [disp16]...) or 32-bit ones (base + index * scale +
   * disp, [disp32]), through the default segment or an override; the set-up loads the
   * registers so that segment base + offset is the place. Offsets wrap at the address size.
   */
  private legacyMemory(st: GenState, setup: Iced.Instruction[], busy: Set<number>): { spec: MemSpec; linear: number } {
    const target = this.dataTarget();
    const seg = this.chance(0.25) ? this.pick(this.t.overrides) : Register.None;
    const offsetIn = (dflt: number): number => target - st.segBase[seg === Register.None ? dflt : SEG_REGS.indexOf(seg)]!;
    const spec = (base: number, index: number, scale: number, disp: number, dispSize: number): { spec: MemSpec; linear: number } =>
      ({ spec: { base, index, scale, disp, dispSize, seg }, linear: target });
    if (this.addressSize() === 16) {
      const forms: number[][] = [[BX, SI], [BX, DI], [BP, SI], [BP, DI], [SI], [DI], [BP], [BX], []].filter((f) => f.every((r) => !busy.has(r)));
      const form = this.pick(forms);
      form.forEach((r) => busy.add(r));
      const off = offsetIn(form[0] === BP ? SS : DS);
      if (form.length === 0) return spec(Register.None, Register.None, 1, off, 2);
      const disp = this.chance(0.5) ? 0 : this.int(-128, 300);
      const idxVal = form.length === 2 ? this.int(0, 0xffff) : 0;
      const baseVal = (off - disp - idxVal) & 0xffff;
      setup.push(Instruction.createRegU32(Code.Mov_r16_imm16, R16[form[0]!]!, baseVal));
      if (form.length === 2) setup.push(Instruction.createRegU32(Code.Mov_r16_imm16, R16[form[1]!]!, idxVal));
      return spec(R16[form[0]!]!, form.length === 2 ? R16[form[1]!]! : Register.None, 1, disp, disp === 0 ? 0 : disp >= -128 && disp <= 127 ? 1 : 2);
    }
    const base = this.chance(0.15) ? -1 : this.freeReg8(busy);
    if (base < 0) return spec(Register.None, Register.None, 1, offsetIn(DS), 4);
    let index = -1;
    let scale = 1;
    let idxVal = 0;
    if (this.chance(0.3)) {
      index = this.freeReg8(busy);
      scale = this.pick([1, 2, 4, 8]);
      idxVal = this.chance(0.5) ? this.int(0, 16) : this.u32();
    }
    const off = offsetIn(base === BP ? SS : DS);
    const disp = this.chance(0.5) ? 0 : this.int(-128, 300);
    const baseVal = (off - disp - Math.imul(idxVal, scale)) >>> 0;
    setup.push(Instruction.createRegU32(Code.Mov_r32_imm32, R32[base]!, baseVal));
    if (index >= 0) setup.push(Instruction.createRegU32(Code.Mov_r32_imm32, R32[index]!, idxVal >>> 0));
    return spec(R32[base]!, index >= 0 ? R32[index]! : Register.None, scale, disp, disp === 0 ? 0 : disp >= -128 && disp <= 127 ? 1 : 4);
  }

  /** `mov size [linear], value` through DS with an absolute offset, given DS's base (set-up of far pointers, bounds). */
  private store(segBase: readonly number[], linear: number, size: number, value: number): Iced.Instruction {
    const m = MemoryOperand.new64(Register.None, Register.None, 1, BigInt(linear - segBase[DS]!), this.bits === 16 ? 2 : 4, false, Register.None);
    return size === 2 ? Instruction.createMemU32(Code.Mov_rm16_imm16, m, value & 0xffff) : Instruction.createMemU32(Code.Mov_rm32_imm32, m, value >>> 0);
  }

  /** MOV AL/AX/EAX, moffs and back: an offset of the mode's address size. */
  private moffs(st: GenState): Operand {
    const seg = this.chance(0.25) ? this.pick(this.t.overrides) : Register.None;
    const off = this.dataTarget() - st.segBase[seg === Register.None ? DS : SEG_REGS.indexOf(seg)]!;
    return { mem: MemoryOperand.new64(Register.None, Register.None, 1, BigInt(off), this.bits === 16 ? 2 : 4, false, seg) };
  }

  /** LEA needs no valid memory: any registers, any displacement, 16- or 32-bit addressing. */
  private leaMemoryLegacy(): Operand {
    if (this.chance(this.bits === 16 ? 0.7 : 0.3)) {
      const form = this.pick([[BX, SI], [BX, DI], [BP, SI], [BP, DI], [SI], [DI], [BP], [BX], []]);
      const disp = this.chance(0.5) ? this.int(0, 0xffff) : this.int(-128, 127);
      const dispSize = form.length === 0 ? 2 : disp >= -128 && disp <= 127 ? 1 : 2;
      return { mem: MemoryOperand.new64(form.length > 0 ? R16[form[0]!]! : Register.None, form.length > 1 ? R16[form[1]!]! : Register.None, 1, BigInt(disp), dispSize, false, Register.None) };
    }
    const base = this.chance(0.9) ? R32[this.int(0, 7)]! : Register.None;
    let index: number = this.chance(0.6) ? R32[this.int(0, 7)]! : Register.None;
    if (index === Register.ESP) index = Register.None;
    const disp = this.chance(0.5) ? this.u32() | 0 : this.int(-128, 127);
    return { mem: MemoryOperand.new64(base, index, this.pick([1, 2, 4, 8]), BigInt(disp), base === Register.None && index === Register.None ? 4 : Math.abs(disp) < 128 ? 1 : 4, false, Register.None) };
  }

  /**
   * Segment use the oracle models: Unicorn does no type checks on data accesses, so a
   * write through CS (a fault in protected mode) is never generated for it.
   */
  private segmentUseOk(ins: Iced.Instruction): boolean {
    if (this.t.checksSegmentTypes || this.t.mode === "real16") return true;
    const info = infoFactory.info(ins);
    try {
      for (const m of info.usedMemory() as Iced.UsedMemory[]) {
        const a = m.access;
        const writes = a === iced.OpAccess.Write || a === iced.OpAccess.CondWrite || a === iced.OpAccess.ReadWrite || a === iced.OpAccess.ReadCondWrite;
        if (writes && m.segment === Register.CS) return false;
      }
      return true;
    } finally {
      info.free();
    }
  }

  /** LEA needs no valid memory: any registers, any displacement, 32- or 64-bit. */
  private leaMemory(): Operand {
    const use32 = this.chance(0.3);
    const table = use32 ? R32 : R64;
    const base = this.chance(0.9) ? table[this.int(0, 15)]! : Register.None;
    let index: number = this.chance(0.6) ? table[this.int(0, 15)]! : Register.None;
    if (index === Register.RSP || index === Register.ESP) index = Register.None;
    const disp = this.chance(0.5) ? this.u32() | 0 : this.int(-128, 127);
    if (this.chance(0.1)) return { mem: MemoryOperand.new64(Register.RIP, Register.None, 1, BigInt(this.t.dataBase + this.int(0, 0x100000)), 8, false, Register.None) };
    return { mem: MemoryOperand.new64(base, index, this.pick([1, 2, 4, 8]), BigInt(disp), base === Register.None && index === Register.None ? 4 : Math.abs(disp) < 128 ? 1 : 4, false, Register.None) };
  }

  private noopSegment(): number {
    // ES/CS/SS/DS overrides are ignored in 64-bit mode; FS/GS bases differ natively, so never.
    return this.chance(0.1) ? this.pick(this.t.overrides) : Register.None;
  }

  private freeReg(busy: Set<number>): number {
    for (;;) {
      const r = this.int(0, 15);
      if (!busy.has(r)) {
        busy.add(r);
        return r;
      }
    }
  }

  /** A free one of the eight legacy registers, or -1. */
  private freeReg8(busy: Set<number>): number {
    const free = [0, 1, 2, 3, 5, 6, 7].filter((r) => !busy.has(r));
    if (free.length === 0) return -1;
    const r = this.pick(free);
    busy.add(r);
    return r;
  }

  /** DIV/IDIV: usually make the division valid (no #DE); sometimes leave it to chance. */
  private divSetup(setup: Iced.Instruction[], ins: Iced.Instruction, mnem: string): void {
    if (this.chance(0.25)) return;
    const size = ins.op0Kind === iced.OpKind.Register ? RegisterExt.size(ins.op0Register) : iced.MemorySizeExt.size(ins.memorySize);
    const isReg = ins.op0Kind === iced.OpKind.Register;
    const divReg = isReg ? RegisterExt.fullRegister(ins.op0Register) : Register.None;
    if (divReg === Register.RAX || divReg === Register.RDX || divReg === Register.RSP) return;
    if (isReg) {
      const v = this.int(1, 0x7fff) * (this.chance(0.5) ? 1 : 65537);
      setup.push(this.legacy
        ? Instruction.createRegU32(Code.Mov_r32_imm32, R32[R64.indexOf(divReg)]!, v)
        : Instruction.createRegU64(Code.Mov_r64_imm64, divReg, BigInt(v)));
    }
    if (mnem === "div") {
      setup.push(size === 1
        ? Instruction.createRegI32(Code.Mov_r8_imm8, Register.AH, 0)
        : Instruction.createRegReg(Code.Xor_r32_rm32, Register.EDX, Register.EDX));
    } else {
      setup.push(Instruction.create(size === 1 ? Code.Cbw : size === 2 ? Code.Cwd : size === 4 ? Code.Cdq : Code.Cqo));
    }
  }

  /** A CMP of two random registers: defines all six status flags. */
  private cmp(): Iced.Instruction {
    return this.legacy
      ? Instruction.createRegReg(Code.Cmp_rm32_r32, R32[this.int(0, 7)]!, R32[this.int(0, 7)]!)
      : Instruction.createRegReg(Code.Cmp_rm64_r64, R64[this.int(0, 15)]!, R64[this.int(0, 15)]!);
  }

  /**
   * An item of straight-line instructions: each one that reads a flag currently undefined
   * gets a CMP (which defines all six) in front; the undefined-flag state is followed
   * through every instruction with iced's per-instruction flag tables.
   */
  private emit(st: GenState, list: Iced.Instruction[], effects?: Map<Iced.Instruction, (u: number) => number>): Item {
    const out: Iced.Instruction[] = [];
    const masks: number[] = [];
    for (const ins of list) {
      if ((archFlags(ins.rflagsRead) & st.undef) !== 0) {
        masks.push(st.undef);
        out.push(this.cmp());
        st.undef = 0;
      }
      masks.push(st.undef);
      out.push(ins);
      const effect = effects?.get(ins);
      if (effect !== undefined) st.undef = effect(st.undef);
      else st.undef = (st.undef & ~archFlags(ins.rflagsModified)) | archFlags(ins.rflagsUndefined);
    }
    return { len: this.lenOf(out), reach: 0, needsTarget: false, make: () => out, masks };
  }

  /**
   * Branches leave with every flag defined (a CMP first if needed): then the state at a
   * branch target is the straight-line state, whichever way control arrived.
   */
  private beforeBranch(st: GenState): Item[] {
    if (st.undef === 0) return [];
    const it = this.emit(st, [this.cmp()]);
    st.undef = 0;
    return [it];
  }

  private branch(st: GenState, code: number, reach: number): Item[] | null {
    const probe = Instruction.createBranch(code, BigInt(this.t.codeBase + 16));
    if (!this.encodable(probe)) return null;
    const len = this.encode(probe, this.t.codeBase).length;
    const inc = probe.stackPointerIncrement;
    probe.free();
    if (!this.stackOk(st, inc)) return null;
    st.rsp += inc;
    const items = this.beforeBranch(st);
    items.push({ len, reach, needsTarget: true, masks: [0], make: (t) => [Instruction.createBranch(code, BigInt(t))] });
    return items;
  }

  /** A push of `size` bytes of an immediate (the operand size of what pops it). */
  private pushImm(size: number, value: number): Iced.Instruction {
    if (size === 8) return Instruction.createI32(Code.Pushq_imm32, value);
    return size === 4 ? Instruction.createU32(Code.Pushd_imm32, value >>> 0) : Instruction.createU32(Code.Push_imm16, value & 0xffff);
  }

  /** RET / RET imm16: push a forward target, return to it. */
  private ret(st: GenState, code: number, name: string): Item[] | null {
    if (/^Retf/.test(name)) return null;
    const size = /^Retnw/.test(name) ? 2 : /^Retnd/.test(name) ? 4 : 8;
    if (this.legacy && size === 2 && !this.ip16) return null;
    const imm = /imm16/.test(name) ? this.int(0, 64) & ~7 : 0;
    const mk = (t: number) => [
      this.legacy ? this.pushImm(size, t) : Instruction.createI32(Code.Pushq_imm32, t),
      imm > 0 || /imm16/.test(name) ? Instruction.createI32(code, imm) : Instruction.create(code),
    ];
    if (!this.stackOk(st, imm)) return null;
    st.rsp += imm;
    return [...this.beforeBranch(st), { len: this.lenOf(mk(this.t.codeBase + 0x100)), reach: 1 << 30, needsTarget: true, masks: [0, 0], make: mk }];
  }

  /** JMP/CALL r/m64: the target in a register (or in memory). */
  private indirect(st: GenState, code: number): Item[] | null {
    const r = this.int(0, 15);
    if (r === 4) return null;
    const isCall = /^Call/.test(Code[code]!);
    if (isCall && !this.stackOk(st, -8)) return null;
    if (isCall) st.rsp -= 8;
    const mk = (t: number) => [
      Instruction.createRegU64(Code.Mov_r64_imm64, R64[r]!, BigInt(t)),
      Instruction.createReg(code, R64[r]!),
    ];
    return [...this.beforeBranch(st), { len: this.lenOf(mk(this.t.codeBase)), reach: 1 << 30, needsTarget: true, masks: [0, 0], make: mk }];
  }

  /** JMP/CALL r/m16 and r/m32 (16/32-bit code): the target in a register or in memory. */
  private indirectLegacy(st: GenState, code: number, name: string): Item[] | null {
    const size = /16$/.test(name) ? 2 : 4;
    if (size === 2 && !this.ip16) return null;
    const isCall = /^Call/.test(name);
    if (isCall && !this.stackOk(st, -size)) return null;
    const busy = new Set<number>([4]);
    let mk: (t: number) => Iced.Instruction[];
    if (this.chance(0.5)) {
      const r = this.freeReg8(busy);
      const table = size === 2 ? R16 : R32;
      mk = (t) => [Instruction.createRegU32(size === 2 ? Code.Mov_r16_imm16 : Code.Mov_r32_imm32, table[r]!, t), Instruction.createReg(code, table[r]!)];
    } else {
      const setup: Iced.Instruction[] = [];
      const m = this.legacyMemory(st, setup, busy);
      const probe = Instruction.createMem(code, memOp(m.spec));
      const ok = this.segmentUseOk(probe);
      probe.free();
      if (!ok) return null;
      const segs = st.segBase.slice();
      mk = (t) => [...setup.map(cloneIns), this.store(segs, m.linear, size, t), Instruction.createMem(code, memOp(m.spec))];
    }
    if (isCall) st.rsp -= size;
    const probe = mk(this.t.codeBase);
    return [...this.beforeBranch(st), { len: this.lenOf(probe), reach: 1 << 30, needsTarget: true, masks: probe.map(() => 0), make: mk }];
  }

  /** ENTER / LEAVE with RBP pointed into the data region first. */
  private frame(st: GenState, code: number, name: string): Item[] | null {
    if (this.legacy) return this.frameLegacy(st, code, name);
    if (/^Leave/.test(name)) {
      const rbp = (st.rsp + this.int(0, 8) * 8) & ~7;
      const size = /16$/.test(name) ? 2 : 8;
      if (rbp + size > this.t.dataBase + this.t.dataSize - 0x400) return null;
      st.rsp = rbp + size;
      return [this.emit(st, [Instruction.createRegU64(Code.Mov_r64_imm64, Register.RBP, BigInt(rbp)), Instruction.create(code)])];
    }
    const size = /16$/.test(name) ? 2 : 8;
    const alloc = this.int(0, 64);
    const level = this.chance(0.5) ? 0 : this.int(1, 4);
    const total = size + (level > 0 ? level * size : 0) + alloc;
    if (st.rsp - total < this.t.dataBase + 0x400) return null;
    st.rsp -= total;
    const rbp = this.t.dataBase + this.int(0x1000, 0x3000);
    return [this.emit(st, [Instruction.createRegU64(Code.Mov_r64_imm64, Register.RBP, BigInt(rbp)), Instruction.createI32I32(code, alloc, level)])];
  }

  /** ENTER / LEAVE in 16/32-bit code: (E)BP is an offset in SS. */
  private frameLegacy(st: GenState, code: number, name: string): Item[] | null {
    const size = /^(Leavew|Enterw)/.test(name) ? 2 : 4;
    const ssBase = st.segBase[SS]!;
    if (/^Leave/.test(name)) {
      const rbp = (st.rsp + this.int(0, 8) * size) & ~(size - 1);
      if (!this.stackOk(st, rbp + size - st.rsp)) return null;
      st.rsp = rbp + size;
      return [this.emit(st, [Instruction.createRegU32(Code.Mov_r32_imm32, Register.EBP, (rbp - ssBase) >>> 0), Instruction.create(code)])];
    }
    const alloc = this.int(0, 64);
    const level = this.chance(0.5) ? 0 : this.int(1, 4);
    const total = size + (level > 0 ? level * size : 0) + alloc;
    if (!this.stackOk(st, -total)) return null;
    st.rsp -= total;
    const rbp = this.t.dataBase + this.int(this.t.dataSize / 4, (this.t.dataSize * 3) / 4);
    const setup = [Instruction.createRegU32(Code.Mov_r32_imm32, Register.EBP, (rbp - ssBase) >>> 0)];
    // The upper half of ESP is random in real16 (a 16-bit stack never uses it) but for this.
    if (size === 4 && this.t.mode === "real16" && this.t.enter32TakesOnlySp === true) {
      setup.push(Instruction.createRegReg(Code.Movzx_r32_rm16, Register.ESP, Register.SP));
    }
    return [this.emit(st, [...setup, Instruction.createI32I32(code, alloc, level)])];
  }

  /** The flags image POPF/IRET load: the status flags and DF; at CPL 0 IF too. */
  private flagsImage(): number {
    let image = 0x202 | (this.int(0, 0xfff) & (CF | PF | AF | ZF | SF | OF | DF));
    if (this.t.cpl0 && this.chance(0.5)) image &= ~IF;
    return image;
  }

  /** POPF: pop a flags image that only changes the status flags and DF (and IF at CPL 0). */
  private popf(st: GenState, code: number, name: string): Item[] | null {
    if (this.legacy) {
      const size = /Popfw/.test(name) ? 2 : 4;
      const image = this.flagsImage();
      return [this.emit(st, [this.pushImm(size, image), Instruction.create(code)])];
    }
    const size = /Popfw/.test(name) ? 2 : 8;
    if (!this.stackOk(st, -8 + size)) return null;
    st.rsp += -8 + size;
    const image = 0x202 | (this.int(0, 0xfff) & (CF | PF | AF | ZF | SF | OF | DF));
    return [this.emit(st, [Instruction.createI32(Code.Pushq_imm32, image), Instruction.create(code)])];
  }

  /** String instructions (and XLAT) with rSI/rDI/rCX set up inside the data region. */
  private stringOp(st: GenState, code: number, mnem: string): Item[] | null {
    if (this.legacy) return this.stringOpLegacy(st, code, mnem);
    const asize = this.chance(0.8) ? 64 : 32;
    const setup: Iced.Instruction[] = [];
    const mid = () => BigInt(this.t.dataBase + this.int(0x1000, 0x3000));
    setup.push(Instruction.createRegU64(Code.Mov_r64_imm64, Register.RSI, mid()));
    setup.push(Instruction.createRegU64(Code.Mov_r64_imm64, Register.RDI, mid()));
    setup.push(Instruction.createRegU64(Code.Mov_r64_imm64, Register.RBX, mid()));
    const rep = this.pick([0, 0, 1, 2]);
    const n = this.int(0, 20);
    setup.push(Instruction.createRegU32(Code.Mov_r32_imm32, Register.ECX, n));
    const ins = buildString(code, mnem, asize, rep, Register.None);
    if (ins === null || !this.encodable(ins)) return null;
    // A repeated instruction with rCX = 0 does nothing, flags included.
    const effects = new Map<Iced.Instruction, (u: number) => number>();
    if (rep !== 0 && n === 0) effects.set(ins, (u) => u);
    return [this.emit(st, [...setup, ins], effects)];
  }

  /**
   * String instructions in 16/32-bit code: 16- or 32-bit addressing (SI/DI or ESI/EDI),
   * the source through DS or an override, the destination through ES, each register set
   * to the offset of a place in the middle of the data region in its segment.
   */
  private stringOpLegacy(st: GenState, code: number, mnem: string): Item[] | null {
    const asize = this.addressSize();
    const setup: Iced.Instruction[] = [];
    const mid = () => this.t.dataBase + this.int(this.t.dataSize / 4, (this.t.dataSize * 3) / 4);
    const seg = this.chance(0.25) ? this.pick(this.t.overrides) : Register.None;
    const srcBase = st.segBase[seg === Register.None ? DS : SEG_REGS.indexOf(seg)]!;
    const set = (r: number, value: number) => setup.push(asize === 16
      ? Instruction.createRegU32(Code.Mov_r16_imm16, R16[r]!, value & 0xffff)
      : Instruction.createRegU32(Code.Mov_r32_imm32, R32[r]!, value >>> 0));
    set(SI, mid() - srcBase);
    set(DI, mid() - st.segBase[ES]!);
    set(BX, mid() - srcBase);
    const rep = this.pick([0, 0, 1, 2]);
    const n = this.int(0, 20);
    setup.push(Instruction.createRegU32(Code.Mov_r32_imm32, Register.ECX, n));
    const ins = buildString(code, mnem, asize, rep, seg);
    if (ins === null || !this.encodable(ins)) return null;
    if (!this.segmentUseOk(ins)) return null;
    const effects = new Map<Iced.Instruction, (u: number) => number>();
    if (rep !== 0 && n === 0) effects.set(ins, (u) => u);
    return [this.emit(st, [...setup, ins], effects)];
  }

  // ---- 16/32-bit code with the oracle's segment registers -----------------------------

  /**
   * Zero the stack slot a 32-bit push of a selector is about to write: PUSH Sreg and far
   * CALL with a 32-bit operand size write either the zero-extended selector or only its
   * 16 bits (SDM Vol. 2B PUSH: "all recent Core and Atom processors perform a 16-bit
   * move"), so the upper half must already be zero for the result to be defined.
   * `push dword 0; lea esp, [esp+4]` (LEA: no flags).
   */
  private zeroSlot(): Iced.Instruction[] {
    const lea = Instruction.createRegMem(Code.Lea_r32_m, Register.ESP, MemoryOperand.new64(Register.ESP, Register.None, 1, 4n, 1, false, Register.None));
    return [Instruction.createI32(Code.Pushd_imm8, 0), lea];
  }

  /** PUSH Sreg; POP Sreg (after a push of a value that keeps the data region in reach). */
  private pushPopSegment(st: GenState, code: number, name: string): Item[] | null {
    if (!this.t.segments) return null;
    const size = /^(Push|Pop)w/.test(name) ? 2 : 4;
    const seg = SEG_REGS.indexOf(Register[name.replace(/^.*_/, "") as keyof typeof Register] as number);
    if (/^Push/.test(name)) {
      if (!this.stackOk(st, -size - 4)) return null;
      st.rsp -= size;
      return [this.emit(st, [...(size === 4 ? this.zeroSlot() : []), Instruction.createReg(code, SEG_REGS[seg]!)])];
    }
    if (!this.stackOk(st, -size)) return null;
    const value = this.segmentValue(st, seg);
    const barrier = this.setSegment(st, seg, value);
    const it = this.emit(st, [this.pushImm(size, value), Instruction.createReg(code, SEG_REGS[seg]!)]);
    if (barrier) it.barrier = true;
    return [it];
  }

  /** MOV Sreg, r/m16 (not CS: #UD). */
  private movToSegment(st: GenState, code: number, name: string): Item[] | null {
    if (!this.t.segments) return null;
    const seg = this.pick([ES, SS, DS, 4, 5]);
    const value = this.segmentValue(st, seg);
    const setup: Iced.Instruction[] = [];
    const busy = new Set<number>([4]);
    let ins: Iced.Instruction;
    if (this.chance(0.5)) {
      const r = this.freeReg8(busy);
      setup.push(Instruction.createRegU32(Code.Mov_r32_imm32, R32[r]!, ((this.int(0, 0xffff) << 16) | value) >>> 0));
      ins = Instruction.createRegReg(code, SEG_REGS[seg]!, /r32m16/.test(name) ? R32[r]! : R16[r]!);
    } else {
      const m = this.legacyMemory(st, setup, busy);
      setup.push(this.store(st.segBase, m.linear, 2, value));
      ins = Instruction.createRegMem(code, SEG_REGS[seg]!, memOp(m.spec));
    }
    if (!this.encodable(ins)) return null;
    const barrier = this.setSegment(st, seg, value);
    const it = this.emit(st, [...setup, ins]);
    if (barrier) it.barrier = true;
    return [it];
  }

  /** LDS/LES/LSS/LFS/LGS r, m16:16/m16:32: a far pointer stored in the data region first. */
  private loadFarPointer(st: GenState, code: number, name: string): Item[] | null {
    if (!this.t.segments) return null;
    const size = /m1616$/.test(name) ? 2 : 4;
    const seg = { ds: DS, es: ES, ss: SS, fs: 4, gs: 5 }[name.slice(1, 3).toLowerCase() as "ds"]!;
    const setup: Iced.Instruction[] = [];
    const busy = new Set<number>([4]);
    // LSS: the register is usually (E)SP, loaded with the stack pointer it already has.
    const toSp = seg === SS && this.chance(0.7);
    const r = toSp ? 4 : this.freeReg8(busy);
    const m = this.legacyMemory(st, setup, busy);
    const value = this.segmentValue(st, seg);
    const offset = toSp ? st.rsp - st.segBase[SS]! : this.u32();
    if (toSp && size === 2 && (offset & 0xffff) !== offset) return null;
    setup.push(this.store(st.segBase, m.linear, size, offset), this.store(st.segBase, m.linear + size, 2, value));
    const ins = Instruction.createRegMem(code, (size === 2 ? R16 : R32)[r]!, memOp(m.spec));
    if (!this.encodable(ins)) return null;
    const barrier = this.setSegment(st, seg, value);
    const it = this.emit(st, [...setup, ins]);
    if (barrier || toSp) it.barrier = true;
    return [it];
  }

  /** BOUND r, m: usually bounds around the index (no #BR); sometimes random data. */
  private bound(st: GenState, code: number, name: string): Item[] | null {
    const size = /m1616$/.test(name) ? 2 : 4;
    const setup: Iced.Instruction[] = [];
    const busy = new Set<number>([4]);
    const r = this.freeReg8(busy);
    const m = this.legacyMemory(st, setup, busy);
    const ins = Instruction.createRegMem(code, (size === 2 ? R16 : R32)[r]!, memOp(m.spec));
    if (!this.encodable(ins)) return null;
    if (this.chance(0.7)) {
      const index = size === 2 ? this.int(-0x8000, 0x7fff) : this.u32() | 0;
      const lo = Math.max(index - this.int(0, 100), size === 2 ? -0x8000 : -0x80000000);
      const hi = Math.min(index + this.int(0, 100), size === 2 ? 0x7fff : 0x7fffffff);
      setup.push(Instruction.createRegU32(Code.Mov_r32_imm32, R32[r]!, index >>> 0));
      setup.push(this.store(st.segBase, m.linear, size, lo), this.store(st.segBase, m.linear + size, size, hi));
    }
    return [this.emit(st, [...setup, ins])];
  }

  /** The code selector of the target (far transfers stay in it). */
  private csValue(st: GenState): number {
    return st.segSel[CS]!;
  }

  /** JMP/CALL far: direct (ptr16:16/32) or through a far pointer in memory, to CS itself. */
  private far(st: GenState, code: number, name: string): Item[] | null {
    if (!this.t.segments) return null;
    const size = /(1616|ptr1616)$/.test(name) ? 2 : 4;
    if (size === 2 && !this.ip16) return null;
    const isCall = /^Call/.test(name);
    if (isCall && !this.stackOk(st, -2 * size - 4)) return null;
    const cs = this.csValue(st);
    const zero = isCall && size === 4 ? this.zeroSlot() : [];
    let mk: (t: number) => Iced.Instruction[];
    if (/ptr/.test(name)) {
      mk = (t) => [...zero.map(cloneIns), Instruction.createFarBranch(code, cs, t)];
    } else {
      const setup: Iced.Instruction[] = [];
      const busy = new Set<number>([4]);
      const m = this.legacyMemory(st, setup, busy);
      const segs = st.segBase.slice();
      // The slot is zeroed first: the far pointer may lie just below the stack pointer.
      mk = (t) => [
        ...zero.map(cloneIns), ...setup.map(cloneIns), this.store(segs, m.linear, size, t), this.store(segs, m.linear + size, 2, cs),
        Instruction.createMem(code, memOp(m.spec)),
      ];
    }
    if (isCall) st.rsp -= 2 * size;
    const probe = mk(this.t.codeBase);
    const len = this.lenOf(probe);
    return [...this.beforeBranch(st), { len, reach: 1 << 30, needsTarget: true, masks: probe.map(() => 0), make: mk }];
  }

  /** RETF / RETF imm16: push CS and a forward target, return to it. */
  private retf(st: GenState, code: number, name: string): Item[] | null {
    if (!this.t.segments) return null;
    const size = /^Retfw/.test(name) ? 2 : 4;
    if (size === 2 && !this.ip16) return null;
    const imm = /imm16/.test(name) ? this.int(0, 16) * size : 0;
    if (!this.stackOk(st, -2 * size) || !this.stackOk(st, imm)) return null;
    const cs = this.csValue(st);
    const mk = (t: number) => [
      this.pushImm(size, cs), this.pushImm(size, t),
      /imm16/.test(name) ? Instruction.createI32(code, imm) : Instruction.create(code),
    ];
    st.rsp += imm;
    return [...this.beforeBranch(st), { len: this.lenOf(mk(this.t.codeBase)), reach: 1 << 30, needsTarget: true, masks: [0, 0, 0], make: mk }];
  }

  /** IRET: push a flags image, CS and a forward target, return to it (same privilege). */
  private iret(st: GenState, code: number, name: string): Item[] | null {
    if (!this.t.segments) return null;
    const size = /^Iretw/.test(name) ? 2 : 4;
    if (size === 2 && !this.ip16) return null;
    if (!this.stackOk(st, -3 * size)) return null;
    const cs = this.csValue(st);
    const image = this.flagsImage();
    const mk = (t: number) => [this.pushImm(size, image), this.pushImm(size, cs), this.pushImm(size, t), Instruction.create(code)];
    const items = this.beforeBranch(st);
    // IRET loads every flag: none is undefined after it.
    items.push({ len: this.lenOf(mk(this.t.codeBase)), reach: 1 << 30, needsTarget: true, masks: [0, 0, 0, 0], make: mk });
    return items;
  }

  /**
   * INT n: in real mode delivered through the IVT to an IRET (the case's IVT points every
   * vector there); in protected mode the IDT limit is 0, so #GP(n * 8 + 2), an ending.
   */
  private intN(st: GenState, code: number): Item[] | null {
    if (!this.t.segments || this.t.intN !== true) return null;
    if (this.t.mode === "real16" && (this.t.ivtHandler === undefined || !this.stackOk(st, -6))) return null;
    // Real mode pushes FLAGS: every flag must be defined first.
    return [...this.beforeBranch(st), this.emit(st, [Instruction.createI32(code, this.int(0, 255))])];
  }

  /** The last item of a sequence: something that traps or faults. */
  private ending(st: GenState): Item[] | null {
    const k = this.int(0, 5);
    if (k === 0) return [this.emit(st, [Instruction.create(Code.Ud2)])];
    if (k === 1) return [this.emit(st, [Instruction.create(Code.Int3)])];
    if (k === 2) return [this.emit(st, [Instruction.createRegReg(this.pick([Code.Ud1_r32_rm32, Code.Ud0_r32_rm32]), Register.EAX, Register.ECX)])];
    if (k === 3 && this.t.segments && this.t.mode !== "real16") return this.badSegmentLoad(st);
    if (k === 4 && this.t.segments && this.t.mode !== "real16") return this.badFarTransfer(st);
    if (this.endingPool.length === 0) return null;
    return this.item(st, this.pick(this.endingPool));
  }

  /**
   * A far JMP/CALL that faults before it transfers: #GP(selector) for a data segment, a DPL 3
   * code segment (CPL 0, not conforming), an index beyond the GDT limit; #GP(0) for null.
   */
  private badFarTransfer(st: GenState): Item[] | null {
    const sel = this.pick(this.t.mode === "compat32" ? [0, 0x10, 0x20, 0x28, 0x30, 0x48, 0x23] : [0, 0x10, 0x20, 0x28, 0x48, 0x23]);
    const code = this.pick([Code.Jmp_ptr1632, Code.Call_ptr1632, Code.Jmp_ptr1616, Code.Call_ptr1616]);
    if (!this.stackOk(st, -8)) return null;
    return [this.emit(st, [Instruction.createFarBranch(code, sel, this.t.codeBase)])];
  }

  /** A selector load that faults: #GP(selector) for a bad index, type, RPL or DPL; #GP(0) for a null SS. */
  private badSegmentLoad(st: GenState): Item[] | null {
    const toSs = this.chance(0.4);
    const sel = toSs ? this.pick([0, 0x18, 0x28, 0x2b, 0x48, 0x38]) : this.pick([0x48, 0x38, 0x3b, 0x13, 0x50, 0xfff8]);
    const busy = new Set<number>([4]);
    const r = this.freeReg8(busy);
    return [this.emit(st, [
      Instruction.createRegU32(Code.Mov_r16_imm16, R16[r]!, sel),
      Instruction.createRegReg(Code.Mov_Sreg_rm16, toSs ? Register.SS : this.pick([Register.DS, Register.ES, Register.FS, Register.GS]), R16[r]!),
    ])];
  }
}

function cloneIns(x: Iced.Instruction): Iced.Instruction {
  return x.clone();
}

/** A memory operand as plain data (iced's MemoryOperand is consumed by the instruction made with it). */
interface MemSpec {
  base: number;
  index: number;
  scale: number;
  disp: number;
  dispSize: number;
  seg: number;
}

function memOp(m: MemSpec): Iced.MemoryOperand {
  return MemoryOperand.new64(m.base, m.index, m.scale, BigInt(m.disp), m.dispSize, false, m.seg);
}

interface GenState {
  undef: number;
  /** Linear address of the top of the stack (straight-line estimate across branches). */
  rsp: number;
  /** Segment bases (linear) and values (selectors or paragraphs), ES CS SS DS FS GS. */
  segBase: number[];
  segSel: number[];
}

type Operand = { reg: number } | { mem: Iced.MemoryOperand } | { imm: number } | { imm64: bigint };

function create(code: number, ops: Operand[]): Iced.Instruction | null {
  const I = Instruction;
  const shape = ops.map((o) => ("reg" in o ? "R" : "mem" in o ? "M" : "imm64" in o ? "Q" : "I")).join("");
  const r = (k: number) => (ops[k] as { reg: number }).reg;
  const m = (k: number) => (ops[k] as { mem: Iced.MemoryOperand }).mem;
  const i = (k: number) => (ops[k] as { imm: number }).imm;
  try {
    switch (shape) {
      case "": return I.create(code);
      case "R": return I.createReg(code, r(0));
      case "M": return I.createMem(code, m(0));
      case "I": return I.createI32(code, i(0));
      case "RR": return I.createRegReg(code, r(0), r(1));
      case "RM": return I.createRegMem(code, r(0), m(1));
      case "MR": return I.createMemReg(code, m(0), r(1));
      case "RI": return I.createRegI32(code, r(0), i(1));
      case "MI": return I.createMemI32(code, m(0), i(1));
      case "IR": return I.createI32Reg(code, i(0), r(1));
      case "RQ": return I.createRegU64(code, r(0), (ops[1] as { imm64: bigint }).imm64);
      case "RRI": return I.createRegRegI32(code, r(0), r(1), i(2));
      case "RMI": return I.createRegMemI32(code, r(0), m(1), i(2));
      case "MRI": return I.createMemRegI32(code, m(0), r(1), i(2));
      case "RRR": return I.createRegRegReg(code, r(0), r(1), r(2));
      case "MRR": return I.createMemRegReg(code, m(0), r(1), r(2));
      case "II": return I.createI32I32(code, i(0), i(1));
      default: return null;
    }
  } catch {
    return null;
  }
}

function buildString(code: number, mnem: string, asize: number, rep: number, seg: number): Iced.Instruction | null {
  const I = Instruction;
  const R = iced.RepPrefixKind;
  const rk = rep === 0 ? R.None : rep === 1 ? R.Repe : R.Repne;
  const name = Code[code]!;
  const size = /_m8|sb$|_AL_m8|sb_/.test(name) ? "b" : /m16|sw$|sw_/.test(name) ? "w" : /m32|sd$|sd_/.test(name) ? "d" : "q";
  try {
    switch (mnem.slice(0, 4)) {
      case "movs": return ({ b: I.createMovsb, w: I.createMovsw, d: I.createMovsd, q: I.createMovsq } as const)[size](asize, seg, rk);
      case "cmps": return ({ b: I.createCmpsb, w: I.createCmpsw, d: I.createCmpsd, q: I.createCmpsq } as const)[size](asize, seg, rk);
      case "stos": return ({ b: I.createStosb, w: I.createStosw, d: I.createStosd, q: I.createStosq } as const)[size](asize, rk);
      case "lods": return ({ b: I.createLodsb, w: I.createLodsw, d: I.createLodsd, q: I.createLodsq } as const)[size](asize, seg, rk);
      case "scas": return ({ b: I.createScasb, w: I.createScasw, d: I.createScasd, q: I.createScasq } as const)[size](asize, rk);
      case "insb": case "insw": case "insd": return ({ b: I.createInsb, w: I.createInsw, d: I.createInsd, q: I.createInsd } as const)[size](asize, rep === 0 ? R.None : R.Repe);
      case "outs": return ({ b: I.createOutsb, w: I.createOutsw, d: I.createOutsd, q: I.createOutsd } as const)[size](asize, seg, rep === 0 ? R.None : R.Repe);
      case "xlat": {
        const bx = asize === 64 ? Register.RBX : asize === 32 ? Register.EBX : Register.BX;
        return I.createMem(code, MemoryOperand.new64(bx, Register.AL, 1, 0n, 0, false, seg));
      }
      default: return null;
    }
  } catch {
    return null;
  }
}

const infoFactory = new iced.InstructionInfoFactory();

/** True when an explicit operand of `ins` writes RSP (or ESP/SP/SPL). */
function writesRspExplicitly(ins: Iced.Instruction): boolean {
  const info = infoFactory.info(ins);
  try {
    for (let k = 0; k < ins.opCount; k++) {
      if (ins.opKind(k) !== iced.OpKind.Register) continue;
      if (RegisterExt.fullRegister(ins.opRegister(k)) !== Register.RSP) continue;
      const a = info.opAccess(k);
      if (a !== iced.OpAccess.Read && a !== iced.OpAccess.CondRead && a !== iced.OpAccess.NoMemAccess) return true;
    }
    return false;
  } finally {
    info.free();
  }
}

/** Size in bytes of operand 0 (register or memory). */
function operandSize(ins: Iced.Instruction): number {
  return ins.op0Kind === iced.OpKind.Register ? RegisterExt.size(ins.op0Register) : iced.MemorySizeExt.size(ins.memorySize);
}

function size16DoubleShift(ins: Iced.Instruction, mnem: string): boolean {
  return (mnem === "shld" || mnem === "shrd") && operandSize(ins) === 2;
}

const ALL6 = CF | PF | AF | ZF | SF | OF;

/**
 * The undefined-flag state after a shift or rotate by `count` (SDM Vol. 2B RCL/RCR/ROL/
 * ROR, SAL/SAR/SHL/SHR, SHLD, SHRD): a masked count of 0 changes nothing; OF is defined
 * only for a count of 1; AF is undefined after a shift; CF is undefined after SHL/SHR by
 * the operand width or more; rotates touch only CF and OF (RCL/RCR keep CF when the
 * count is a multiple of width + 1).
 */
function shiftFlagEffect(mnem: string, size: number, count: number, u: number): number {
  const masked = count & (size === 8 ? 63 : 31);
  if (masked === 0) return u;
  const of = masked !== 1 ? OF : 0;
  switch (mnem) {
    case "rol":
    case "ror":
      return (u & ~(CF | OF)) | of;
    case "rcl":
    case "rcr": {
      const eff = size === 1 ? masked % 9 : size === 2 ? masked % 17 : masked;
      return (u & ~(OF | (eff !== 0 ? CF : 0))) | of;
    }
    case "shld":
    case "shrd":
      return (u & ~ALL6) | AF | of;
    case "sar":
      return (u & ~ALL6) | AF | of;
    default: // shl sal shr
      return (u & ~ALL6) | AF | of | (masked >= size * 8 ? CF : 0);
  }
}
