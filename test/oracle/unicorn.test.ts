// The Unicorn oracle's runner on its own (not against the emulator): hand-written cases whose
// results follow from the SDM and the starting state of docs/cases.md, one group per mode.
// Each group also checks that the mode really is what it claims, through instruction
// behaviour (operand and stack size, CR0/CR4/EFER, paging).
//
// All cases run in ONE runUnicorn call (one python process), in beforeAll.

import { beforeAll, describe, expect, it } from "vitest";
import { runUnicorn, type UnicornCase, type UnicornResult } from "./unicorn.js";

const T = 0x0ff00000; // ram - 1 MiB for the default 256 MiB
const hx = (n: number): string => `0x${n.toString(16)}`;

const cases: Record<string, UnicornCase & Record<string, unknown>> = {
  // ---------------------------------------------------------------- real16
  "real16 mov ax,[bx+si+4] reads DS*16+offset": {
    mode: "real16", base: "0x1000", code: "8b 40 04",
    regs: { rax: "0xabcd0000", rbx: "0x10", rsi: "0x20" },
    sregs: { ds: "0x100" },
    memory: [{ addr: "0x1034", hex: "3412" }, { addr: "0x34", hex: "ffff" }],
  },
  "real16 inc ax is a 16-bit operation": {
    mode: "real16", base: "0x1000", code: "40", regs: { rax: "0x1ffff" },
  },
  "real16 push writes SS*16+SP-2": {
    mode: "real16", base: "0x1000", code: "53",
    regs: { rbx: "0x1234", rsp: "0x10" }, sregs: { ss: "0x200" },
    dump: [{ addr: "0x200c", len: 4 }],
  },
  "real16 CR0 has PE clear": { mode: "real16", base: "0x1000", code: "0f 20 c0" },
  "real16 div by zero": {
    mode: "real16", base: "0x1000", code: "90 f6 f3 90", regs: { rax: "0x7" },
  },
  "real16 hlt": { mode: "real16", base: "0x1000", code: "90 f4 90" },
  "real16 int 0x21 goes through the IVT and iret comes back": {
    // IVT[0x21] = 0000:2000: inc ax; iret
    mode: "real16", base: "0x1000", code: "cd 21 40",
    regs: { rsp: "0x8000", rflags: "0x202" },
    memory: [{ addr: "0x84", hex: "00200000" }, { addr: "0x2000", hex: "40 cf" }],
    dump: [{ addr: "0x7ffa", len: 6 }],
  },
  "real16 int 6 is a software interrupt too": {
    // IVT[6] = 0000:2000: iret (Unicorn reports vector 6 as an invalid instruction)
    mode: "real16", base: "0x1000", code: "cd 06 40",
    regs: { rsp: "0x8000" }, memory: [{ addr: "0x18", hex: "00200000" }, { addr: "0x2000", hex: "cf" }],
  },
  "real16 CS other than 0: entry and the end are offsets in CS": {
    mode: "real16", base: "0x12010", entry: "0x10", code: "8c c8 40", sregs: { cs: "0x1200" },
  },
  "real16 step limit with a CS base": {
    mode: "real16", base: "0x12010", entry: "0x10", code: "40 40 40 40", sregs: { cs: "0x1200" }, maxSteps: 2,
  },

  // ---------------------------------------------------------------- prot32
  "prot32 add sets CF ZF PF AF": {
    mode: "prot32", base: "0x1000", code: "01 d8", regs: { rax: "0xffffffff", rbx: "0x1" },
  },
  "prot32 add sets SF OF": {
    mode: "prot32", base: "0x1000", code: "01 d8", regs: { rax: "0x7fffffff", rbx: "0x1" },
  },
  "prot32 inc eax is a 32-bit operation": {
    mode: "prot32", base: "0x1000", code: "40", regs: { rax: "0xffff" },
  },
  "prot32 push writes 4 bytes below ESP": {
    mode: "prot32", base: "0x1000", code: "53",
    regs: { rbx: "0x11223344", rsp: "0x8000" }, dump: [{ addr: "0x7ff8", len: 8 }],
  },
  "prot32 control registers and GDTR": {
    mode: "prot32", base: "0x1000", code: "0f 20 c0 0f 20 e1 0f 01 05 00 20 00 00 0f 20 da",
    dump: [{ addr: "0x2000", len: 6 }],
  },
  "prot32 segment selectors": {
    mode: "prot32", base: "0x1000", code: "8c c8 8c d9 8c d2 0f 00 cb",
  },
  "prot32 div by zero": {
    mode: "prot32", base: "0x1000", code: "90 31 c9 f7 f1 90", regs: { rax: "0x7" },
  },
  "prot32 int3 is a trap": { mode: "prot32", base: "0x1000", code: "90 cc 90" },
  "prot32 ud2": { mode: "prot32", base: "0x1000", code: "90 0f 0b 90" },
  "prot32 int n with IDTR limit 0 is #GP at the int": { mode: "prot32", base: "0x1000", code: "90 cd 21 90" },
  "prot32 int 6 with IDTR limit 0 is #GP(6 * 8 + 2) at the int": { mode: "prot32", base: "0x1000", code: "90 cd 06 90" },
  "prot32 mov ds with a bad RPL is #GP": {
    mode: "prot32", base: "0x1000", code: "66 b8 11 00 8e d8", regs: {},
  },
  "prot32 step limit": {
    mode: "prot32", base: "0x1000", code: "40 40 40 40 40", maxSteps: 3,
  },
  "prot32 step limit equal to the instruction count": {
    mode: "prot32", base: "0x1000", code: "40 40 40", maxSteps: 3,
  },
  "prot32 rep stosb counts one step per iteration": {
    mode: "prot32", base: "0x1000", code: "f3 aa", regs: { rax: "0x41", rcx: "0x5", rdi: "0x3000" }, maxSteps: 3,
    dump: [{ addr: "0x3000", len: 6 }],
  },
  "prot32 memory beyond RAM reads as all ones": {
    mode: "prot32", base: "0x1000", code: "8b 05 00 00 00 20", ram: 0x1000000,
  },

  // ---------------------------------------------------------------- compat32
  "compat32 0x40 is inc eax (not REX) and zero-extends": {
    mode: "compat32", base: "0x1000", code: "40",
    regs: { rax: "0xffffffff00000005", r8: "0x123456789abcdef0" },
  },
  "compat32 48 ff c0 is dec eax; inc eax": {
    mode: "compat32", base: "0x1000", code: "48 ff c0", regs: { rax: "0xffffffff" },
  },
  "compat32 far call to the 64-bit code segment runs 48 ff c0 as inc rax": {
    // call far 0x08:0x1007 ; inc rax (64-bit)
    mode: "compat32", base: "0x1000", code: "9a 07 10 00 00 08 00 48 ff c0",
    regs: { rax: "0xffffffff", rsp: "0x8000" }, dump: [{ addr: "0x7ff8", len: 8 }],
  },
  "compat32 push writes 4 bytes below ESP": {
    mode: "compat32", base: "0x1000", code: "50",
    regs: { rax: "0xaabbccdd", rsp: "0x8000" }, dump: [{ addr: "0x7ff8", len: 8 }],
  },
  "compat32 control registers and EFER": {
    mode: "compat32", base: "0x1000", code: "0f 20 c3 0f 20 de 0f 20 e7 b9 80 00 00 c0 0f 32",
  },
  "compat32 read beyond RAM is #PF": {
    mode: "compat32", base: "0x1000", code: "90 8b 05 00 00 00 20",
  },
  "compat32 page walks set accessed and dirty bits": {
    mode: "compat32", base: "0x1000", code: "a3 00 00 30 00",
    dump: [{ addr: hx(T + 0x12008), len: 16 }],
  },
  "compat32 hlt": { mode: "compat32", base: "0x1000", code: "f4" },

  // ---------------------------------------------------------------- errors
  "bad mode": { mode: "long64" as "prot32", base: "0x1000", code: "90" },
  "fetch outside RAM without paging": {
    mode: "prot32", base: "0x1000", code: "e9 fb ef ff 1f", ram: 0x1000000,
  },
};

