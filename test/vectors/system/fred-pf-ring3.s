# fred-pf-ring3: a page fault in ring 3 delivered by FRED.
#
# Starts in long64 at CPL0 (built-in GDT: 0x08 code64 DPL0, 0x10 data, 0x28 data DPL3,
# 0x30 code64 DPL3) with the case's "entry" at `start` (base + 0x200). The image is laid
# out with .org so every address below is fixed by hand:
#
#   0x100000  FRED entry page: ring-3 entry (page + 0)           spec §2.1 "Entry page"
#   0x100100  ring-0 entry (page + 0x100): must not be reached
#   0x100200  start: paging edit, FRED MSRs, CR4.FRED, ERETU
#   0x100400  ring-3 code
#   0x100500  the faulting store
#   0x100600  K marker (GS base), 0x100608 U marker (KERNEL_GS_BASE)
#
# Other addresses (all RAM, identity-mapped by the built-in tables):
#   0x170000  kernel stack used to build the ERETU frame
#   0x180000  IA32_FRED_RSP0: the event frame lands at 0x180000 - 64 = 0x17ffc0
#   0x160000  ring-3 RSP
#   0x190000  results: the 64-byte frame copied by the handler
#   0x800000  2 MiB page made not-present (PDE 4 of the built-in identity map)
#
# References: /work/shared/spec/fred-syscall-pv.md (below "spec") §2.1 (enable, MSRs,
# CONFIG layout, STAR under FRED), §2.3 (delivery, frame, SS word), §2.5 (ERETU);
# SDM Vol. 3A §4.7 (#PF error code), Vol. 3B §17.3.1.1 "Instruction-Breakpoint Exception
# Condition" (RF pushed as 1 for fault-class exceptions).

        .code64
        .text

# ---------------------------------------------------------------------------------------
# 0x100000: ring-3 event entry (IA32_FRED_CONFIG page + 0, spec §2.1/§2.3 step 1).
# On arrival (spec §2.3): RSP = IA32_FRED_RSP0 - 64, RFLAGS = 2, CS/SS from STAR[47:32],
# GS base swapped with KERNEL_GS_BASE, no GPR changed.
fred_entry_r3:
        mov     %rsp, %rbx              # rbx := RSP at entry (expect 0x180000 - 64)
        pushfq                          # RFLAGS at the handler, before any instruction
        pop     %rbp                    # that writes flags (expect 0x2)
        mov     %rbx, %rsi              # copy the 8 qwords of the frame to 0x190000
        mov     $0x190000, %edi         # (DF = 0 since RFLAGS = 2)
        mov     $8, %ecx
        rep movsq
        mov     %gs:0, %r12             # read through the live GS base: the K marker
        mov     $0xc0000101, %ecx       # IA32_GS_BASE
        rdmsr
        shl     $32, %rdx
        or      %rdx, %rax
        mov     %rax, %r13              # r13 := GS base (expect K = 0x100600)
        mov     $0xc0000102, %ecx       # IA32_KERNEL_GS_BASE
        rdmsr
        shl     $32, %rdx
        or      %rdx, %rax
        mov     %rax, %r14              # r14 := KERNEL_GS_BASE (expect U = 0x100608)
        .org    0x40, 0x90              # (pins the HLT at 0x100040; as fails if code grows)
handler_hlt:
        hlt                             # regs.rip ends just after this byte

# ---------------------------------------------------------------------------------------
# 0x100100: ring-0 event entry (page + 256). An event at CPL0 means the program went wrong.
        .org    0x100, 0xf4
fred_entry_r0:
        mov     $0xbad0, %r15d
        hlt

# ---------------------------------------------------------------------------------------
# 0x100200: start (case "entry").
        .org    0x200, 0xf4
