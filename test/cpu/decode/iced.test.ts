// The decoder against iced-x86 (the decoder oracle): random byte strings drawn over the
// implemented opcode space must decode to the same length, mnemonic and operands in 16-,
// 32- and 64-bit code, or both decoders must reject them. `unsupported` is allowed only
// where iced-x86 names an instruction outside the implemented set.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Decoder } from "../../../src/cpu/decode/decoder.js";
import { BASE_MOFFS, BASE_RIP, REG8_HIGH, type Insn } from "../../../src/cpu/decode/insn.js";
import { ONE_BYTE, TWO_BYTE } from "../../../src/cpu/decode/opcodes.js";
import { mnemonicOf, type Entry } from "../../../src/cpu/decode/table.js";
import { cpuFeatures, type Vendor } from "../../../src/cpu/cpuid.js";
import { CpuFault } from "../../../src/cpu/exceptions.js";
import { iced, implementedMnemonics, type Iced } from "../../../harness/gen/iced.js";

const REG64 = ["RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"];
const REG32 = ["EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI", "R8D", "R9D", "R10D", "R11D", "R12D", "R13D", "R14D", "R15D"];
const REG16 = ["AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI", "R8W", "R9W", "R10W", "R11W", "R12W", "R13W", "R14W", "R15W"];
const REG8 = ["AL", "CL", "DL", "BL", "SPL", "BPL", "SIL", "DIL", "R8L", "R9L", "R10L", "R11L", "R12L", "R13L", "R14L", "R15L"];
const REG8H = ["AH", "CH", "DH", "BH"];

function regName(r: number, size: number): string {
  if (size === 1) return r >= REG8_HIGH ? REG8H[r - REG8_HIGH]! : REG8[r]!;
  return (size === 2 ? REG16 : size === 4 ? REG32 : REG64)[r]!;
}

const SIZE_OF_SPEC: Record<string, number> = { b: 1, w: 2, d: 4, q: 8 };

/** Everything iced may call a hint NOP in 0F 18-0F 1F. */
const HINT_NOP = /^(Nop|Reservednop|Prefetch\w*|Endbr\w*|Bnd\w*|Cldemote|Rdssp\w|Nopw|Nopd|Nopq|Prefetchit\d)$/i;

const IMPLEMENTED = implementedMnemonics();
const SREG = ["ES", "CS", "SS", "DS", "FS", "GS"];
/** Instructions whose 16-bit selector operand iced names by the operand-size register. */
const SELECTOR_E = new Set(["lar", "lsl", "verr", "verw", "sldt", "str", "smsw", "lldt", "ltr", "lmsw", "lkgs", "mov", "arpl"]);
/** A register name -> its number (0..15), whatever its size; -1 for others. */
function regNumber(name: string): number {
  for (const t of [REG64, REG32, REG16, REG8]) {
    const k = t.indexOf(name);
    if (k >= 0) return k;
  }
  return -1;
}

/** VEX and EVEX escapes: in 64-bit mode always, elsewhere with a register ModRM. */
const VEX = new Set([0x62, 0xc4, 0xc5]);

/** Opcode bytes (one-byte map, and 0F xx) whose nodes this emulator defines at all. */
function opcodeSpace(codeSize: number): number[][] {
  const ops: number[][] = [];
  ONE_BYTE.forEach((n, b) => {
    // REX bytes (40-4F) are prefixes in 64-bit mode, not opcodes.
    if (n === undefined || b === 0x0f || (codeSize === 8 && ((b & 0xf0) === 0x40 || VEX.has(b)))) return;
    ops.push([b]);
  });
  TWO_BYTE.forEach((n, b) => {
    if (n !== undefined) ops.push([0x0f, b]);
  });
  return ops;
}
const LEGACY_PREFIXES = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65];
const REX_PREFIXES = [0x40, 0x41, 0x44, 0x48, 0x49, 0x4c, 0x4f, 0x45, 0x42];

/** One comparable description of an operand. */
type Operand = string;