const names = Object.keys(cases);
let results: Map<string, UnicornResult>;

beforeAll(() => {
  const out = runUnicorn(names.map((id) => ({ ...cases[id], id })));
  results = new Map(out.map((r, k) => [names[k]!, r]));
});

function r(name: string): UnicornResult {
  const x = results.get(name);
  if (x === undefined) throw new Error(`no case ${name}`);
  expect(x.id).toBe(name);
  return x;
}

describe("unicorn runner: real16", () => {
  it("mov ax,[bx+si+4] reads from DS*16 + BX + SI + 4 and keeps EAX's upper half", () => {
    const x = r("real16 mov ax,[bx+si+4] reads DS*16+offset");
    expect(x.exit).toEqual({ kind: "end" });
    expect(x.regs["rax"]).toBe("0xabcd1234");
    expect(x.regs["rip"]).toBe("0x1003");
  });
  it("0x40 is inc ax: the default operand size is 16 bits", () => {
    const x = r("real16 inc ax is a 16-bit operation");
    expect(x.regs["rax"]).toBe("0x10000");
    expect(x.regs["rflags"]).toBe("0x56"); // ZF PF AF
  });
  it("push uses SS*16 + SP and a 16-bit stack", () => {
    const x = r("real16 push writes SS*16+SP-2");
    expect(x.regs["rsp"]).toBe("0xe");
    expect(x.memory).toEqual([{ addr: "0x200c", hex: "00003412" }]);
  });
  it("CR0 is 0x10 (PE clear)", () => {
    expect(r("real16 CR0 has PE clear").regs["rax"]).toBe("0x10");
  });
  it("div by zero stops with #DE at the div", () => {
    const x = r("real16 div by zero");
    expect(x.exit).toEqual({ kind: "exception", vector: 0, rip: "0x1001" });
    expect(x.regs["rip"]).toBe("0x1001");
  });
  it("hlt stops with rip after it", () => {
    const x = r("real16 hlt");
    expect(x.exit).toEqual({ kind: "hlt" });
    expect(x.regs["rip"]).toBe("0x1002");
  });
  it("int n is delivered through the IVT (FLAGS, CS, IP pushed, IF cleared) and iret returns", () => {
    const x = r("real16 int 0x21 goes through the IVT and iret comes back");
    expect(x.exit).toEqual({ kind: "end" });
    expect(x.regs["rax"]).toBe("0x2"); // inc ax in the handler, inc ax after the int
    expect(x.regs["rsp"]).toBe("0x8000");
    expect(x.regs["rip"]).toBe("0x1003");
    expect(x.regs["rflags"]).toBe("0x202"); // IF restored by iret
    expect(x.memory).toEqual([{ addr: "0x7ffa", hex: "021000000202" }]); // IP 0x1002, CS 0, FLAGS 0x202
  });
  it("int 6 is delivered through the IVT like any INT n (not reported as #UD)", () => {
    const x = r("real16 int 6 is a software interrupt too");
    expect(x.exit).toEqual({ kind: "end" });
    expect(x.regs["rax"]).toBe("0x1");
    expect(x.regs["rsp"]).toBe("0x8000");
  });
  it("with CS = 0x1200, entry and the end are offsets in CS", () => {
    const x = r("real16 CS other than 0: entry and the end are offsets in CS");
    expect(x.exit).toEqual({ kind: "end" });
    expect(x.regs["rax"]).toBe("0x1201");
    expect(x.regs["rip"]).toBe("0x13");
  });
  it("a step limit with a CS base reports the offset in CS", () => {
    const x = r("real16 step limit with a CS base");
    expect(x.exit).toEqual({ kind: "step-limit" });
    expect(x.regs["rax"]).toBe("0x2");
    expect(x.regs["rip"]).toBe("0x12");
  });
});

