// The "real CPU" oracle: runs short x86-64 instruction sequences natively on this machine, as
// 64-bit code or (NativeTest.compat32) as 32-bit code in compatibility mode.
//
// All tests of one runNative() call are packed into ONE tiny static ELF64 executable that this
// module writes itself (machine code hand-encoded below, no assembler or compiler involved),
// runs once, and deletes. The program runs every test in order and streams the results to stdout.
//
// Address space of the generated program (all PT_LOAD segments page aligned, file backed except
// the harness bss at the very end):
//   0x00400000 .. 0x00600000  R+X  code region: each test's bytes at its codeAddr, followed by
//                                  `jmp rel32` to the epilogue (compat32 tests: `jmp far
//                                  0x33:epilogue`); the rest is int3 (0xCC) filler
//   0x00800000 .. 0x00804000  RW   data region (initialised to dataInit, reset after each test)
//   0x10000000 ..             R+X  harness code (startup, test loop, epilogue, signal handler)
//   0x20000000 ..             RW   harness data: variables, register save area, sigaction,
//                                  sigaltstack and itimer structs, clean FPU image, pristine copy
//                                  of dataInit, the test table; then (bss) harness stack,
//                                  signal alternate stack and the output buffer.
//
// Per test the harness: arms a per-test CPU-time watchdog (ITIMER_VIRTUAL), resets x87/SSE/AVX
// state to its initial values, points rsp at the test's table entry and does popfq + 15 pops +
// `pop rsp`, then `jmp [rip+target]`. A compat32 test's target is a harness stub that does `jmp far
// [rip+farptr]` to Linux's 32-bit user code selector 0x23 (__USER32_CS) at codeAddr: the far jump
// changes neither registers nor flags. Its code ends with a far jump back to the 64-bit selector 0x33
// (__USER_CS). The epilogue stores every GPR with RIP-relative movs (no flag
// or data-region writes), switches to the harness stack, pushfq. Faults go to an SA_SIGINFO
// handler on the alternate stack which copies the registers out of the ucontext and redirects the
// sigreturn to the same capture path (with CS 0x33: a fault in compat32 code returns to 64-bit code). The capture path appends a 160-byte record plus every
// 256-byte block of the data region that differs from dataInit to the output buffer, restores those
// blocks from the pristine copy, and continues with the next test. The buffer is flushed with
// write(1, ...) whenever it exceeds 1 MiB, and at the end followed by an 8-byte magic trailer.
//
// Notes for callers:
//  - Each test occupies [codeAddr, codeAddr + code.length + 5) (its code plus the return jmp; + 7 for
//    compat32 tests); these ranges must not overlap and must lie inside the code region, else
//    runNative throws.
//  - compat32 tests run with DS = ES = SS = 0x2b (__USER_DS, flat), FS = GS = 0 (null: an access
//    through them faults). The upper halves of the GPRs after 32-bit code are what the CPU left
//    there (undefined in 32-bit modes: SDM Vol. 1 3.4.1.1).
//  - Traps report the RIP the kernel puts in the signal context: for int3 that is after the int3.
//  - For signal results, RF (bit 16) is cleared from the saved RFLAGS image, as pushfq would.
//  - A test that uses more than WATCHDOG_USEC of user CPU time is stopped and reported with
//    signal 26 (SIGVTALRM) and the RIP it was interrupted at; the batch continues.
//  - Before every test the x87/SSE (and, with XSAVE, AVX/AVX-512) state is reset to its initial
//    values (MXCSR 0x1F80, FCW 0x037F, vector registers zero). Segment registers, FS/GS base and
//    anything outside the data region that a test modifies are not reset.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface NativeTest {
  /** Instruction bytes to run. Placed at exactly `codeAddr`; execution starts at codeAddr with RIP-relative
   *  addressing meaningful there. Control leaves the sequence only by falling through its end
   *  (RIP == codeAddr + code.length), or by a fault/trap signal. */
  code: Uint8Array;
  /** Virtual address where `code` must be placed. Callers use addresses in [CODE_BASE, CODE_BASE + CODE_SIZE), each test its own non-overlapping range. */
  codeAddr: number;
  /** Initial values of the 16 GPRs rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15 (in that order), each as 32-bit halves (lo, hi as int32 or uint32 numbers). */
  regs: { lo: number; hi: number }[];
  /** Initial RFLAGS: only CF PF AF ZF SF OF and DF bits are honoured (others forced to their normal user values). */
  rflags: number;
  /** Run the code as 32-bit code in compatibility mode (CS = Linux's __USER32_CS, 0x23) instead of 64-bit code. */
  compat32?: boolean;
}
export interface NativeResult {
  /** Final GPRs in the same order and form (lo/hi as uint32 numbers). */
  regs: { lo: number; hi: number }[];
  /** Final RFLAGS (as read by pushfq, bits 0..31). */
  rflags: number;
  /** RIP where execution stopped: codeAddr + code.length on normal completion, else the faulting/trapping RIP the kernel reported in the signal context. */
  rip: number;
  /** 0 on normal completion, else the signal number (SIGILL 4, SIGTRAP 5, SIGBUS 7, SIGFPE 8, SIGSEGV 11). */
  signal: number;
  /** Contents of the whole data region [DATA_BASE, DATA_BASE + DATA_SIZE) after the test. */
  data: Uint8Array;
}
export const CODE_BASE = 0x00400000; // code region for test sequences (tests choose codeAddr within it)
export const CODE_SIZE = 0x00200000; // 2 MiB
export const DATA_BASE = 0x00800000; // read/write data region the sequences may touch (stack included)
export const DATA_SIZE = 0x00004000; // 16 KiB

