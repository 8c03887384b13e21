# sysret-noncanonical: SYSRETQ with a non-canonical RCX (the XSA-7 / CVE-2012-0217 case).
#
# Starts in long64 at CPL0 at base 0x100000; the case's exceptions are "stop", so the
# first exception ends the run.
#
#   Intel: SYSRETQ checks RCX before any state change and raises #GP(0) at the SYSRET
#          itself, still at CPL0 (CS 0x08, SS 0x10).
#   AMD:   SYSRETQ completes: RIP := RCX = 0x0000800000000000, CS 0x33, SS 0x2b, CPL3,
#          RFLAGS := R11; the #GP(0) comes from fetching at the non-canonical RIP.
#
# References: /work/shared/spec/fred-syscall-pv.md ("spec") §1.1 (MSRs), §1.3 (SYSRET,
# the Intel-only non-canonical #GP; Xen x86_emulate.c sysret case); SDM Vol. 2B SYSRET.

        .code64
        .text
start:
        mov     $0x170000, %rsp         # a stack for the PUSH/POPF below (RSP starts at 0)
        mov     $0xc0000080, %ecx       # IA32_EFER |= SCE (bit 0): SYSRET is #UD without it
        rdmsr
        or      $1, %eax
        wrmsr
        mov     $0xc0000081, %ecx       # IA32_STAR[63:48] = 0x0023: SYSRETQ gives
        xor     %eax, %eax              # CS = (0x23 + 16) | 3 = 0x33, SS = (0x23 + 8) | 3 = 0x2b
        mov     $0x00230008, %edx       # ([47:32] = 0x0008, unused here)
        wrmsr
        movabs  $0x0000800000000000, %rcx   # bit 47 set, bits 63:48 clear: not canonical
        mov     $0x202, %r11d           # RFLAGS for SYSRET: IF | bit 1
        pushq   $0x883                  # RFLAGS before SYSRET = OF | SF | bit 1 | CF, so a
        popfq                           # SYSRET that changed nothing is visible (0x883, not
                                        # the 0x202 from R11); nothing below writes flags
        .org    0x40, 0x90              # pins SYSRETQ at 0x100040 (as fails if code grows)
sysret_insn:
        sysretq                         # 48 0f 07
        hlt                             # never reached
