// The generic decoder: prefixes, REX, the opcode map (data in opcodes.ts), ModRM/SIB/
// displacement, immediates. One routine for every instruction; the table is the
// documentation. SDM Vol. 2A chapter 2.

import { CpuFault, GP, UD } from "../exceptions.js";
import type { CpuFeatures, Vendor } from "../cpuid.js";
import { CS, DS, ES, FS, GS, SS, RBP, RSP } from "../state.js";
import {
  BASE_MOFFS, BASE_RIP, Insn, P_ADSIZE, P_LOCK, P_OPSIZE, P_REP, P_REPNE, P_REX, P_SEG, REG8_HIGH, type Handler,
} from "./insn.js";
import { F_D64, F_F64, F_I64, F_LOCK, F_LOCK_ANY, F_O64, type DecodeContext, type Entry, type Node } from "./table.js";
import { ONE_BYTE, TWO_BYTE } from "./opcodes.js";

/** Where the decoder reads instruction bytes; may throw a CpuFault (#PF on fetch). */
export interface ByteSource {
  /** The byte at offset `n` from the start of the instruction. */
  byte(n: number): number;
}

export const MAX_INSN_LEN = 15;

/** Handler of encodings the architecture defines as invalid. */
export const raiseUD: Handler = () => {
  throw new CpuFault(UD);
};

/** Handler of valid encodings this emulator does not implement. */
export const unsupported: Handler = (cpu) => {
  cpu.stopUnsupported();
};

// 16-bit ModRM addressing (SDM Table 2-1): base, index for rm = 0..7.
const RM16_BASE = [3, 3, 5, 5, -1, -1, 5, 3]; // BX BX BP BP - - BP BX
const RM16_INDEX = [6, 7, 6, 7, 6, 7, -1, -1]; // SI DI SI DI SI DI - -

export class Decoder implements DecodeContext {
  codeSize = 8;
  realMode = false;
  rexB = false;
  rexW = false;
  rexR = false;
  repPrefix = 0;
  opsizePrefix = false;
  lock = false;
  private rex = 0;
  private src: ByteSource | null = null;
  private n = 0;
  private readonly buf = new Uint8Array(MAX_INSN_LEN);
  private modrmByte = -1;

  constructor(
    readonly vendor: Vendor,
    readonly features: CpuFeatures,
  ) {}

  modrm(): number {
    if (this.modrmByte < 0) this.modrmByte = this.next();
    return this.modrmByte;
  }

  private next(): number {
    // SDM Vol. 2A 2.3.11: an instruction longer than 15 bytes raises #GP(0).
    if (this.n >= MAX_INSN_LEN) throw new CpuFault(GP, 0);
    const b = this.src!.byte(this.n);
    this.buf[this.n++] = b;
    return b;
  }

  private imm(bytes: number): number {
    let v = 0;
    for (let k = 0; k < bytes; k++) v |= this.next() << (8 * k);
    return v;
  }

