// Tests of the native-CPU oracle itself (test/oracle/native.ts): it must run code at the requested
// address with exactly the requested registers, flags and data, report the final state exactly,
// survive faults, and keep tests of one batch independent of each other.

import { describe, expect, it } from "vitest";
import { CODE_BASE, CODE_SIZE, DATA_BASE, DATA_SIZE, runNative, type NativeResult, type NativeTest } from "./native.js";

const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RSI = 6;
const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, DF = 0x400, OF = 0x800;
const STATUS = CF | PF | AF | ZF | SF | OF;
const SIGILL = 4, SIGTRAP = 5, SIGFPE = 8, SIGSEGV = 11, SIGVTALRM = 26;

const M64 = (1n << 64n) - 1n;
const r64 = (v: bigint): { lo: number; hi: number } => {
  const u = v & M64;
  return { lo: Number(u & 0xffffffffn), hi: Number(u >> 32n) };
};
const big = (r: { lo: number; hi: number }): bigint => (BigInt(r.hi >>> 0) << 32n) | BigInt(r.lo >>> 0);

/** Deterministic, distinctive data region contents. */
const dataInit = new Uint8Array(DATA_SIZE).map((_, i) => (i * 131 + (i >> 8) * 7 + 0x3c) & 0xff);

/** Distinct default register values (rsp in the middle of the data region). */
function baseRegs(seed: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < 16; i++) out.push(((0x0123456789abcdefn * BigInt(i + 1 + seed * 17)) ^ 0x5a5a5a5a5a5a5a5an) & M64);
  out[RSP] = BigInt(DATA_BASE + 0x2000);
  return out;
}

let nextAddr = CODE_BASE;
/** A test at a fresh code address (64-byte slots, well apart). */
function mk(code: number[], regs: bigint[], rflags = 0): NativeTest {
  const codeAddr = nextAddr;
  nextAddr += Math.ceil((code.length + 5 + 1) / 64) * 64;
  return { code: Uint8Array.from(code), codeAddr, regs: regs.map(r64), rflags };
}

function regsOf(r: NativeResult): bigint[] {
  return r.regs.map(big);
}

function expectOnlyChanged(res: NativeResult, before: bigint[], changed: Record<number, bigint>): void {
  const exp = before.slice();
  for (const [k, v] of Object.entries(changed)) exp[Number(k)] = v & M64;
  expect(regsOf(res).map((x) => x.toString(16))).toEqual(exp.map((x) => x.toString(16)));
  for (const r of res.regs) {
    expect(r.lo).toBeGreaterThanOrEqual(0);
    expect(r.hi).toBeGreaterThanOrEqual(0);
  }
}

