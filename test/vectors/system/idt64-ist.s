# 64-bit IDT delivery with and without the interrupt stack table (SDM Vol. 3A 6.14).
#
# Own GDT at 0x14000 (ring 0 and ring 3 64-bit code and data, a 64-bit TSS descriptor),
# TSS at 0x16000 with RSP0 = 0x40008 and IST1 = 0x50008 (both 8 bytes off a 16-byte
# boundary), IDT at 0x15000 (256 gates, only vectors 0 and 3 present):
#   vector 0 (#DE): 64-bit interrupt gate, DPL 0, IST = 1
#   vector 3 (#BP): 64-bit interrupt gate, DPL 3 (INT3 from CPL 3 passes the gate DPL
#                   check, SDM 6.12.1.1), IST = 0
# The emulator's page tables (all RAM identity-mapped, user, writable) stay in use, so
# ring 3 runs the code where it is.
#
# Four events, each from a known RSP and RFLAGS, at a fixed address (.org):
#   A  #DE at CPL 0 (DIV by 0 at base + 0x400), RSP = 0x30008, RFLAGS = 0xc3
#   B  INT3 at CPL 0 (base + 0x480), RSP = 0x30008, RFLAGS = 0x8d7
#   C  INT3 at CPL 3 (base + 0x500), RSP = 0x60008, RFLAGS = 0x97
#   D  #DE at CPL 3 (DIV by 0 at base + 0x580), RSP = 0x6fff0, RFLAGS = 0x806
# Each handler stores, at RDI, 8 qwords: the RSP it started with, the SS it started
# with, the frame the processor pushed (RIP, CS, RFLAGS, RSP, SS; neither vector has
# an error code, SDM 6.15), and the vector; then it continues in ring 0 at R15 on the
# kernel stack (no IRETQ). HLT with R14 = 0x600d at the end.
#
# What the SDM says the handler sees:
#  - the new RSP: IST1 when the gate's IST field is 1, whatever the CPL (6.14.5); else
#    RSP0 from the TSS on a change to CPL 0 (6.14.4); else the current RSP. Then "the
#    RSP is aligned to a 16-byte boundary before pushing the stack frame" (6.14.2), and
#    five 8-byte pushes: entry RSP = (new RSP & ~0xf) - 40.
#  - SS: unchanged without a CPL change (IST loads no SS); on a CPL change SS becomes a
#    null selector with RPL = the new CPL (6.14.4): 0.
#  - the frame: SS:RSP are always pushed in 64-bit mode (6.14.2), as 8-byte zero-extended
#    values; RIP is the faulting instruction for #DE (a fault) and the next one for INT3
#    (a trap, 6.5 and 6.15); the RFLAGS image has RF = 1 for a fault and the value of RF
#    (0) for a software interrupt (18.3.1.1).

        .set GDT, 0x14000
        .set IDT, 0x15000
        .set TSS, 0x16000
        .set RESULTS, 0x17000
        .set KSTACK, 0x30000
        .set KCODE, 0x08
        .set KDATA, 0x10
        .set UDATA, 0x18 | 3
        .set UCODE, 0x20 | 3
        .set TSSSEL, 0x28

        # A 64-bit interrupt gate (SDM 6.14.1, figure "64-Bit IDT Gate Descriptors"):
        # offset 15:0, selector, IST (byte 4, bits 2:0), type/DPL/P (byte 5),
        # offset 31:16, offset 63:32, reserved.
        .macro gate vec, handler, ist, access
        lea \handler(%rip), %rax
        mov %ax, IDT + \vec * 16
        movw $KCODE, IDT + \vec * 16 + 2
        movb $\ist, IDT + \vec * 16 + 4
        movb $\access, IDT + \vec * 16 + 5
        shr $16, %rax
        mov %ax, IDT + \vec * 16 + 6
        shr $16, %rax
        mov %eax, IDT + \vec * 16 + 8
        .endm

        # IRETQ to ring 3 at `target` with RSP `rsp` and RFLAGS `flags`; the event there
        # brings the processor back to ring 0 and the handler continues after the IRETQ.
        .macro to_ring3 target, rsp, flags
        lea 1f(%rip), %r15
        pushq $UDATA
        pushq $\rsp
        pushq $\flags
        pushq $UCODE
        pushq $\target
        iretq
1:
        .endm

        .text
        .code64