  /** Decode one instruction for a code segment of `codeSize` bytes (2, 4, 8). */
  decode(src: ByteSource, codeSize: number, realMode = false): Insn {
    this.src = src;
    this.n = 0;
    this.codeSize = codeSize;
    this.realMode = realMode;
    this.modrmByte = -1;
    this.repPrefix = 0;
    this.opsizePrefix = false;
    this.rex = 0;
    const long = codeSize === 8;
    let lock = false;
    this.lock = false;
    let adsize = false;
    let seg = -1;
    let b: number;

    // Legacy prefixes in any order, then REX immediately before the opcode.
    for (;;) {
      b = this.next();
      if (long && (b & 0xf0) === 0x40) {
        this.rex = b;
        continue;
      }
      let isPrefix = true;
      switch (b) {
        case 0xf0: lock = true; this.lock = true; break;
        case 0xf2: case 0xf3: this.repPrefix = b; break;
        case 0x66: this.opsizePrefix = true; break;
        case 0x67: adsize = true; break;
        case 0x26: case 0x2e: case 0x36: case 0x3e:
          // In 64-bit mode ES/CS/SS/DS overrides are ignored, and do not cancel FS/GS.
          if (!long) seg = b === 0x26 ? ES : b === 0x2e ? CS : b === 0x36 ? SS : DS;
          break;
        case 0x64: seg = FS; break;
        case 0x65: seg = GS; break;
        default: isPrefix = false;
      }
      if (!isPrefix) break;
      this.rex = 0; // a REX prefix followed by another prefix is ignored
    }
    this.rexW = (this.rex & 8) !== 0;
    this.rexB = (this.rex & 1) !== 0;
    this.rexR = (this.rex & 4) !== 0;

    let node: Node;
    const twoByte = b === 0x0f;
    if (twoByte) {
      b = this.next(); // the opcode byte proper (its low bits name a register for 0F C8+r)
      node = b === 0x38 || b === 0x3a ? undefined : TWO_BYTE[b];
    } else {
      node = ONE_BYTE[b];
    }

    // Walk selection nodes down to an entry.
    for (;;) {
      if (node === undefined || node.kind === "entry" || node.kind === "invalid") break;
      if (node.kind === "group") node = node.byReg[(this.modrm() >> 3) & 7];
      else if (node.kind === "mod") node = this.modrm() >= 0xc0 ? node.reg : node.mem;
      else node = node.resolve(this);
    }

    // Every instruction that accepts LOCK is implemented, so LOCK on an unimplemented
    // encoding is #UD; except AMD's LOCK MOV CR0 (= MOV CR8), which arrives with part 2.
    if (node === undefined) return lock && !(twoByte && (b === 0x20 || b === 0x22)) ? this.finishInvalid() : this.finish(unsupported, null);
    if (node.kind === "invalid") return this.finishInvalid();
    const e: Entry = node;
    if ((long && (e.flags & F_I64) !== 0) || (!long && (e.flags & F_O64) !== 0)) return this.finishInvalid();

    const i = new Insn(e.exec);
    i.entry = e;
    i.op = e.sub;
    i.codeSize = codeSize;
    i.prefix =
      (lock ? P_LOCK : 0) |
      (this.repPrefix === 0xf3 ? P_REP : this.repPrefix === 0xf2 ? P_REPNE : 0) |
      (this.opsizePrefix ? P_OPSIZE : 0) |
      (adsize ? P_ADSIZE : 0) |
      (this.rex !== 0 ? P_REX : 0) |
      (seg >= 0 ? P_SEG : 0);

    // Operand size (SDM Vol. 1 3.6.1, Vol. 2A 2.2.1.2 and A.2.5: d64/f64).
    // The first operand names the size; an immediate or branch offset (PUSH Ib, Jcc Jb,
    // ENTER Iw,Ib) names only its own width, and the port in DX (OUT DX,eAX) neither.
    const o0 = e.ops.find((o) => o.kind !== "I" && o.kind !== "J" && !(o.kind === "A" && o.reg === 2));
    const first = o0 === undefined ? "v" : o0.size;
    let vsize: number;
    if (long) {
      if ((e.flags & F_F64) !== 0) vsize = this.vendor === "amd" && this.opsizePrefix && !this.rexW ? 2 : 8;
      else if ((e.flags & F_D64) !== 0) vsize = this.opsizePrefix && !this.rexW ? 2 : 8;
      else vsize = this.rexW ? 8 : this.opsizePrefix ? 2 : 4;
    } else {
      vsize = (codeSize === 4) !== this.opsizePrefix ? 4 : 2;
    }
    i.osize = first === "y" ? (long ? 8 : 4) : sizeOf(first, vsize);
    i.asize = long ? (adsize ? 4 : 8) : (codeSize === 4) !== adsize ? 4 : 2;

    const rexR = (this.rex & 4) !== 0 ? 8 : 0;
    const rexX = (this.rex & 2) !== 0 ? 8 : 0;
    const rexB = this.rexB ? 8 : 0;
    const rexAny = this.rex !== 0;
    // Instructions without ModRM that address memory (string ops, XLAT) use the override.
    i.seg = seg >= 0 ? seg : DS;

    if (e.modrm) {
      const m = this.modrm();
      const mod = m >> 6;
      i.mod = mod;
      i.reg = ((m >> 3) & 7) | rexR;
      i.rm = (m & 7) | rexB;
      // MOV CR/DR ignore mod: the operand is always a register and no SIB/disp follows.
      if (mod !== 3 && e.ops.some((o) => o.kind === "R")) i.mod = 3;
      else if (mod !== 3) this.decodeMemory(i, m, rexX, rexB, seg);
    }
    // LOCK is legal only on the read-modify-write forms with a memory destination
    // (SDM Vol. 2B LOCK); anywhere else it raises #UD.
    if (lock && (e.flags & F_LOCK_ANY) === 0 && ((e.flags & F_LOCK) === 0 || i.mod === 3)) return this.finishInvalid();

    // Operands: register renaming for byte registers, immediates in order.
    let immSeen = 0;
    for (const o of e.ops) {
      switch (o.kind) {
        case "E":
        case "M":
          if (o.kind === "M" && i.mod === 3) return this.finishInvalid();
          if (i.mod === 3 && o.size === "b") i.rm = byteReg(i.rm, rexAny);
          break;
        case "G":
          if (o.size === "b") i.reg = byteReg(i.reg, rexAny);
          break;
        case "Z":
          i.reg = (b & 7) | rexB;
          if (o.size === "b") i.reg = byteReg(i.reg, rexAny);
          break;
        case "I": {
          const size = o.size === "b" ? 1 : o.size === "w" ? 2 : o.size === "d" ? 4
            : o.size === "v" ? i.osize : i.osize === 2 ? 2 : 4;
          let v: number;
          if (size === 8) {
            v = this.imm(4);
            i.immHi = this.imm(4);
          } else {
            v = this.imm(size);
            // Ib and Iz are sign-extended to the operand size; Iw and Iv(16/32) are not.
            if (size === 1 && o.size === "b") v = (v << 24) >> 24;
            else if (size === 2 && o.size === "z") v = (v << 16) >> 16;
          }
          if (immSeen++ === 0) {
            i.imm = v;
            // Sign-extended immediates carry their 64-bit high half too.
            if (size !== 8) i.immHi = v >> 31;
          } else {
            i.imm2 = v & 0xff;
          }
          break;
        }
        case "J": {
          const size = o.size === "b" ? 1 : i.osize === 2 ? 2 : 4;
          const v = this.imm(size);
          i.imm = size === 1 ? (v << 24) >> 24 : size === 2 ? (v << 16) >> 16 : v;
          break;
        }
        case "P": {
          // ptr16:16 / ptr16:32: the offset at the operand size, then the selector.
          i.imm = this.imm(i.osize === 2 ? 2 : 4);
          i.imm2 = this.imm(2);
          break;
        }
        case "O": {
          i.mod = 0;
          i.base = BASE_MOFFS;
          i.index = -1;
          if (i.asize === 8) {
            i.disp = this.imm(4);
            i.dispHi = this.imm(4);
          } else {
            i.disp = i.asize === 4 ? this.imm(4) : this.imm(2);
          }
          i.seg = seg >= 0 ? seg : DS;
          break;
        }
        default:
          break;
      }
    }
    if (e.pick !== null) i.fn = e.pick(i);
    return this.done(i);
  }

