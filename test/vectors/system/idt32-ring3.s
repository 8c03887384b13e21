# 32-bit protected mode with a ring-3 task: IDT delivery from CPL 3 through an interrupt
# gate, a #GP with an IDT error code, a fault through a trap gate, IRETD back to ring 3
# each time, and a far CALL through a call gate with two parameters, RETF back.
# SDM Vol. 3A 5.8.4-5.8.6 (call gates, stack switching, parameter copy), 5.8.7 (return
# to the calling procedure), 6.11-6.13 (IDT gates, delivery, error codes), 8.2.1 and
# 8.7 (32-bit TSS: ESP0/SS0), 8.2.4 (LTR marks the TSS busy); Vol. 2A INT n, IRET, CALL,
# Vol. 2B RET.
#
# Own tables: GDT at 0x20000 (a copy of `gdt`; the call gate's offset is filled in at
# run time), 256-entry IDT at 0x21000, 32-bit TSS at 0x22000 with ESP0 = 0x30000, SS0 =
# 0x10. Every IDT entry is a DPL-0 interrupt gate to `unexpected` (HLT, EBX = 0xbad)
# except:
#   vector 0    (#DE)  32-bit trap gate, DPL 0        -> de_handler
#   vector 13   (#GP)  32-bit interrupt gate, DPL 0   -> gp_handler
#   vector 0x80        32-bit interrupt gate, DPL 3   -> int80_handler
#   vector 0x81        32-bit interrupt gate, DPL 0   (INT 0x81 from CPL 3 must #GP)
#
# Ring 3 (CS 0x1b, SS 0x23, ESP 0x3fff0, EFLAGS 0xad7 = CF PF AF ZF SF IF OF and bit 1)
# is entered with IRETD. Before it, DS = 0x10 (data, DPL 0), ES = 0x08 (readable code,
# non-conforming, DPL 0), FS = 0x23 (data, DPL 3), GS = 0x38 (readable conforming code,
# DPL 0). Ring 3 stores its segment registers (at R3INFO), reloads DS and ES with 0x23,
# then: INT 0x80; INT 0x81; DIV ECX with ECX = 0; pushes 0x11111111 then 0x22222222 and
# calls through the call gate 0x33 (DPL 3, target 0x08:gate_target, 2 parameters);
# the target returns with RETF 8. Ring 3 stores its state again and jumps to the end of
# the program (exit `end`, still at CPL 3). No ring-3 instruction between the events
# changes EFLAGS, so every frame sees the same flags.
#
# Each handler stores a 0x30-byte record at EDI and advances EDI:
#   +0x00 vector (0xca11 for the call gate)   +0x04 ESP at the first handler instruction
#   +0x08 SS in the handler                   +0x0c EFLAGS in the handler (PUSHFD first)
#   +0x10 error code (0xeeeeeeee: none)       +0x14 frame EIP   +0x18 frame CS
#   +0x1c frame EFLAGS   +0x20 frame ESP   +0x24 frame SS      +0x28 CS in the handler
# (for the call gate: +0x10 EIP, +0x14 CS, +0x18 and +0x1c the two copied parameters as
# they lie on the new stack, +0x20 ESP, +0x24 SS). CS and SS slots of a frame are stored
# as their low 16 bits: the SDM pushes a selector "padded" to 32 bits and does not
# define the padding. Handlers write through SS (0x10 in ring 0) and use only EAX, EBX.
# #GP and #DE are faults: their frame EIP is the faulting instruction, so those handlers
# replace the frame EIP with the label after it (ev_div, after_div) before IRETD; the
# record keeps the EIP the processor pushed.

        .set GDT, 0x20000
        .set IDT, 0x21000
        .set TSS, 0x22000
        .set RESULTS, 0x23000
        .set R3INFO, 0x23800
        .set KSTACK, 0x30000
        .set USTACK, 0x3fff0
        .set KCODE, 0x08
        .set KDATA, 0x10
        .set UCODE, 0x18 | 3
        .set UDATA, 0x20 | 3
        .set TSSSEL, 0x28
        .set CALLGATE, 0x30 | 3
        .set CONFORMING, 0x38
        .set NOERR, 0xeeeeeeee

        # A 32-bit IDT gate (SDM 6.11, figure 6-2): offset 15:0, selector, then the
        # access word (P, DPL, type 0xE interrupt / 0xF trap), offset 31:16.
        .macro gate vec, handler, access
        mov $\handler, %eax
        mov %ax, IDT + \vec * 8
        movw $KCODE, IDT + \vec * 8 + 2
        movw $\access, IDT + \vec * 8 + 4
        shr $16, %eax
        mov %ax, IDT + \vec * 8 + 6
        .endm

        # The start of every handler: its own EFLAGS, the vector, ESP, SS and CS.
        .macro record vec
        pushfl
        popl %ss:0x0c(%edi)
        movl $\vec, %ss:(%edi)
        mov %esp, %ss:4(%edi)
        movw %ss, %ss:8(%edi)
        movw %cs, %ss:0x28(%edi)
        .endm

        .text
        .code32