// ---------------------------------------------------------------------------------------------
// Layout constants

const PAGE = 0x1000;
const HCODE = 0x10000000; // harness code segment
const HDATA = 0x20000000; // harness data segment

// Harness variables (qwords)
const V_CUR = HDATA + 0x000; // index of the current test
const V_COUNT = HDATA + 0x008; // number of tests
const V_TARGET = HDATA + 0x010; // codeAddr of the current test (for jmp [rip+..])
const V_OUTPTR = HDATA + 0x018; // write pointer into the output buffer
const V_XSAVE = HDATA + 0x020; // 1 if OSXSAVE (use xrstor), else 0 (fxrstor)
const V_FAR = HDATA + 0x028; // m16:32 far pointer of the current compat32 test (offset, selector 0x23)
const SAVE = HDATA + 0x040; // register save area, see SAVE_* below (19 qwords used)
const SIGACT = HDATA + 0x100; // struct kernel_sigaction (32 bytes)
const SIGSTK = HDATA + 0x120; // stack_t (24 bytes)
const ITV_ARM = HDATA + 0x140; // struct itimerval (32 bytes)
const ITV_OFF = HDATA + 0x160; // struct itimerval, all zero
const XAREA = HDATA + 0x1000; // clean XSAVE/FXSAVE image (64-byte aligned, 4 KiB of zeros but FCW/MXCSR)
const PRISTINE = HDATA + 0x2000; // pristine copy of dataInit
const TABLE = PRISTINE + DATA_SIZE; // test table, TABLE_ENTRY bytes per test

// Save area / output record layout (qword indices)
const SAVE_RFLAGS = 16;
const SAVE_RIP = 17;
const SAVE_SIGNAL = 18;
const REC_MASK = 19;
const REC_SIZE = 160; // 20 qwords
const SAVE_COPY = 152; // bytes of the save area copied into the record (everything but the mask)

// Test table entry: rflags, rax, rcx, rdx, rbx, rbp, rsi, rdi, r8..r15, rsp, target, far pointer
// (target: codeAddr, or for a compat32 test the harness stub that far-jumps to the far pointer)
const TABLE_ENTRY = 19 * 8;
const POP_ORDER = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]; // GPRs popped after popfq, then rsp

const BLOCK = 256; // data region diff granularity
const NBLOCKS = DATA_SIZE / BLOCK; // 64: one bit each in the record mask
const FLUSH_AT = 0x100000; // flush the output buffer once it holds at least this many bytes
const OUTBUF_SIZE = FLUSH_AT + REC_SIZE + DATA_SIZE + 8 + PAGE;
const HSTACK_SIZE = 0x10000;
const ALTSTACK_SIZE = 0x10000;

// Linux x86-64
const SYS_WRITE = 1;
const SYS_RT_SIGACTION = 13;
const SYS_RT_SIGRETURN = 15;
const SYS_SETITIMER = 38;
const SYS_SIGALTSTACK = 131;
const SYS_EXIT_GROUP = 231;
const SA_SIGINFO = 0x4;
const SA_ONSTACK = 0x08000000;
const SA_RESTORER = 0x04000000;
const ITIMER_VIRTUAL = 1;
const SIGVTALRM = 26;
const HANDLED_SIGNALS = [4, 5, 7, 8, 11, SIGVTALRM]; // SIGILL SIGTRAP SIGBUS SIGFPE SIGSEGV SIGVTALRM
/** Per-test watchdog: user CPU time after which a test is stopped with SIGVTALRM. */
const WATCHDOG_USEC = 250_000;
/** ucontext_t.uc_mcontext.gregs offset, and the gregs index of each GPR in encoding order. */
const UC_GREGS = 40;
const GREG_OF_GPR = [13, 14, 12, 11, 15, 10, 9, 8, 0, 1, 2, 3, 4, 5, 6, 7];
const GREG_RIP = 16;
const GREG_EFL = 17;
const GREG_RSP = 15;
const GREG_CSGSFS = 18; // u16 cs, gs, fs, ss
// Linux x86-64 GDT selectors (arch/x86/include/asm/segment.h)
const USER32_CS = 0x23;
const USER_DS = 0x2b;
const USER_CS = 0x33;

const EXIT_SETUP_FAILED = 3;
const EXIT_WRITE_FAILED = 4;
const EXIT_HARNESS_FAULT_BASE = 100; // + signal number
const MAGIC_LO = 0x44766468; // "hdvD"
const MAGIC_HI = 0x4b4f6669; // "ifOK"

// ---------------------------------------------------------------------------------------------
// A minimal x86-64 assembler for the harness (only the forms used below).

const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RSI = 6, RDI = 7;
const R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13;

class Label {
  pos: number | undefined;
}
type Target = number | Label; // absolute address or a label in the code being assembled

class Asm {
  readonly bytes: number[] = [];
  private readonly fixups: { at: number; end: number; target: Target }[] = [];
  constructor(readonly base: number) {}

