// The shape of the opcode map: entries named by the SDM's operand letters
// (Intel SDM Vol. 2D, Appendix A.2), and the nodes that select among them.

import type { CpuFeatures } from "../cpuid.js";
import type { Handler, Insn } from "./insn.js";

/**
 * Operand addressing methods (SDM A.2.1), plus fixed registers:
 *   E  ModRM r/m: register or memory      G  ModRM reg: general register
 *   M  ModRM r/m, memory only             I  immediate          J  relative offset
 *   O  moffs (no ModRM)                    Z  register in the opcode's low 3 bits
 *   X  DS:rSI (string source)              Y  ES:rDI (string destination)
 *   A  fixed register (AL, CL, DX, rAX)    K  the constant 1 (shift by one)
 *   F  RFLAGS                               S  ModRM reg: segment register
 *   R  ModRM r/m: a register whatever mod    C, D  ModRM reg: control / debug register
 *   P  a direct far pointer (SDM "Ap"): offset then selector, no ModRM
 */
export type OperandKind = "E" | "G" | "M" | "I" | "J" | "O" | "Z" | "X" | "Y" | "A" | "K" | "F" | "S" | "R" | "C" | "D" | "P";

/**
 * Operand sizes (SDM A.2.2): b byte, w word, d dword, q qword, v the operand size,
 * z word or dword (a 32-bit immediate for 64-bit operands), dq the double operand size
 * (CMPXCHG8B/16B), p a far pointer, y 64 bits in 64-bit mode else 32 (MOV CR/DR).
 */
export type OperandSize = "b" | "w" | "d" | "q" | "v" | "z" | "dq" | "p" | "y" | "";

export interface OperandSpec {
  readonly kind: OperandKind;
  readonly size: OperandSize;
  /** For kind A: the register number (0 = AL/rAX, 1 = CL, 2 = DX). */
  readonly reg: number;
  /** The spec as written, for disassembly. */
  readonly text: string;
}

// Entry flags.
export const F_LOCK = 1; // LOCK allowed (with a memory destination)
export const F_D64 = 2; // operand size defaults to 64 in 64-bit mode (SDM A.2.5 "d64")
export const F_F64 = 4; // operand size forced to 64 in 64-bit mode (Intel; AMD honours 66)
export const F_I64 = 8; // invalid in 64-bit mode
export const F_O64 = 16; // valid only in 64-bit mode
export const F_LOCK_ANY = 32; // LOCK changes the meaning (AMD's LOCK MOV CR0 = MOV CR8)

export interface Entry {
  readonly kind: "entry";
  /** Mnemonic; size-named forms (CBW/CWDE/CDQE...) have one per size in bytes. */
  readonly mnem: string;
  readonly mnemBySize: Readonly<Record<number, string>> | null;
  /** mnemBySize is indexed by the address size (JCXZ/JECXZ/JRCXZ). */
  readonly byAddressSize: boolean;
  readonly ops: readonly OperandSpec[];
  readonly exec: Handler;
  /** Optional: choose a specialised handler once the operands are known. */
  readonly pick: ((i: Insn) => Handler) | null;
  readonly sub: number;
  readonly flags: number;
  readonly modrm: boolean;
}

/** Raises #UD: an encoding the architecture defines as invalid. */
export interface Invalid {
  readonly kind: "invalid";
}

/** Select by ModRM.reg. */
export interface Group {
  readonly kind: "group";
  readonly byReg: readonly Node[];
}

/** Select by ModRM.mod: memory forms or register forms. */
export interface ModSplit {
  readonly kind: "mod";
  readonly mem: Node;
  readonly reg: Node;
}

/** Any other rule (mandatory prefixes, REX.B on 0x90, mode-dependent opcodes). */
export interface Resolver {
  readonly kind: "resolve";
  readonly resolve: (d: DecodeContext) => Node;
}

/** undefined: a valid encoding this emulator does not implement (exit `unsupported`). */
export type Node = Entry | Invalid | Group | ModSplit | Resolver | undefined;

/** What resolvers may ask about the instruction being decoded. */
export interface DecodeContext {
  readonly codeSize: number;
  /** Real-address or virtual-8086 mode (VEX/EVEX prefixes are not recognised there). */
  readonly realMode: boolean;
  readonly rexB: boolean;
  readonly rexW: boolean;
  readonly rexR: boolean;
  /** The last of F2/F3 seen, as a mandatory prefix: 0, 0xf2 or 0xf3. */
  readonly repPrefix: number;
  readonly opsizePrefix: boolean;
  readonly lock: boolean;
  readonly vendor: "intel" | "amd";
  readonly features: CpuFeatures;
  /** ModRM byte (read on first use). */
  modrm(): number;
}

export const INVALID: Invalid = { kind: "invalid" };

const OPERAND_RE = /^(E|G|M|I|J|O|Z|X|Y|F|S|R|C|D)(b|w|d|q|v|z|dq|p|y)?$/;
const FIXED: Record<string, { reg: number; size: OperandSize }> = {
  AL: { reg: 0, size: "b" },
  CL: { reg: 1, size: "b" },
  DX: { reg: 2, size: "w" },
  rAX: { reg: 0, size: "v" },
  eAX: { reg: 0, size: "z" }, // AX or EAX: I/O has no 64-bit form
};

export function parseOperands(spec: string): OperandSpec[] {
  if (spec === "") return [];
  return spec.split(",").map((text) => {
    const fixed = FIXED[text];
    if (fixed !== undefined) return { kind: "A", size: fixed.size, reg: fixed.reg, text };
    if (text === "1") return { kind: "K", size: "", reg: 0, text };
    if (text === "Ap") return { kind: "P", size: "p", reg: 0, text };
    const m = OPERAND_RE.exec(text);
    if (m === null) throw new Error(`opcode map: bad operand spec '${text}'`);
    return { kind: m[1] as OperandKind, size: (m[2] ?? "") as OperandSize, reg: 0, text };
  });
}

export interface EntryOptions {
  sub?: number;
  flags?: number;
  pick?: (i: Insn) => Handler;
  bySize?: Record<number, string>;
  byAddressSize?: boolean;
  /** Force a ModRM byte even when no operand names one (group members get this). */
  modrm?: boolean;
}

/** One opcode-map entry: `op("ADD", "Ev,Gv", aluEG, { sub: ADD, flags: F_LOCK })`. */
export function op(mnem: string, spec: string, exec: Handler, o: EntryOptions = {}): Entry {
  const ops = parseOperands(spec);
  const modrm = o.modrm === true || ops.some((x) => "EGMSRCD".includes(x.kind));
  return {
    kind: "entry",
    mnem,
    mnemBySize: o.bySize ?? null,
    byAddressSize: o.byAddressSize ?? false,
    ops,
    exec,
    pick: o.pick ?? null,
    sub: o.sub ?? 0,
    flags: o.flags ?? 0,
    modrm,
  };
}

export function group(byReg: Node[]): Group {
  if (byReg.length !== 8) throw new Error("opcode map: a group has 8 members");
  return { kind: "group", byReg };
}

export function byMod(mem: Node, reg: Node): ModSplit {
  return { kind: "mod", mem, reg };
}

export function resolver(resolve: (d: DecodeContext) => Node): Resolver {
  return { kind: "resolve", resolve };
}

/** The mnemonic of a decoded instruction (size-named forms resolved). */
export function mnemonicOf(e: Entry, osize: number, asize: number): string {
  if (e.mnemBySize === null) return e.mnem;
  return e.mnemBySize[e.byAddressSize ? asize : osize] ?? e.mnem;
}