start:
        cli
        cld
        mov $KSTACK, %esp

        # ---- GDT, with the call gate (SDM 5.8.3, figure 5-8): offset 15:0, selector,
        # parameter count (bits 4:0 of byte 4), access byte 0xec = P, DPL 3, type 0xC
        # (32-bit call gate), offset 31:16.
        mov $gdt, %esi
        mov $GDT, %edi
        mov $gdt_end - gdt, %ecx
        rep movsb
        mov $gate_target, %eax
        mov %ax, GDT + 0x30
        movw $KCODE, GDT + 0x30 + 2
        movw $0xec02, GDT + 0x30 + 4    # count 2, access 0xec
        shr $16, %eax
        mov %ax, GDT + 0x30 + 6
        lgdt gdtr
        ljmp $KCODE, $1f
1:      mov $KDATA, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $KSTACK, %esp

        # ---- TSS (SDM 8.2.1, figure 8-2: ESP0 at 4, SS0 at 8), LTR (marks it busy).
        mov $TSS, %edi
        xor %eax, %eax
        mov $0x68 >> 2, %ecx
        rep stosl
        movl $KSTACK, TSS + 4
        movl $KDATA, TSS + 8
        movw $0x68, TSS + 0x66          # I/O map base past the limit: no bitmap
        mov $TSSSEL, %ax
        ltr %ax

        # ---- IDT
        xor %ebx, %ebx
2:      mov $unexpected, %eax
        mov %ax, IDT(,%ebx,8)
        movw $KCODE, IDT + 2(,%ebx,8)
        movw $0x8e00, IDT + 4(,%ebx,8)
        shr $16, %eax
        mov %ax, IDT + 6(,%ebx,8)
        inc %ebx
        cmp $256, %ebx
        jne 2b
        gate 0, de_handler, 0x8f00      # trap gate, DPL 0
        gate 13, gp_handler, 0x8e00     # interrupt gate, DPL 0
        gate 0x80, int80_handler, 0xee00  # interrupt gate, DPL 3
        lidt idtr

        # ---- the data segment registers the IRETD to ring 3 checks (SDM Vol. 2A IRET,
        # RETURN-TO-OUTER-PRIVILEGE-LEVEL: a data or non-conforming code segment with
        # DPL < the new CPL is replaced by a null selector; conforming code is kept).
        mov $0x08, %ax
        mov %ax, %es
        mov $UDATA, %ax
        mov %ax, %fs
        mov $CONFORMING, %ax
        mov %ax, %gs

        mov $RESULTS, %edi
        xor %ecx, %ecx                  # the divisor of the ring-3 DIV
        mov $1, %eax
        xor %edx, %edx
        pushl $UDATA                    # SS
        pushl $USTACK                   # ESP
        pushl $0xad7                    # EFLAGS: OF IF SF ZF AF PF CF, bit 1
        pushl $UCODE                    # CS
        pushl $ring3                    # EIP
        iretl

        # ---- ring 3
ring3:
        movw %ds, %ss:R3INFO + 0        # 0: nulled (data, DPL 0)
        movw %es, %ss:R3INFO + 2        # 0: nulled (non-conforming code, DPL 0)
        movw %fs, %ss:R3INFO + 4        # 0x23: DPL 3, kept
        movw %gs, %ss:R3INFO + 6        # 0x38: conforming code, kept
        movw %cs, %ss:R3INFO + 8        # 0x1b
        movw %ss, %ss:R3INFO + 10       # 0x23
        mov %esp, %ss:R3INFO + 12       # 0x3fff0
        mov $UDATA, %ax
        mov %ax, %ds
        mov %ax, %es