function ours(i: Insn, ip: bigint): { mnemonic: string; operands: Operand[] } | null {
  const e = i.entry as Entry;
  const mnemonic = mnemonicOf(e, i.osize, i.asize).toLowerCase();
  const operands: Operand[] = [];
  for (const o of e.ops) {
    let size = o.size === "v" || o.size === "z" ? i.osize : o.size === "dq" ? i.osize : SIZE_OF_SPEC[o.size] ?? i.osize;
    // MOVSXD's source is a dword, or a word with a 16-bit operand size.
    if (e.mnem === "MOVSXD" && o.kind === "E") size = Math.min(4, i.osize);
    switch (o.kind) {
      case "E":
      case "M":
        operands.push(i.mod === 3 ? `reg:${regName(i.rm, size)}` : mem(i, ip));
        break;
      case "G":
      case "Z":
        operands.push(`reg:${regName(i.reg, size)}`);
        break;
      case "R":
        operands.push(`reg:${regName(i.rm, i.osize)}`);
        break;
      case "S":
        operands.push(`reg:${SREG[i.reg & 7]}`);
        break;
      case "C":
        operands.push(`reg:CR${i.op >= 2 ? 8 : i.reg}`);
        break;
      case "D":
        operands.push(`reg:DR${i.reg}`);
        break;
      case "P":
        operands.push(`far:${i.imm2}:${i.imm >>> 0}`);
        break;
      case "A":
        operands.push(`reg:${regName(o.reg, o.reg === 2 ? 2 : size)}`);
        break;
      case "I": {
        // The second immediate (ENTER's level) is imm2; the first is sign-extended to 64
        // bits in imm:immHi (zero-extended for Iw).
        const second = o !== e.ops.find((x) => x.kind === "I");
        const val = second ? BigInt(i.imm2) : (BigInt(i.immHi) << 32n) | BigInt(i.imm >>> 0);
        operands.push(`imm:${BigInt.asUintN(64, val)}`);
        break;
      }
      case "K":
        operands.push("imm:1");
        break;
      case "J": {
        const target = ip + BigInt(i.len) + BigInt(i.imm);
        operands.push(`branch:${BigInt.asUintN(i.osize * 8, target)}`);
        break;
      }
      case "O":
        operands.push(mem(i, ip));
        break;
      default:
        return null; // X, Y, F, S: string and special operands are checked by mnemonic and length
    }
  }
  return { mnemonic, operands };
}

function mem(i: Insn, ip: bigint): Operand {
  const abits = i.asize * 8;
  let base = "None";
  let disp: bigint;
  if (i.base === BASE_RIP) {
    base = i.asize === 8 ? "RIP" : "EIP";
    disp = BigInt.asUintN(abits, ip + BigInt(i.len) + BigInt(i.disp));
  } else if (i.base === BASE_MOFFS) {
    disp = i.asize === 8 ? (BigInt(i.dispHi >>> 0) << 32n) | BigInt(i.disp >>> 0) : BigInt(i.disp >>> 0);
  } else {
    if (i.base >= 0) base = regName(i.base, i.asize);
    disp = BigInt.asUintN(abits, BigInt(i.disp));
  }
  let index = i.index >= 0 ? regName(i.index, i.asize) : "None";
  // 16-bit [SI] and [DI]: iced calls the register a base, this decoder an index.
  if (base === "None" && index !== "None" && i.asize === 2) {
    base = index;
    index = "None";
  }
  return `mem:${base}+${index}*${index === "None" ? 1 : 1 << i.scale}+${disp}`;
}

function theirs(ins: Iced.Instruction): { mnemonic: string; operands: Operand[] } {
  const operands: Operand[] = [];
  for (let k = 0; k < ins.opCount; k++) {
    const kind = iced.OpKind[ins.opKind(k)]!;
    if (kind === "Register") operands.push(`reg:${iced.Register[ins.opRegister(k)]}`);
    else if (kind === "Memory") {
      const base = iced.Register[ins.memoryBase]!;
      const index = iced.Register[ins.memoryIndex]!;
      const scale = index === "None" ? 1 : ins.memoryIndexScale;
      operands.push(`mem:${base}+${index}*${scale}+${ins.memoryDisplacementU64}`);
    } else if (kind.startsWith("NearBranch")) operands.push(`branch:${ins.nearBranchTarget}`);
    else if (kind.startsWith("FarBranch")) operands.push(`far:${ins.farBranchSelector}:${kind === "FarBranch16" ? ins.farBranch16 : ins.farBranch32}`);
    else if (kind.startsWith("Immediate")) {
      // iced: ImmediateN is an N-bit value used as is; ImmediateNtoM is sign-extended to M.
      operands.push(`imm${/to(\d+)$/.exec(kind)?.[1] ?? ""}/${/Immediate(\d+)/.exec(kind)![1]}:${BigInt.asUintN(64, ins.immediate(k))}`);
    } else operands.push(`other:${kind}`);
  }
  return { mnemonic: iced.Mnemonic[ins.mnemonic]!.toLowerCase(), operands };
}