  get here(): number {
    return this.base + this.bytes.length;
  }
  bind(l: Label): void {
    if (l.pos !== undefined) throw new Error("label bound twice");
    l.pos = this.bytes.length;
  }
  private emit(...b: number[]): void {
    for (const x of b) this.bytes.push(x & 0xff);
  }
  private imm32(v: number): void {
    this.emit(v, v >>> 8, v >>> 16, v >>> 24);
  }
  private rex(w: boolean, r: number, x: number, b: number, force = false): void {
    const v = 0x40 | (w ? 8 : 0) | ((r >> 3) << 2) | ((x >> 3) << 1) | (b >> 3);
    if (v !== 0x40 || force) this.emit(v);
  }
  /** Instruction with a 32-bit relative field to `target`, `tail` more bytes after it. */
  private rel32(target: Target, tail: number[] = []): void {
    const at = this.bytes.length;
    this.imm32(0);
    this.emit(...tail);
    this.fixups.push({ at, end: this.bytes.length, target });
  }
  /** op reg, rm (register-direct ModRM). */
  rr(op: number[], reg: number, rm: number, w = true, tail: number[] = []): void {
    this.rex(w, reg, 0, rm);
    this.emit(...op, 0xc0 | ((reg & 7) << 3) | (rm & 7), ...tail);
  }
  /** op reg, [rip + (target - next)]. */
  rip(op: number[], reg: number, target: Target, w = true, tail: number[] = []): void {
    this.rex(w, reg, 0, 0);
    this.emit(...op, ((reg & 7) << 3) | 5);
    this.rel32(target, tail);
  }
  /** op reg, [base + disp32]. */
  mem(op: number[], reg: number, base: number, disp: number, w = true): void {
    this.rex(w, reg, 0, base);
    this.emit(...op, 0x80 | ((reg & 7) << 3) | (base & 7));
    if ((base & 7) === 4) this.emit(0x24);
    this.imm32(disp);
  }

  movLoadRip(r: number, t: Target): void { this.rip([0x8b], r, t); }
  movStoreRip(t: Target, r: number): void { this.rip([0x89], r, t); }
  leaRip(r: number, t: Target): void { this.rip([0x8d], r, t); }
  movLoad(r: number, base: number, disp: number): void { this.mem([0x8b], r, base, disp); }
  movStore(base: number, disp: number, r: number): void { this.mem([0x89], r, base, disp); }
  movRR(dst: number, src: number): void { this.rr([0x89], src, dst); }
  addRR(dst: number, src: number): void { this.rr([0x01], src, dst); }
  subRR(dst: number, src: number): void { this.rr([0x29], src, dst); }
  cmpRR(a: number, b: number): void { this.rr([0x39], b, a); }
  cmpRip(r: number, t: Target): void { this.rip([0x3b], r, t); }
  testRR(a: number, b: number): void { this.rr([0x85], b, a); }
  xor32(r: number): void { this.rr([0x31], r, r, false); }
  /** mov r32, imm32 (zero-extends into r64). */
  mov32(r: number, imm: number): void {
    this.rex(false, 0, 0, r);
    this.emit(0xb8 + (r & 7));
    this.imm32(imm);
  }
  /** mov r64, imm64 from two 32-bit halves. */
  mov64(r: number, lo: number, hi: number): void {
    this.rex(true, 0, 0, r);
    this.emit(0xb8 + (r & 7));
    this.imm32(lo);
    this.imm32(hi);
  }
  imul3(dst: number, src: number, imm: number): void { this.rr([0x69], dst, src, true, le32(imm)); }
  shlImm(r: number, n: number): void { this.rr([0xc1], 4, r, true, [n]); }
  addImm(r: number, imm: number): void { this.rr([0x81], 0, r, true, le32(imm)); }
  cmpImm(r: number, imm: number): void { this.rr([0x81], 7, r, true, le32(imm)); }
  cmpImm32(r: number, imm: number): void { this.rr([0x81], 7, r, false, le32(imm)); }
  inc(r: number): void { this.rr([0xff], 0, r); }
  bts(r: number, bit: number): void { this.rr([0x0f, 0xab], bit, r); }
  btImm32(r: number, bit: number): void { this.rr([0x0f, 0xba], 4, r, false, [bit]); }
  push(r: number): void { this.rex(false, 0, 0, r); this.emit(0x50 + (r & 7)); }
  pop(r: number): void { this.rex(false, 0, 0, r); this.emit(0x58 + (r & 7)); }
  pushfq(): void { this.emit(0x9c); }
  popfq(): void { this.emit(0x9d); }
  cld(): void { this.emit(0xfc); }
  ret(): void { this.emit(0xc3); }
  syscall(): void { this.emit(0x0f, 0x05); }
  cpuid(): void { this.emit(0x0f, 0xa2); }
  repMovsb(): void { this.emit(0xf3, 0xa4); }
  repeCmpsb(): void { this.emit(0xf3, 0xa6); }
  fxrstor64Rip(t: Target): void { this.rip([0x0f, 0xae], 1, t); }
  xrstor64Rip(t: Target): void { this.rip([0x0f, 0xae], 5, t); }
  jmp(t: Target): void { this.emit(0xe9); this.rel32(t); }
  call(t: Target): void { this.emit(0xe8); this.rel32(t); }
  jmpIndRip(t: Target): void { this.rip([0xff], 4, t, false); }
  /** jmp far [rip + t] (m16:32). */
  jmpFarRip(t: Target): void { this.rip([0xff], 5, t, false); }
  /** mov sreg, r32 */
  movSeg(sreg: number, r: number): void { this.rr([0x8e], sreg, r, false); }
  /** mov word [base + disp32], imm16 */
  movStoreImm16(base: number, disp: number, imm: number): void {
    this.emit(0x66);
    this.rex(false, 0, 0, base);
    this.emit(0xc7, 0x80 | (base & 7));
    if ((base & 7) === 4) this.emit(0x24);
    this.imm32(disp);
    this.emit(imm, imm >>> 8);
  }
  /** jcc rel32; cc is the condition nibble (2 b, 3 ae, 4 e, 5 ne, 0xe le, ...). */
  jcc(cc: number, t: Target): void { this.emit(0x0f, 0x80 | cc); this.rel32(t); }

