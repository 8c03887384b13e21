// The emitter's fixed forms against iced-x86's disassembly: each method must produce the
// instruction its name and comment promise.

import { describe, expect, it } from "vitest";
import { Emit, RAX, RCX, R11, RSP } from "../../harness/gen/emit.js";
import { disassemble } from "../../harness/disasm.js";

/** All instructions of `bytes`, as iced-x86 disassembles them. */
function listing(bytes: Uint8Array, bits: 32 | 64): string[] {
  const out: string[] = [];
  for (let at = 0; at < bytes.length; ) {
    const d = disassemble(bytes.subarray(at), bits / 8, at);
    if (d.length === 0) throw new Error(`undecodable at ${at}: ${Buffer.from(bytes.subarray(at)).toString("hex")}`);
    out.push(d.text);
    at += d.length;
  }
  return out;
}

describe("Emit", () => {
  it("64-bit forms", () => {
    const e = new Emit(64)
      .movImm32(RCX, 0xc0000080).movImm32(R11, 0x202).movImm64(RAX, 0x89abcdef, 0x01234567)
      .storeImm32(0x183008, 0x18).storeImm64(0x183000, 0x102000).storeReg(0x183018, RSP)
      .movFromCr(4, RAX).btcImm(RAX, 32).movToCr(4, RAX).xorImm(RAX, 0x80)
      .pushImm(0x202).popf().pushf().popMem(0x183020)
      .wrmsr().rdmsr().syscall().sysret(true).sysret(false).sysenter().swapgs().lkgs(RAX)
      .vmcall().vmmcall().int(3).int(0x80).int1().ud2().divEcx().loadEax(0x183000).storeEax(0x800020).callReg(RAX)
      .farJmp64(0x18, 0x102345);
    const text = listing(e.bytes().subarray(0, e.length - 6), 64); // the far pointer is data; [8Ch]: RIP-relative 0, right after the JMP
    expect(text).toEqual([
      "mov ecx,0C0000080h", "mov r11d,202h", "mov rax,123456789ABCDEFh",
      "mov dword ptr [183008h],18h", "mov qword ptr [183000h],102000h", "mov [183018h],rsp",
      "mov rax,cr4", "btc rax,20h", "mov cr4,rax", "xor rax,80h",
      "push 202h", "popfq", "pushfq", "pop qword ptr [183020h]",
      "wrmsr", "rdmsr", "syscall", "sysretq", "sysret", "sysenter", "swapgs", "lkgs eax",
      "vmcall", "vmmcall", "int3", "int 80h", "int1", "ud2", "div ecx", "mov eax,[183000h]", "mov [800020h],eax", "call rax",
      "jmp far fword ptr [8Ch]",
    ]);
    expect(Buffer.from(e.bytes().subarray(e.length - 6)).toString("hex")).toBe("452310001800");
  });

  it("64-bit stack, LEA and jump forms; immediates that are not data are not values", () => {
    const rest = new Emit(64).pushImm(0xe02b, false).pushReg(RAX).pushReg(R11).popReg(RCX).popReg(R11).storeStackTop(RCX).storeStackTop(R11)
      .loadStack(RAX, 8).loadStack(R11, 0x20).storeStack(0x18, RCX).storeStack(8, R11).loadReg(RAX, 0xa0c00).loadReg(R11, 0x183000)
      .cmpStackImm8(8, 3).jneShort(0x12).storeStackImm(8, 0xe033).storeStackImm(0x18, 0x60000)
      .movImm64(RAX, 0x1000, 0, false).jmpReg(RAX).jmpReg(R11);
    const e = new Emit(64).leaRip(RCX, rest.length).leaRip(R11, 0x10).append(rest);
    expect(listing(e.bytes(), 64)).toEqual([
      `lea rcx,[${(7 + rest.length).toString(16).toUpperCase()}h]`, "lea r11,[1Eh]", // RIP after each LEA, plus its displacement
      "push 0E02Bh", "push rax", "push r11", "pop rcx", "pop r11", "mov [rsp],rcx", "mov [rsp],r11",
      "mov rax,[rsp+8]", "mov r11,[rsp+20h]", "mov [rsp+18h],rcx", "mov [rsp+8],r11", "mov rax,[0A0C00h]", "mov r11,[183000h]",
      "cmp qword ptr [rsp+8],3", "jne short 000000000000005Fh", // its own end (0x4D) + 0x12
      "mov qword ptr [rsp+8],0E033h", "mov qword ptr [rsp+18h],60000h",
      "mov rax,1000h", "jmp rax", "jmp r11",
    ]);
    expect(e.values).toEqual([]);
    // append() carries the other emitter's values to their new offsets.
    const data = new Emit(64).movImm64(RCX, 1, 0).pushImm(2);
    const joined = new Emit(64).leaRip(RCX, data.length).append(data);
    expect(joined.values).toEqual([{ at: 7 + 2, size: 8 }, { at: 7 + 10 + 1, size: 4 }]);
    expect(() => new Emit(32).leaRip(RCX, 0)).toThrow(/64-bit/);
  });

  it("32-bit forms", () => {
    const e = new Emit(32).movImm32(RCX, 5).storeImm32(0x183000, 0x102000).storeReg(0x183018, RSP).movFromCr(0, RAX).btcImm(RAX, 16)
      .movToCr(0, RAX).into().farJmp32(0x08, 0x102000);
    expect(listing(e.bytes(), 32)).toEqual([
      "mov ecx,5", "mov dword ptr [183000h],102000h", "mov [183018h],esp", "mov eax,cr0", "btc eax,10h", "mov cr0,eax", "into",
      "jmp far 00102000h,8",
    ]);
  });

  it("refuses what 32-bit code cannot encode", () => {
    expect(() => new Emit(32).movImm32(R11, 1)).toThrow(/REX/);
    expect(() => new Emit(32).farJmp64(8, 0)).toThrow();
  });
});
