// The opcode map as data (Intel SDM Vol. 2D, Appendix A, Tables; groups from
// Table A-6). Each entry names the mnemonic, its operands by the SDM's letters, and the
// handler that executes it. A hole (undefined) is a valid instruction this emulator does
// not implement yet: it ends a run as `unsupported`. INVALID raises #UD.

import type { Handler } from "./insn.js";
import {
  byMod, F_D64, F_F64, F_I64, F_LOCK, F_LOCK_ANY, group, INVALID, op, resolver, type DecodeContext, type Node,
} from "./table.js";
import {
  ALU_NAMES, aluAI, aluEI, aluGE, aluEG, CMP, incDecE, incDecZ, negE, notE, pickAluEG, pickAluEI, pickIncDec,
  testAI, testEG, testEI,
} from "../exec/alu.js";
import {
  bswap, cbw, cmov, cwd, lea, movAO, movEG, movEI, movGE, movOA, movsx, movZI, movzx, pickMovEG,
  pickMovGE, setcc, xlat,
} from "../exec/mov.js";
import { cmpxchg, cmpxchg8b16b, xadd, xchgEG, xchgZA } from "../exec/xchg.js";
import { shiftDoubleCL, shiftDoubleI, shiftE1, shiftECL, shiftEI } from "../exec/shift.js";
import { div, idiv, imul1, imul2, imul3, mul } from "../exec/muldiv.js";
import { bsfBsr, btxEG, btxEI, BT, BTC, BTR, BTS, lzcnt, popcnt, tzcnt } from "../exec/bit.js";
import { callE, callRel, jcc, jmpE, jmpRel, jrcxz, loop, retNear, retNearImm } from "../exec/control.js";
import { enter, leave, popa, popE, popf, popZ, pusha, pushE, pushf, pushI, pushZ } from "../exec/stack.js";
import { CMPS, LODS, MOVS, SCAS, STOS, stringOp } from "../exec/string.js";
import { bound, int1, int3, intN, into, iretInsn } from "../exec/interrupt.js";
import { aad, aam, aaaAas, daa, das, salc } from "../exec/bcd.js";
import { arpl, loadFarPointer, movFromSreg, movToSreg, popSreg, pushSreg } from "../exec/segops.js";
import { callFar, jmpFar, retFarHandler, retFarImm } from "../exec/far.js";
import { inPort, outPort, stringIo } from "../exec/io.js";
import { syscall, sysenter, sysexit, sysret } from "../exec/fastcall.js";
import {
  cacheFlush, clacStac, cli, clts, eretsInsn, eretuInsn, fsgsBase, fwait, invlpg, larLsl, lgdt, lkgs, lldt,
  lmsw, ltr, movCr, movDr, rdmsr, rdtscp, sgdt, smsw, sti, storeSystemSelector, swapgs, verrVerw, vmcall,
  wrmsr, xgetbv, xsetbv,
} from "../exec/system.js";
import { CS, DS, ES, FS, GS, SS } from "../state.js";
import {
  carryOp, cpuidInsn, directionOp, hlt, lahf, nop, rdtsc, sahf, ud,
} from "../exec/misc.js";

/** Condition-code suffixes in encoding order, as iced-x86 and the SDM name them. */
export const CC = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"] as const;

/** The mandatory prefix of an SSE-style opcode: the last of F2/F3, else 66, else 0. */
export function mandatoryPrefix(d: DecodeContext): number {
  return d.repPrefix !== 0 ? d.repPrefix : d.opsizePrefix ? 0x66 : 0;
}

export const ONE_BYTE: Node[] = new Array<Node>(256).fill(undefined);
export const TWO_BYTE: Node[] = new Array<Node>(256).fill(undefined);

const SHIFT_NAMES = ["ROL", "ROR", "RCL", "RCR", "SHL", "SHR", "SAL", "SAR"];

// ---- 00-3F: the eight ALU operations in six forms each --------------------------------
for (let k = 0; k < 8; k++) {
  const base = k * 8;
  const m = ALU_NAMES[k]!;
  const lock = k === CMP ? 0 : F_LOCK;
  ONE_BYTE[base + 0] = op(m, "Eb,Gb", aluEG, { sub: k, flags: lock });
  ONE_BYTE[base + 1] = op(m, "Ev,Gv", aluEG, { sub: k, flags: lock, pick: pickAluEG });
  ONE_BYTE[base + 2] = op(m, "Gb,Eb", aluGE, { sub: k });
  ONE_BYTE[base + 3] = op(m, "Gv,Ev", aluGE, { sub: k });
  ONE_BYTE[base + 4] = op(m, "AL,Ib", aluAI, { sub: k });
  ONE_BYTE[base + 5] = op(m, "rAX,Iz", aluAI, { sub: k });
}
// PUSH/POP of ES CS SS DS and the decimal adjustments: invalid in 64-bit mode. 26 2E 36 3E
// are prefixes. (POP CS, 0F, is the two-byte escape since the 286.)
ONE_BYTE[0x06] = op("PUSH", "", pushSreg, { sub: ES, flags: F_I64 });
ONE_BYTE[0x07] = op("POP", "", popSreg, { sub: ES, flags: F_I64 });
ONE_BYTE[0x0e] = op("PUSH", "", pushSreg, { sub: CS, flags: F_I64 });
ONE_BYTE[0x16] = op("PUSH", "", pushSreg, { sub: SS, flags: F_I64 });
ONE_BYTE[0x17] = op("POP", "", popSreg, { sub: SS, flags: F_I64 });
ONE_BYTE[0x1e] = op("PUSH", "", pushSreg, { sub: DS, flags: F_I64 });
ONE_BYTE[0x1f] = op("POP", "", popSreg, { sub: DS, flags: F_I64 });
ONE_BYTE[0x27] = op("DAA", "", daa, { flags: F_I64 });
ONE_BYTE[0x2f] = op("DAS", "", das, { flags: F_I64 });
ONE_BYTE[0x37] = op("AAA", "", aaaAas, { sub: 0, flags: F_I64 });
ONE_BYTE[0x3f] = op("AAS", "", aaaAas, { sub: 1, flags: F_I64 });

