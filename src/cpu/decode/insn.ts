// A decoded instruction: everything execution needs, computed once and cached.
// Every Insn has the same fields in the same order, so handlers see one object shape.

import type { Cpu } from "../cpu.js";
import type { Entry } from "./table.js";

export type Handler = (cpu: Cpu, i: Insn) => void;

/** `base` value for RIP-relative addressing. */
export const BASE_RIP = 16;
/** `base` value for a moffs operand (A0-A3): disp/dispHi are the whole address. */
export const BASE_MOFFS = 17;
/** 8-bit register numbers 16..19 name AH, CH, DH, BH (no REX prefix, reg 4..7). */
export const REG8_HIGH = 16;

// Prefix bits recorded in Insn.prefix.
export const P_LOCK = 1;
export const P_REP = 2; // F3: REP / REPE
export const P_REPNE = 4; // F2
export const P_OPSIZE = 8; // 66
export const P_ADSIZE = 16; // 67
export const P_REX = 32; // a REX prefix was in effect
export const P_SEG = 64; // a segment override was in effect

export class Insn {
  fn: Handler;
  /** The table entry (mnemonic, operand forms); null for an unsupported encoding. */
  entry: Entry | null = null;
  /** Length in bytes (for unsupported encodings: the bytes examined). */
  len = 0;
  /** Sub-operation from the table: ALU operation, condition code, shift kind... */
  op = 0;
  /** Operand size in bytes: 1, 2, 4 or 8. */
  osize = 4;
  /** Address size in bytes: 2, 4 or 8. */
  asize = 8;
  /** ModRM.reg with REX.R, or the register in the low opcode bits with REX.B. */
  reg = 0;
  /** ModRM.rm with REX.B (meaningful when mod == 3). */
  rm = 0;
  /** ModRM.mod; 3 means a register operand. Instructions without ModRM use 3. */
  mod = 3;
  base = -1;
  index = -1;
  scale = 0;
  /** Displacement, sign-extended int32 (moffs: the low half). */
  disp = 0;
  /** High half of a 64-bit moffs. */
  dispHi = 0;
  /** Effective segment of the memory operand. */
  seg = 3;
  /** First immediate (sign-extended per the form) or branch displacement. */
  imm = 0;
  /** High half of a 64-bit immediate (MOV r64, imm64). */
  immHi = 0;
  /** Second immediate (ENTER's nesting level). */
  imm2 = 0;
  prefix = 0;
  /** Code size (2, 4, 8) the instruction was decoded for. */
  codeSize = 8;
  /** The instruction's bytes. */
  bytes: Uint8Array = EMPTY;

  constructor(fn: Handler) {
    this.fn = fn;
  }
}

const EMPTY = new Uint8Array(0);