  finish(): Uint8Array {
    const out = Uint8Array.from(this.bytes);
    const dv = new DataView(out.buffer);
    for (const f of this.fixups) {
      let addr: number;
      if (typeof f.target === "number") addr = f.target;
      else {
        if (f.target.pos === undefined) throw new Error("unbound label");
        addr = this.base + f.target.pos;
      }
      const rel = addr - (this.base + f.end);
      if (rel < -0x80000000 || rel > 0x7fffffff) throw new Error("rel32 out of range");
      dv.setInt32(f.at, rel, true);
    }
    return out;
  }
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

const CC_B = 2, CC_AE = 3, CC_E = 4, CC_NE = 5, CC_LE = 0xe;

interface Harness {
  code: Uint8Array;
  entry: number;
  epilogue: number;
  /** Stub that far-jumps to the current compat32 test. */
  toCompat: number;
  handler: number;
  restorer: number;
}

/** Harness bss addresses, which follow the test table and so depend on the number of tests. */
interface BssLayout {
  hstackTop: number; // top of the private harness stack
  altstack: number; // base of the signal alternate stack (ALTSTACK_SIZE bytes)
  outbuf: number; // output buffer (OUTBUF_SIZE bytes)
  end: number; // end of the harness data segment
}

function bssLayout(ntests: number): BssLayout {
  const hstack = pageUp(TABLE + ntests * TABLE_ENTRY);
  const hstackTop = hstack + HSTACK_SIZE;
  const altstack = hstackTop;
  const outbuf = altstack + ALTSTACK_SIZE;
  return { hstackTop, altstack, outbuf, end: outbuf + OUTBUF_SIZE };
}

function pageUp(n: number): number {
  return Math.ceil(n / PAGE) * PAGE;
}

/** The harness code (depends on the tests through the bss layout and whether any runs in compat32). */
function buildHarness(lay: BssLayout, compat: boolean): Harness {
  const a = new Asm(HCODE);
  const L = {
    nextTest: new Label(), noXsave: new Label(), fx: new Label(), loaded: new Label(),
    epilogue: new Label(), handler: new Label(), inTest: new Label(), restorer: new Label(),
    capture: new Label(), blk: new Label(), same: new Label(), done: new Label(),
    writeAll: new Label(), wloop: new Label(), wdone: new Label(), setupFail: new Label(),
    writeFail: new Label(), harnessEnd: new Label(), toCompat: new Label(),
  };
  const hstackTop = lay.hstackTop;
  const outbuf = lay.outbuf;

  // ---- startup
  const entry = a.here;
  a.leaRip(RSP, hstackTop);
  // sigaltstack(&ss, NULL)
  a.mov32(RAX, SYS_SIGALTSTACK);
  a.leaRip(RDI, SIGSTK);
  a.xor32(RSI);
  a.syscall();
  a.testRR(RAX, RAX);
  a.jcc(CC_NE, L.setupFail);
  for (const sig of HANDLED_SIGNALS) {
    // rt_sigaction(sig, &act, NULL, 8)
    a.mov32(RAX, SYS_RT_SIGACTION);
    a.mov32(RDI, sig);
    a.leaRip(RSI, SIGACT);
    a.xor32(RDX);
    a.mov32(R10, 8);
    a.syscall();
    a.testRR(RAX, RAX);
    a.jcc(CC_NE, L.setupFail);
  }
  // OSXSAVE (CPUID.1:ECX bit 27) decides between xrstor and fxrstor for the per-test FPU reset.
  a.mov32(RAX, 1);
  a.cpuid();
  a.xor32(RAX);
  a.btImm32(RCX, 27);
  a.jcc(CC_AE, L.noXsave);
  a.mov32(RAX, 1);
  a.bind(L.noXsave);
  a.movStoreRip(V_XSAVE, RAX);
  if (compat) {
    // A 64-bit process has null DS and ES; 32-bit code needs them (flat user data, as SS).
    a.mov32(RAX, USER_DS);
    a.movSeg(3, RAX);
    a.movSeg(0, RAX);
  }

  // ---- next test
  a.bind(L.nextTest);
  a.movLoadRip(RAX, V_CUR);
  a.cmpRip(RAX, V_COUNT);
  a.jcc(CC_AE, L.done);
  a.imul3(RBX, RAX, TABLE_ENTRY);
  a.mov32(RCX, TABLE);
  a.addRR(RBX, RCX);
  a.movLoad(RAX, RBX, 17 * 8);
  a.movStoreRip(V_TARGET, RAX);
  a.movLoad(RAX, RBX, 18 * 8);
  a.movStoreRip(V_FAR, RAX);
  // arm the watchdog: setitimer(ITIMER_VIRTUAL, &arm, NULL)
  a.mov32(RAX, SYS_SETITIMER);
  a.mov32(RDI, ITIMER_VIRTUAL);
  a.leaRip(RSI, ITV_ARM);
  a.xor32(RDX);
  a.syscall();
  // reset x87/SSE (and AVX/AVX-512 with xrstor) state to the initial configuration
  a.movLoadRip(RAX, V_XSAVE);
  a.testRR(RAX, RAX);
  a.jcc(CC_E, L.fx);
  a.mov32(RAX, 0xe7); // x87, SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM (not MPX, PKRU, AMX)
  a.xor32(RDX);
  a.xrstor64Rip(XAREA);
  a.jmp(L.loaded);
  a.bind(L.fx);
  a.fxrstor64Rip(XAREA);
  a.bind(L.loaded);
  // load rflags and all GPRs from the table entry, rsp last
  a.movRR(RSP, RBX);
  a.popfq();
  for (const r of POP_ORDER) a.pop(r);
  a.pop(RSP);
  a.jmpIndRip(V_TARGET);

  // ---- compat32 tests: into 32-bit code (registers and flags untouched)
  a.bind(L.toCompat);
  a.jmpFarRip(V_FAR);

  // ---- epilogue: every test's code is followed by `jmp epilogue`
  a.bind(L.epilogue);
  const epilogue = a.here;
  a.movStoreRip(SAVE + 8 * RSP, RSP);
  for (let r = 0; r < 16; r++) if (r !== RSP) a.movStoreRip(SAVE + 8 * r, r);
  a.leaRip(RSP, hstackTop);
  a.pushfq();
  a.pop(RAX);
  a.movStoreRip(SAVE + 8 * SAVE_RFLAGS, RAX);
  a.xor32(RAX);
  a.movStoreRip(SAVE + 8 * SAVE_RIP, RAX);
  a.movStoreRip(SAVE + 8 * SAVE_SIGNAL, RAX);
  a.jmp(L.capture);

  // ---- signal handler (SA_SIGINFO, on the alternate stack): rdi = signo, rsi = info, rdx = ucontext
  a.bind(L.handler);
  a.movLoad(RAX, RDX, UC_GREGS + 8 * GREG_RIP);
  a.mov32(RCX, HCODE);
  a.cmpRR(RAX, RCX);
  a.jcc(CC_B, L.inTest);
  a.leaRip(RCX, L.harnessEnd);
  a.cmpRR(RAX, RCX);
  a.jcc(CC_AE, L.inTest);
  // interrupted inside the harness: a watchdog tick is ignored, anything else is fatal
  a.cmpImm32(RDI, SIGVTALRM);
  const ignore = new Label();
  a.jcc(CC_E, ignore);
  a.addImm(RDI, EXIT_HARNESS_FAULT_BASE);
  a.mov32(RAX, SYS_EXIT_GROUP);
  a.syscall();
  a.bind(ignore);
  a.ret();
  a.bind(L.inTest);
  a.rr([0x89], RDI, RDI, false); // mov edi, edi
  a.movStoreRip(SAVE + 8 * SAVE_SIGNAL, RDI);
  for (let r = 0; r < 16; r++) {
    a.movLoad(RAX, RDX, UC_GREGS + 8 * GREG_OF_GPR[r]!);
    a.movStoreRip(SAVE + 8 * r, RAX);
  }
  a.movLoad(RAX, RDX, UC_GREGS + 8 * GREG_EFL);
  a.movStoreRip(SAVE + 8 * SAVE_RFLAGS, RAX);
  a.movLoad(RAX, RDX, UC_GREGS + 8 * GREG_RIP);
  a.movStoreRip(SAVE + 8 * SAVE_RIP, RAX);
  // resume in the capture path on the harness stack
  a.leaRip(RAX, L.capture);
  a.movStore(RDX, UC_GREGS + 8 * GREG_RIP, RAX);
  a.leaRip(RAX, hstackTop);
  a.movStore(RDX, UC_GREGS + 8 * GREG_RSP, RAX);
  a.movStoreImm16(RDX, UC_GREGS + 8 * GREG_CSGSFS, USER_CS); // back in 64-bit code even after compat32
  a.ret(); // to the restorer

  a.bind(L.restorer);
  a.mov32(RAX, SYS_RT_SIGRETURN);
  a.syscall();

  // ---- capture: append the record and the changed data blocks to the output, restore the blocks
  a.bind(L.capture);
  a.cld();
  a.movLoadRip(R13, V_OUTPTR);
  a.movRR(RDI, R13);
  a.leaRip(RSI, SAVE);
  a.mov32(RCX, SAVE_COPY);
  a.repMovsb();
  a.movRR(R12, RDI); // -> mask slot
  a.movRR(R13, RDI);
  a.addImm(R13, 8);
  a.xor32(R8); // mask
  a.xor32(R9); // block index
  a.bind(L.blk);
  a.movRR(R10, R9);
  a.shlImm(R10, 8);
  a.movRR(R11, R10);
  a.addImm(R10, DATA_BASE);
  a.addImm(R11, PRISTINE);
  a.movRR(RSI, R10);
  a.movRR(RDI, R11);
  a.mov32(RCX, BLOCK);
  a.repeCmpsb();
  a.jcc(CC_E, L.same);
  a.bts(R8, R9);
  a.movRR(RSI, R10);
  a.movRR(RDI, R13);
  a.mov32(RCX, BLOCK);
  a.repMovsb();
  a.movRR(R13, RDI);
  a.movRR(RSI, R11);
  a.movRR(RDI, R10);
  a.mov32(RCX, BLOCK);
  a.repMovsb();
  a.bind(L.same);
  a.inc(R9);
  a.cmpImm(R9, NBLOCKS);
  a.jcc(CC_B, L.blk);
  a.movStore(R12, 0, R8);
  a.movStoreRip(V_OUTPTR, R13);
  a.movLoadRip(RAX, V_CUR);
  a.inc(RAX);
  a.movStoreRip(V_CUR, RAX);
  a.movRR(RDX, R13);
  a.mov32(RSI, outbuf);
  a.subRR(RDX, RSI);
  a.cmpImm(RDX, FLUSH_AT);
  a.jcc(CC_B, L.nextTest);
  a.call(L.writeAll);
  a.mov32(RAX, outbuf);
  a.movStoreRip(V_OUTPTR, RAX);
  a.jmp(L.nextTest);

  // ---- done: stop the watchdog, append the magic, flush, exit_group(0)
  a.bind(L.done);
  a.mov32(RAX, SYS_SETITIMER);
  a.mov32(RDI, ITIMER_VIRTUAL);
  a.leaRip(RSI, ITV_OFF);
  a.xor32(RDX);
  a.syscall();
  a.movLoadRip(RDI, V_OUTPTR);
  a.mov64(RAX, MAGIC_LO, MAGIC_HI);
  a.movStore(RDI, 0, RAX);
  a.addImm(RDI, 8);
  a.movRR(RDX, RDI);
  a.mov32(RSI, outbuf);
  a.subRR(RDX, RSI);
  a.call(L.writeAll);
  a.mov32(RAX, SYS_EXIT_GROUP);
  a.xor32(RDI);
  a.syscall();

  // ---- writeAll(rsi = buffer, rdx = length): write(1, ...) until done, retrying EINTR
  a.bind(L.writeAll);
  a.bind(L.wloop);
  a.testRR(RDX, RDX);
  a.jcc(CC_E, L.wdone);
  a.mov32(RAX, SYS_WRITE);
  a.mov32(RDI, 1);
  a.syscall();
  a.rr([0x83], 7, RAX, true, [0xfc]); // cmp rax, -4 (EINTR)
  a.jcc(CC_E, L.wloop);
  a.testRR(RAX, RAX);
  a.jcc(CC_LE, L.writeFail);
  a.addRR(RSI, RAX);
  a.subRR(RDX, RAX);
  a.jmp(L.wloop);
  a.bind(L.wdone);
  a.ret();

  a.bind(L.setupFail);
  a.mov32(RAX, SYS_EXIT_GROUP);
  a.mov32(RDI, EXIT_SETUP_FAILED);
  a.syscall();
  a.bind(L.writeFail);
  a.mov32(RAX, SYS_EXIT_GROUP);
  a.mov32(RDI, EXIT_WRITE_FAILED);
  a.syscall();
  a.bind(L.harnessEnd);

  const code = a.finish();
  return { code, entry, epilogue, toCompat: HCODE + L.toCompat.pos!, handler: HCODE + L.handler.pos!, restorer: HCODE + L.restorer.pos! };
}

// ---------------------------------------------------------------------------------------------
// ELF image

const RF_USER = 0x202; // reserved bit 1 + IF
const RF_RESUME = 0x10000;
const RF_HONOURED = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x400 | 0x800; // CF PF AF ZF SF DF OF

/** The jump back to the epilogue after a test's code: `jmp rel32`, or `jmp far ptr16:32` from compat32 code. */
function trailerLength(t: NativeTest): number {
  return t.compat32 === true ? 7 : 5;
}

function checkInputs(tests: NativeTest[], dataInit: Uint8Array): void {
  if (!(dataInit instanceof Uint8Array) || dataInit.length !== DATA_SIZE)
    throw new Error(`runNative: dataInit must be a Uint8Array of ${DATA_SIZE} bytes`);
  const spans: [number, number, number][] = [];
  tests.forEach((t, i) => {
    if (!Number.isInteger(t.codeAddr)) throw new Error(`runNative: test ${i}: bad codeAddr`);
    const end = t.codeAddr + t.code.length + trailerLength(t); // + jmp back to the epilogue
    if (t.codeAddr < CODE_BASE || end > CODE_BASE + CODE_SIZE)
      throw new Error(
        `runNative: test ${i}: code [0x${t.codeAddr.toString(16)}, +${t.code.length}) plus its return jmp ` +
          `is outside the code region [0x${CODE_BASE.toString(16)}, 0x${(CODE_BASE + CODE_SIZE).toString(16)})`,
      );
    if (!Array.isArray(t.regs) || t.regs.length !== 16) throw new Error(`runNative: test ${i}: regs must have 16 entries`);
    spans.push([t.codeAddr, end, i]);
  });
  spans.sort((x, y) => x[0] - y[0]);
  for (let k = 1; k < spans.length; k++) {
    const [s, , i] = spans[k]!;
    const [, pe, pi] = spans[k - 1]!;
    if (s < pe)
      throw new Error(
        `runNative: tests ${pi} and ${i} overlap in the code region (each test needs code.length + 5 bytes ` +
          `(+ 7 in compat32) for the return jmp placed right after its code)`,
      );
  }
}

function buildElf(tests: NativeTest[], dataInit: Uint8Array): Uint8Array {
  const lay = bssLayout(tests.length);
  const h = buildHarness(lay, tests.some((t) => t.compat32 === true));

  // code region
  const codeRegion = new Uint8Array(CODE_SIZE).fill(0xcc);
  const crv = new DataView(codeRegion.buffer);
  for (const t of tests) {
    const off = t.codeAddr - CODE_BASE;
    codeRegion.set(t.code, off);
    const jmpAt = off + t.code.length;
    if (t.compat32 === true) {
      codeRegion[jmpAt] = 0xea; // jmp far 0x33:epilogue
      crv.setUint32(jmpAt + 1, h.epilogue, true);
      crv.setUint16(jmpAt + 5, USER_CS, true);
    } else {
      codeRegion[jmpAt] = 0xe9;
      crv.setInt32(jmpAt + 1, h.epilogue - (CODE_BASE + jmpAt + 5), true);
    }
  }

  // harness data (file-backed part)
  const hdataFile = TABLE + tests.length * TABLE_ENTRY - HDATA;
  const hd = new Uint8Array(pageUp(hdataFile));
  const hv = new DataView(hd.buffer);
  const q = (addr: number, lo: number, hi = 0): void => {
    hv.setUint32(addr - HDATA, lo >>> 0, true);
    hv.setUint32(addr - HDATA + 4, hi >>> 0, true);
  };
  q(V_CUR, 0);
  q(V_COUNT, tests.length);
  q(V_OUTPTR, lay.outbuf);
  // struct kernel_sigaction { handler, flags, restorer, mask }
  q(SIGACT, h.handler);
  q(SIGACT + 8, SA_SIGINFO | SA_ONSTACK | SA_RESTORER);
  q(SIGACT + 16, h.restorer);
  let mlo = 0, mhi = 0;
  for (const s of HANDLED_SIGNALS) {
    if (s <= 32) mlo |= 1 << (s - 1);
    else mhi |= 1 << (s - 33);
  }
  q(SIGACT + 24, mlo, mhi);
  // stack_t { ss_sp, ss_flags, ss_size }
  q(SIGSTK, lay.altstack);
  q(SIGSTK + 8, 0);
  q(SIGSTK + 16, ALTSTACK_SIZE);
  // struct itimerval { it_interval, it_value } (periodic, so a tick swallowed in the harness is retried)
  q(ITV_ARM, 0);
  q(ITV_ARM + 8, WATCHDOG_USEC);
  q(ITV_ARM + 16, 0);
  q(ITV_ARM + 24, WATCHDOG_USEC);
  // clean FXSAVE / XSAVE image: FCW 0x037F, MXCSR 0x1F80, everything else (incl. XSTATE_BV) 0
  hv.setUint16(XAREA - HDATA, 0x037f, true);
  hv.setUint32(XAREA - HDATA + 24, 0x1f80, true);
  hd.set(dataInit, PRISTINE - HDATA);
  tests.forEach((t, i) => {
    const e = TABLE + i * TABLE_ENTRY;
    q(e, (t.rflags & RF_HONOURED) | RF_USER);
    POP_ORDER.forEach((r, k) => q(e + 8 * (k + 1), t.regs[r]!.lo, t.regs[r]!.hi));
    q(e + 16 * 8, t.regs[RSP]!.lo, t.regs[RSP]!.hi);
    q(e + 17 * 8, t.compat32 === true ? h.toCompat : t.codeAddr);
    q(e + 18 * 8, t.codeAddr, USER32_CS);
  });

  // file layout
  const offCode = PAGE;
  const offData = offCode + CODE_SIZE;
  const offHcode = offData + DATA_SIZE;
  const offHdata = offHcode + pageUp(h.code.length);
  const fileSize = offHdata + hd.length;
  const img = new Uint8Array(fileSize);
  const v = new DataView(img.buffer);
  const PT_LOAD = 1, PT_GNU_STACK = 0x6474e551, PF_X = 1, PF_W = 2, PF_R = 4;
  const phdrs: [number, number, number, number, number, number][] = [
    // type, flags, offset, vaddr, filesz, memsz
    [PT_LOAD, PF_R | PF_X, offCode, CODE_BASE, CODE_SIZE, CODE_SIZE],
    [PT_LOAD, PF_R | PF_W, offData, DATA_BASE, DATA_SIZE, DATA_SIZE],
    [PT_LOAD, PF_R | PF_X, offHcode, HCODE, h.code.length, h.code.length],
    [PT_LOAD, PF_R | PF_W, offHdata, HDATA, hdataFile, lay.end - HDATA],
    [PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0],
  ];
  img.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // ELFCLASS64, little endian, SYSV
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 0x3e, true); // EM_X86_64
  v.setUint32(20, 1, true); // EV_CURRENT
  v.setBigUint64(24, BigInt(h.entry), true);
  v.setBigUint64(32, 64n, true); // e_phoff
  v.setBigUint64(40, 0n, true); // e_shoff
  v.setUint32(48, 0, true); // e_flags
  v.setUint16(52, 64, true); // e_ehsize
  v.setUint16(54, 56, true); // e_phentsize
  v.setUint16(56, phdrs.length, true);
  v.setUint16(58, 64, true); // e_shentsize
  v.setUint16(60, 0, true);
  v.setUint16(62, 0, true);
  phdrs.forEach(([type, flags, off, vaddr, filesz, memsz], i) => {
    const p = 64 + 56 * i;
    v.setUint32(p, type, true);
    v.setUint32(p + 4, flags, true);
    v.setBigUint64(p + 8, BigInt(off), true);
    v.setBigUint64(p + 16, BigInt(vaddr), true);
    v.setBigUint64(p + 24, BigInt(vaddr), true);
    v.setBigUint64(p + 32, BigInt(filesz), true);
    v.setBigUint64(p + 40, BigInt(memsz), true);
    v.setBigUint64(p + 48, BigInt(type === PT_LOAD ? PAGE : 16), true);
  });
  img.set(codeRegion, offCode);
  img.set(dataInit, offData);
  img.set(h.code, offHcode);
  img.set(hd, offHdata);
  return img;
}

