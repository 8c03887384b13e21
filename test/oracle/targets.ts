// The oracles' targets for the sequence generator (harness/gen/sequence.ts): where the
// sequences run natively (this machine's CPU, test/oracle/native.ts) and in Unicorn, and
// what each cannot run, with the reasons.

import { iced } from "../../harness/gen/iced.js";
import { EXCLUDED, EXCLUDED_CODES, SEG_REGS, UNICORN_EXCLUDED, type Target } from "../../harness/gen/sequence.js";
import { CODE_BASE, CODE_SIZE, DATA_BASE, DATA_SIZE } from "./native.js";

const { Register } = iced;

/** This machine's CPU, 64-bit code in a Linux process (test/oracle/native.ts). */
export const NATIVE64: Target = {
  name: "native long64", oracle: "native", mode: "long64", codeBase: CODE_BASE, codeSize: CODE_SIZE, pack: true,
  dataBase: DATA_BASE, dataSize: DATA_SIZE, cpl0: false, segments: false, excluded: EXCLUDED, excludedCodes: EXCLUDED_CODES,
  // ES/CS/SS/DS overrides are ignored in 64-bit mode; FS/GS bases differ natively, so never.
  overrides: [Register.ES, Register.CS, Register.SS, Register.DS],
  checksSegmentTypes: true, missing: [], endingRate: 0.03,
};

/**
 * This machine's CPU, 32-bit code in compatibility mode (CS 0x23) in a Linux process. The
 * process's DS, ES, SS are flat user data (0x2b), FS and GS null: no FS/GS overrides. Code
 * lies above 64 KiB, so neither 16-bit IP branches nor 16-bit addressing of data (LEA only).
 */
export const NATIVE_COMPAT32: Target = {
  name: "native compat32", oracle: "native", mode: "compat32", codeBase: CODE_BASE, codeSize: CODE_SIZE, pack: true,
  dataBase: DATA_BASE, dataSize: DATA_SIZE, cpl0: false, segments: false,
  // EXCLUDED's reasons hold; the 32-bit-only BOUND, ARPL and INTO see no process state.
  excluded: new Set([...EXCLUDED].filter((m) => !["bound", "arpl", "into"].includes(m))), excludedCodes: EXCLUDED_CODES,
  overrides: [Register.ES, Register.CS, Register.SS, Register.DS],
  checksSegmentTypes: true, missing: [], endingRate: 0.03,
};

/**
 * Forms QEMU 5 (Unicorn 2.0.1) executes differently from the SDM and from real CPUs:
 *  - TEST r/m, imm as F6 /1 and F7 /1: the CPUs execute TEST's alias (the native oracle
 *    checks it in 64-bit code); QEMU 5 raises #UD.
 *  - SGDT/SIDT with a 16-bit operand size: the SDM (and Bochs) store the full 32-bit base;
 *    QEMU 5 stores 24 bits and a zero byte (the 80286 form).
 */
const QEMU5_DIFFERS = /^Test_rm(8|16|32)_imm(8|16|32)_F[67]r1$|^S[gi]dt_m1632_16$/;
/**
 * In real-address mode: SYSRET is #UD (SDM Vol. 2B SYSRET: not recognized in real-address
 * mode); QEMU 5 raises #GP(0).
 */
const QEMU5_DIFFERS_REAL = /^Sysret/;

/**
 * Unicorn 2.0.1 (QEMU 5's x86 model) at CPL 0, booted into the emulator's starting state.
 * What it cannot model is kept out by construction:
 *  - No segment checks on data accesses (limit, type, null): every access stays inside its
 *    segment's limit, no write goes through CS in protected mode, no null selector is loaded.
 *  - IP does not wrap at 0xFFFF: code lies at 0x1000, far below.
 *  - Paging is identity only: compat32 runs on the identity map and nothing else.
 *  - Its CPUID has no POPCNT or MOVBE (#UD there); it has LZCNT, TZCNT and SMAP (CLAC/STAC).
 *  - Flags the SDM leaves undefined differ (MUL, BSF, BCD, shifts...): masked, as everywhere,
 *    from iced's per-instruction tables. SMSW r32 and BSWAP r16 (undefined) are not drawn.
 *  - QEMU5_DIFFERS, QEMU5_DIFFERS_REAL and ENTER below.
 * Code and data lie in the first 64 KiB, so 16-bit IP branches and 16-bit addressing work
 * in 32-bit code too.
 */
const UNICORN_BASE = {
  oracle: "unicorn",
  codeBase: 0x1000, codeSize: 0x1000, pack: false, dataBase: 0x8000, dataSize: 0x1000, cpl0: true, segments: true,
  overrides: SEG_REGS,
  checksSegmentTypes: false,
  missing: ["popcnt", "movbe"], endingRate: 0.08, excluded: UNICORN_EXCLUDED,
  avoidCodes: QEMU5_DIFFERS,
  avoidCodesReal: QEMU5_DIFFERS_REAL,
  intN: true,
  // SDM Vol. 2A ENTER: with a 32-bit operand size FrameTemp <- ESP and EBP <- FrameTemp,
  // whatever the stack size (Bochs agrees); QEMU 5 copies only SP into BP.
  enter32TakesOnlySp: true,
} as const;
export const UNICORN_REAL16: Target = { ...UNICORN_BASE, overrides: [...SEG_REGS], missing: [...UNICORN_BASE.missing], name: "unicorn real16", mode: "real16", ivtHandler: 0x0f00 };
export const UNICORN_PROT32: Target = { ...UNICORN_BASE, overrides: [...SEG_REGS], missing: [...UNICORN_BASE.missing], name: "unicorn prot32", mode: "prot32" };
export const UNICORN_COMPAT32: Target = {
  ...UNICORN_BASE, overrides: [...SEG_REGS], missing: [...UNICORN_BASE.missing], name: "unicorn compat32", mode: "compat32",
};