  private decodeMemory(i: Insn, m: number, rexX: number, rexB: number, seg: number): void {
    const mod = m >> 6;
    const rm = m & 7;
    let defSeg = DS;
    if (i.asize === 2) {
      // 16-bit addressing, SDM Table 2-1.
      if (mod === 0 && rm === 6) {
        i.disp = this.imm(2);
      } else {
        i.base = RM16_BASE[rm]!;
        i.index = RM16_INDEX[rm]!;
        if (i.base === RBP) defSeg = SS;
        if (mod === 1) i.disp = (this.imm(1) << 24) >> 24;
        else if (mod === 2) i.disp = (this.imm(2) << 16) >> 16;
      }
    } else {
      let base: number;
      if (rm === 4) {
        // SIB, SDM Table 2-3. Index 100b without REX.X means no index; base 101b with
        // mod 00 means disp32 and no base (whatever REX.B says).
        const sib = this.next();
        i.scale = sib >> 6;
        const idx = ((sib >> 3) & 7) | rexX;
        i.index = idx === RSP ? -1 : idx;
        const sb = sib & 7;
        if (sb === 5 && mod === 0) {
          base = -1;
          i.disp = this.imm(4);
        } else {
          base = sb | rexB;
        }
      } else if (rm === 5 && mod === 0) {
        // 64-bit mode: RIP-relative (SDM 2.2.1.6); otherwise disp32.
        base = this.codeSize === 8 ? BASE_RIP : -1;
        i.disp = this.imm(4);
      } else {
        base = rm | rexB;
      }
      i.base = base;
      if (base === RSP || base === RBP) defSeg = SS;
      if (mod === 1) i.disp = (this.imm(1) << 24) >> 24;
      else if (mod === 2) i.disp = this.imm(4);
    }
    i.seg = seg >= 0 ? seg : defSeg;
  }

  private finishInvalid(): Insn {
    return this.finish(raiseUD, null);
  }

  private finish(fn: Handler, e: Entry | null): Insn {
    const i = new Insn(fn);
    i.entry = e;
    i.codeSize = this.codeSize;
    return this.done(i);
  }

  private done(i: Insn): Insn {
    i.len = this.n;
    i.bytes = this.buf.slice(0, this.n);
    this.src = null;
    return i;
  }
}

function sizeOf(s: string, vsize: number): number {
  switch (s) {
    case "b": return 1;
    case "w": return 2;
    case "d": return 4;
    case "q": return 8;
    case "dq": return vsize === 8 ? 16 : 8;
    case "z": return vsize === 8 ? 4 : vsize; // word, or dword for 32- and 64-bit operand sizes
    default: return vsize;
  }
}

/** Byte register numbering: without REX, 4..7 are AH CH DH BH; with REX, SPL..DIL. */
function byteReg(r: number, rex: boolean): number {
  return !rex && r >= 4 && r < 8 ? REG8_HIGH + (r - 4) : r;
}