// ---------------------------------------------------------------------------------------------
// Running and parsing

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function describeExit(status: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `was killed by ${signal}`;
  if (status === EXIT_SETUP_FAILED) return "failed to install its signal handlers / alternate stack (exit 3)";
  if (status === EXIT_WRITE_FAILED) return "failed to write its results (exit 4)";
  if (status !== null && status > EXIT_HARNESS_FAULT_BASE)
    return `faulted inside its own harness code with signal ${status - EXIT_HARNESS_FAULT_BASE} (exit ${status})`;
  return `exited with status ${status}`;
}

function parse(out: Buffer, tests: NativeTest[], dataInit: Uint8Array): NativeResult[] {
  const results: NativeResult[] = [];
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let p = 0;
  const short = (): Error =>
    new Error(`runNative: native oracle output is truncated (${out.length} bytes, ${results.length}/${tests.length} results)`);
  for (let i = 0; i < tests.length; i++) {
    if (p + REC_SIZE > out.length) throw short();
    const u32 = (k: number, half: number): number => dv.getUint32(p + 8 * k + 4 * half, true);
    const regs: { lo: number; hi: number }[] = [];
    for (let r = 0; r < 16; r++) regs.push({ lo: u32(r, 0), hi: u32(r, 1) });
    const signal = u32(SAVE_SIGNAL, 0);
    const t = tests[i]!;
    let rip: number;
    if (signal === 0) rip = t.codeAddr + t.code.length;
    else rip = u32(SAVE_RIP, 0) + u32(SAVE_RIP, 1) * 0x100000000;
    // A fault's saved RFLAGS image may have RF (bit 16) set; pushfq never shows it.
    const rflags = signal === 0 ? u32(SAVE_RFLAGS, 0) : (u32(SAVE_RFLAGS, 0) & ~RF_RESUME) >>> 0;
    const mask = [u32(REC_MASK, 0), u32(REC_MASK, 1)];
    if (signal !== 0 && (u32(SAVE_SIGNAL, 1) !== 0 || signal > 64))
      throw new Error(`runNative: corrupt native oracle output at result ${i}`);
    p += REC_SIZE;
    const data = new Uint8Array(dataInit);
    for (let b = 0; b < NBLOCKS; b++) {
      if (((mask[b >> 5]! >>> (b & 31)) & 1) === 0) continue;
      if (p + BLOCK > out.length) throw short();
      data.set(out.subarray(p, p + BLOCK), b * BLOCK);
      p += BLOCK;
    }
    results.push({ regs, rflags, rip, signal, data });
  }
  if (p + 8 !== out.length || dv.getUint32(p, true) !== MAGIC_LO || dv.getUint32(p + 4, true) !== MAGIC_HI)
    throw new Error(`runNative: native oracle output has a bad length or trailer (${out.length} bytes, expected ${p + 8})`);
  return results;
}

