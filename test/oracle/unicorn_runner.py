#!/usr/bin/env python3
"""Unicorn oracle for hvdiff cases (real16, prot32, compat32).

Reads one case (the project's JSON case format, see docs/cases.md) per line on stdin and
writes one JSON result line per case on stdout, in order. Every case gets a fresh Unicorn
instance (about 0.2 ms), booted into the same starting state the emulator builds
(src/case/machine.ts): GDT, TSS and identity-map page tables in the top 1 MiB of RAM.

How each mode is set up in Unicorn 2.0.1 (QEMU 5 TCG):
  real16   UC_MODE_16: QEMU starts with hflags 0 (real mode, 16-bit CS/SS). CR0 = 0x10,
           segment registers written through the API (base = selector * 16), IDTR 0/0x3ff.
  prot32   UC_MODE_32: reset already set CR0.PE and 32-bit CS/SS hflags. SS, DS, ES, FS,
           GS = 0x10 and CS = 0x18 are loaded from the GDT in guest memory by the API (QEMU's
           helper_load_seg). A one-instruction stub `mov cr4, eax` (eax = 0) then clears
           the OSFXSR hflag that Unicorn's reset sets, so CR4 really is 0.
  compat32 UC_MODE_64 (reset: EFER.LME|LMA, CR0.PE, 64-bit CS). The API cannot load CS in
           64-bit mode (it only stores the selector), so a stub runs first, with paging still
           off: `mov ds/es/ss/fs/gs, 0x10` and `jmp far [m16:32]` to 0x18:stub2, which puts
           the CPU in compatibility mode the architectural way. Then CR0 = 0x80000011,
           CR3 and CR4 = 0x20 are written and stub2 (`mov cr4, eax; mov cr3, ecx`) fixes
           the CR4-derived hflags and flushes the TLB; the page tables are rewritten
           afterwards so the accessed bits the stub's fetch set are gone.
  The stubs live at T + 0x80000 (inside the reserved top 1 MiB) and are zeroed again.

GPRs are read and written as the raw 64-bit QEMU registers (through the saved CPU context:
CPUX86State starts with regs[16]), because Unicorn's register API has no RAX/R8..R15 in
16/32-bit mode. QEMU zero-extends 32-bit register writes in every mode.

Run semantics (as the emulator's run loop): the step limit is checked before each
instruction, before the end check, so a case of exactly maxSteps instructions ends with
step-limit; each REP iteration is one step. Exit kinds: end, hlt, step-limit, exception
(vector, rip of the instruction; for the traps INT3, INTO and single-step #DB regs.rip is
after it; errorCode for the vectors that have one, read from QEMU's CPUX86State.error_code
in the saved context, whose offset is found once by raising two known #GP(selector)),
error (Unicorn could not run the case; the message says why).

What the runner adds because Unicorn does not model it:
  INT n      Unicorn only reports it. real16: delivered here through the IVT (push FLAGS,
             CS, IP; clear IF, TF, AC), then the run goes on. prot32/compat32: IDTR limit
             is 0, so #GP at the INT (as delivery would fault).
             INT 6 comes back as an invalid-instruction error (Unicorn reports every
             vector-6 event that way) and is handled like any INT n.
  INT1/F1    Unicorn 2.0.1 decodes ICEBP as #UD; reported as the #DB trap the CPU raises.
  SYSCALL, SYSENTER  Unicorn skips them; with EFER.SCE = 0 and IA32_SYSENTER_CS = 0 they
             are #UD and #GP(0): reported as such.
  IN/OUT     no device: IN reads all ones, OUT is ignored (as the emulator's bare machine).
  Physical memory outside RAM (no paging): open bus, reads all ones, writes ignored;
             fetching there is an error.

Known Unicorn 2.0.1 / QEMU 5 differences (compare around them):
  - No segment checks on data accesses in any mode: no limit check (real-mode word access
    at offset 0xFFFF, 32-bit addresses in real mode), no #GP on a null DS/ES/FS/GS, no #SS.
  - 16-bit IP is not wrapped at 0xFFFF by sequential execution.
  - Paging: walks, permission checks, #PF and A/D bits are real, but the translated address
    is ignored (Unicorn maps linear = physical), so non-identity mappings read the wrong page.
  - CPUID is QEMU's (AuthenticAMD-like; no POPCNT, MOVBE: those are #UD); RDTSC is host time.
  - Flags the SDM leaves undefined differ (MUL/IMUL, BSF/BSR, BCD, shifts/rotates by more
    than 1, SHLD/SHRD...); SMSW r32 high half and BSWAP r16 (undefined) differ.
  - Self-modifying code that rewrites the current translation block re-runs the writing
    instruction once more under the code hook (one extra step), and can rarely abort QEMU
    ("tcg fatal error"): that case gets an error result, a fresh worker runs the rest.
"""