/**
 * Our immediate (64-bit sign-extended value) against iced's: an N-bit immediate used as is
 * must match our low N bits; an immediate sign-extended to M bits must match our value
 * in its low M bits (and our value must be the sign extension of its low N bits).
 */
function sameOperands(mine: Operand[], theirs: Operand[]): boolean {
  if (mine.length !== theirs.length) return false;
  return mine.every((m, k) => {
    const t = theirs[k]!;
    const im = /^imm(\d*)\/(\d+):(\d+)$/.exec(t);
    if (im === null || !m.startsWith("imm:")) return m === t;
    const ours64 = BigInt(m.slice(4));
    const theirsV = BigInt(im[3]!);
    const n = Number(im[2]);
    if (im[1] === "") return BigInt.asUintN(n, ours64) === BigInt.asUintN(n, theirsV);
    const mBits = Number(im[1]);
    return BigInt.asUintN(mBits, ours64) === BigInt.asUintN(mBits, theirsV) &&
      BigInt.asUintN(mBits, BigInt.asIntN(n, ours64)) === BigInt.asUintN(mBits, ours64);
  });
}

type Outcome =
  | { kind: "insn"; insn: Insn }
  | { kind: "invalid" }
  | { kind: "unsupported" };

function decodeOurs(dec: Decoder, bytes: Uint8Array, codeSize: number): Outcome {
  try {
    const i = dec.decode({ byte: (n) => bytes[n]! }, codeSize);
    if (i.entry !== null) return { kind: "insn", insn: i };
    return i.fn.name === "unsupported" ? { kind: "unsupported" } : { kind: "invalid" };
  } catch (e) {
    if (e instanceof CpuFault) return { kind: "invalid" }; // 15-byte limit: #GP(0)
    throw e;
  }
}

function check(vendor: Vendor, bytes: Uint8Array, codeSize = 8): string | null {
  const dec = new Decoder(vendor, cpuFeatures({ vendor, fred: true }));
  const ip = 0x1000n;
  const d = new iced.Decoder(codeSize * 8, bytes, vendor === "amd" ? iced.DecoderOptions.AMD : iced.DecoderOptions.None);
  d.ip = ip;
  const ins = d.decode();
  const f = new iced.Formatter(iced.FormatterSyntax.Intel);
  try {
    const text = ins.isInvalid ? "(invalid)" : f.format(ins);
    const hex = Buffer.from(bytes.subarray(0, Math.max(ins.length, 1))).toString("hex");
    const o = decodeOurs(dec, bytes, codeSize);
    if (ins.isInvalid) {
      return o.kind === "invalid" ? null : `${hex}: iced says invalid, we say ${o.kind}`;
    }
    const theirMnem = iced.Mnemonic[ins.mnemonic]!.toLowerCase();
    if (o.kind === "invalid") return `${hex}: we say invalid, iced says ${text}`;
    if (o.kind === "unsupported") {
      const code = iced.Code[ins.code]!;
      return IMPLEMENTED.has(theirMnem) ? `${hex}: we say unsupported, iced says ${text} [${code}] (implemented here)` : null;
    }
    const i = o.insn;
    if (i.len !== ins.length) return `${hex}: length ${i.len}, iced ${ins.length} (${text})`;
    const mine = ours(i, ip);
    const entry = i.entry as Entry;
    if (entry.mnem === "NOP" && bytes.includes(0x0f)) {
      // The hint-NOP space: iced names the feature instruction; a CPU without it runs a NOP.
      return HINT_NOP.test(theirMnem) ? null : `${hex}: hint NOP, iced says ${text}`;
    }
    const t = theirs(ins);
    // Implicit operands (XLAT's [rBX+AL]) are not spelled out in the opcode map.
    if (mine !== null && mine.operands.length === 0) mine.operands.push(...t.operands);
    if (mine === null) return mnemonicOf(entry, i.osize, i.asize).toLowerCase() === t.mnemonic ? null : `${hex}: ${mnemonicOf(entry, i.osize, i.asize)} vs iced ${text}`;
    if (mine.mnemonic !== t.mnemonic) return `${hex}: mnemonic ${mine.mnemonic}, iced ${text}`;
    if (SELECTOR_E.has(mine.mnemonic) && entry.ops.some((x) => (x.kind === "E" || x.kind === "G") && x.size === "w")) {
      // The register holding a selector: same register, whatever size iced names it by.
      mine.operands = mine.operands.map((m, k) => (m.startsWith("reg:") && t.operands[k]?.startsWith("reg:") && regNumber(m.slice(4)) === regNumber(t.operands[k]!.slice(4)) ? t.operands[k]! : m));
    }
    if (!sameOperands(mine.operands, t.operands)) {
      return `${hex}: operands ${JSON.stringify(mine.operands)} vs iced ${JSON.stringify(t.operands)} (${text})`;
    }
    return null;
  } finally {
    ins.free();
    d.free();
    f.free();
  }
}