ev_int80:
        int $0x80                       # DPL-3 interrupt gate: delivered, CPL 3 -> 0
ev_int81:
        int $0x81                       # DPL-0 gate, CPL 3: #GP(0x81 * 8 + 2)
ev_div:
        div %ecx                        # #DE through the trap gate
after_div:
        pushl $0x11111111               # the first parameter (higher address)
        pushl $0x22222222               # the second
ev_call:
        lcall $CALLGATE, $0             # the offset is ignored through a gate
after_call:
        mov %esp, R3INFO + 16           # 0x3fff0: RETF 8 released the parameters
        movw %cs, R3INFO + 20
        movw %ss, R3INFO + 22
        movw %ds, R3INFO + 24
        movw %fs, R3INFO + 26
        movw %gs, R3INFO + 28
        jmp code_end

        # ---- ring 0
        # INT 0x80: interrupt gate, no error code; IRETD returns after the INT.
int80_handler:
        record 0x80
        movl $NOERR, %ss:0x10(%edi)
        mov %esp, %ebx
        call copy_frame
        add $0x30, %edi
        iretl

        # #GP: interrupt gate, error code on top.
gp_handler:
        record 13
        mov %ss:(%esp), %eax
        mov %eax, %ss:0x10(%edi)
        lea 4(%esp), %ebx
        call copy_frame
        add $0x30, %edi
        add $4, %esp                    # the error code
        movl $ev_div, %ss:(%esp)        # resume after INT 0x81
        iretl

        # #DE: trap gate (IF stays as it was), no error code.
de_handler:
        record 0
        movl $NOERR, %ss:0x10(%edi)
        mov %esp, %ebx
        call copy_frame
        add $0x30, %edi
        movl $after_div, %ss:(%esp)     # resume after DIV ECX
        iretl

        # EBX -> EIP, CS, EFLAGS, ESP, SS of an inter-privilege frame (SDM 6.12.1).
copy_frame:
        mov %ss:(%ebx), %eax
        mov %eax, %ss:0x14(%edi)
        movzwl %ss:4(%ebx), %eax
        mov %eax, %ss:0x18(%edi)
        mov %ss:8(%ebx), %eax
        mov %eax, %ss:0x1c(%edi)
        mov %ss:12(%ebx), %eax
        mov %eax, %ss:0x20(%edi)
        movzwl %ss:16(%ebx), %eax
        mov %eax, %ss:0x24(%edi)
        ret

        # The call gate's target at CPL 0: new stack (SDM 5.8.5, figure 5-13) from the
        # top: EIP, CS, parameter 2, parameter 1, ESP, SS of the caller.
gate_target:
        record 0xca11
        mov %ss:(%esp), %eax
        mov %eax, %ss:0x10(%edi)
        movzwl %ss:4(%esp), %eax
        mov %eax, %ss:0x14(%edi)
        mov %ss:8(%esp), %eax
        mov %eax, %ss:0x18(%edi)
        mov %ss:12(%esp), %eax
        mov %eax, %ss:0x1c(%edi)
        mov %ss:16(%esp), %eax
        mov %eax, %ss:0x20(%edi)
        movzwl %ss:20(%esp), %eax
        mov %eax, %ss:0x24(%edi)
        lea 0x30(%edi), %edi            # LEA: EFLAGS stay as the caller had them
        lret $8                         # outer return: pops EIP, CS, skips 8, pops ESP, SS, skips 8

unexpected:
        mov $0xbad, %ebx
        hlt

        .balign 8
gdt:
        .quad 0                         # 0x00 null
        .quad 0x00cf9b000000ffff        # 0x08 code 32-bit, DPL 0
        .quad 0x00cf93000000ffff        # 0x10 data, DPL 0
        .quad 0x00cffb000000ffff        # 0x18 code 32-bit, DPL 3
        .quad 0x00cff3000000ffff        # 0x20 data, DPL 3
        .quad 0x0000890220000067        # 0x28 available 32-bit TSS, base 0x22000, limit 0x67
        .quad 0                         # 0x30 the call gate (filled in)
        .quad 0x00cf9f000000ffff        # 0x38 code 32-bit, conforming, readable, DPL 0
gdt_end:
gdtr:
        .word gdt_end - gdt - 1
        .long GDT
idtr:
        .word 256 * 8 - 1
        .long IDT
code_end:                               # ring 3 ends here: the byte after the program
