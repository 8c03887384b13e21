# Triple fault in real-address mode: LIDT with limit 0, then #DE (SDM Vol. 3 21.1.4
# "Interrupt and Exception Handling" of the 8086 emulation chapter, 20.1.4 before the
# 2023 renumbering; 6.15 "Interrupt 8", Table 6-5; Vol. 2A INT n/INTO/INT3/INT1,
# real-address-mode operation).
#
#  1. With the IVT as reset leaves it (base 0, limit 0x3ff) INT3 goes through vector 3's
#     entry at 0x0c (set here to bp_handler), which stores 0xb3 at 0x9000 and IRETs;
#     0x9002 = 1 after it.
#  2. LIDT with limit 0 (base 0).
#  3. DIV by 0: #DE, vector 0. In real-address mode an interrupt or exception whose
#     4-byte IVT entry (vector * 4 .. vector * 4 + 3) is not within the IDTR limit raises
#     #GP (INT n operation: "IF ((vector_number << 2) + 3) is not within IDT limit THEN
#     #GP"); with limit 0 no entry is. #DE then #GP: contributory twice: #DF (Table 6-5).
#  4. #DF, vector 8, is beyond the limit as well: an exception while calling the
#     double-fault handler: shutdown, the triple fault. 0x9004 is never written.

        .text
        .code16
start:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7000, %sp
        movw $bp_handler, 3 * 4         # IVT entry 3: offset
        movw $0, 3 * 4 + 2              #              segment
        int3
        movw $1, 0x9002
        lidt idtr0
        mov $1, %ax
        xor %cl, %cl
        div %cl                         # #DE -> #GP -> #DF -> shutdown
        movw $2, 0x9004
        hlt

bp_handler:
        movw $0xb3, 0x9000
        iret

idtr0:
        .word 0                         # limit 0: not even vector 0's entry fits
        .long 0