// ---- 40-5F: INC/DEC Zv (REX in 64-bit mode), PUSH/POP Zv -----------------------------
for (let r = 0; r < 8; r++) {
  ONE_BYTE[0x40 + r] = op("INC", "Zv", incDecZ, { sub: 0, flags: F_I64 });
  ONE_BYTE[0x48 + r] = op("DEC", "Zv", incDecZ, { sub: 1, flags: F_I64 });
  ONE_BYTE[0x50 + r] = op("PUSH", "Zv", pushZ, { flags: F_D64 });
  ONE_BYTE[0x58 + r] = op("POP", "Zv", popZ, { flags: F_D64 });
}

// ---- 60-6F ----------------------------------------------------------------------------
ONE_BYTE[0x60] = op("PUSHA", "", pusha, { flags: F_I64, bySize: { 2: "PUSHA", 4: "PUSHAD" } });
ONE_BYTE[0x61] = op("POPA", "", popa, { flags: F_I64, bySize: { 2: "POPA", 4: "POPAD" } });
// 62: BOUND outside 64-bit mode (a register operand: EVEX, except in real mode where the
// M operand makes it #UD); EVEX in 64-bit mode (not implemented).
const BOUND = op("BOUND", "Gv,M", bound);
ONE_BYTE[0x62] = resolver((d) => (d.codeSize === 8 || (!d.realMode && d.modrm() >= 0xc0) ? undefined : BOUND));
// 63: MOVSXD in 64-bit mode; ARPL elsewhere.
const ARPL = op("ARPL", "Ew,Gw", arpl);
ONE_BYTE[0x63] = resolver((d) => (d.codeSize === 8 ? MOVSXD : ARPL));
const MOVSXD = op("MOVSXD", "Gv,Ed", movsx, { sub: 4 });
ONE_BYTE[0x68] = op("PUSH", "Iz", pushI, { flags: F_D64 });
ONE_BYTE[0x69] = op("IMUL", "Gv,Ev,Iz", imul3);
ONE_BYTE[0x6a] = op("PUSH", "Ib", pushI, { flags: F_D64 });
ONE_BYTE[0x6b] = op("IMUL", "Gv,Ev,Ib", imul3);
ONE_BYTE[0x6c] = op("INSB", "Yb,DX", stringIo, { sub: 0 });
ONE_BYTE[0x6d] = op("INSD", "Yz,DX", stringIo, { sub: 0, bySize: { 2: "INSW", 4: "INSD", 8: "INSD" } });
ONE_BYTE[0x6e] = op("OUTSB", "DX,Xb", stringIo, { sub: 1 });
ONE_BYTE[0x6f] = op("OUTSD", "DX,Xz", stringIo, { sub: 1, bySize: { 2: "OUTSW", 4: "OUTSD", 8: "OUTSD" } });

// ---- 70-7F: Jcc Jb ----------------------------------------------------------------------
for (let cc = 0; cc < 16; cc++) {
  ONE_BYTE[0x70 + cc] = op(`J${CC[cc]!.toUpperCase()}`, "Jb", jcc, { sub: cc, flags: F_F64 });
}

// ---- 80-8F ------------------------------------------------------------------------------
function group1(spec: string): Node {
  return group(ALU_NAMES.map((m, k) => op(m, spec, aluEI, {
    sub: k, flags: k === CMP ? 0 : F_LOCK, pick: spec === "Eb,Ib" ? undefined : pickAluEI, modrm: true,
  })));
}
ONE_BYTE[0x80] = group1("Eb,Ib");
ONE_BYTE[0x81] = group1("Ev,Iz");
ONE_BYTE[0x82] = resolver((d) => (d.codeSize === 8 ? INVALID : GROUP1_82));
const GROUP1_82 = group1("Eb,Ib");
ONE_BYTE[0x83] = group1("Ev,Ib");
ONE_BYTE[0x84] = op("TEST", "Eb,Gb", testEG);
ONE_BYTE[0x85] = op("TEST", "Ev,Gv", testEG);
ONE_BYTE[0x86] = op("XCHG", "Eb,Gb", xchgEG, { flags: F_LOCK });
ONE_BYTE[0x87] = op("XCHG", "Ev,Gv", xchgEG, { flags: F_LOCK });
ONE_BYTE[0x88] = op("MOV", "Eb,Gb", movEG);
ONE_BYTE[0x89] = op("MOV", "Ev,Gv", movEG, { pick: pickMovEG });
ONE_BYTE[0x8a] = op("MOV", "Gb,Eb", movGE);
ONE_BYTE[0x8b] = op("MOV", "Gv,Ev", movGE, { pick: pickMovGE });
// MOV to and from segment registers: Sreg 6 and 7 do not exist; CS cannot be loaded.
const MOV_FROM_SREG = op("MOV", "Ev,Sw", movFromSreg);
const MOV_TO_SREG = op("MOV", "Sw,Ew", movToSreg);
ONE_BYTE[0x8c] = resolver((d) => (((d.modrm() >> 3) & 7) > 5 ? INVALID : MOV_FROM_SREG));
ONE_BYTE[0x8e] = resolver((d) => {
  const s = (d.modrm() >> 3) & 7;
  return s > 5 || s === CS ? INVALID : MOV_TO_SREG;
});
ONE_BYTE[0x8d] = op("LEA", "Gv,M", lea);
// 8F /0 POP Ev; /1-/7 are XOP on AMD and invalid on Intel.
ONE_BYTE[0x8f] = group([op("POP", "Ev", popE, { flags: F_D64 }), INVALID, INVALID, INVALID, INVALID, INVALID, INVALID, INVALID]);

