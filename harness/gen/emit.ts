// A small x86 emitter for the fixed instruction forms the program generators place
// around random sequences (MSR and control-register writes, system calls, far
// transfers, kit bookkeeping). Each form is a few bytes from the SDM's opcode tables;
// test/harness/emit.test.ts checks every one against iced-x86's disassembly.

export type Bits = 16 | 32 | 64;

/** GPR numbers (rax = 0 ... r15 = 15). */
export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7, R11 = 11;

export class Emit {
  readonly out: number[] = [];
  /** Where the data immediates are (MOV r, imm; PUSH imm): what the minimizer may simplify. */
  readonly values: { at: number; size: 4 | 8 }[] = [];

  constructor(readonly bits: Bits) {}

  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }

  get length(): number {
    return this.out.length;
  }

  raw(...b: number[]): this {
    for (const x of b) this.out.push(x & 0xff);
    return this;
  }

  private imm32(v: number): void {
    this.raw(v, v >>> 8, v >>> 16, v >>> 24);
  }

  private imm16(v: number): void {
    this.raw(v, v >>> 8);
  }

  /** REX for a 64-bit operand (W) and register extensions (R: ModRM.reg, B: ModRM.rm or opcode reg). */
  private rex(w: boolean, r: number, b: number): void {
    const v = 0x40 | (w ? 8 : 0) | ((r & 8) !== 0 ? 4 : 0) | ((b & 8) !== 0 ? 1 : 0);
    if (v !== 0x40) {
      if (this.bits !== 64) throw new Error("REX in 16/32-bit code");
      this.raw(v);
    }
  }

  /** ModRM for an absolute address: [disp32] (64-bit: SIB with no base and no index, not RIP-relative). */
  private absolute(reg: number, addr: number): void {
    if (this.bits === 64) this.raw(0x04 | ((reg & 7) << 3), 0x25);
    else this.raw(0x05 | ((reg & 7) << 3));
    this.imm32(addr);
  }

  /** MOV r32, imm32 (B8+r; in 64-bit mode the upper half is cleared). */
  movImm32(reg: number, v: number): this {
    this.rex(false, 0, reg);
    this.raw(0xb8 + (reg & 7));
    this.values.push({ at: this.out.length, size: 4 });
    this.imm32(v);
    return this;
  }

  /** MOV r64, imm64 (REX.W B8+r); `value`: a data immediate the minimizer may simplify (not an address). */
  movImm64(reg: number, lo: number, hi: number, value = true): this {
    this.rex(true, 0, reg);
    this.raw(0xb8 + (reg & 7));
    if (value) this.values.push({ at: this.out.length, size: 8 });
    this.imm32(lo);
    this.imm32(hi);
    return this;
  }

  /** MOV dword [addr], imm32 (C7 /0). */
  storeImm32(addr: number, v: number): this {
    this.raw(0xc7);
    this.absolute(0, addr);
    this.imm32(v);
    return this;
  }

  /** MOV qword [addr], imm32 sign-extended (REX.W C7 /0), 64-bit only. */
  storeImm64(addr: number, v: number): this {
    this.rex(true, 0, 0);
    this.raw(0xc7);
    this.absolute(0, addr);
    this.imm32(v);
    return this;
  }

  /** MOV [addr], r (89 /r) at the code's natural size (64-bit: REX.W). */
  storeReg(addr: number, reg: number): this {
    this.rex(this.bits === 64, reg, 0);
    this.raw(0x89);
    this.absolute(reg, addr);
    return this;
  }

  /** MOV r, CRn (0F 20 /r) and MOV CRn, r (0F 22 /r). */
  movFromCr(cr: number, reg: number): this {
    this.rex(false, cr, reg);
    return this.raw(0x0f, 0x20, 0xc0 | ((cr & 7) << 3) | (reg & 7));
  }

  movToCr(cr: number, reg: number): this {
    this.rex(false, cr, reg);
    return this.raw(0x0f, 0x22, 0xc0 | ((cr & 7) << 3) | (reg & 7));
  }

  /** XOR r, imm32 (81 /6 id), at the code's natural size (64-bit: REX.W, sign-extended). */
  xorImm(reg: number, v: number): this {
    this.rex(this.bits === 64, 0, reg);
    this.raw(0x81, 0xf0 | (reg & 7));
    this.imm32(v);
    return this;
  }

  /** BTC r, imm8 (0F BA /7 ib), at the code's natural size. */
  btcImm(reg: number, bit: number): this {
    this.rex(this.bits === 64, 0, reg);
    return this.raw(0x0f, 0xba, 0xf8 | (reg & 7), bit);
  }

  /** PUSH imm32 (68), POPF (9D), PUSHF (9C), POP [addr] (8F /0); `value` as for movImm64. */
  pushImm(v: number, value = true): this {
    this.raw(0x68);
    if (value) this.values.push({ at: this.out.length, size: 4 });
    this.imm32(v);
    return this;
  }
  /** PUSH r and POP r (50+r, 58+r) at the stack's natural size. */
  pushReg(reg: number): this {
    this.rex(false, 0, reg);
    return this.raw(0x50 + (reg & 7));
  }
  popReg(reg: number): this {
    this.rex(false, 0, reg);
    return this.raw(0x58 + (reg & 7));
  }
  /** MOV [rsp], r (89 /r, SIB base RSP) at the code's natural size: replace the top of the stack. */
  storeStackTop(reg: number): this {
    this.rex(this.bits === 64, reg, 0);
    return this.raw(0x89, 0x04 | ((reg & 7) << 3), 0x24);
  }
  /** MOV r, [rsp + disp8] and MOV [rsp + disp8], r (8B / 89, SIB base RSP, disp8) at the code's natural size. */
  loadStack(reg: number, disp: number): this {
    this.rex(this.bits === 64, reg, 0);
    return this.raw(0x8b, 0x44 | ((reg & 7) << 3), 0x24, disp);
  }
  storeStack(disp: number, reg: number): this {
    this.rex(this.bits === 64, reg, 0);
    return this.raw(0x89, 0x44 | ((reg & 7) << 3), 0x24, disp);
  }
  /** MOV qword [rsp + disp8], imm32 sign-extended (REX.W C7 /0), 64-bit only; not a data value. */
  storeStackImm(disp: number, v: number): this {
    this.rex(true, 0, 0);
    this.raw(0xc7, 0x44, 0x24, disp);
    this.imm32(v);
    return this;
  }
  /** CMP qword [rsp + disp8], imm8 sign-extended (REX.W 83 /7), 64-bit only. */
  cmpStackImm8(disp: number, v: number): this {
    this.rex(true, 0, 0);
    return this.raw(0x83, 0x7c, 0x24, disp, v);
  }
  /** JNE rel8 (75 cb): skip `n` bytes when ZF is clear. */
  jneShort(n: number): this {
    return this.raw(0x75, n);
  }
  /** MOV r, [addr] (8B /r) at the code's natural size (64-bit: REX.W). */
  loadReg(reg: number, addr: number): this {
    this.rex(this.bits === 64, reg, 0);
    this.raw(0x8b);
    this.absolute(reg, addr);
    return this;
  }
  /** LEA r64, [rip + disp32] (REX.W 8D /r, ModRM.rm 101), 64-bit only: the address `disp` bytes past this instruction. */
  leaRip(reg: number, disp: number): this {
    if (this.bits !== 64) throw new Error("RIP-relative LEA outside 64-bit code");
    this.rex(true, reg, 0);
    this.raw(0x8d, 0x05 | ((reg & 7) << 3));
    this.imm32(disp);
    return this;
  }
  popf(): this {
    return this.raw(0x9d);
  }
  pushf(): this {
    return this.raw(0x9c);
  }
  popMem(addr: number): this {
    this.raw(0x8f);
    this.absolute(0, addr);
    return this;
  }

  wrmsr(): this {
    return this.raw(0x0f, 0x30);
  }
  rdmsr(): this {
    return this.raw(0x0f, 0x32);
  }
  syscall(): this {
    return this.raw(0x0f, 0x05);
  }
  /** SYSRET with a 64-bit (REX.W) or 32-bit operand size. */
  sysret(q: boolean): this {
    if (q) this.rex(true, 0, 0);
    return this.raw(0x0f, 0x07);
  }
  sysenter(): this {
    return this.raw(0x0f, 0x34);
  }
  swapgs(): this {
    return this.raw(0x0f, 0x01, 0xf8);
  }
  /** LKGS r16 (F2 0F 00 /6). */
  lkgs(reg: number): this {
    this.raw(0xf2);
    this.rex(false, 0, reg);
    return this.raw(0x0f, 0x00, 0xf0 | (reg & 7));
  }
  vmcall(): this {
    return this.raw(0x0f, 0x01, 0xc1);
  }
  vmmcall(): this {
    return this.raw(0x0f, 0x01, 0xd9);
  }
  int(n: number): this {
    return n === 3 ? this.raw(0xcc) : this.raw(0xcd, n);
  }
  into(): this {
    return this.raw(0xce);
  }
  int1(): this {
    return this.raw(0xf1);
  }
  ud2(): this {
    return this.raw(0x0f, 0x0b);
  }
  /** DIV ecx (F7 /6). */
  divEcx(): this {
    return this.raw(0xf7, 0xf1);
  }
  /** MOV eax, [addr] (8B /r) and MOV [addr], eax. */
  loadEax(addr: number): this {
    this.raw(0x8b);
    this.absolute(RAX, addr);
    return this;
  }
  storeEax(addr: number): this {
    this.raw(0x89);
    this.absolute(RAX, addr);
    return this;
  }
  /** CALL r (FF /2) at the code's natural size: an indirect near call through a register. */
  callReg(reg: number): this {
    this.rex(false, 0, reg);
    return this.raw(0xff, 0xd0 | (reg & 7));
  }
  /** JMP r (FF /4) at the code's natural size. */
  jmpReg(reg: number): this {
    this.rex(false, 0, reg);
    return this.raw(0xff, 0xe0 | (reg & 7));
  }

  /** `other`'s code after this one's, its data immediates with it. */
  append(other: Emit): this {
    for (const v of other.values) this.values.push({ at: this.out.length + v.at, size: v.size });
    this.out.push(...other.out);
    return this;
  }

  /**
   * A far JMP to `sel:off` from 64-bit code: JMP m16:32 (FF /5) through a pointer placed
   * right after it (RIP-relative, displacement 0); the pointer is never executed.
   */
  farJmp64(sel: number, off: number): this {
    if (this.bits !== 64) throw new Error("farJmp64 in 32-bit code");
    this.raw(0xff, 0x2d, 0, 0, 0, 0);
    this.imm32(off);
    this.imm16(sel);
    return this;
  }

  /** A far JMP to `sel:off` from 32-bit code: JMP ptr16:32 (EA). */
  farJmp32(sel: number, off: number): this {
    if (this.bits !== 32) throw new Error("farJmp32 outside 32-bit code");
    this.raw(0xea);
    this.imm32(off);
    this.imm16(sel);
    return this;
  }

  /**
   * IRET to `sel:off` at a given stack and flags, from 64-bit code: pushes SS, RSP,
   * RFLAGS, CS, RIP (SDM Vol. 3A 6.14.3) and IRETQ.
   */
  iretq(ss: number, rsp: number, rflags: number, cs: number, rip: number): this {
    if (this.bits !== 64) throw new Error("iretq outside 64-bit code");
    this.pushImm(ss).pushImm(rsp).pushImm(rflags).pushImm(cs).pushImm(rip);
    return this.raw(0x48, 0xcf);
  }
}
