# syscall-fred-legacy: the same ring-3 SYSCALL with and without FRED.
#
# Starts in long64 at CPL0 (case "entry" = `start`, base + 0x200). Layout (.org):
#
#   0x100000  the kernel entry: IA32_LSTAR target (legacy) and FRED CONFIG page + 0
#   0x100100  FRED ring-0 entry (page + 0x100): must not be reached
#   0x100180  `wrong`: what IA32_LSTAR points at under FRED (must not be reached)
#   0x100200  start
#   0x100400  ring-3 code: RCX, R11 := sentinels, SYSCALL at 0x100414
#
#   0x170000  kernel stack for the IRETQ / ERETU frame
#   0x180000  IA32_FRED_RSP0
#   0x160000  ring-3 RSP
#   0x190000  results: the FRED frame copied by the handler
#
# Both paths: EFER.SCE = 1 (the #UD check applies under FRED too, spec §2.4),
# IA32_STAR = 0x0023_0008 << 32, IA32_FMASK = 0x44701 (AC | NT | DF | IF | TF | CF).
# Legacy (no FRED in CPUID): IA32_LSTAR = 0x100000, ring 3 through IRETQ.
# FRED: IA32_LSTAR = `wrong`, CONFIG = 0x100000, RSP0 = 0x180000, CR4.FRED, ring 3
# through ERETU.
#
# References: /work/shared/spec/fred-syscall-pv.md ("spec") §1.1-1.2 (legacy SYSCALL),
# §2.1, §2.3, §2.4 (FRED SYSCALL), §2.5 (ERETU); SDM Vol. 2B SYSCALL and IRET.

        .code64
        .text

# ---------------------------------------------------------------------------------------
# 0x100000: the kernel entry for SYSCALL on both paths.
syscall_entry:
        mov     %rcx, %r12              # RCX at entry (legacy: next RIP; FRED: unchanged)
        mov     %r11, %r13              # R11 at entry (legacy: RFLAGS; FRED: unchanged)
        mov     %rsp, %rbx              # RSP at entry (legacy: unchanged; FRED: RSP0 - 64)
        pushfq                          # RFLAGS at the entry, before any flag write
        pop     %rbp
        mov     %cr4, %rax
        bt      $32, %rax               # CR4.FRED?
        jnc     entry_done
        mov     %rbx, %rsi              # FRED: copy the 64-byte frame to 0x190000
        mov     $0x190000, %edi         # (DF = 0: RFLAGS = 2)
        mov     $8, %ecx
        rep movsq
        .org    0x25, 0x90              # pins the HLT at 0x100025 (as fails if code grows)
entry_done:
        hlt

# ---------------------------------------------------------------------------------------
        .org    0x100, 0xf4
fred_entry_r0:                          # 0x100100: an event at CPL0: wrong
        mov     $0xbad0, %r15d
        hlt

        .org    0x180, 0xf4
wrong:                                  # 0x100180: IA32_LSTAR under FRED: never used
        mov     $0xbad2, %r15d
        hlt

# ---------------------------------------------------------------------------------------
        .org    0x200, 0xf4
start:                                  # 0x100200
        mov     $0x170000, %rsp

        # Common: EFER.SCE (spec §1.1, §2.4), STAR, FMASK.
        mov     $0xc0000080, %ecx       # IA32_EFER |= SCE (bit 0)
        rdmsr
        or      $1, %eax
        wrmsr
        mov     $0xc0000081, %ecx       # IA32_STAR: [47:32] 0x0008 -> CS 0x08 / SS 0x10 on
        xor     %eax, %eax              # SYSCALL and on FRED events from ring 3;
        mov     $0x00230008, %edx       # [63:48] 0x0023 -> ERETU flat path CS 0x33 / SS 0x2b
        wrmsr
        mov     $0xc0000084, %ecx       # IA32_FMASK = AC | NT | DF | IF | TF | CF
        mov     $0x44701, %eax
        xor     %edx, %edx
        wrmsr

        # FRED is CPUID.(EAX=7,ECX=1):EAX[17] (spec §2.1).
        mov     $7, %eax
        mov     $1, %ecx
        cpuid
        bt      $17, %eax
        jc      fred_setup

        # Legacy: SYSCALL from 64-bit mode goes to IA32_LSTAR (spec §1.2).
        mov     $0xc0000082, %ecx
        mov     $syscall_entry, %eax
        xor     %edx, %edx
        wrmsr
        # IRETQ to ring 3: SS, RSP, RFLAGS, CS, RIP. RFLAGS 0x40ed7 = AC | OF | DF | IF |
        # SF | ZF | AF | PF | bit 1 | CF.
        pushq   $0x2b
        pushq   $0x160000
        pushq   $0x40ed7
        pushq   $0x33
        pushq   $user_code
        iretq

fred_setup:
        mov     $0xc0000082, %ecx       # IA32_LSTAR = `wrong`: FRED must not use it
        mov     $wrong, %eax            # (spec §2.1, §2.4)
        xor     %edx, %edx
        wrmsr
        mov     $0x1d4, %ecx            # IA32_FRED_CONFIG: entry page 0x100000, CSL 0,
        mov     $syscall_entry, %eax    # no red zone
        xor     %edx, %edx
        wrmsr
        mov     $0x1cc, %ecx            # IA32_FRED_RSP0 = 0x180000
        mov     $0x180000, %eax
        xor     %edx, %edx
        wrmsr
        mov     $0x1d0, %ecx            # IA32_FRED_STKLVLS = 0
        xor     %eax, %eax
        xor     %edx, %edx
        wrmsr
        mov     %cr4, %rax              # CR4.FRED (bit 32)
        bts     $32, %rax
        mov     %rax, %cr4
        # ERETU frame (spec §2.5): error code slot, RIP, CS word, RFLAGS, RSP, SS word.
        pushq   $0x2b
        pushq   $0x160000
        pushq   $0x40ed7
        pushq   $0x33
        pushq   $user_code
        pushq   $0
        .byte   0xf3, 0x0f, 0x01, 0xca  # ERETU

# ---------------------------------------------------------------------------------------
# 0x100400: ring 3 (CS 0x33, SS 0x2b, RFLAGS 0x40ed7, RSP 0x160000). MOVs write no flags.
        .org    0x400, 0xf4
user_code:
        movabs  $0x1111222233334444, %rcx   # 10 bytes
        movabs  $0x5555666677778888, %r11   # 10 bytes
        syscall                             # 0x100414; the next instruction is 0x100416
after_syscall:
        jmp     .                           # never reached