// ---- 90-9F ------------------------------------------------------------------------------
const NOP = op("NOP", "", nop);
const PAUSE = op("PAUSE", "", nop);
const XCHG_ZA = op("XCHG", "Zv,rAX", xchgZA);
// 90: F3 90 is PAUSE (REX.B or not); otherwise XCHG r8,rAX with REX.B, else NOP.
ONE_BYTE[0x90] = resolver((d) => (d.repPrefix === 0xf3 ? PAUSE : d.rexB ? XCHG_ZA : NOP));
for (let r = 1; r < 8; r++) ONE_BYTE[0x90 + r] = XCHG_ZA;
ONE_BYTE[0x98] = op("CBW", "", cbw, { bySize: { 2: "CBW", 4: "CWDE", 8: "CDQE" } });
ONE_BYTE[0x99] = op("CWD", "", cwd, { bySize: { 2: "CWD", 4: "CDQ", 8: "CQO" } });
ONE_BYTE[0x9a] = op("CALL", "Ap", callFar, { flags: F_I64 });
ONE_BYTE[0x9b] = op("WAIT", "", fwait);
ONE_BYTE[0x9c] = op("PUSHF", "", pushf, { flags: F_D64, bySize: { 2: "PUSHF", 4: "PUSHFD", 8: "PUSHFQ" } });
ONE_BYTE[0x9d] = op("POPF", "", popf, { flags: F_D64, bySize: { 2: "POPF", 4: "POPFD", 8: "POPFQ" } });
ONE_BYTE[0x9e] = op("SAHF", "", sahf);
ONE_BYTE[0x9f] = op("LAHF", "", lahf);

// ---- A0-AF ------------------------------------------------------------------------------
ONE_BYTE[0xa0] = op("MOV", "AL,Ob", movAO);
ONE_BYTE[0xa1] = op("MOV", "rAX,Ov", movAO);
ONE_BYTE[0xa2] = op("MOV", "Ob,AL", movOA);
ONE_BYTE[0xa3] = op("MOV", "Ov,rAX", movOA);
function str(name: string, sub: number, specB: string, specV: string, suffix: Record<number, string>): void {
  const bAt = { [MOVS]: 0xa4, [CMPS]: 0xa6, [STOS]: 0xaa, [LODS]: 0xac, [SCAS]: 0xae }[sub]!;
  ONE_BYTE[bAt] = op(`${name}B`, specB, stringOp, { sub });
  ONE_BYTE[bAt + 1] = op(`${name}D`, specV, stringOp, { sub, bySize: suffix });
}
str("MOVS", MOVS, "Yb,Xb", "Yv,Xv", { 2: "MOVSW", 4: "MOVSD", 8: "MOVSQ" });
str("CMPS", CMPS, "Xb,Yb", "Xv,Yv", { 2: "CMPSW", 4: "CMPSD", 8: "CMPSQ" });
str("STOS", STOS, "Yb,AL", "Yv,rAX", { 2: "STOSW", 4: "STOSD", 8: "STOSQ" });
str("LODS", LODS, "AL,Xb", "rAX,Xv", { 2: "LODSW", 4: "LODSD", 8: "LODSQ" });
str("SCAS", SCAS, "AL,Yb", "rAX,Yv", { 2: "SCASW", 4: "SCASD", 8: "SCASQ" });
ONE_BYTE[0xa8] = op("TEST", "AL,Ib", testAI);
ONE_BYTE[0xa9] = op("TEST", "rAX,Iz", testAI);

// ---- B0-BF: MOV Zb,Ib / MOV Zv,Iv ------------------------------------------------------------
for (let r = 0; r < 8; r++) {
  ONE_BYTE[0xb0 + r] = op("MOV", "Zb,Ib", movZI);
  ONE_BYTE[0xb8 + r] = op("MOV", "Zv,Iv", movZI);
}

