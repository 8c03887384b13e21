# Triple fault in 64-bit mode through an IDT too short for the exception (SDM Vol. 3A
# 6.14.1, 6.15 "Interrupt 8", Table 6-5).
#
# The IDT at 0x15000 has limit 0xf: exactly one 16-byte gate, vector 0 (#DE), a 64-bit
# interrupt gate to de_handler through the emulator's 64-bit code segment 0x08.
#  1. DIV by 0: #DE; vector 0's gate (bytes 0..15) is within the limit, so the handler
#     runs: it stores 0xde at 0x17000 and continues at R15 (proving the limit is
#     inclusive: gate bytes up to IDT base + 15 = base + limit are usable).
#  2. 0x17008 = 1, then UD2: #UD, vector 6. Its gate would end at 6 * 16 + 15 > limit,
#     so delivery raises #GP (error code 6 * 16 + 2 + EXT, SDM 6.14.1: the gate must lie
#     within the IDT limit). #UD is benign, so the #GP is delivered on its own (Table 6-5).
#  3. #GP, vector 13, gate beyond the limit too: a second #GP during the delivery of a
#     #GP: contributory then contributory, so #DF (Table 6-5).
#  4. #DF, vector 8, also beyond the limit: a contributory exception while calling the
#     double-fault handler: the processor enters shutdown (6.15, Interrupt 8): the
#     triple fault. 0x17010 is never written.

        .set IDT, 0x15000
        .set RESULTS, 0x17000

        .text
        .code64
start:
        mov $0x30000, %rsp
        lea de_handler(%rip), %rax      # vector 0: 64-bit interrupt gate (SDM 6.14.1)
        mov %ax, IDT                    #   offset 15:0
        movw $0x08, IDT + 2             #   selector: the emulator's 64-bit code segment
        movw $0x8e00, IDT + 4           #   IST 0; P, DPL 0, type 0xE
        shr $16, %rax
        mov %ax, IDT + 6                #   offset 31:16
        shr $16, %rax
        mov %eax, IDT + 8               #   offset 63:32
        movl $0, IDT + 12
        lidt idtr

        mov $RESULTS, %edi
        lea 1f(%rip), %r15
        mov $1, %eax
        xor %edx, %edx
        xor %ecx, %ecx
        div %ecx                        # #DE: delivered through vector 0
        movq $-1, (%rdi)                # (only if there was no #DE)
1:      movq $1, RESULTS + 8
        ud2                             # #UD -> #GP -> #DF -> shutdown
        movq $2, RESULTS + 0x10
        hlt

de_handler:
        movq $0xde, (%rdi)
        mov $0x30000, %rsp
        jmp *%r15

idtr:
        .word 16 - 1                    # one 16-byte gate: vector 0 only
        .quad IDT