describe("unicorn runner: prot32", () => {
  it("add sets CF ZF PF AF on a carry out to zero", () => {
    const x = r("prot32 add sets CF ZF PF AF");
    expect(x.regs["rax"]).toBe("0x0");
    expect(x.regs["rflags"]).toBe("0x57");
  });
  it("add sets SF and OF on a signed overflow", () => {
    const x = r("prot32 add sets SF OF");
    expect(x.regs["rax"]).toBe("0x80000000");
    expect(x.regs["rflags"]).toBe("0x896"); // OF SF AF PF
  });
  it("0x40 is inc eax: the default operand size is 32 bits", () => {
    expect(r("prot32 inc eax is a 32-bit operation").regs["rax"]).toBe("0x10000");
  });
  it("push writes 4 bytes below ESP", () => {
    const x = r("prot32 push writes 4 bytes below ESP");
    expect(x.regs["rsp"]).toBe("0x7ffc");
    expect(x.memory).toEqual([{ addr: "0x7ff8", hex: "0000000044332211" }]);
  });
  it("CR0 = 0x11 (PE, paging off), CR4 = 0, CR3 = 0, GDTR = T/0x47", () => {
    const x = r("prot32 control registers and GDTR");
    expect(x.exit).toEqual({ kind: "end" });
    expect(x.regs["rax"]).toBe("0x11");
    expect(x.regs["rcx"]).toBe("0x0");
    expect(x.regs["rdx"]).toBe("0x0");
    expect(x.memory).toEqual([{ addr: "0x2000", hex: "4700" + "0000f00f" }]);
  });
  it("CS = 0x18, DS = SS = 0x10, TR = 0x38", () => {
    const x = r("prot32 segment selectors");
    expect([x.regs["rax"], x.regs["rcx"], x.regs["rdx"], x.regs["rbx"]]).toEqual(["0x18", "0x10", "0x10", "0x38"]);
  });
  it("div by zero stops with #DE and rip at the div", () => {
    const x = r("prot32 div by zero");
    expect(x.exit).toEqual({ kind: "exception", vector: 0, rip: "0x1003" });
    expect(x.regs["rip"]).toBe("0x1003");
    expect(x.regs["rax"]).toBe("0x7");
  });
  it("int3 is a trap: exit.rip at the int3, regs.rip after it", () => {
    const x = r("prot32 int3 is a trap");
    expect(x.exit).toEqual({ kind: "exception", vector: 3, rip: "0x1001" });
    expect(x.regs["rip"]).toBe("0x1002");
  });
  it("ud2 is #UD at the ud2", () => {
    expect(r("prot32 ud2").exit).toEqual({ kind: "exception", vector: 6, rip: "0x1001" });
  });
  it("int n through an IDT of limit 0 is #GP(n * 8 + 2) at the int", () => {
    const x = r("prot32 int n with IDTR limit 0 is #GP at the int");
    expect(x.exit).toEqual({ kind: "exception", vector: 13, rip: "0x1001", errorCode: 0x21 * 8 + 2 });
    expect(x.regs["rip"]).toBe("0x1001");
  });
  it("int 6 is INT n, not #UD: #GP(6 * 8 + 2) at the int", () => {
    expect(r("prot32 int 6 with IDTR limit 0 is #GP(6 * 8 + 2) at the int").exit).toEqual({ kind: "exception", vector: 13, rip: "0x1001", errorCode: 6 * 8 + 2 });
  });
  it("loading DS with RPL 1 > DPL 0 is #GP(selector without RPL), the error code QEMU raised", () => {
    expect(r("prot32 mov ds with a bad RPL is #GP").exit).toEqual({ kind: "exception", vector: 13, rip: "0x1004", errorCode: 0x10 });
  });
  it("maxSteps instructions run, then step-limit with rip at the next one", () => {
    const x = r("prot32 step limit");
    expect(x.exit).toEqual({ kind: "step-limit" });
    expect(x.regs["rax"]).toBe("0x3");
    expect(x.regs["rip"]).toBe("0x1003");
  });
  it("the step limit is checked before the end (as the emulator does)", () => {
    const x = r("prot32 step limit equal to the instruction count");
    expect(x.exit).toEqual({ kind: "step-limit" });
    expect(x.regs["rip"]).toBe("0x1003");
  });
  it("each rep iteration is one step", () => {
    const x = r("prot32 rep stosb counts one step per iteration");
    expect(x.exit).toEqual({ kind: "step-limit" });
    expect(x.regs["rcx"]).toBe("0x2");
    expect(x.regs["rdi"]).toBe("0x3003");
    expect(x.regs["rip"]).toBe("0x1000");
    expect(x.memory).toEqual([{ addr: "0x3000", hex: "414141000000" }]);
  });
  it("physical memory beyond RAM reads as all ones", () => {
    const x = r("prot32 memory beyond RAM reads as all ones");
    expect(x.exit).toEqual({ kind: "end" });
    expect(x.regs["rax"]).toBe("0xffffffff");
  });
});