// ---- C0-CF ------------------------------------------------------------------------------
function group2(spec: string, fn: Handler): Node {
  return group(SHIFT_NAMES.map((m, k) => op(m, spec, fn, { sub: k, modrm: true })));
}
ONE_BYTE[0xc0] = group2("Eb,Ib", shiftEI);
ONE_BYTE[0xc1] = group2("Ev,Ib", shiftEI);
ONE_BYTE[0xc2] = op("RET", "Iw", retNearImm, { flags: F_F64 });
ONE_BYTE[0xc3] = op("RET", "", retNear, { flags: F_F64 });
// C4/C5: LES/LDS outside 64-bit mode with a memory operand; with a register operand in
// real and virtual-8086 mode #UD (no VEX there); otherwise VEX prefixes (not implemented).
const LES = op("LES", "Gz,Mp", loadFarPointer, { sub: ES });
const LDS = op("LDS", "Gz,Mp", loadFarPointer, { sub: DS });
const lesLds = (e: Node) => resolver((d) => (d.codeSize === 8 ? undefined : d.modrm() < 0xc0 ? e : d.realMode ? INVALID : undefined));
ONE_BYTE[0xc4] = lesLds(LES);
ONE_BYTE[0xc5] = lesLds(LDS);
// C6/C7 group 11: /0 MOV; C6 F8 / C7 F8 are XABORT / XBEGIN (RTM, not implemented).
ONE_BYTE[0xc6] = group([op("MOV", "Eb,Ib", movEI), INVALID, INVALID, INVALID, INVALID, INVALID, INVALID, resolver((d) => (d.modrm() === 0xf8 ? undefined : INVALID))]);
ONE_BYTE[0xc7] = group([op("MOV", "Ev,Iz", movEI), INVALID, INVALID, INVALID, INVALID, INVALID, INVALID, resolver((d) => (d.modrm() === 0xf8 ? undefined : INVALID))]);
ONE_BYTE[0xc8] = op("ENTER", "Iw,Ib", enter, { flags: F_D64 });
ONE_BYTE[0xc9] = op("LEAVE", "", leave, { flags: F_D64 });
ONE_BYTE[0xca] = op("RETF", "Iw", retFarImm);
ONE_BYTE[0xcb] = op("RETF", "", retFarHandler);
ONE_BYTE[0xcc] = op("INT3", "", int3);
ONE_BYTE[0xcd] = op("INT", "Ib", intN);
ONE_BYTE[0xce] = op("INTO", "", into, { flags: F_I64 });
ONE_BYTE[0xcf] = op("IRET", "", iretInsn, { bySize: { 2: "IRET", 4: "IRETD", 8: "IRETQ" } });

// ---- D0-DF ------------------------------------------------------------------------------
ONE_BYTE[0xd0] = group2("Eb,1", shiftE1);
ONE_BYTE[0xd1] = group2("Ev,1", shiftE1);
ONE_BYTE[0xd2] = group2("Eb,CL", shiftECL);
ONE_BYTE[0xd3] = group2("Ev,CL", shiftECL);
ONE_BYTE[0xd4] = op("AAM", "Ib", aam, { flags: F_I64 });
ONE_BYTE[0xd5] = op("AAD", "Ib", aad, { flags: F_I64 });
ONE_BYTE[0xd6] = op("SALC", "", salc, { flags: F_I64 });
ONE_BYTE[0xd7] = op("XLATB", "", xlat);
// D8-DF: x87, not implemented.

// ---- E0-EF ------------------------------------------------------------------------------
ONE_BYTE[0xe0] = op("LOOPNE", "Jb", loop, { sub: 2, flags: F_F64 });
ONE_BYTE[0xe1] = op("LOOPE", "Jb", loop, { sub: 1, flags: F_F64 });
ONE_BYTE[0xe2] = op("LOOP", "Jb", loop, { sub: 0, flags: F_F64 });
ONE_BYTE[0xe3] = op("JRCXZ", "Jb", jrcxz, { flags: F_F64, bySize: { 2: "JCXZ", 4: "JECXZ", 8: "JRCXZ" }, byAddressSize: true });
ONE_BYTE[0xe8] = op("CALL", "Jz", callRel, { flags: F_F64 });
ONE_BYTE[0xe9] = op("JMP", "Jz", jmpRel, { flags: F_F64 });
ONE_BYTE[0xea] = op("JMP", "Ap", jmpFar, { flags: F_I64 });
ONE_BYTE[0xeb] = op("JMP", "Jb", jmpRel, { flags: F_F64 });
ONE_BYTE[0xe4] = op("IN", "AL,Ib", inPort, { sub: 0 });
ONE_BYTE[0xe5] = op("IN", "eAX,Ib", inPort, { sub: 0 });
ONE_BYTE[0xe6] = op("OUT", "Ib,AL", outPort, { sub: 0 });
ONE_BYTE[0xe7] = op("OUT", "Ib,eAX", outPort, { sub: 0 });
ONE_BYTE[0xec] = op("IN", "AL,DX", inPort, { sub: 1 });
ONE_BYTE[0xed] = op("IN", "eAX,DX", inPort, { sub: 1 });
ONE_BYTE[0xee] = op("OUT", "DX,AL", outPort, { sub: 1 });
ONE_BYTE[0xef] = op("OUT", "DX,eAX", outPort, { sub: 1 });