start:
        mov     $0x170000, %rsp         # a kernel stack (the case starts with RSP = 0)

        # FRED is CPUID.(EAX=7,ECX=1):EAX[17] (spec §2.1).
        mov     $7, %eax
        mov     $1, %ecx
        cpuid
        bt      $17, %eax
        jnc     no_fred

        # Make 0x800000..0x9fffff not present: walk the built-in tables from CR3
        # (PML4[0] -> PDPT[0] -> PD) and clear P in PDE 4 (2 MiB page at 0x800000).
        movabs  $0x000ffffffffff000, %r8  # physical-address bits of an entry
        mov     %cr3, %rax
        and     %r8, %rax               # PML4
        mov     (%rax), %rax            # PML4E 0
        and     %r8, %rax               # PDPT
        mov     (%rax), %rax            # PDPTE 0
        and     %r8, %rax               # PD of the first GiB
        andq    $~1, 4*8(%rax)          # PDE 4: P := 0
        mov     %cr3, %rax              # reload CR3: drop any cached translation
        mov     %rax, %cr3

        # FRED MSRs (spec §2.1).
        mov     $0x1d4, %ecx            # IA32_FRED_CONFIG: entry page 0x100000, CSL 0,
        mov     $fred_entry_r3, %eax    # no red zone, interrupt stack level 0
        xor     %edx, %edx
        wrmsr
        mov     $0x1cc, %ecx            # IA32_FRED_RSP0 = 0x180000 (64-byte aligned)
        mov     $0x180000, %eax
        xor     %edx, %edx
        wrmsr
        mov     $0x1d0, %ecx            # IA32_FRED_STKLVLS = 0: every vector at level 0
        xor     %eax, %eax
        xor     %edx, %edx
        wrmsr
        mov     $0xc0000081, %ecx       # IA32_STAR: [47:32] = 0x0008 (events from ring 3
        xor     %eax, %eax              # get CS 0x08, SS 0x10), [63:48] = 0x0023 (ERETU's
        mov     $0x00230008, %edx       # flat 64-bit path: CS 0x33, SS 0x2b, spec §2.5)
        wrmsr
        mov     $0xc0000101, %ecx       # IA32_GS_BASE = K (0x100600)
        mov     $kmark, %eax
        xor     %edx, %edx
        wrmsr
        mov     $0xc0000102, %ecx       # IA32_KERNEL_GS_BASE = U (0x100608)
        mov     $umark, %eax
        xor     %edx, %edx
        wrmsr

        # CR4.FRED is bit 32 (spec §2.1).
        mov     %cr4, %rax
        bts     $32, %rax
        mov     %rax, %cr4

        # ERETU frame (spec §2.5): [rsp] error code (skipped), +8 RIP, +0x10 CS word,
        # +0x18 RFLAGS, +0x20 RSP, +0x28 SS word. CS 0x33 / SS 0x2b = STAR[63:48] + 16 / + 8:
        # the flat 64-bit path. RFLAGS 0xa83 = OF | IF | SF | bit 1 | CF (passes the ERETU
        # check: IOPL 0, VM 0, reserved bits clear, bit 1 set).
        pushq   $0x2b                   # SS word
        pushq   $0x160000               # RSP
        pushq   $0xa83                  # RFLAGS
        pushq   $0x33                   # CS word
        pushq   $user_code              # RIP
        pushq   $0                      # error code slot
        .byte   0xf3, 0x0f, 0x01, 0xca  # ERETU (binutils 2.40 lacks the mnemonic):
                                        # CPL 3, and GS base <-> KERNEL_GS_BASE (spec §2.5)

no_fred:
        mov     $0xbad1, %r15d          # no FRED in CPUID: stop here
        hlt

# ---------------------------------------------------------------------------------------
# 0x100400: ring 3.
        .org    0x400, 0xf4
user_code:
        mov     %gs:0, %r9              # through GS base = U after ERETU's swap: U marker
        mov     $0x800abc, %edi         # an address in the not-present 2 MiB page
        jmp     fault_insn

        .org    0x500, 0xf4
fault_insn:                             # 0x100500
        movl    $0x12345678, (%rdi)     # #PF: P=0, W=1, U=1 -> error code 0x6; CR2 = 0x800abc
        jmp     .                       # never reached

# ---------------------------------------------------------------------------------------
        .org    0x600, 0xf4
kmark:  .quad   0x4b4b4b4b00000001      # 0x100600: "K" marker, the kernel GS base
umark:  .quad   0x5555555500000003      # 0x100608: "U" marker, the user GS base