/** Run all tests; before each test the data region is reset to `dataInit` (length DATA_SIZE). */
export function runNative(tests: NativeTest[], dataInit: Uint8Array): NativeResult[] {
  checkInputs(tests, dataInit);
  if (tests.length === 0) return [];
  const img = buildElf(tests, dataInit);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hvdiff-native-"));
  const exe = path.join(dir, "oracle");
  try {
    fs.writeFileSync(exe, img, { mode: 0o700 });
    fs.chmodSync(exe, 0o700);
    const maxOut = tests.length * (REC_SIZE + DATA_SIZE) + 8;
    const timeout = 60_000 + tests.length * 2 * (WATCHDOG_USEC / 1000);
    let r = spawnSync(exe, [], { maxBuffer: maxOut + 0x100000, timeout, stdio: ["ignore", "pipe", "pipe"] });
    // Another thread of this process may briefly hold the freshly written file open across a fork.
    for (let k = 0; k < 20 && (r.error as NodeJS.ErrnoException | undefined)?.code === "ETXTBSY"; k++) {
      sleepMs(50);
      r = spawnSync(exe, [], { maxBuffer: maxOut + 0x100000, timeout, stdio: ["ignore", "pipe", "pipe"] });
    }
    if (r.error) {
      const code = (r.error as NodeJS.ErrnoException).code;
      if (code === "ETIMEDOUT") throw new Error(`runNative: the native oracle process timed out after ${timeout} ms`);
      throw new Error(`runNative: could not run the native oracle ${exe}: ${r.error.message}`);
    }
    if (r.status !== 0 || r.signal !== null)
      throw new Error(`runNative: the native oracle process ${describeExit(r.status, r.signal)}`);
    return parse(r.stdout, tests, dataInit);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