import ctypes
import json
import os
import struct
import sys
import tempfile
import traceback

from unicorn import (
    UC_ARCH_X86,
    UC_ERR_INSN_INVALID,
    UC_HOOK_CODE,
    UC_HOOK_INSN,
    UC_HOOK_INTR,
    UC_HOOK_MEM_FETCH_UNMAPPED,
    UC_HOOK_MEM_READ_UNMAPPED,
    UC_HOOK_MEM_WRITE_UNMAPPED,
    UC_MEM_FETCH_UNMAPPED,
    UC_MODE_16,
    UC_MODE_32,
    UC_MODE_64,
    Uc,
    UcError,
)
from unicorn.x86_const import (
    UC_X86_INS_IN,
    UC_X86_INS_OUT,
    UC_X86_INS_SYSCALL,
    UC_X86_INS_SYSENTER,
    UC_X86_REG_CR0,
    UC_X86_REG_CR3,
    UC_X86_REG_CR4,
    UC_X86_REG_CS,
    UC_X86_REG_DS,
    UC_X86_REG_EAX,
    UC_X86_REG_ECX,
    UC_X86_REG_EFLAGS,
    UC_X86_REG_EIP,
    UC_X86_REG_ES,
    UC_X86_REG_FS,
    UC_X86_REG_GDTR,
    UC_X86_REG_GS,
    UC_X86_REG_IDTR,
    UC_X86_REG_LDTR,
    UC_X86_REG_RFLAGS,
    UC_X86_REG_RIP,
    UC_X86_REG_SS,
    UC_X86_REG_TR,
)

GPR_NAMES = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
SEG_NAMES = ["es", "cs", "ss", "ds", "fs", "gs"]
SEG_REG = {"es": UC_X86_REG_ES, "cs": UC_X86_REG_CS, "ss": UC_X86_REG_SS,
           "ds": UC_X86_REG_DS, "fs": UC_X86_REG_FS, "gs": UC_X86_REG_GS}

DEFAULT_RAM = 256 * 1024 * 1024
DEFAULT_MAX_STEPS = 100000
RESERVED_TOP = 0x100000
MASK64 = (1 << 64) - 1
# EFLAGS bits a case may set: CF 1 PF AF ZF SF TF IF DF OF IOPL NT RF AC VIF VIP ID (not VM)
EFLAGS_MASK = 0x3D7FD5
EFER = 0xC0000080

GDT = [  # selector, descriptor
    (0x08, 0x00AF9B000000FFFF),  # code64 DPL0
    (0x10, 0x00CF93000000FFFF),  # data DPL0
    (0x18, 0x00CF9B000000FFFF),  # code32 DPL0
    (0x20, 0x00CFFB000000FFFF),  # code32 DPL3
    (0x28, 0x00CFF3000000FFFF),  # data DPL3
    (0x30, 0x00AFFB000000FFFF),  # code64 DPL3
]
GDT_LIMIT = 0x47
TSS_SEL = 0x38
STUB_OFF = 0x80000  # stubs at T + STUB_OFF

