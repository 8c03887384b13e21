# RF, the resume flag, around a fault and IRETQ (SDM Vol. 3A 18.3.1.1): the RFLAGS image
# pushed for a fault-class exception has RF = 1, IRETQ loads it, and the processor clears
# it again when the next instruction completes.
#
#   ud2            #UD (a fault): the handler stores the pushed RFLAGS (RF = 1 expected),
#                  steps the return RIP over the UD2 and returns with IRETQ
#   nop            runs with RF = 1, which is cleared when it completes
#   int3           #BP (a trap): its image has RF = 0; the handler stores it and halts
#
# long64 at CPL 0, exceptions "deliver"; the program builds its own 64-bit IDT.

        .set RESULTS, 0x180000
        .set IDT, 0x181000

        .macro gate vector, handler
        lea \handler(%rip), %rax
        mov %ax, IDT + 16 * \vector             # offset 15:0
        movw $0x08, IDT + 16 * \vector + 2      # selector: the built-in 64-bit code
        movw $0x8e00, IDT + 16 * \vector + 4    # present, DPL 0, 64-bit interrupt gate
        shr $16, %rax
        mov %ax, IDT + 16 * \vector + 6         # offset 31:16
        shr $16, %rax
        mov %eax, IDT + 16 * \vector + 8        # offset 63:32
        .endm

        .code64
        .text
start:
        mov $0x170000, %rsp
        gate 6, ud_handler
        gate 3, bp_handler
        lidt idtr
        pushq $0x2
        popfq                                   # RFLAGS = 2: all flags known
faulting:
        ud2
        nop
        int3
        hlt                                     # not reached

ud_handler:
        mov 16(%rsp), %rax                      # frame: RIP, CS, RFLAGS, RSP, SS
        mov %rax, RESULTS
        addq $2, (%rsp)                         # return after the UD2
        iretq

bp_handler:
        mov 16(%rsp), %rax
        mov %rax, RESULTS + 8
        pushfq                                  # the handler's own RFLAGS (PUSHF clears RF in any case)
        popq RESULTS + 16
        hlt

idtr:
        .word 16 * 7 - 1
        .quad IDT