// ---- F0-FF ------------------------------------------------------------------------------
ONE_BYTE[0xf1] = op("INT1", "", int1);
ONE_BYTE[0xf4] = op("HLT", "", hlt);
ONE_BYTE[0xf5] = op("CMC", "", carryOp, { sub: 2 });
/** Group 3 (F6 byte, F7 word/dword/qword): TEST NOT NEG MUL IMUL DIV IDIV; /1 is TEST too. */
function group3(e: "Eb" | "Ev"): Node {
  const test = op("TEST", `${e},${e === "Eb" ? "Ib" : "Iz"}`, testEI, { modrm: true });
  return group([
    test, test,
    op("NOT", e, notE, { flags: F_LOCK }),
    op("NEG", e, negE, { flags: F_LOCK }),
    op("MUL", e, mul),
    op("IMUL", e, imul1),
    op("DIV", e, div),
    op("IDIV", e, idiv),
  ]);
}
ONE_BYTE[0xf6] = group3("Eb");
ONE_BYTE[0xf7] = group3("Ev");
ONE_BYTE[0xf8] = op("CLC", "", carryOp, { sub: 0 });
ONE_BYTE[0xf9] = op("STC", "", carryOp, { sub: 1 });
ONE_BYTE[0xfa] = op("CLI", "", cli);
ONE_BYTE[0xfb] = op("STI", "", sti);
ONE_BYTE[0xfc] = op("CLD", "", directionOp, { sub: 0 });
ONE_BYTE[0xfd] = op("STD", "", directionOp, { sub: 1 });
ONE_BYTE[0xfe] = group([
  op("INC", "Eb", incDecE, { sub: 0, flags: F_LOCK }),
  op("DEC", "Eb", incDecE, { sub: 1, flags: F_LOCK }),
  INVALID, INVALID, INVALID, INVALID, INVALID, INVALID,
]);
// FF /3 CALLF and /5 JMPF take a far pointer in memory (m16:16/32/64).
// In 64-bit mode REX.W selects m16:64 on Intel; AMD ignores REX.W here (m16:32).
const FAR_CALL = resolver((d) => (d.vendor === "amd" && d.rexW ? FAR_CALL_AMD64 : FAR_CALL_ENTRY));
const FAR_JMP = resolver((d) => (d.vendor === "amd" && d.rexW ? FAR_JMP_AMD64 : FAR_JMP_ENTRY));
ONE_BYTE[0xff] = group([
  op("INC", "Ev", incDecE, { sub: 0, flags: F_LOCK, pick: pickIncDec }),
  op("DEC", "Ev", incDecE, { sub: 1, flags: F_LOCK, pick: pickIncDec }),
  op("CALL", "Ev", callE, { flags: F_F64 }),
  FAR_CALL,
  op("JMP", "Ev", jmpE, { flags: F_F64 }),
  FAR_JMP,
  op("PUSH", "Ev", pushE, { flags: F_D64 }),
  INVALID,
]);

const FAR_CALL_ENTRY = op("CALL", "Mp", callFar);
const FAR_JMP_ENTRY = op("JMP", "Mp", jmpFar);
const FAR_CALL_AMD64 = op("CALL", "Md", callFar);
const FAR_JMP_AMD64 = op("JMP", "Md", jmpFar);