# The register-file offset inside a saved uc_context: size_t context_size; int mode; int arch.
CTX_HEADER = 16
CTX_REGS = struct.Struct("<16Q")

# Exceptions that push an error code (SDM Vol. 3A 6.13): #DF #TS #NP #SS #GP #PF #AC #CP.
ERROR_CODE_VECTORS = frozenset([8, 10, 11, 12, 13, 14, 17, 21])

PREFIXES = frozenset([0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3])


class CaseInputError(Exception):
    pass


def num(v, field):
    if v is None:
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        s = v.strip()
        try:
            return int(s, 16) if s[:2].lower() == "0x" else int(s, 10)
        except ValueError:
            pass
    raise CaseInputError(f"{field}: not a number: {v!r}")


def hexs(v):
    return "0x%x" % v


def hex_bytes(s, field):
    try:
        return bytes.fromhex("".join(s.split()))
    except (ValueError, AttributeError):
        raise CaseInputError(f"{field}: not a string of hex bytes")


def descriptor(base, limit, access, flags):
    return ((limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (access << 40)
            | (((limit >> 16) & 0xF) << 48) | (flags << 52) | (((base >> 24) & 0xFF) << 56))


def build_tables(ram):
    """(address, bytes) blocks of the emulator's tables in the top 1 MiB (machine.ts)."""
    T = ram - RESERVED_TOP
    gdt = bytearray(GDT_LIMIT + 1)
    for sel, d in GDT:
        struct.pack_into("<Q", gdt, sel, d)
    # 16-byte 64-bit TSS descriptor: base T+0x1000, limit 0x67, P, type 9 (available) in memory as
    # machine.ts writes it (TR itself is loaded busy, below).
    struct.pack_into("<QQ", gdt, TSS_SEL, descriptor(T + 0x1000, 0x67, 0x89, 0), (T + 0x1000) >> 32)
    pml4 = T + 0x10000
    pdpt = pml4 + 0x1000
    pds = pml4 + 0x2000
    pt = pds + 4 * 0x1000
    big = ram // 0x200000
    pdpt_entries = [(pds + g * 0x1000) | 7 for g in range((ram + 0x3FFFFFFF) // 0x40000000)]
    pd_entries = [(k * 0x200000) | 0x87 for k in range(big)]
    tail = []
    if ram % 0x200000:
        tail_base = big * 0x200000
        pd_entries.append(pt | 7)
        tail = [(tail_base + p * 4096) | 7 for p in range((ram - tail_base + 4095) // 4096)]
    tables = bytearray(0x1000 * 6 + (0x1000 if tail else 0))
    struct.pack_into("<Q", tables, 0, pdpt | 7)
    struct.pack_into("<%dQ" % len(pdpt_entries), tables, 0x1000, *pdpt_entries)
    struct.pack_into("<%dQ" % len(pd_entries), tables, 0x2000, *pd_entries)
    if tail:
        struct.pack_into("<%dQ" % len(tail), tables, 0x6000, *tail)
    return T, [(T, bytes(gdt)), (pml4, bytes(tables))]


_tables_cache = {}


def tables_for(ram):
    t = _tables_cache.get(ram)
    if t is None:
        t = _tables_cache[ram] = build_tables(ram)
    return t


class Run:
    """The state of one case's run, shared with the hooks."""

    def __init__(self, uc, max_steps, real, stop_off):
        self.uc = uc
        self.max_steps = max_steps
        self.real = real  # real16: CS may change, so compare offsets, not linear addresses
        self.stop_off = stop_off
        self.at_end = False
        # Where the code hook stopped the run. Unicorn's hook prologue stores the *linear*
        # PC into EIP, so with a CS base other than 0 EIP is wrong after such a stop.
        self.stopped_at = None
        self.steps = 0  # instructions started (hook calls)
        self.limit_hit = False
        self.last = None  # linear address, CS offset and size of the last instruction started
        self.last_off = None
        self.last_size = 0
        self.vector = None  # exception vector from the INTR hook
        self.special = None  # (vector, rip) set by instruction hooks (SYSCALL...)
        self.unmapped = None
        self.paging = False

    def hook_code(self, uc, address, size, _):
        if self.real:
            off = address - uc.reg_read(UC_X86_REG_CS) * 16
            if off == self.stop_off:
                self.at_end = True
                self.stopped_at = off
                uc.emu_stop()
                return
        else:
            off = address
        if self.steps >= self.max_steps:
            self.limit_hit = True
            self.stopped_at = off
            uc.emu_stop()
            return
        self.steps += 1
        self.last = address
        self.last_off = off
        self.last_size = size

    def hook_intr(self, uc, intno, _):
        self.vector = intno
        uc.emu_stop()

    def hook_syscall(self, uc, _):
        # Unicorn skips SYSCALL/SYSENTER when a hook is installed (and without one too);
        # with the starting state (EFER.SCE = 0, IA32_SYSENTER_CS = 0) they fault.
        self.special = (6, self.last_off)
        uc.emu_stop()

    def hook_sysenter(self, uc, _):
        self.special = (13, self.last_off)
        uc.emu_stop()

    def hook_unmapped(self, uc, access, address, size, value, _):
        # Unicorn 2.0.1 checks that the *linear* address lies in a mapped region before the
        # page walk. Give such pages (all outside guest RAM) an open-bus MMIO page, as the
        # emulator does (reads all ones, writes ignored); in compat32 the page walk then
        # raises the #PF the identity map calls for. A fetch without paging is an error.
        page = address & ~0xFFF
        if (access == UC_MEM_FETCH_UNMAPPED and not self.paging) or page >= 1 << 32:
            what = "fetch" if access == UC_MEM_FETCH_UNMAPPED else "access"
            self.unmapped = "%s of %d bytes at 0x%x outside guest RAM" % (what, size, address)
            return False
        uc.mmio_map(page, 0x1000, open_bus_read, None, open_bus_write, None)
        return True

    def hook_in(self, uc, port, size, _):
        return (1 << (8 * size)) - 1  # no device answers: all ones (cpu.ts)

    def hook_out(self, uc, port, size, value, _):
        pass


def open_bus_read(uc, offset, size, _):
    return (1 << (8 * size)) - 1


def open_bus_write(uc, offset, size, value, _):
    pass


def read_gprs(uc):
    ctx = uc.context_save()
    return list(CTX_REGS.unpack(ctypes.string_at(ctx.context.value + CTX_HEADER, CTX_REGS.size)))


def write_gprs(uc, values):
    ctx = uc.context_save()
    ctypes.memmove(ctx.context.value + CTX_HEADER, CTX_REGS.pack(*values), CTX_REGS.size)
    uc.context_restore(ctx)


_error_code_offset = []


def error_code_offset():
    """The offset of CPUX86State.error_code in a saved context, or None: the one place (past
    the GPRs) holding the selector of a `mov ds, ax` that raised #GP(selector), for two
    different selectors."""
    if not _error_code_offset:
        ram = 0x200000
        T, tables = tables_for(ram)
        common = None
        for sel in (0x4C8, 0x5A8):
            uc = Uc(UC_ARCH_X86, UC_MODE_32)
            uc.mem_map(0, ram)
            boot(uc, "prot32", ram, T, tables, {})
            uc.mem_write(0x1000, b"\x8e\xd8")  # mov ds, ax
            uc.hook_add(UC_HOOK_INTR, lambda uc, intno, _: uc.emu_stop())
            write_gprs(uc, [sel] + [0] * 15)
            uc.emu_start(0x1000, 0x1002)
            ctx = uc.context_save()
            raw = ctypes.string_at(ctx.context.value, ctx.size)
            start = CTX_HEADER + CTX_REGS.size
            found = {o for o in range(start, len(raw) - 3, 4) if struct.unpack_from("<I", raw, o)[0] == sel}
            common = found if common is None else common & found
        _error_code_offset.append(common.pop() if common is not None and len(common) == 1 else None)
    return _error_code_offset[0]


def error_code(uc):
    off = error_code_offset()
    if off is None:
        return None
    ctx = uc.context_save()
    return struct.unpack("<I", ctypes.string_at(ctx.context.value + off, 4))[0]


def exception_exit(uc, vector, rip, code=None):
    """An exception exit; with the error code for the vectors that have one."""
    out = {"kind": "exception", "vector": vector, "rip": hexs(rip)}
    if vector in ERROR_CODE_VECTORS:
        code = error_code(uc) if code is None else code
        if code is not None:
            out["errorCode"] = code
    return out


def run_stub(uc, addr, code, until):
    uc.mem_write(addr, code)
    uc.emu_start(addr, until)
    uc.mem_write(addr, bytes(len(code)))


def boot(uc, mode, ram, T, tables, sregs):
    for addr, data in tables:
        uc.mem_write(addr, data)
    uc.reg_write(UC_X86_REG_GDTR, (0, T, GDT_LIMIT, 0))
    uc.reg_write(UC_X86_REG_LDTR, (0, 0, 0, 0))
    uc.reg_write(UC_X86_REG_TR, (TSS_SEL, T + 0x1000, 0x67, 0x8B00))
    stub = T + STUB_OFF
    if mode == "real16":
        uc.reg_write(UC_X86_REG_CR0, 0x10)
        uc.reg_write(UC_X86_REG_IDTR, (0, 0, 0x3FF, 0))
        for name in SEG_NAMES:
            uc.reg_write(SEG_REG[name], sregs.get(name, 0))
    elif mode == "prot32":
        uc.reg_write(UC_X86_REG_CR0, 0x11)
        uc.reg_write(UC_X86_REG_IDTR, (0, 0, 0, 0))
        for name in ["ss", "ds", "es", "fs", "gs", "cs"]:
            uc.reg_write(SEG_REG[name], sregs.get(name, 0x18 if name == "cs" else 0x10))
        uc.msr_write(EFER, 0)
        uc.reg_write(UC_X86_REG_EAX, 0)
        run_stub(uc, stub, b"\x0f\x22\xe0", stub + 3)  # mov cr4, eax
    elif mode == "compat32":
        uc.reg_write(UC_X86_REG_IDTR, (0, 0, 0, 0))
        uc.msr_write(EFER, 0x500)
        s = lambda name: sregs.get(name, 0x10)  # noqa: E731
        code = b"".join(
            b"\x66\xb8" + struct.pack("<H", s(n)) + b"\x8e" + bytes([0xC0 | (sr << 3)])
            for n, sr in (("ds", 3), ("es", 0), ("ss", 2), ("fs", 4), ("gs", 5)))
        code += b"\xff\x2d\x00\x00\x00\x00" + struct.pack("<IH", stub + 0x100, sregs.get("cs", 0x18))
        run_stub(uc, stub, code, stub + 0x100)  # 64-bit, paging off: load the segments, enter compat
        uc.reg_write(UC_X86_REG_CR4, 0x20)
        uc.reg_write(UC_X86_REG_CR3, T + 0x10000)
        uc.reg_write(UC_X86_REG_CR0, 0x80000011)
        uc.reg_write(UC_X86_REG_EAX, 0x20)
        uc.reg_write(UC_X86_REG_ECX, T + 0x10000)
        run_stub(uc, stub + 0x100, b"\x0f\x22\xe0\x0f\x22\xd9", stub + 0x106)  # mov cr4, eax; mov cr3, ecx
        for addr, data in tables[1:]:  # drop the accessed bits the stub's last fetch set
            uc.mem_write(addr, data)
    else:
        raise CaseInputError(f"mode: {mode!r} is not real16, prot32 or compat32")


def opcode_at(uc, lin, size):
    """(opcode byte, index after it, bytes) of the instruction at linear `lin`."""
    b = bytes(uc.mem_read(lin, max(size, 1)))
    i = 0
    while i < len(b) and b[i] in PREFIXES:
        i += 1
    return (b[i] if i < len(b) else None), i + 1, b


def run_case(c):
    if not isinstance(c, dict):
        raise CaseInputError("a case must be a JSON object")
    mode = c.get("mode")
    if mode not in ("real16", "prot32", "compat32"):
        raise CaseInputError(f"mode: {mode!r} is not real16, prot32 or compat32")
    ram = num(c.get("ram", DEFAULT_RAM), "ram")
    base = num(c.get("base"), "base")
    if base is None:
        raise CaseInputError("base: missing")
    code = hex_bytes(c.get("code", ""), "code")
    entry = num(c.get("entry"), "entry")
    if entry is None:
        entry = base
    max_steps = num(c.get("maxSteps", DEFAULT_MAX_STEPS), "maxSteps")
    regs_in = c.get("regs") or {}
    sregs = {k: num(v, "sregs." + k) & 0xFFFF for k, v in (c.get("sregs") or {}).items()}
    for k in sregs:
        if k not in SEG_REG:
            raise CaseInputError(f"sregs.{k}: not a segment register")
    gprs = [num(regs_in.get(n, 0), "regs." + n) & MASK64 for n in GPR_NAMES]
    rflags = num(regs_in.get("rflags", 2), "regs.rflags")

    T, tables = tables_for(ram)
    uc = Uc(UC_ARCH_X86, {"real16": UC_MODE_16, "prot32": UC_MODE_32, "compat32": UC_MODE_64}[mode])
    uc.mem_map(0, ram)
    boot(uc, mode, ram, T, tables, sregs)

    uc.mem_write(base, code)
    for k, blk in enumerate(c.get("memory") or []):
        uc.mem_write(num(blk["addr"], f"memory[{k}].addr"), hex_bytes(blk.get("hex", ""), f"memory[{k}].hex"))

    cs_base = sregs.get("cs", 0) * 16 if mode == "real16" else 0
    stop_off = base + len(code) - cs_base

    run = Run(uc, max_steps, mode == "real16", stop_off)
    run.paging = mode == "compat32"
    uc.hook_add(UC_HOOK_CODE, run.hook_code)
    uc.hook_add(UC_HOOK_INTR, run.hook_intr)
    uc.hook_add(UC_HOOK_INSN, run.hook_syscall, None, 1, 0, UC_X86_INS_SYSCALL)
    uc.hook_add(UC_HOOK_INSN, run.hook_sysenter, None, 1, 0, UC_X86_INS_SYSENTER)
    uc.hook_add(UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED | UC_HOOK_MEM_FETCH_UNMAPPED,
                run.hook_unmapped)
    uc.hook_add(UC_HOOK_INSN, run.hook_in, None, 1, 0, UC_X86_INS_IN)
    uc.hook_add(UC_HOOK_INSN, run.hook_out, None, 1, 0, UC_X86_INS_OUT)

    write_gprs(uc, gprs)
    uc.reg_write(UC_X86_REG_EFLAGS, (rflags & EFLAGS_MASK) | 2)

    exit_ = run_loop(uc, run, mode, entry)

    regs = read_gprs(uc)
    out_regs = {n: hexs(regs[k]) for k, n in enumerate(GPR_NAMES)}
    rip = uc.reg_read(UC_X86_REG_RIP if mode == "compat32" else UC_X86_REG_EIP)
    if "regs_rip" in exit_:
        rip = exit_.pop("regs_rip")
    out_regs["rip"] = hexs(rip)
    fl = uc.reg_read(UC_X86_REG_RFLAGS if mode == "compat32" else UC_X86_REG_EFLAGS)
    out_regs["rflags"] = hexs(fl)
    memory = []
    for k, d in enumerate(c.get("dump") or []):
        addr = num(d["addr"], f"dump[{k}].addr")
        n = num(d["len"], f"dump[{k}].len")
        try:
            memory.append({"addr": hexs(addr), "hex": bytes(uc.mem_read(addr, n)).hex()})
        except UcError as e:
            raise CaseInputError(f"dump[{k}]: cannot read [0x{addr:x}, 0x{addr + n:x}): {e}")
    return {"id": c.get("id"), "exit": exit_, "regs": out_regs, "memory": memory}


def signed16(v):
    return v - 0x10000 if v & 0x8000 else v


def run_loop(uc, run, mode, entry):
    """Run until the end, HLT, an exception, the step limit or an error; the exit object.
    In the flat modes Unicorn itself stops at the end address (CS base 0); in real16 the
    code hook compares IP with the end offset whatever CS is (as the emulator does)."""
    eip_reg = UC_X86_REG_RIP if mode == "compat32" else UC_X86_REG_EIP
    until = MASK64 if run.real else run.stop_off
    ip = entry
    while True:
        if run.real:
            # x86_set_pc computes EIP = begin - (int16)CS * 16: compensate the signed selector.
            begin = (ip + signed16(uc.reg_read(UC_X86_REG_CS)) * 16) & MASK64
        else:
            begin = ip
        run.vector = None
        err = None
        try:
            uc.emu_start(begin, until)
        except UcError as e:
            err = e
        eip = uc.reg_read(eip_reg)
        cs_base = uc.reg_read(UC_X86_REG_CS) * 16 if run.real else 0
        if run.special is not None:
            vector, off = run.special
            return dict(exception_exit(uc, vector, off, 0), regs_rip=off)
        if err is not None:
            if err.errno == UC_ERR_INSN_INVALID:
                op, n, b = opcode_at(uc, cs_base + eip, 16)
                if op == 0xCD and n < len(b):
                    # INT 6: Unicorn reports every vector-6 event as an invalid instruction,
                    # with EIP at the INT. It is a software interrupt like any INT n.
                    if run.real:
                        deliver_real(uc, b[n], eip + n + 1)
                        ip = uc.reg_read(UC_X86_REG_EIP)
                        continue
                    return dict(exception_exit(uc, 13, eip, b[n] * 8 + 2), regs_rip=eip)
                if op == 0xF1:  # INT1/ICEBP: Unicorn 2.0.1 has no ICEBP (#UD); the CPU raises a #DB trap
                    return {"kind": "exception", "vector": 1, "rip": hexs(eip), "regs_rip": eip + n}
                return {"kind": "exception", "vector": 6, "rip": hexs(eip)}
            msg = run.unmapped or str(err)
            return {"kind": "error", "message": "unicorn: %s (rip 0x%x)" % (msg, eip)}
        if run.vector is not None:
            vector = run.vector
            op, n, b = opcode_at(uc, run.last, run.last_size) if run.last is not None else (None, 0, b"")
            if op == 0xCD:  # INT n: a software interrupt, delivered (not an exception)
                if run.real:
                    deliver_real(uc, b[n] if n < len(b) else vector, eip)
                    ip = uc.reg_read(UC_X86_REG_EIP)
                    continue
                # IDTR limit is 0 in the protected modes: #GP(vector*8+2) at the INT (IDT bit set).
                n_vec = b[n] if n < len(b) else vector
                return dict(exception_exit(uc, 13, run.last_off, n_vec * 8 + 2), regs_rip=run.last_off)
            if op in (0xCC, 0xCE) or vector == 1:  # INT3, INTO, single-step #DB: traps
                return {"kind": "exception", "vector": vector, "rip": hexs(run.last_off)}
            return exception_exit(uc, vector, eip)
        if run.limit_hit:
            return {"kind": "step-limit", "regs_rip": run.stopped_at}
        if run.last is not None and eip == run.last_off + run.last_size:
            op, _, _ = opcode_at(uc, run.last, run.last_size)
            if op == 0xF4:
                return {"kind": "hlt"}
        if run.at_end or (not run.real and eip == run.stop_off):
            kind = "step-limit" if run.steps >= run.max_steps else "end"
            return {"kind": kind, "regs_rip": run.stop_off}
        return {"kind": "error", "message": "unicorn stopped at rip 0x%x for no known reason" % eip}


def deliver_real(uc, vector, next_ip):
    """INT n in real mode: push FLAGS, CS, IP on SS:SP, clear IF/TF/AC, load CS:IP from the IVT."""
    flags = uc.reg_read(UC_X86_REG_EFLAGS)
    cs = uc.reg_read(UC_X86_REG_CS)
    ss_base = uc.reg_read(UC_X86_REG_SS) * 16
    regs = read_gprs(uc)
    sp = regs[4] & 0xFFFF
    for v in (flags & 0xFFFF, cs, next_ip & 0xFFFF):
        sp = (sp - 2) & 0xFFFF
        uc.mem_write(ss_base + sp, struct.pack("<H", v))
    regs[4] = (regs[4] & ~0xFFFF & MASK64) | sp
    write_gprs(uc, regs)
    new_ip, new_cs = struct.unpack("<HH", bytes(uc.mem_read(vector * 4, 4)))
    uc.reg_write(UC_X86_REG_EFLAGS, flags & ~((1 << 9) | (1 << 8) | (1 << 18)))
    uc.reg_write(UC_X86_REG_CS, new_cs)
    uc.reg_write(UC_X86_REG_EIP, new_ip)


def case_id(line):
    try:
        c = json.loads(line)
        return c.get("id") if isinstance(c, dict) else None
    except ValueError:
        return None


def result_line(line):
    """The JSON result line of one input line; never raises."""
    try:
        c = json.loads(line)
        res = run_case(c)
    except CaseInputError as e:
        res = {"id": case_id(line), "exit": {"kind": "error", "message": "bad case: %s" % e}, "regs": {}, "memory": []}
    except Exception as e:  # never let one case end the batch
        where = traceback.extract_tb(e.__traceback__)[-1]
        msg = "%s: %s (unicorn_runner.py:%d)" % (type(e).__name__, e, where.lineno)
        res = {"id": case_id(line), "exit": {"kind": "error", "message": msg}, "regs": {}, "memory": []}
    return json.dumps(res, separators=(",", ":")) + "\n"


def main():
    """Run the cases in a forked worker; when QEMU aborts the worker (it does, rarely: a
    "tcg fatal error" on some self-modifying code), that case gets an error result and a new
    worker goes on with the next case."""
    lines = [line for line in sys.stdin if line.strip()]
    out = sys.stdout
    i = 0
    while i < len(lines):
        out.flush()
        r, w = os.pipe()
        err = tempfile.TemporaryFile()
        pid = os.fork()
        if pid == 0:  # worker: one result line per case, flushed, so a crash loses none
            os.close(r)
            os.dup2(err.fileno(), 2)
            with os.fdopen(w, "w") as f:
                for line in lines[i:]:
                    f.write(result_line(line))
                    f.flush()
            os._exit(0)
        os.close(w)
        done = 0
        with os.fdopen(r) as f:
            for res in f:
                out.write(res)
                done += 1
        _, status = os.waitpid(pid, 0)
        i += done
        if i < len(lines):
            err.seek(0)
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-3:]
            how = ("signal %d" % os.WTERMSIG(status)) if os.WIFSIGNALED(status) else ("status %d" % os.WEXITSTATUS(status))
            msg = "unicorn process died (%s) on this case%s" % (how, (": " + " | ".join(tail)) if tail else "")
            out.write(json.dumps({"id": case_id(lines[i]), "exit": {"kind": "error", "message": msg},
                                  "regs": {}, "memory": []}, separators=(",", ":")) + "\n")
            i += 1
        err.close()
    out.flush()


if __name__ == "__main__":
    main()