function diffOffsets(a: Uint8Array, b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

function le64(data: Uint8Array, off: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(data[off + i]!);
  return v;
}

describe("native oracle", () => {
  it("exports the fixed layout", () => {
    expect([CODE_BASE, CODE_SIZE, DATA_BASE, DATA_SIZE]).toEqual([0x400000, 0x200000, 0x800000, 0x4000]);
  });

  it("add/adc: results, exact flags, untouched registers, rip, RIP-relative placement", () => {
    const cases: { a: bigint; b: bigint; code: number[]; fin: number; sum: bigint; flags: number }[] = [
      // add rax, rbx
      { a: 0x8000000000000000n, b: 0x8000000000000000n, code: [0x48, 0x01, 0xd8], fin: 0, sum: 0n, flags: CF | ZF | PF | OF },
      { a: 0x7fffffffffffffffn, b: 1n, code: [0x48, 0x01, 0xd8], fin: 0, sum: 0x8000000000000000n, flags: SF | OF | AF | PF },
      { a: 0x00000001ffffffffn, b: 0x0000000200000001n, code: [0x48, 0x01, 0xd8], fin: 0, sum: 0x0000000400000000n, flags: AF | PF },
      { a: 0xffffffffffffffffn, b: 2n, code: [0x48, 0x01, 0xd8], fin: CF | ZF | SF | OF, sum: 1n, flags: CF | AF },
      // adc rax, rbx: the input CF must be honoured
      { a: 5n, b: 6n, code: [0x48, 0x11, 0xd8], fin: CF, sum: 12n, flags: PF },
      { a: 5n, b: 6n, code: [0x48, 0x11, 0xd8], fin: 0, sum: 11n, flags: 0 },
    ];
    const tests = cases.map((c, i) => {
      const regs = baseRegs(i);
      regs[RAX] = c.a;
      regs[RBX] = c.b;
      return mk(c.code, regs, c.fin);
    });
    // lea rax, [rip+0]: rax = address of the next instruction
    const leaRegs = baseRegs(99);
    const lea = mk([0x48, 0x8d, 0x05, 0x00, 0x00, 0x00, 0x00], leaRegs, 0);
    tests.push(lea);
    const res = runNative(tests, dataInit);
    expect(res).toHaveLength(tests.length);
    cases.forEach((c, i) => {
      const r = res[i]!;
      expect(r.signal).toBe(0);
      expect(r.rip).toBe(tests[i]!.codeAddr + 3);
      expect(r.rflags & STATUS).toBe(c.flags);
      expect(r.rflags & 0x202).toBe(0x202); // reserved bit 1, IF
      expect(r.rflags & (DF | 0x100)).toBe(0); // DF, TF clear
      expectOnlyChanged(r, tests[i]!.regs.map(big), { [RAX]: c.sum });
      expect(diffOffsets(r.data, dataInit)).toEqual([]);
    });
    const lr = res[cases.length]!;
    expect(lr.signal).toBe(0);
    expect(lr.rip).toBe(lea.codeAddr + 7);
    expectOnlyChanged(lr, leaRegs, { [RAX]: BigInt(lea.codeAddr + 7) });
  });

  it("memory stores land in the data region; the region is reset before every test", () => {
    const rsp = BigInt(DATA_BASE + 0x1000);
    const r1 = baseRegs(1);
    r1[RSP] = rsp;
    // push rax; mov [rsp-8], rcx
    const t1 = mk([0x50, 0x48, 0x89, 0x4c, 0x24, 0xf8], r1);
    const r2 = baseRegs(2);
    r2[RSP] = rsp;
    // mov rax, [rsp-8]; mov rdx, [rsp]   (must see dataInit, not t1's stores)
    const t2 = mk([0x48, 0x8b, 0x44, 0x24, 0xf8, 0x48, 0x8b, 0x14, 0x24], r2);
    const r3 = baseRegs(3);
    r3[RBX] = BigInt(DATA_BASE + DATA_SIZE - 4);
    // mov dword [rbx], ecx  (last 4 bytes of the region)
    const t3 = mk([0x89, 0x0b], r3);
    const res = runNative([t1, t2, t3], dataInit);

    const a = res[0]!;
    expect(a.signal).toBe(0);
    expectOnlyChanged(a, r1, { [RSP]: rsp - 8n });
    const d = diffOffsets(a.data, dataInit);
    expect(d.every((o) => o >= 0xff0 && o < 0x1000)).toBe(true);
    expect(le64(a.data, 0xff8)).toBe(r1[RAX]);
    expect(le64(a.data, 0xff0)).toBe(r1[RCX]);
    expect(Array.from(a.data.subarray(0, 0xff0))).toEqual(Array.from(dataInit.subarray(0, 0xff0)));
    expect(Array.from(a.data.subarray(0x1000))).toEqual(Array.from(dataInit.subarray(0x1000)));

    const b = res[1]!;
    expect(b.signal).toBe(0);
    expectOnlyChanged(b, r2, { [RAX]: le64(dataInit, 0xff8), [RDX]: le64(dataInit, 0x1000) });
    expect(diffOffsets(b.data, dataInit)).toEqual([]);

    const c = res[2]!;
    expect(c.signal).toBe(0);
    expect(diffOffsets(c.data, dataInit)).toEqual([DATA_SIZE - 4, DATA_SIZE - 3, DATA_SIZE - 2, DATA_SIZE - 1]);
    expect(le64(c.data, DATA_SIZE - 8) >> 32n).toBe(r3[RCX]! & 0xffffffffn);
  });

  it("faults and traps are reported with the kernel's RIP, and the harness recovers", () => {
    const ok = (seed: number): NativeTest => {
      const r = baseRegs(seed);
      return mk([0x48, 0x89, 0xc8], r); // mov rax, rcx
    };
    const fpeRegs = baseRegs(10);
    const fpe = mk([0x31, 0xc0, 0xf7, 0xf0], fpeRegs); // xor eax, eax; div eax
    const fpe2Regs = baseRegs(11);
    fpe2Regs[RCX] = 0n;
    const fpe2 = mk([0x90, 0x48, 0xf7, 0xf1], fpe2Regs); // nop; div rcx
    const illRegs = baseRegs(12);
    const ill = mk([0xb9, 0x05, 0x00, 0x00, 0x00, 0x0f, 0x0b], illRegs); // mov ecx, 5; ud2
    const trapRegs = baseRegs(13);
    const trap = mk([0x90, 0xcc, 0x90], trapRegs); // nop; int3; nop
    const segvRegs = baseRegs(14);
    const segv = mk([0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0], segvRegs); // mov rax, [0]
    const stackRegs = baseRegs(15);
    stackRegs[RSP] = BigInt(DATA_BASE + 0x800);
    const stackThenFault = mk([0x50, 0x0f, 0x0b], stackRegs); // push rax; ud2
    const badRspRegs = baseRegs(16);
    badRspRegs[RSP] = 0x10n;
    const badRsp = mk([0x50], badRspRegs); // push rax with an unmapped stack
    const outsideRegs = baseRegs(17);
    outsideRegs[RBX] = BigInt(DATA_BASE + DATA_SIZE);
    const outside = mk([0x8b, 0x03], outsideRegs); // mov eax, [rbx] just past the data region
    const tests = [ok(1), fpe, ok(2), fpe2, ill, ok(3), trap, segv, ok(4), stackThenFault, badRsp, ok(5), outside, ok(6)];
    const res = runNative(tests, dataInit);
    expect(res).toHaveLength(tests.length);

    for (const i of [0, 2, 5, 8, 11, 13]) {
      const r = res[i]!;
      expect(r.signal).toBe(0);
      expect(r.rip).toBe(tests[i]!.codeAddr + 3);
      expectOnlyChanged(r, tests[i]!.regs.map(big), { [RAX]: big(tests[i]!.regs[RCX]!) });
      expect(diffOffsets(r.data, dataInit)).toEqual([]);
    }
    const at = (i: number) => res[i]!;
    expect([at(1).signal, at(1).rip]).toEqual([SIGFPE, fpe.codeAddr + 2]);
    expectOnlyChanged(at(1), fpeRegs, { [RAX]: 0n });
    expect([at(3).signal, at(3).rip]).toEqual([SIGFPE, fpe2.codeAddr + 1]);
    expectOnlyChanged(at(3), fpe2Regs, {});
    expect([at(4).signal, at(4).rip]).toEqual([SIGILL, ill.codeAddr + 5]);
    expectOnlyChanged(at(4), illRegs, { [RCX]: 5n });
    // int3 is a trap: the kernel reports the RIP after it
    expect([at(6).signal, at(6).rip]).toEqual([SIGTRAP, trap.codeAddr + 2]);
    expectOnlyChanged(at(6), trapRegs, {});
    expect([at(7).signal, at(7).rip]).toEqual([SIGSEGV, segv.codeAddr]);
    expectOnlyChanged(at(7), segvRegs, {});
    // flags of a faulting test are the test's flags at the fault (RF hidden as pushfq would): xor set ZF|PF
    expect(at(1).rflags & (CF | PF | ZF | SF | OF | 0x10000)).toBe(ZF | PF);
    expect(at(1).rflags & 0x202).toBe(0x202);
    // stores before a fault are captured, then the region is reset for the next test
    expect([at(9).signal, at(9).rip]).toEqual([SIGILL, stackThenFault.codeAddr + 1]);
    expectOnlyChanged(at(9), stackRegs, { [RSP]: stackRegs[RSP]! - 8n });
    expect(le64(at(9).data, 0x7f8)).toBe(stackRegs[RAX]);
    expect(diffOffsets(at(9).data, dataInit).every((o) => o >= 0x7f8 && o < 0x800)).toBe(true);
    expect([at(10).signal, at(10).rip]).toEqual([SIGSEGV, badRsp.codeAddr]);
    expectOnlyChanged(at(10), badRspRegs, {});
    expect([at(12).signal, at(12).rip]).toEqual([SIGSEGV, outside.codeAddr]);
  });

  it("a hung test is stopped by the watchdog (SIGVTALRM) and the batch continues", () => {
    const hangRegs = baseRegs(20);
    const hang = mk([0x48, 0xff, 0xc0, 0xeb, 0xfb], hangRegs); // l: inc rax; jmp l
    const after = mk([0x48, 0x89, 0xc8], baseRegs(21));
    const res = runNative([hang, after], dataInit);
    expect(res[0]!.signal).toBe(SIGVTALRM);
    expect(res[0]!.rip === hang.codeAddr || res[0]!.rip === hang.codeAddr + 3).toBe(true);
    expect(res[1]!.signal).toBe(0);
    expect(big(res[1]!.regs[RAX]!)).toBe(baseRegs(21)[RCX]);
  });

  it("honours DF (and only the documented flags) from the input rflags", () => {
    const up = baseRegs(30);
    up[RSI] = BigInt(DATA_BASE + 0x100);
    const down = up.slice();
    const tUp = mk([0xac], up, 0); // lodsb
    const tDown = mk([0xac], down, DF); // std in effect; lodsb
    const tAll = mk([0x90], baseRegs(31), 0xffffffff); // everything requested: only honoured bits stick
    const res = runNative([tUp, tDown, tAll], dataInit);
    const al = (v: bigint, b: number): bigint => (v & ~0xffn) | BigInt(b);
    expectOnlyChanged(res[0]!, up, { [RSI]: up[RSI]! + 1n, [RAX]: al(up[RAX]!, dataInit[0x100]!) });
    expect(res[0]!.rflags & DF).toBe(0);
    expectOnlyChanged(res[1]!, down, { [RSI]: down[RSI]! - 1n, [RAX]: al(down[RAX]!, dataInit[0x100]!) });
    expect(res[1]!.rflags & DF).toBe(DF);
    expect(res[2]!.rflags).toBe(STATUS | DF | 0x202);
  });

  it("resets x87/SSE state between tests", () => {
    const r = baseRegs(40);
    // movq xmm0, rcx; mov dword [rsp-8], 0x7f80; ldmxcsr [rsp-8]; stmxcsr [rsp-16]; mov eax, [rsp-16]
    const set = mk(
      [0x66, 0x48, 0x0f, 0x6e, 0xc1, 0xc7, 0x44, 0x24, 0xf8, 0x80, 0x7f, 0x00, 0x00, 0x0f, 0xae, 0x54, 0x24, 0xf8,
        0x0f, 0xae, 0x5c, 0x24, 0xf0, 0x8b, 0x44, 0x24, 0xf0],
      r,
    );
    // stmxcsr [rsp-8]; mov eax, [rsp-8]; movq rdx, xmm0
    const get = mk([0x0f, 0xae, 0x5c, 0x24, 0xf8, 0x8b, 0x44, 0x24, 0xf8, 0x66, 0x48, 0x0f, 0x7e, 0xc2], r);
    const res = runNative([set, get], dataInit);
    expect(res[0]!.signal).toBe(0);
    expect(res[0]!.regs[RAX]!.lo).toBe(0x7f80);
    expect(res[1]!.signal).toBe(0);
    expectOnlyChanged(res[1]!, r, { [RAX]: 0x1f80n, [RDX]: 0n });
  });

  it("runs 2000 trivial tests in one call, results in order", () => {
    const tests: NativeTest[] = [];
    for (let i = 0; i < 2000; i++) {
      const regs = baseRegs(i);
      regs[RCX] = (BigInt(i) << 40n) | BigInt((i * 2654435761) >>> 0);
      tests.push({ code: Uint8Array.of(0x48, 0x89, 0xc8), codeAddr: CODE_BASE + 0x100000 + i * 16, regs: regs.map(r64), rflags: i & STATUS });
    }
    const res = runNative(tests, dataInit);
    expect(res).toHaveLength(2000);
    let bad = 0;
    res.forEach((r, i) => {
      const t = tests[i]!;
      const exp = t.regs.map(big);
      exp[RAX] = exp[RCX]!;
      if (r.signal !== 0 || r.rip !== t.codeAddr + 3 || (r.rflags & STATUS) !== (i & STATUS)) bad++;
      else if (regsOf(r).some((v, k) => v !== exp[k])) bad++;
      else if (diffOffsets(r.data, dataInit).length !== 0) bad++;
    });
    expect(bad).toBe(0);
  });

  it("handles 5000 tests of 60 code bytes that all write memory", () => {
    const tests: NativeTest[] = [];
    for (let i = 0; i < 5000; i++) {
      const code = new Uint8Array(60).fill(0x90);
      // push rax; mov [rsp+disp32], rcx; add rax, rbx; ...nops
      const disp = -0x1000 + (i % 64) * 16;
      code.set([0x50, 0x48, 0x89, 0x8c, 0x24, disp & 0xff, (disp >> 8) & 0xff, (disp >> 16) & 0xff, (disp >> 24) & 0xff, 0x48, 0x01, 0xd8]);
      const regs = baseRegs(i);
      regs[RSP] = BigInt(DATA_BASE + 0x3000);
      tests.push({ code, codeAddr: CODE_BASE + i * 72, regs: regs.map(r64), rflags: 0 });
    }
    const res = runNative(tests, dataInit);
    let bad = 0;
    res.forEach((r, i) => {
      const t = tests[i]!;
      const regs = t.regs.map(big);
      const disp = -0x1000 + (i % 64) * 16;
      const off = 0x3000 - 8 + disp;
      if (r.signal !== 0 || r.rip !== t.codeAddr + 60) bad++;
      else if (big(r.regs[RAX]!) !== ((regs[RAX]! + regs[RBX]!) & M64)) bad++;
      else if (le64(r.data, 0x3000 - 8) !== regs[RAX] || le64(r.data, off) !== regs[RCX]) bad++;
      else if (diffOffsets(r.data, dataInit).length > 16) bad++;
    });
    expect(bad).toBe(0);
  });

  it("rejects bad input instead of running it", () => {
    const t = (codeAddr: number, len: number): NativeTest => ({
      code: new Uint8Array(len).fill(0x90),
      codeAddr,
      regs: baseRegs(0).map(r64),
      rflags: 0,
    });
    expect(() => runNative([t(CODE_BASE, 8), t(CODE_BASE + 10, 1)], dataInit)).toThrow(/overlap/);
    expect(() => runNative([t(CODE_BASE + CODE_SIZE - 6, 2)], dataInit)).toThrow(/outside/);
    expect(() => runNative([{ ...t(CODE_BASE + CODE_SIZE - 8, 2), compat32: true }], dataInit)).toThrow(/outside/);
    expect(() => runNative([t(CODE_BASE, 1)], new Uint8Array(16))).toThrow(/dataInit/);
    expect(runNative([], dataInit)).toEqual([]);
  });

  it("compat32: 32-bit code under selector 0x23 (0x40 is inc eax, push is 4 bytes), R8-R15 kept, mixed with 64-bit tests", () => {
    const regs = baseRegs(60);
    regs[RSP] = BigInt(DATA_BASE + 0x1000);
    // inc eax; push eax; 48 = dec eax (not REX.W); mov ebx, [0x801000]
    const c = { ...mk([0x40, 0x50, 0x48, 0x8b, 0x1d, 0x00, 0x10, 0x80, 0x00, 0x90, 0x90, 0x90], regs), compat32: true };
    // 48 ff c0 as 64-bit code is inc rax (in compat32 it would be dec eax; inc eax)
    const l = mk([0x48, 0xff, 0xc0], baseRegs(61));
    const [rc, rl] = runNative([c, l], dataInit);
    expect(rc!.signal).toBe(0);
    expect(rc!.rip).toBe(c.codeAddr + 12);
    const got = regsOf(rc!);
    const lo32 = (v: bigint): bigint => v & 0xffffffffn;
    expect(lo32(got[RAX]!)).toBe(lo32(regs[RAX]!));
    expect(got[RSP]).toBe(BigInt(DATA_BASE + 0x1000 - 4));
    expect(lo32(got[RBX]!)).toBe(le64(dataInit, 0x1000) & 0xffffffffn);
    for (let r = 8; r < 16; r++) expect(got[r]).toBe(regs[r]);
    expect(Number(le64(rc!.data, 0xffc) & 0xffffffffn)).toBe(Number(lo32(regs[RAX]! + 1n)));
    expect(rl!.signal).toBe(0); // 64-bit again for the next test
    expectOnlyChanged(rl!, baseRegs(61), { [RAX]: baseRegs(61)[RAX]! + 1n });
  });

  it("compat32: faults report the kernel's EIP and the harness returns to 64-bit code; FS is null", () => {
    const regs = baseRegs(62);
    const ud = { ...mk([0x90, 0x0f, 0x0b], regs), compat32: true };
    // mov eax, fs:[eax]: FS is a null selector in a 64-bit process, #GP in 32-bit code
    const fs = { ...mk([0x64, 0x8b, 0x00], regs), compat32: true };
    // into with OF set: #OF, a trap
    const into = { ...mk([0xce], regs, OF), compat32: true };
    const after = mk([0x90], baseRegs(63));
    const [a, b, c, d] = runNative([ud, fs, into, after], dataInit);
    expect([a!.signal, a!.rip]).toEqual([SIGILL, ud.codeAddr + 1]);
    expect([b!.signal, b!.rip]).toEqual([SIGSEGV, fs.codeAddr]);
    expect([c!.signal, c!.rip]).toEqual([SIGSEGV, into.codeAddr + 1]);
    expect(d!.signal).toBe(0);
  });

  it("throws when the native process itself dies", () => {
    // mov eax, 231; mov edi, 7; syscall  (exit_group(7) in the middle of the batch)
    const dies = mk([0xb8, 0xe7, 0x00, 0x00, 0x00, 0xbf, 0x07, 0x00, 0x00, 0x00, 0x0f, 0x05], baseRegs(50));
    expect(() => runNative([mk([0x90], baseRegs(51)), dies, mk([0x90], baseRegs(52))], dataInit)).toThrow(/status 7/);
  });
});