start:
        mov $KSTACK, %rsp
        cld
        lea gdt(%rip), %rsi
        mov $GDT, %edi
        mov $gdt_end - gdt, %ecx
        rep movsb
        lgdt gdtr
        pushq $KCODE
        lea 2f(%rip), %rax
        push %rax
        lretq                           # CS = 0x08 from the new GDT
2:      mov $KDATA, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        movq $0x40008, TSS + 4          # RSP0 (64-bit TSS offset 4, SDM 8.7)
        movq $0x50008, TSS + 0x24       # IST1 (offset 0x24)
        mov $TSSSEL, %ax
        ltr %ax

        mov $IDT, %edi
        xor %eax, %eax
        mov $512, %ecx
        rep stosq
        gate 0, de_handler, 1, 0x8e     # P, DPL 0, type 0xE; IST1
        gate 3, bp_handler, 0, 0xee     # P, DPL 3, type 0xE; no IST
        lidt idtr

        mov $RESULTS, %edi
        xor %ecx, %ecx                  # the divisor of both DIVs
        mov $1, %eax
        xor %edx, %edx

        # A: #DE at CPL 0 through IST1. MOV and JMP leave the flags POPFQ set.
        lea 3f(%rip), %r15
        mov $0x30008, %rsp
        pushq $0xc3                     # CF, bit 1, ZF, SF
        popfq
        jmp de_cpl0
3:
        # B: INT3 at CPL 0, no IST, no CPL change: the current RSP, aligned.
        lea 4f(%rip), %r15
        mov $0x30008, %rsp
        pushq $0x8d7                    # CF, bit 1, PF, AF, ZF, SF, OF
        popfq
        jmp bp_cpl0
4:
        # C: INT3 at CPL 3, no IST: RSP0.
        to_ring3 bp_cpl3, 0x60008, 0x97         # CF, bit 1, PF, AF, SF
        # D: #DE at CPL 3 through IST1 (IST wins over RSP0).
        to_ring3 de_cpl3, 0x6fff0, 0x806        # bit 1, PF, OF

        mov $0x600d, %r14d
        hlt

        # ---- handlers: 8 qwords at RDI, then on to R15 in ring 0.
de_handler:
        mov %rsp, (%rdi)                # RSP at entry
        movq $0, 56(%rdi)               # vector 0
        jmp record
bp_handler:
        mov %rsp, (%rdi)
        movq $3, 56(%rdi)               # vector 3
record:
        xor %eax, %eax
        mov %ss, %ax
        mov %rax, 8(%rdi)               # SS at entry
        mov (%rsp), %rax
        mov %rax, 16(%rdi)              # frame: RIP
        mov 8(%rsp), %rax
        mov %rax, 24(%rdi)              #        CS
        mov 16(%rsp), %rax
        mov %rax, 32(%rdi)              #        RFLAGS
        mov 24(%rsp), %rax
        mov %rax, 40(%rdi)              #        RSP
        mov 32(%rsp), %rax
        mov %rax, 48(%rdi)              #        SS
        add $64, %rdi
        mov $KDATA, %ax
        mov %ax, %ss
        mov $KSTACK, %rsp
        jmp *%r15

        .balign 8
gdt:
        .quad 0
        .quad 0x00af9a000000ffff        # 0x08 code, 64-bit (L), DPL 0
        .quad 0x00cf92000000ffff        # 0x10 data, DPL 0
        .quad 0x00cff2000000ffff        # 0x18 data, DPL 3
        .quad 0x00affa000000ffff        # 0x20 code, 64-bit (L), DPL 3
        .quad 0x0000890160000067        # 0x28 TSS: base 0x16000, limit 0x67, type 9 (available 64-bit TSS), P
        .quad 0                         #      base 63:32
gdt_end:
gdtr:
        .word gdt_end - gdt - 1
        .quad GDT
idtr:
        .word 256 * 16 - 1
        .quad IDT

        # ---- the events, at fixed addresses. Should one not happen, the HLT after it
        # (at CPL 3: #GP, whose gate is not present) ends the run differently.
        .org 0x400
de_cpl0:
        div %rcx                        # base + 0x400
        hlt
        .org 0x480
bp_cpl0:
        int3                            # base + 0x480; returns to + 0x481
        hlt
        .org 0x500
bp_cpl3:
        int3                            # base + 0x500; returns to + 0x501
        hlt
        .org 0x580
de_cpl3:
        div %rcx                        # base + 0x580
        hlt
