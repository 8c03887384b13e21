// Random instruction sequences for the native-CPU oracle, built with iced-x86's encoder
// over every encoding form (iced `Code`) of the mnemonics our opcode map implements.
//
// Every sequence is well-defined on real hardware: memory operands are pointed into the
// data region by `mov` set-up instructions, RSP stays inside it, branches go forward to
// instruction boundaries, and an instruction that reads a flag the SDM leaves undefined
// (iced's per-instruction rflagsUndefined) is preceded by a CMP that defines all six.
// The flags still undefined at the end are returned as a mask for the comparison.

import seedrandom from "seedrandom";
import { iced, implementedMnemonics, type Iced } from "../support/iced.js";
import { CF, DF, OF, PF, SF, ZF, AF } from "../../src/cpu/flags.js";
import { CODE_BASE, CODE_SIZE, DATA_BASE, DATA_SIZE, type NativeTest } from "./native.js";

const { Code, CodeExt, Instruction, MemoryOperand, Register, OpCodeOperandKind: K, Encoder, RegisterExt } = iced;

export interface GenTest extends NativeTest {
  /** RFLAGS bits (architectural positions) whose value is undefined after the sequence. */
  undefinedFlags: number;
  /** The same, before the instruction at each address (for a fault there). */
  undefinedAt: Map<number, number>;
  /** Disassembly, one line per instruction, for failure messages. */
  listing: string[];
  /** iced mnemonic of each instruction (lower case), for coverage checks. */
  mnemonics: string[];
}

export interface GenOptions {
  count: number;
  /** Main instructions per sequence (set-up instructions come on top). */
  maxLength?: number;
}

/** Initial RSP: the middle of the data region. */
export const RSP0 = DATA_BASE + 0x2000;
const STACK_LOW = DATA_BASE + 0x400;
const STACK_HIGH = DATA_BASE + DATA_SIZE - 0x400;

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