describe("unicorn runner: compat32", () => {
  it("0x40 is inc eax, not a REX prefix; the 32-bit result zero-extends; r8 is kept", () => {
    const x = r("compat32 0x40 is inc eax (not REX) and zero-extends");
    expect(x.exit).toEqual({ kind: "end" });
    expect(x.regs["rax"]).toBe("0x6");
    expect(x.regs["r8"]).toBe("0x123456789abcdef0");
    expect(x.regs["rip"]).toBe("0x1001");
  });
  it("48 ff c0 is dec eax; inc eax (it would be inc rax in 64-bit mode)", () => {
    expect(r("compat32 48 ff c0 is dec eax; inc eax").regs["rax"]).toBe("0xffffffff");
  });
  it("a far call to selector 0x08 enters 64-bit mode, where 48 ff c0 is inc rax", () => {
    const x = r("compat32 far call to the 64-bit code segment runs 48 ff c0 as inc rax");
    expect(x.exit).toEqual({ kind: "end" });
    expect(x.regs["rax"]).toBe("0x100000000");
    expect(x.regs["rsp"]).toBe("0x7ff8");
    expect(x.memory).toEqual([{ addr: "0x7ff8", hex: "07100000" + "18000000" }]); // EIP, CS (32-bit pushes)
  });
  it("push writes 4 bytes below ESP", () => {
    const x = r("compat32 push writes 4 bytes below ESP");
    expect(x.regs["rsp"]).toBe("0x7ffc");
    expect(x.memory).toEqual([{ addr: "0x7ff8", hex: "00000000ddccbbaa" }]);
  });
  it("CR0 = 0x80000011, CR3 = T + 0x10000, CR4 = 0x20, EFER = 0x500", () => {
    const x = r("compat32 control registers and EFER");
    expect(x.regs["rbx"]).toBe("0x80000011");
    expect(x.regs["rsi"]).toBe(hx(T + 0x10000));
    expect(x.regs["rdi"]).toBe("0x20");
    expect(x.regs["rdx"]).toBe("0x0"); // rdmsr: EDX:EAX = EFER
    expect(x.regs["rax"]).toBe("0x500");
  });
  it("a read beyond RAM (not in the identity map) is #PF(not present, read, supervisor) at the instruction", () => {
    const x = r("compat32 read beyond RAM is #PF");
    expect(x.exit).toEqual({ kind: "exception", vector: 14, rip: "0x1001", errorCode: 0 });
    expect(x.regs["rip"]).toBe("0x1001");
  });
  it("page walks set the accessed and dirty bits of the 2 MiB PDE written through", () => {
    const x = r("compat32 page walks set accessed and dirty bits");
    // the write to 0x300000 goes through PDE 1 (A | D set); PDE 2 is not walked
    expect(x.memory).toEqual([{ addr: hx(T + 0x12008), hex: "e700200000000000" + "8700400000000000" }]);
  });
  it("hlt", () => {
    const x = r("compat32 hlt");
    expect(x.exit).toEqual({ kind: "hlt" });
    expect(x.regs["rip"]).toBe("0x1001");
  });
});

describe("unicorn runner: errors", () => {
  it("a case it cannot run gets exit error, and the batch goes on", () => {
    const x = r("bad mode");
    expect(x.exit.kind).toBe("error");
    expect(x.regs).toEqual({});
  });
  it("a fetch outside RAM without paging is an error naming the address", () => {
    const x = r("fetch outside RAM without paging");
    expect(x.exit.kind).toBe("error");
    if (x.exit.kind === "error") expect(x.exit.message).toContain("0x20000000");
  });
  it("no cases, no process", () => {
    expect(runUnicorn([])).toEqual([]);
  });
});