// ---- two-byte map (0F xx) ------------------------------------------------------------------
// 0F 00 group 6: SLDT STR LLDT LTR VERR VERW; /6 with F2 is LKGS (64-bit mode).
const LKGS = op("LKGS", "Ew", lkgs);
// SLDT/STR store to a register at the operand size ("Rv/Mw"): SDM Vol. 2B SLDT, STR: a
// 32-bit register gets the selector zero-extended (the upper 16 bits cleared), REX.W a
// 64-bit one; memory is always 16 bits (the handler writes 2 bytes).
TWO_BYTE[0x00] = group([
  op("SLDT", "Ev", storeSystemSelector, { sub: 0 }),
  op("STR", "Ev", storeSystemSelector, { sub: 1 }),
  op("LLDT", "Ew", lldt),
  op("LTR", "Ew", ltr),
  op("VERR", "Ew", verrVerw, { sub: 0 }),
  op("VERW", "Ew", verrVerw, { sub: 1 }),
  resolver((d) => (d.repPrefix === 0xf2 && d.codeSize === 8 && d.features.fred ? LKGS : INVALID)),
  INVALID,
]);
// 0F 01 group 7: memory forms by reg; register forms by the whole ModRM and the mandatory
// prefix (SDM Table A-6). The register forms that exist, per prefix, as ModRM bytes; those
// marked 64 exist only in 64-bit mode. Implemented: VMCALL VMMCALL CLAC STAC ERETU ERETS
// XGETBV XSETBV SMSW LMSW SWAPGS RDTSCP; the other existing forms (VMX, SVM, SGX, TDX,
// MONITOR/MWAIT, PKU, ...) are not; everything else is #UD.
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, k) => a + k);
const G7_EXISTS: Record<number, { all: number[]; only64: number[] }> = {
  0: { all: [...range(0xc0, 0xc6), ...range(0xc8, 0xcb), 0xcf, 0xd0, 0xd1, ...range(0xd4, 0xe8), 0xee, 0xef, ...range(0xf0, 0xf7), 0xf9, ...range(0xfa, 0xff)], only64: [0xc7, 0xf8] },
  0x66: { all: [0xcc, ...range(0xd8, 0xe7), ...range(0xf0, 0xf7), 0xf9, 0xfc], only64: [0xcd, 0xce, 0xcf, 0xf8] },
  0xf3: { all: [...range(0xd8, 0xe8), 0xea, ...range(0xf0, 0xf7), 0xf9, 0xfa, 0xfc], only64: [0xc6, 0xca, ...range(0xec, 0xef), 0xf8, 0xfd, 0xfe, 0xff] },
  0xf2: { all: [...range(0xd8, 0xe9), ...range(0xf0, 0xf7), 0xf9, 0xfc, 0xff], only64: [0xc6, 0xca, 0xf8, 0xfe] },
};
const G7_IMPLEMENTED = new Map<string, Node>();
const impl7 = (prefixes: number[], modrms: number[], n: Node) => {
  for (const p of prefixes) for (const m of modrms) G7_IMPLEMENTED.set(`${p}:${m}`, n);
};
const ANY_PREFIX = [0, 0x66, 0xf3, 0xf2];
impl7([0], [0xc1], op("VMCALL", "", vmcall, { sub: 0, modrm: true }));
impl7([0], [0xca], op("CLAC", "", clacStac, { sub: 0, modrm: true }));
impl7([0], [0xcb], op("STAC", "", clacStac, { sub: 1, modrm: true }));
impl7([0xf3], [0xca], op("ERETU", "", eretuInsn, { modrm: true }));
impl7([0xf2], [0xca], op("ERETS", "", eretsInsn, { modrm: true }));
impl7([0], [0xd0], op("XGETBV", "", xgetbv, { modrm: true }));
impl7([0], [0xd1], op("XSETBV", "", xsetbv, { modrm: true }));
impl7([0, 0x66], [0xd9], op("VMMCALL", "", vmcall, { sub: 1, modrm: true }));
impl7(ANY_PREFIX, range(0xe0, 0xe7), op("SMSW", "Ev", smsw, { modrm: true }));
impl7(ANY_PREFIX, range(0xf0, 0xf7), op("LMSW", "Ew", lmsw, { modrm: true }));
impl7(ANY_PREFIX, [0xf8], op("SWAPGS", "", swapgs, { modrm: true }));
impl7(ANY_PREFIX, [0xf9], op("RDTSCP", "", rdtscp, { modrm: true }));
const group7Register = resolver((d) => {
  const p = mandatoryPrefix(d);
  const m = d.modrm();
  const exists = G7_EXISTS[p]!;
  if (!exists.all.includes(m) && !(d.codeSize === 8 && exists.only64.includes(m))) return INVALID;
  return G7_IMPLEMENTED.get(`${p}:${m}`);
});
TWO_BYTE[0x01] = byMod(
  group([
    op("SGDT", "M", sgdt, { sub: 0 }),
    op("SIDT", "M", sgdt, { sub: 1 }),
    op("LGDT", "M", lgdt, { sub: 0 }),
    op("LIDT", "M", lgdt, { sub: 1 }),
    op("SMSW", "Ew", smsw),
    resolver((d) => (d.repPrefix === 0xf3 ? undefined : INVALID)), // RSTORSSP
    op("LMSW", "Ew", lmsw),
    op("INVLPG", "M", invlpg),
  ]),
  group7Register,
);
TWO_BYTE[0x02] = op("LAR", "Gv,Ew", larLsl, { sub: 0 });
TWO_BYTE[0x03] = op("LSL", "Gv,Ew", larLsl, { sub: 1 });
TWO_BYTE[0x05] = op("SYSCALL", "", syscall);
TWO_BYTE[0x06] = op("CLTS", "", clts);
TWO_BYTE[0x07] = op("SYSRET", "", sysret, { bySize: { 2: "SYSRET", 4: "SYSRET", 8: "SYSRETQ" } });
TWO_BYTE[0x08] = op("INVD", "", cacheFlush);
// F3 0F 09 is WBNOINVD (WBINVD where the feature is absent); caches are not modelled.
const WBINVD = op("WBINVD", "", cacheFlush);
const WBNOINVD = op("WBNOINVD", "", cacheFlush);
TWO_BYTE[0x09] = resolver((d) => (mandatoryPrefix(d) === 0xf3 ? WBNOINVD : WBINVD));
TWO_BYTE[0x0b] = op("UD2", "", ud);
// 0F 0D: PREFETCHW / AMD PREFETCH, not implemented.
// 0F 18-0F 1F: the hint-NOP space (prefetches, reserved NOPs, CET and MPX hints that are
// NOPs when the feature is off); 0F 1F /0 is the recommended multi-byte NOP.
for (let b = 0x18; b <= 0x1f; b++) TWO_BYTE[b] = op("NOP", "Ev", nop, { modrm: true });
// MOV to/from CRn: CR0 CR2 CR3 CR4, and CR8 with REX.R; on AMD, LOCK MOV CR0 is MOV CR8
// (the legacy-mode alternative encoding). MOV to/from DRn: DR0-DR7 (REX.R gives #UD).
const crValid = (d: DecodeContext) => [0, 2, 3, 4, 8].includes(((d.modrm() >> 3) & 7) | (d.rexR ? 8 : 0));
const MOV_FROM_CR = op("MOV", "Ry,Cy", movCr, { sub: 0 });
const MOV_TO_CR = op("MOV", "Cy,Ry", movCr, { sub: 1 });
const MOV_FROM_CR8_ALT = op("MOV", "Ry,Cy", movCr, { sub: 2, flags: F_LOCK_ANY });
const MOV_TO_CR8_ALT = op("MOV", "Cy,Ry", movCr, { sub: 3, flags: F_LOCK_ANY });
const altCr8 = (d: DecodeContext) => d.lock && d.vendor === "amd" && ((d.modrm() >> 3) & 7) === 0 && !d.rexR;
TWO_BYTE[0x20] = resolver((d) => (altCr8(d) ? MOV_FROM_CR8_ALT : crValid(d) ? MOV_FROM_CR : INVALID));
TWO_BYTE[0x22] = resolver((d) => (altCr8(d) ? MOV_TO_CR8_ALT : crValid(d) ? MOV_TO_CR : INVALID));
const MOV_FROM_DR = op("MOV", "Ry,Dy", movDr, { sub: 0 });
const MOV_TO_DR = op("MOV", "Dy,Ry", movDr, { sub: 1 });
TWO_BYTE[0x21] = resolver((d) => (d.rexR ? INVALID : MOV_FROM_DR));
TWO_BYTE[0x23] = resolver((d) => (d.rexR ? INVALID : MOV_TO_DR));
TWO_BYTE[0x30] = op("WRMSR", "", wrmsr);
TWO_BYTE[0x31] = op("RDTSC", "", rdtsc);
TWO_BYTE[0x32] = op("RDMSR", "", rdmsr);
TWO_BYTE[0x34] = op("SYSENTER", "", sysenter);
TWO_BYTE[0x35] = op("SYSEXIT", "", sysexit, { bySize: { 2: "SYSEXIT", 4: "SYSEXIT", 8: "SYSEXITQ" } });
for (let cc = 0; cc < 16; cc++) {
  const n = CC[cc]!.toUpperCase();
  TWO_BYTE[0x40 + cc] = op(`CMOV${n}`, "Gv,Ev", cmov, { sub: cc });
  TWO_BYTE[0x80 + cc] = op(`J${n}`, "Jz", jcc, { sub: cc, flags: F_F64 });
  TWO_BYTE[0x90 + cc] = op(`SET${n}`, "Eb", setcc, { sub: cc, modrm: true });
}
TWO_BYTE[0xa0] = op("PUSH", "", pushSreg, { sub: FS, flags: F_D64 });
TWO_BYTE[0xa1] = op("POP", "", popSreg, { sub: FS, flags: F_D64 });
TWO_BYTE[0xa2] = op("CPUID", "", cpuidInsn);
TWO_BYTE[0xa3] = op("BT", "Ev,Gv", btxEG, { sub: BT });
TWO_BYTE[0xa4] = op("SHLD", "Ev,Gv,Ib", shiftDoubleI, { sub: 0 });
TWO_BYTE[0xa5] = op("SHLD", "Ev,Gv,CL", shiftDoubleCL, { sub: 0 });
TWO_BYTE[0xa8] = op("PUSH", "", pushSreg, { sub: GS, flags: F_D64 });
TWO_BYTE[0xa9] = op("POP", "", popSreg, { sub: GS, flags: F_D64 });
TWO_BYTE[0xab] = op("BTS", "Ev,Gv", btxEG, { sub: BTS, flags: F_LOCK });
TWO_BYTE[0xac] = op("SHRD", "Ev,Gv,Ib", shiftDoubleI, { sub: 1 });
TWO_BYTE[0xad] = op("SHRD", "Ev,Gv,CL", shiftDoubleCL, { sub: 1 });
// 0F AE group 15, by mandatory prefix (SDM Table A-6). Implemented: LFENCE, MFENCE, SFENCE
// (no prefix, register forms), RD/WR FS/GS BASE (F3, register forms, 64-bit mode). The rest
// (FXSAVE.., CLWB, CLFLUSHOPT, TPAUSE, PTWRITE, INCSSP, CLRSSBSY, UMONITOR, UMWAIT) is not
// implemented; other encodings are #UD.
const FENCES = [op("LFENCE", "", nop, { modrm: true }), op("MFENCE", "", nop, { modrm: true }), op("SFENCE", "", nop, { modrm: true })];
const GROUP15_NP = byMod(undefined, group([INVALID, INVALID, INVALID, INVALID, INVALID, ...FENCES]));
const GROUP15_66 = group([INVALID, INVALID, INVALID, INVALID, INVALID, INVALID, undefined, byMod(undefined, INVALID)]);
const fsgs = (k: number) => byMod(INVALID, resolver((d) => (d.codeSize === 8 ? FSGS[k] : INVALID)));
const FSGS = ["RDFSBASE", "RDGSBASE", "WRFSBASE", "WRGSBASE"].map((m, k) => op(m, "Rv", fsgsBase, { sub: k, modrm: true }));
const GROUP15_F3 = group([
  fsgs(0), fsgs(1), fsgs(2), fsgs(3),
  resolver((d) => (d.opsizePrefix ? INVALID : undefined)), // PTWRITE: #UD with 66
  byMod(INVALID, undefined), undefined, INVALID,
]);
const GROUP15_F2 = group([INVALID, INVALID, INVALID, INVALID, INVALID, INVALID, byMod(INVALID, undefined), INVALID]);
TWO_BYTE[0xae] = resolver((d) => {
  const p = mandatoryPrefix(d);
  return p === 0 ? GROUP15_NP : p === 0x66 ? GROUP15_66 : p === 0xf3 ? GROUP15_F3 : GROUP15_F2;
});
TWO_BYTE[0xaf] = op("IMUL", "Gv,Ev", imul2);
TWO_BYTE[0xb0] = op("CMPXCHG", "Eb,Gb", cmpxchg, { flags: F_LOCK });
TWO_BYTE[0xb1] = op("CMPXCHG", "Ev,Gv", cmpxchg, { flags: F_LOCK });
// LSS/LFS/LGS: like far JMP/CALL, AMD ignores REX.W (m16:32) where Intel takes m16:64.
const lxs = (m: string, seg: number) => {
  const intel = op(m, "Gv,Mp", loadFarPointer, { sub: seg });
  const amd64 = op(m, "Gd,Md", loadFarPointer, { sub: seg });
  return resolver((d) => (d.vendor === "amd" && d.rexW ? amd64 : intel));
};
TWO_BYTE[0xb2] = lxs("LSS", SS);
TWO_BYTE[0xb3] = op("BTR", "Ev,Gv", btxEG, { sub: BTR, flags: F_LOCK });
TWO_BYTE[0xb4] = lxs("LFS", FS);
TWO_BYTE[0xb5] = lxs("LGS", GS);
TWO_BYTE[0xb6] = op("MOVZX", "Gv,Eb", movzx, { sub: 1 });
TWO_BYTE[0xb7] = op("MOVZX", "Gv,Ew", movzx, { sub: 2 });
// F3 0F B8 POPCNT (0F B8 alone is JMPE, invalid outside IA-64 mode).
const POPCNT = op("POPCNT", "Gv,Ev", popcnt);
TWO_BYTE[0xb8] = resolver((d) => (d.repPrefix === 0xf3 && d.features.popcnt ? POPCNT : INVALID));
TWO_BYTE[0xb9] = op("UD1", "Gv,Ev", ud);
TWO_BYTE[0xba] = group([
  INVALID, INVALID, INVALID, INVALID,
  op("BT", "Ev,Ib", btxEI, { sub: BT }),
  op("BTS", "Ev,Ib", btxEI, { sub: BTS, flags: F_LOCK }),
  op("BTR", "Ev,Ib", btxEI, { sub: BTR, flags: F_LOCK }),
  op("BTC", "Ev,Ib", btxEI, { sub: BTC, flags: F_LOCK }),
]);
TWO_BYTE[0xbb] = op("BTC", "Ev,Gv", btxEG, { sub: BTC, flags: F_LOCK });
// BSF/BSR, or with F3 TZCNT/LZCNT when the CPUID model has them.
const BSF = op("BSF", "Gv,Ev", bsfBsr, { sub: 0 });
const BSR = op("BSR", "Gv,Ev", bsfBsr, { sub: 1 });
const TZCNT = op("TZCNT", "Gv,Ev", tzcnt);
const LZCNT = op("LZCNT", "Gv,Ev", lzcnt);
TWO_BYTE[0xbc] = resolver((d) => (d.repPrefix === 0xf3 && d.features.tzcnt ? TZCNT : BSF));
TWO_BYTE[0xbd] = resolver((d) => (d.repPrefix === 0xf3 && d.features.lzcnt ? LZCNT : BSR));
TWO_BYTE[0xbe] = op("MOVSX", "Gv,Eb", movsx, { sub: 1 });
TWO_BYTE[0xbf] = op("MOVSX", "Gv,Ew", movsx, { sub: 2 });
TWO_BYTE[0xc0] = op("XADD", "Eb,Gb", xadd, { flags: F_LOCK });
TWO_BYTE[0xc1] = op("XADD", "Ev,Gv", xadd, { flags: F_LOCK });
// 0F C7 group 9: /1 CMPXCHG8B / CMPXCHG16B (memory only, any prefix). Not implemented:
// XRSTORS, XSAVEC, XSAVES (/3-/5 memory, no prefix), VMPTRLD/VMCLEAR/VMXON (/6 memory),
// VMPTRST (/7 memory), RDRAND/SENDUIPI (/6 register), RDSEED/RDPID (/7 register).
const CMPXCHG8B = op("CMPXCHG8B", "Mdq", cmpxchg8b16b, { flags: F_LOCK, bySize: { 8: "CMPXCHG8B", 16: "CMPXCHG16B" } });
const noPrefixOnly = resolver((d) => (mandatoryPrefix(d) === 0 ? undefined : INVALID));
const notF2 = resolver((d) => (mandatoryPrefix(d) === 0xf2 ? INVALID : undefined));
TWO_BYTE[0xc7] = group([
  INVALID,
  byMod(resolver((d) => (d.rexW && !d.features.cx16 ? INVALID : CMPXCHG8B)), INVALID),
  INVALID,
  byMod(noPrefixOnly, INVALID),
  byMod(noPrefixOnly, INVALID),
  byMod(noPrefixOnly, INVALID),
  byMod(notF2, resolver((d) => (mandatoryPrefix(d) === 0xf2 || (mandatoryPrefix(d) === 0xf3 && d.codeSize !== 8) ? INVALID : undefined))), // SENDUIPI: 64-bit only
  byMod(noPrefixOnly, notF2),
]);
for (let r = 0; r < 8; r++) TWO_BYTE[0xc8 + r] = op("BSWAP", "Zv", bswap);
// 0F FF UD0: with a ModRM byte on Intel, without on AMD.
const UD0_MODRM = op("UD0", "Gv,Ev", ud);
const UD0_BARE = op("UD0", "", ud);
TWO_BYTE[0xff] = resolver((d) => (d.vendor === "amd" ? UD0_BARE : UD0_MODRM));