/**
 * Mnemonics not drawn at random. CPUID and RDTSC/RDTSCP differ by design (a model, a step
 * counter); the trapping ones (UD0-2, INT3) only end a sequence. The rest need CPL 0 or
 * see state that differs between a Linux process and the emulator's booted machine
 * (selectors and descriptors, FS/GS bases, XCR0, UMIP, the I/O bitmap, the IDT): they are
 * checked by the vectors and the system-program tests instead.
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
const EXCLUDED_CODES = /Sreg|_m16(16|32|64)$|^Push[wdq]?_(ES|CS|SS|DS|FS|GS)$|^Pop[wdq]?_(ES|SS|DS|FS|GS)$/;

/** Generatable codes: legacy-encoded, valid in 64-bit mode, with operand kinds we can fill. */
function codePool(): number[] {
  const names = implementedMnemonics();
  const supported = new Set<number>([
    K.r8_or_mem, K.r16_or_mem, K.r32_or_mem, K.r64_or_mem, K.r8_reg, K.r8_opcode, K.r16_reg, K.r16_opcode,
    K.r32_reg, K.r32_opcode, K.r64_reg, K.r64_opcode, K.mem, K.mem_offs, K.al, K.cl, K.ax, K.dx, K.eax, K.rax,
    K.imm8, K.imm8_const_1, K.imm8sex16, K.imm8sex32, K.imm8sex64, K.imm16, K.imm32, K.imm32sex64, K.imm64,
    K.br64_1, K.br64_4, K.seg_rSI, K.es_rDI, K.seg_rDI, K.seg_rBX_al,
  ]);
  const out: number[] = [];
  for (const v of Object.values(Code)) {
    if (typeof v !== "number" || v === Code.INVALID) continue;
    const info = CodeExt.opCode(v);
    try {
      if (info.encoding !== iced.EncodingKind.Legacy || !info.isInstruction || !info.longMode) continue;
      const m = iced.Mnemonic[info.mnemonic]!.toLowerCase();
      if (!names.has(m) || EXCLUDED.has(m)) continue;
      let ok = true;
      for (let k = 0; k < info.opCount; k++) if (!supported.has(info.opKind(k))) ok = false;
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
}

const encoder = new Encoder(64);

function encode(ins: Iced.Instruction, rip: number): Uint8Array {
  try {
    encoder.encode(ins, BigInt(rip));
  } catch (e) {
    encoder.takeBuffer(); // a failed encode may leave partial bytes behind
    throw e;
  }
  return encoder.takeBuffer();
}

function lenOf(list: Iced.Instruction[]): number {
  let n = 0;
  for (const x of list) n += encode(x, CODE_BASE).length;
  return n;
}

export class SequenceGenerator {
  private readonly pool = codePool();
  private readonly rnd: Rand;

  constructor(seed: string) {
    this.rnd = seedrandom(seed);
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

  /** The tests of one batch, at consecutive code addresses starting at CODE_BASE. */
  generate(opts: GenOptions): GenTest[] {
    const out: GenTest[] = [];
    let addr = CODE_BASE;
    for (let t = 0; t < opts.count; t++) {
      const test = this.one(addr, opts.maxLength ?? 24);
      out.push(test);
      addr += (test.code.length + 16 + 15) & ~15;
      if (addr >= CODE_BASE + CODE_SIZE - 0x1000) throw new Error("code region full: use fewer tests per batch");
    }
    return out;
  }

  private one(codeAddr: number, maxLength: number): GenTest {
    const regs = R64.map(() => ({ lo: this.u32() | 0, hi: this.u32() | 0 }));
    regs[4] = { lo: RSP0, hi: 0 };
    const rflags = (this.int(0, 0xfff) & (CF | PF | AF | ZF | SF | OF)) | (this.chance(0.2) ? DF : 0);
    const st: GenState = { undef: 0, rsp: RSP0 };
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
    if (this.chance(0.03)) {
      const end = this.pick([Code.Ud2, Code.Int3, Code.Ud1_r32_rm32, Code.Ud0_r32_rm32]);
      items.push(this.emit(st, [end === Code.Ud2 || end === Code.Int3 ? Instruction.create(end) : Instruction.createRegReg(end, Register.EAX, Register.ECX)]));
    }

    // Layout, then forward branch targets at item boundaries within reach.
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
    const fmt = new iced.Formatter(iced.FormatterSyntax.Intel);
    items.forEach((it, k) => {
      let target = 0;
      if (it.needsTarget) {
        const from = starts[k]! + it.len;
        const options = [...starts.slice(k + 1), end].filter((b) => b - from <= it.reach);
        target = this.pick(options);
      }
      let at = starts[k]!;
      it.make(target).forEach((ins, j) => {
        undefinedAt.set(at, it.masks[j]!);
        mnemonics.push(iced.Mnemonic[ins.mnemonic]!.toLowerCase());
        const b = encode(ins, at);
        ins.ip = BigInt(at);
        listing.push(`${at.toString(16)}: ${Buffer.from(b).toString("hex").padEnd(24)} ${fmt.format(ins)}`);
        at += b.length;
        bytes.push(...b);
        ins.free();
      });
      if (at !== starts[k]! + it.len) throw new Error(`generator: item length changed (${at - starts[k]!} vs ${it.len}) at ${listing.slice(-3).join(" / ")}`);
    });
    fmt.free();
    return { code: Uint8Array.from(bytes), codeAddr, regs, rflags, undefinedFlags: st.undef, undefinedAt, listing, mnemonics };
  }

  // ---- items --------------------------------------------------------------------------

  /** One random instruction with its set-up, or null to retry. */
  private item(st: GenState): Item[] | null {
    const code = this.pick(this.pool);
    const name = Code[code]!;
    const info = CodeExt.opCode(code);
    const mnem = iced.Mnemonic[info.mnemonic]!.toLowerCase();
    const kinds: number[] = [];
    for (let k = 0; k < info.opCount; k++) kinds.push(info.opKind(k));
    const setup: Iced.Instruction[] = [];

    // Control transfer and stack forms with their own rules.
    if (kinds.includes(K.br64_1) || kinds.includes(K.br64_4)) return this.branch(st, code, kinds.includes(K.br64_1) ? 127 : 1 << 30);
    if (/^Ret/.test(name)) return this.ret(st, code, name);
    if (/^(Jmp|Call)_rm64$/.test(name)) return this.indirect(st, code);
    if (/^(Jmp|Call)_rm(16|32)$/.test(name)) return null;
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
      const o = this.operand(kinds[k]!, mnem, setup, busy);
      if (o === null) return null;
      ops.push(o);
    }
    const ins = create(code, ops);
    if (ins === null) return null;
    // Explicit operands must never write RSP (the stack must stay in the data region).
    if (writesRspExplicitly(ins)) return null;
    if (!stackOk(st, ins.stackPointerIncrement)) return null;
    if (!encodable(ins)) return null;

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
      setup.push(Instruction.createRegI32(Code.Mov_rm64_imm32, off, this.int(-512, 511)));
    }
    st.rsp += ins.stackPointerIncrement;
    const effects = new Map<Iced.Instruction, (u: number) => number>();
    if (isShift) effects.set(ins, (u) => shiftFlagEffect(mnem, operandSize(ins), count, u));
    return [this.emit(st, [...setup, ins], effects)];
  }

  private operand(kind: number, mnem: string, setup: Iced.Instruction[], busy: Set<number>): Operand | null {
    const reg = (table: number[], allowHigh = false): Operand => {
      const n = allowHigh ? this.int(0, 19) : this.int(0, 15);
      return { reg: table[n]! };
    };
    switch (kind) {
      case K.r8_reg: case K.r8_opcode: return reg(R8, true);
      case K.r16_reg: case K.r16_opcode: return reg(R16);
      case K.r32_reg: case K.r32_opcode: return reg(R32);
      case K.r64_reg: case K.r64_opcode: return reg(R64);
      case K.r8_or_mem: return this.chance(0.5) ? reg(R8, true) : this.memory(setup, busy, 1);
      case K.r16_or_mem: return this.chance(0.5) ? reg(R16) : this.memory(setup, busy, 2);
      case K.r32_or_mem: return this.chance(0.5) ? reg(R32) : this.memory(setup, busy, 4);
      case K.r64_or_mem: return this.chance(0.5) ? reg(R64) : this.memory(setup, busy, 8);
      case K.mem:
        if (mnem === "lea") return this.leaMemory();
        return this.memory(setup, busy, /16b/.test(mnem) ? 16 : 8);
      case K.mem_offs: {
        const a = DATA_BASE + this.int(0x200, DATA_SIZE - 0x200);
        return { mem: MemoryOperand.new64(Register.None, Register.None, 1, BigInt(a), 8, false, Register.None) };
      }
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

  /** A memory operand inside the data region, with `mov` set-up of its registers. */
  private memory(setup: Iced.Instruction[], busy: Set<number>, size: number): Operand {
    const align = size === 16 ? 16 : 1;
    let target = DATA_BASE + this.int(0x200, DATA_SIZE - 0x200 - 32);
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

  /** LEA needs no valid memory: any registers, any displacement, 32- or 64-bit. */
  private leaMemory(): Operand {
    const use32 = this.chance(0.3);
    const table = use32 ? R32 : R64;
    const base = this.chance(0.9) ? table[this.int(0, 15)]! : Register.None;
    let index: number = this.chance(0.6) ? table[this.int(0, 15)]! : Register.None;
    if (index === Register.RSP || index === Register.ESP) index = Register.None;
    const disp = this.chance(0.5) ? this.u32() | 0 : this.int(-128, 127);
    if (this.chance(0.1)) return { mem: MemoryOperand.new64(Register.RIP, Register.None, 1, BigInt(DATA_BASE + this.int(0, 0x100000)), 8, false, Register.None) };
    return { mem: MemoryOperand.new64(base, index, this.pick([1, 2, 4, 8]), BigInt(disp), base === Register.None && index === Register.None ? 4 : Math.abs(disp) < 128 ? 1 : 4, false, Register.None) };
  }

  private noopSegment(): number {
    // ES/CS/SS/DS overrides are ignored in 64-bit mode; FS/GS bases differ natively, so never.
    return this.chance(0.1) ? this.pick([Register.ES, Register.CS, Register.SS, Register.DS]) : Register.None;
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

  /** DIV/IDIV: usually make the division valid (no #DE); sometimes leave it to chance. */
  private divSetup(setup: Iced.Instruction[], ins: Iced.Instruction, mnem: string): void {
    if (this.chance(0.25)) return;
    const size = ins.op0Kind === iced.OpKind.Register ? RegisterExt.size(ins.op0Register) : iced.MemorySizeExt.size(ins.memorySize);
    const isReg = ins.op0Kind === iced.OpKind.Register;
    const divReg = isReg ? RegisterExt.fullRegister(ins.op0Register) : Register.None;
    if (divReg === Register.RAX || divReg === Register.RDX || divReg === Register.RSP) return;
    if (isReg) {
      const v = this.int(1, 0x7fff) * (this.chance(0.5) ? 1 : 65537);
      setup.push(Instruction.createRegU64(Code.Mov_r64_imm64, divReg, BigInt(v)));
    }
    if (mnem === "div") {
      setup.push(size === 1
        ? Instruction.createRegI32(Code.Mov_r8_imm8, Register.AH, 0)
        : Instruction.createRegReg(Code.Xor_r32_rm32, Register.EDX, Register.EDX));
    } else {
      setup.push(Instruction.create(size === 1 ? Code.Cbw : size === 2 ? Code.Cwd : size === 4 ? Code.Cdq : Code.Cqo));
    }
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
        out.push(Instruction.createRegReg(Code.Cmp_rm64_r64, R64[this.int(0, 15)]!, R64[this.int(0, 15)]!));
        st.undef = 0;
      }
      masks.push(st.undef);
      out.push(ins);
      const effect = effects?.get(ins);
      if (effect !== undefined) st.undef = effect(st.undef);
      else st.undef = (st.undef & ~archFlags(ins.rflagsModified)) | archFlags(ins.rflagsUndefined);
    }
    return { len: lenOf(out), reach: 0, needsTarget: false, make: () => out, masks };
  }

  /**
   * Branches leave with every flag defined (a CMP first if needed): then the state at a
   * branch target is the straight-line state, whichever way control arrived.
   */
  private beforeBranch(st: GenState): Item[] {
    if (st.undef === 0) return [];
    const it = this.emit(st, [Instruction.createRegReg(Code.Cmp_rm64_r64, R64[this.int(0, 15)]!, R64[this.int(0, 15)]!)]);
    st.undef = 0;
    return [it];
  }

  private branch(st: GenState, code: number, reach: number): Item[] | null {
    const probe = Instruction.createBranch(code, BigInt(CODE_BASE + 16));
    if (!encodable(probe)) return null;
    const len = encode(probe, CODE_BASE).length;
    const inc = probe.stackPointerIncrement;
    probe.free();
    if (!stackOk(st, inc)) return null;
    st.rsp += inc;
    const items = this.beforeBranch(st);
    items.push({ len, reach, needsTarget: true, masks: [0], make: (t) => [Instruction.createBranch(code, BigInt(t))] });
    return items;
  }

  /** RET / RET imm16: push a forward target, return to it. */
  private ret(st: GenState, code: number, name: string): Item[] | null {
    if (/^Retf/.test(name)) return null;
    const imm = /imm16/.test(name) ? this.int(0, 64) & ~7 : 0;
    const mk = (t: number) => [
      Instruction.createI32(Code.Pushq_imm32, t),
      imm > 0 || /imm16/.test(name) ? Instruction.createI32(code, imm) : Instruction.create(code),
    ];
    if (!stackOk(st, imm)) return null;
    st.rsp += imm;
    return [...this.beforeBranch(st), { len: lenOf(mk(CODE_BASE + 0x100)), reach: 1 << 30, needsTarget: true, masks: [0, 0], make: mk }];
  }

  /** JMP/CALL r/m64: the target in a register (or in memory). */
  private indirect(st: GenState, code: number): Item[] | null {
    const r = this.int(0, 15);
    if (r === 4) return null;
    const isCall = /^Call/.test(Code[code]!);
    if (isCall && !stackOk(st, -8)) return null;
    if (isCall) st.rsp -= 8;
    const mk = (t: number) => [
      Instruction.createRegU64(Code.Mov_r64_imm64, R64[r]!, BigInt(t)),
      Instruction.createReg(code, R64[r]!),
    ];
    return [...this.beforeBranch(st), { len: lenOf(mk(CODE_BASE)), reach: 1 << 30, needsTarget: true, masks: [0, 0], make: mk }];
  }

  /** ENTER / LEAVE with RBP pointed into the data region first. */
  private frame(st: GenState, code: number, name: string): Item[] | null {
    if (/^Leave/.test(name)) {
      const rbp = (st.rsp + this.int(0, 8) * 8) & ~7;
      const size = /16$/.test(name) ? 2 : 8;
      if (rbp + size > STACK_HIGH) return null;
      st.rsp = rbp + size;
      return [this.emit(st, [Instruction.createRegU64(Code.Mov_r64_imm64, Register.RBP, BigInt(rbp)), Instruction.create(code)])];
    }
    const size = /16$/.test(name) ? 2 : 8;
    const alloc = this.int(0, 64);
    const level = this.chance(0.5) ? 0 : this.int(1, 4);
    const total = size + (level > 0 ? level * size : 0) + alloc;
    if (st.rsp - total < STACK_LOW) return null;
    st.rsp -= total;
    const rbp = DATA_BASE + this.int(0x1000, 0x3000);
    return [this.emit(st, [Instruction.createRegU64(Code.Mov_r64_imm64, Register.RBP, BigInt(rbp)), Instruction.createI32I32(code, alloc, level)])];
  }

  /** POPF: pop a flags image that only changes the status flags and DF. */
  private popf(st: GenState, code: number, name: string): Item[] | null {
    const size = /Popfw/.test(name) ? 2 : 8;
    if (!stackOk(st, -8 + size)) return null;
    st.rsp += -8 + size;
    const image = 0x202 | (this.int(0, 0xfff) & (CF | PF | AF | ZF | SF | OF | DF));
    return [this.emit(st, [Instruction.createI32(Code.Pushq_imm32, image), Instruction.create(code)])];
  }

  /** String instructions (and XLAT) with rSI/rDI/rCX set up inside the data region. */
  private stringOp(st: GenState, code: number, mnem: string): Item[] | null {
    const asize = this.chance(0.8) ? 64 : 32;
    const setup: Iced.Instruction[] = [];
    const mid = () => BigInt(DATA_BASE + this.int(0x1000, 0x3000));
    setup.push(Instruction.createRegU64(Code.Mov_r64_imm64, Register.RSI, mid()));
    setup.push(Instruction.createRegU64(Code.Mov_r64_imm64, Register.RDI, mid()));
    setup.push(Instruction.createRegU64(Code.Mov_r64_imm64, Register.RBX, mid()));
    const rep = this.pick([0, 0, 1, 2]);
    const n = this.int(0, 20);
    setup.push(Instruction.createRegU32(Code.Mov_r32_imm32, Register.ECX, n));
    const ins = buildString(code, mnem, asize, rep);
    if (ins === null || !encodable(ins)) return null;
    // A repeated instruction with rCX = 0 does nothing, flags included.
    const effects = new Map<Iced.Instruction, (u: number) => number>();
    if (rep !== 0 && n === 0) effects.set(ins, (u) => u);
    return [this.emit(st, [...setup, ins], effects)];
  }
}

interface GenState {
  undef: number;
  rsp: number;
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

function buildString(code: number, mnem: string, asize: number, rep: number): Iced.Instruction | null {
  const I = Instruction;
  const R = iced.RepPrefixKind;
  const rk = rep === 0 ? R.None : rep === 1 ? R.Repe : R.Repne;
  const name = Code[code]!;
  const size = /_m8|sb$|_AL_m8/.test(name) ? "b" : /m16|sw$/.test(name) ? "w" : /m32|sd$/.test(name) ? "d" : "q";
  try {
    switch (mnem.slice(0, 4)) {
      case "movs": return ({ b: I.createMovsb, w: I.createMovsw, d: I.createMovsd, q: I.createMovsq } as const)[size](asize, Register.None, rk);
      case "cmps": return ({ b: I.createCmpsb, w: I.createCmpsw, d: I.createCmpsd, q: I.createCmpsq } as const)[size](asize, Register.None, rk);
      case "stos": return ({ b: I.createStosb, w: I.createStosw, d: I.createStosd, q: I.createStosq } as const)[size](asize, rk);
      case "lods": return ({ b: I.createLodsb, w: I.createLodsw, d: I.createLodsd, q: I.createLodsq } as const)[size](asize, Register.None, rk);
      case "scas": return ({ b: I.createScasb, w: I.createScasw, d: I.createScasd, q: I.createScasq } as const)[size](asize, rk);
      case "xlat": return I.createMem(code, MemoryOperand.new64(asize === 32 ? Register.EBX : Register.RBX, Register.AL, 1, 0n, 0, false, Register.None));
      default: return null;
    }
  } catch {
    return null;
  }
}

function encodable(ins: Iced.Instruction): boolean {
  try {
    encode(ins, CODE_BASE);
    return true;
  } catch {
    return false;
  }
}

function stackOk(st: GenState, inc: number): boolean {
  const after = st.rsp + inc;
  return after >= STACK_LOW && after <= STACK_HIGH;
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