function arbInsnBytes(codeSize: number) {
  const prefixes = codeSize === 8 ? [...LEGACY_PREFIXES, ...REX_PREFIXES] : LEGACY_PREFIXES;
  return fc
    .tuple(fc.array(fc.constantFrom(...prefixes), { maxLength: 4 }), fc.constantFrom(...opcodeSpace(codeSize)), fc.uint8Array({ minLength: 16, maxLength: 16 }))
    .map(([pfx, opc, tail]) => {
      // Outside 64-bit mode a register ModRM after C4/C5/62 makes a VEX/EVEX prefix.
      if (opc.length === 1 && VEX.has(opc[0]!)) tail[0] = tail[0]! & 0xbf;
      return Uint8Array.from([...pfx, ...opc, ...tail]);
    });
}

describe("decoder vs iced-x86", () => {
  for (const codeSize of [8, 4, 2]) {
    for (const vendor of ["intel", "amd"] as const) {
      it(`random encodings over the implemented opcode space decode alike (${codeSize * 8}-bit, ${vendor})`, () => {
        const failures: string[] = [];
        fc.assert(
          fc.property(arbInsnBytes(codeSize), (bytes) => {
            const r = check(vendor, bytes, codeSize);
            if (r !== null) failures.push(r);
            return true;
          }),
          { seed: (vendor === "intel" ? 0x1ced : 0xa3d) + codeSize, numRuns: codeSize === 8 ? 20000 : 10000 },
        );
        expect(failures.slice(0, 30)).toEqual([]);
      });
    }

    it(`every opcode with every ModRM byte decodes alike (${codeSize * 8}-bit, exhaustive, no prefixes)`, () => {
      const failures: string[] = [];
      for (const opc of opcodeSpace(codeSize)) {
        for (let m = 0; m < 256; m++) {
          if (opc.length === 1 && VEX.has(opc[0]!) && m >= 0xc0) continue;
          const bytes = Uint8Array.from([...opc, m, 0x24, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb]);
          const r = check("intel", bytes, codeSize);
          if (r !== null) failures.push(r);
        }
      }
      expect(failures.slice(0, 20)).toEqual([]);
    });
  }

  it("named corners: REX not last, 0x66 with REX.W, AH..BH vs SPL..DIL, 15-byte limit", () => {
    const cases: [string, string][] = [
      ["4866 01c0", "add ax,ax"], // REX followed by a prefix is ignored
      ["6648 01c0", "add rax,rax"], // REX.W wins over 0x66
      ["88e0", "mov al,ah"],
      ["4088e0", "mov al,spl"],
      ["66".repeat(13) + "48 01c0", "(invalid)"], // 16 bytes: over the limit
      ["66".repeat(12) + "48 01c0", "add rax,rax"], // 15 bytes: fine
      ["64 3e 8b00", "mov eax,fs:[rax]"], // DS after FS does not cancel FS in 64-bit mode
    ];
    for (const [hex, want] of cases) {
      const bytes = Uint8Array.from(Buffer.from(hex.replace(/\s/g, "") + "00".repeat(16), "hex"));
      expect(check("intel", bytes), hex).toBeNull();
      const d = new iced.Decoder(64, bytes, 0);
      const ins = d.decode();
      const f = new iced.Formatter(iced.FormatterSyntax.Intel);
      expect(ins.isInvalid ? "(invalid)" : f.format(ins)).toBe(want);
      ins.free();
      d.free();
      f.free();
    }
  });
});
