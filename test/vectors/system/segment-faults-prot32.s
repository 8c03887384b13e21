# Segment-register loads and segmented accesses in 32-bit protected mode, one fault per
# case, and what LAR, LSL, VERR and VERW say about a set of descriptors.
# SDM Vol. 3A 3.4 (selectors, descriptors, the LDT), 5.3 (limit checking, expand-down
# segments), 5.4-5.6 (type and privilege checks of data/stack segment loads), 5.10
# (LAR, LSL, VERR, VERW), 6.13 (error codes), 6.15 (#NP, #SS, #GP); Vol. 2 MOV (to a
# segment register), LAR, LSL, VERR/VERW.
#
# The program starts in prot32 (CPL 0, paging off) and loads its own tables:
#   GDT at 0x20000 (a copy of `gdt` below, limit 0x7f), LDT at 0x21000 (a copy of `ldt`,
#   limit 0x17), a 32-bit IDT at 0x22000 (vectors 0-31, limit 0xff): vectors 10 (#TS),
#   11 (#NP), 12 (#SS), 13 (#GP) are 32-bit interrupt gates (type 0xE, DPL 0) to stubs
#   that push the vector and go to `handler`; every other vector goes to `unexpected`,
#   which halts with EBX = 0xbad.
# Code and data descriptors are written with the accessed bit already set, so no load
# writes to the tables and LAR sees them as they are here.
#
# Every case has a 16-byte slot at RESULTS + 16 * n. `handler` runs at CPL 0 without a
# privilege change, so the frame on the current stack is (SDM 6.12.1, figure 6-4):
# error code, EIP, CS, EFLAGS; with the vector the stub pushed on top. It stores
#   +0 vector, +4 error code, +8 EIP of the frame (the faulting instruction: all four
#   are faults, SDM 6.15), +12 CS of the frame (low 16 bits: the upper half of the
#   pushed doubleword is padding),
# reloads DS, ES, SS with the flat data segment, ESP with KSTACK and jumps to ESI, the
# continuation the case set up. A case that must not fault stores
#   +0 0xffffffff, +4 0, +8 0, +12 the value it read;
# a case that should fault but does not stores 0xfffffffe in all four words.
# The LAR/LSL/VERR/VERW results are 8 bytes each at LARRES: the destination register
# (preset to 0xdeadbeef, which stays when ZF = 0: "the destination is not modified") and
# ZF. The end is HLT with EBX = 0x600d.

        .set GDT, 0x20000
        .set LDT, 0x21000
        .set IDT, 0x22000
        .set RESULTS, 0x23000
        .set LARRES, 0x23800
        .set KSTACK, 0x30000
        .set KCODE, 0x08
        .set KDATA, 0x10

        # Restore the flat data and stack segments after a case.
        .macro flat
        mov $KDATA, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $KSTACK, %esp
        .endm

        # A case that must fault: `name` labels the faulting instruction (its address is
        # the EIP the frame must hold); the handler continues at local label 1.
        # `pre` (quoted, may be empty) sets the case up first.
        .macro must_fault slot, name, pre, insn
        mov $RESULTS + \slot * 16, %edi
        mov $1f, %esi
        \pre
\name:  \insn
        movl $0xfffffffe, %es:(%edi)
        movl $0xfffffffe, %es:4(%edi)
        movl $0xfffffffe, %es:8(%edi)
        movl $0xfffffffe, %es:12(%edi)
1:      flat
        .endm

        # A case that must not fault: `pre` sets it up, `insn` reads into EAX.
        .macro must_read slot, pre, insn
        mov $RESULTS + \slot * 16, %edi
        mov $1f, %esi
        \pre
        \insn
        movl $0xffffffff, %es:(%edi)
        movl $0, %es:4(%edi)
        movl $0, %es:8(%edi)
        mov %eax, %es:12(%edi)
1:      flat
        .endm

        # Load DS (or another register) with `sel`, which must not fault.
        .macro load seg, sel
        mov $\sel, %ax
        mov %ax, \seg
        .endm

        # LAR/LSL `sel` into EAX (preset 0xdeadbeef), then store EAX and ZF. LAR's result is
        # masked with 0x00f0ff00 when ZF = 1: SDM 5.10.1 says the second doubleword is
        # "masked by the value 00FXFF00H, where X indicates that the corresponding 4 bits
        # are undefined" (bits 19:16, the top of the limit).
        .macro lar_case slot, sel
        mov $0xdeadbeef, %eax
        mov $\sel, %ecx
        lar %cx, %eax
        setz %bl
        movzbl %bl, %ebx
        jnz 1f
        and $0x00f0ff00, %eax
1:      mov %eax, LARRES + \slot * 8
        mov %ebx, LARRES + \slot * 8 + 4
        .endm
        .macro lsl_case slot, sel
        mov $0xdeadbeef, %eax
        mov $\sel, %ecx
        lsl %cx, %eax
        setz %bl
        movzbl %bl, %ebx
        mov %eax, LARRES + \slot * 8
        mov %ebx, LARRES + \slot * 8 + 4
        .endm
        # VERR/VERW: the word before ZF is 0.
        .macro ver_case slot, insn, sel
        mov $\sel, %ecx
        \insn %cx
        setz %bl
        movzbl %bl, %ebx
        movl $0, LARRES + \slot * 8
        mov %ebx, LARRES + \slot * 8 + 4
        .endm

        .text
        .code32
start:
        cli
        cld
        mov $KSTACK, %esp

        # ---- tables
        mov $gdt, %esi
        mov $GDT, %edi
        mov $gdt_end - gdt, %ecx
        rep movsb
        mov $ldt, %esi
        mov $LDT, %edi
        mov $ldt_end - ldt, %ecx
        rep movsb
        lgdt gdtr
        ljmp $KCODE, $1f                # CS from the new GDT
1:      flat
        mov %ax, %fs
        mov %ax, %gs

        # IDT: 32 interrupt gates (SDM 6.11, figure 6-2: offset 15:0, selector, 0x8e00 =
        # P, DPL 0, 32-bit interrupt gate, offset 31:16) to `unexpected`, then 10-13.
        xor %ebx, %ebx
2:      mov $unexpected, %eax
        mov %ax, IDT(,%ebx,8)
        movw $KCODE, IDT + 2(,%ebx,8)
        movw $0x8e00, IDT + 4(,%ebx,8)
        shr $16, %eax
        mov %ax, IDT + 6(,%ebx,8)
        inc %ebx
        cmp $32, %ebx
        jne 2b
        .irp vec, 10, 11, 12, 13
        mov $stub\vec, %eax
        mov %ax, IDT + \vec * 8
        shr $16, %eax
        mov %ax, IDT + \vec * 8 + 6
        .endr
        lidt idtr

        # ---- the values the reads that succeed must see
        movl $0x66666666, 0x40ffc       # GDT 0x38 (base 0x40000) offset 0xffc
        movl $0x55555555, 0x44000       # LDT 0x04 (base 0x44000) offset 0
        movl $0x88888888, 0x50ffc       # GDT 0x40 (base 0x50000) offset 0xffc
        movl $0x11111111, 0x61000       # GDT 0x48/0x50 (base 0x60000) offset 0x1000
        movl $0x22222222, 0x6fffc       #   offset 0xfffc
        movl $0x33333333, 0x70000       #   offset 0x10000
        movl $0x77777777, 0x100         # flat offset 0x100

        # ---- data segment loads (SDM Vol. 2 MOV: #GP(selector) when the index is outside
        # the table limit, or the segment is not data or readable code, or it is data /
        # non-conforming code with RPL > DPL or CPL > DPL; #NP(selector) when not present).
        # The error code is the selector with bits 1:0 (EXT, IDT) clear (SDM 6.13).

        # 0: index 0x200 beyond the GDT limit 0x7f: #GP(0x1000).
        must_fault 0, f00, "mov $0x1000, %ax", "mov %ax, %ds"
        # 1: a not-present writable data segment: #NP(0x18).
        must_fault 1, f01, "mov $0x18, %ax", "mov %ax, %ds"
        # 2: an execute-only code segment: #GP(0x20).
        must_fault 2, f02, "mov $0x20, %ax", "mov %ax, %ds"
        # 3: the LDT descriptor (a system segment): #GP(0x58).
        must_fault 3, f03, "mov $0x58, %ax", "mov %ax, %ds"
        # 4: RPL 3 > DPL 0: #GP(0x10) (the error code drops the RPL).
        must_fault 4, f04, "mov $0x13, %ax", "mov %ax, %ds"

        # ---- SS loads (SDM Vol. 2 MOV: null -> #GP(0); outside the table, RPL != CPL, not
        # a writable data segment, or DPL != CPL -> #GP(selector); not present ->
        # #SS(selector)).

        # 5: null: #GP(0).
        must_fault 5, f05, "xor %eax, %eax", "mov %ax, %ss"
        # 6: not present (writable data, DPL 0): #SS(0x18).
        must_fault 6, f06, "mov $0x18, %ax", "mov %ax, %ss"
        # 7: read-only data: #GP(0x28).
        must_fault 7, f07, "mov $0x28, %ax", "mov %ax, %ss"
        # 8: RPL 3 != CPL 0: #GP(0x10).
        must_fault 8, f08, "mov $0x13, %ax", "mov %ax, %ss"
        # 9: DPL 3 != CPL 0 (RPL 0): #GP(0x30).
        must_fault 9, f09, "mov $0x30, %ax", "mov %ax, %ss"
        # 10: a code segment: #GP(0x08).
        must_fault 10, f10, "mov $0x08, %ax", "mov %ax, %ss"

        # ---- the LDT (LLDT 0x58: base 0x21000, limit 0x17, three descriptors). A selector
        # with TI = 1 indexes the LDT; its index 0 is an ordinary descriptor (only GDT
        # index 0 is the null selector, SDM 3.4.2). The error code keeps TI (bit 2).
        mov $0x58, %ax
        lldt %ax
        # 11: LDT index 1, not present: #NP(0x0c).
        must_fault 11, f11, "mov $0x0c, %ax", "mov %ax, %ds"
        # 12: LDT index 3, beyond the LDT limit 0x17: #GP(0x1c).
        must_fault 12, f12, "mov $0x1c, %ax", "mov %ax, %ds"
        # 13: LDT index 0 (base 0x44000): loads; DS:0 reads 0x55555555.
        must_read 13, "load %ds, 0x04", "mov 0, %eax"

        # ---- limits (SDM 5.3: an access whose last byte is past the limit of an expand-up
        # segment is #GP(0), #SS(0) through SS).
        # 14: GDT 0x38, base 0x40000, limit 0xfff: a dword at 0xffc is inside.
        must_read 14, "load %ds, 0x38", "mov 0xffc, %eax"
        # 15: a dword at 0xffd ends at 0x1000, past the limit: #GP(0).
        must_fault 15, f15, "load %ds, 0x38", "mov 0xffd, %eax"
        # 16: a byte at 0x1000: #GP(0).
        must_fault 16, f16, "load %ds, 0x38", "movzbl 0x1000, %eax"
        # 17: SS = GDT 0x40 (base 0x50000, limit 0xfff), ESP 0x800; a read at EBP + 0x1000
        # (EBP-based addresses use SS): #SS(0). The handler's frame goes on this stack.
        must_fault 17, f17, "load %ss, 0x40; mov $0x800, %esp; xor %ebp, %ebp", "mov 0x1000(%ebp), %eax"
        # 18: the same stack, EBP + 0xffc: inside; reads 0x88888888.
        must_read 18, "load %ss, 0x40; mov $0x800, %esp; xor %ebp, %ebp", "mov 0xffc(%ebp), %eax"

        # ---- expand-down data (SDM 5.3: valid offsets are limit + 1 up to 0xFFFF when
        # B = 0, up to 0xFFFFFFFF when B = 1; anything at or below the limit, or past the
        # upper bound, is #GP(0)). Both segments: base 0x60000, limit 0xfff, G = 0.
        # 19: B = 0 (GDT 0x48): offset 0x1000, the lowest valid one: 0x11111111.
        must_read 19, "load %ds, 0x48", "mov 0x1000, %eax"
        # 20: offset 0xfff, the limit itself: #GP(0).
        must_fault 20, f20, "load %ds, 0x48", "movzbl 0xfff, %eax"
        # 21: a dword at 0xfffc ends at 0xffff, the upper bound: 0x22222222.
        must_read 21, "load %ds, 0x48", "mov 0xfffc, %eax"
        # 22: a dword at 0xfffe ends at 0x10001, past 0xffff: #GP(0).
        must_fault 22, f22, "load %ds, 0x48", "mov 0xfffe, %eax"
        # 23: offset 0x10000, past 0xffff: #GP(0).
        must_fault 23, f23, "load %ds, 0x48", "mov 0x10000, %eax"
        # 24: B = 1 (GDT 0x50): offset 0x10000 is valid now: 0x33333333.
        must_read 24, "load %ds, 0x50", "mov 0x10000, %eax"
        # 25: offset 0xfff: #GP(0) (the lower bound does not depend on B).
        must_fault 25, f25, "load %ds, 0x50", "movzbl 0xfff, %eax"
        # 26: a dword at 0xfffffffd ends past 0xffffffff: #GP(0).
        must_fault 26, f26, "load %ds, 0x50", "mov 0xfffffffd, %eax"

        # ---- types (SDM 5.5: writes need a writable data segment; a null selector in a
        # data segment register loads but any access through it is #GP(0); reads through
        # CS need a readable code segment).
        # 27: read-only data (GDT 0x28) reads: 0x77777777.
        must_read 27, "load %ds, 0x28", "mov 0x100, %eax"
        # 28: a write to it: #GP(0).
        must_fault 28, f28, "load %ds, 0x28", "movl $1, 0x100"
        # 29: DS null (the load does not fault), then a read: #GP(0).
        must_fault 29, f29, "load %ds, 0", "mov 0x100, %eax"
        # 30: DS = 3 (null with RPL 3), then a write: #GP(0).
        must_fault 30, f30, "load %ds, 3", "movl $1, 0x100"
        # 31: running in the execute-only code segment GDT 0x20, a read through CS: #GP(0).
        # The handler continues in CS 0x08 (it entered through its gate); the no-fault
        # path goes back with a far JMP.
        mov $RESULTS + 31 * 16, %edi
        mov $9f, %esi
        ljmp $0x20, $8f
8:
f31:    mov %cs:0x100, %eax
        movl $0xfffffffe, %es:(%edi)
        movl $0xfffffffe, %es:4(%edi)
        movl $0xfffffffe, %es:8(%edi)
        movl $0xfffffffe, %es:12(%edi)
        ljmp $KCODE, $9f
9:      flat
        # 32: DS = 0x33 (data, DPL 3, RPL 3) at CPL 0: CPL and RPL <= DPL, loads; 0x77777777.
        must_read 32, "load %ds, 0x33", "mov 0x100, %eax"

        # ---- LAR (SDM 5.10.1, Vol. 2A LAR): ZF = 1 for a code/data segment visible at CPL
        # and RPL (DPL >= both, or conforming code), and for the system types LDT (2), TSS
        # (1, 3, 9, 0xB), call gate (4, 0xC), task gate (5); ZF = 0 for a null selector, one
        # past the table, other system types (interrupt gate 0xE); P is not checked.
        lar_case 0, 0x08                # code, exec/read: 0x00c09b00
        lar_case 1, 0x10                # data, read/write: 0x00c09300
        lar_case 2, 0x18                # not-present data: 0x00c01300, still ZF = 1
        lar_case 3, 0x20                # execute-only code: 0x00c09900
        lar_case 4, 0x58                # LDT: 0x00008200
        lar_case 5, 0x60                # 32-bit call gate: 0x00008c00
        lar_case 6, 0x68                # 32-bit interrupt gate: rejected
        lar_case 7, 0x78                # available 32-bit TSS: 0x00008900
        lar_case 8, 0x13                # RPL 3 > DPL 0: rejected
        lar_case 9, 0x73                # conforming code, RPL 3: no DPL check, 0x00c09f00
        lar_case 10, 0x00               # null: rejected
        lar_case 11, 0x1000             # past the GDT limit: rejected
        lar_case 12, 0x14               # LDT index 2, data DPL 3: 0x00c0f300
        lar_case 13, 0x38               # byte-granular data, B = 1: 0x00409300
        # ---- LSL (Vol. 2A LSL): the limit in bytes (scaled when G = 1); ZF = 0 for gates.
        lsl_case 14, 0x38               # 0x00000fff
        lsl_case 15, 0x10               # G = 1, limit 0xfffff: 0xffffffff
        lsl_case 16, 0x58               # LDT: 0x17
        lsl_case 17, 0x78               # TSS: 0x67
        lsl_case 18, 0x60               # call gate: rejected
        lsl_case 19, 0x48               # expand-down: the limit field, 0xfff
        lsl_case 20, 0x13               # RPL 3 > DPL 0: rejected
        lsl_case 21, 0x04               # LDT index 0: 0xfff
        lsl_case 22, 0x73               # conforming code, RPL 3: 0xffffffff
        # ---- VERR/VERW (Vol. 2C VERR/VERW): ZF = 1 when readable / writable from CPL and
        # RPL; code is never writable; system descriptors and null selectors fail.
        ver_case 23, verr, 0x08         # readable code: 1
        ver_case 24, verr, 0x20         # execute-only code: 0
        ver_case 25, verr, 0x28         # read-only data: 1
        ver_case 26, verr, 0x13         # RPL 3 > DPL 0: 0
        ver_case 27, verr, 0x73         # conforming readable code, RPL 3: 1
        ver_case 28, verr, 0x58         # LDT descriptor: 0
        ver_case 29, verr, 0x00         # null: 0
        ver_case 30, verr, 0x1000       # past the limit: 0
        ver_case 31, verw, 0x10         # writable data: 1
        ver_case 32, verw, 0x28         # read-only data: 0
        ver_case 33, verw, 0x08         # code: 0
        ver_case 34, verw, 0x33         # data DPL 3, RPL 3: 1
        ver_case 35, verw, 0x04         # LDT index 0, writable data: 1

        mov $0x600d, %ebx
        hlt

        # ---- handlers
        .irp vec, 10, 11, 12, 13
stub\vec:
        pushl $\vec
        jmp handler
        .endr
handler:
        mov $KDATA, %ax
        mov %ax, %ds
        mov %ax, %es
        mov (%esp), %eax                # vector (ESP-based: through SS)
        mov %eax, (%edi)
        mov 4(%esp), %eax               # error code
        mov %eax, 4(%edi)
        mov 8(%esp), %eax               # EIP
        mov %eax, 8(%edi)
        movzwl 12(%esp), %eax           # CS
        mov %eax, 12(%edi)
        mov $KDATA, %ax
        mov %ax, %ss
        mov $KSTACK, %esp
        jmp *%esi
unexpected:
        mov $0xbad, %ebx
        hlt

        # ---- descriptors (SDM 3.4.5, figure 3-8: limit 15:0, base 23:0, access byte (P,
        # DPL, S, type), flags G D/B L AVL with limit 19:16, base 31:24).
        .balign 8
gdt:
        .quad 0                         # 0x00 null
        .quad 0x00cf9b000000ffff        # 0x08 code 32-bit, exec/read, accessed, 4 GiB
        .quad 0x00cf93000000ffff        # 0x10 data read/write, accessed, 4 GiB
        .quad 0x00cf13000000ffff        # 0x18 data read/write, NOT present
        .quad 0x00cf99000000ffff        # 0x20 code 32-bit, execute-only
        .quad 0x00cf91000000ffff        # 0x28 data read-only
        .quad 0x00cff3000000ffff        # 0x30 data read/write, DPL 3
        .quad 0x0040930400000fff        # 0x38 data r/w, base 0x40000, limit 0xfff, B=1
        .quad 0x0040930500000fff        # 0x40 data r/w, base 0x50000, limit 0xfff, B=1 (stack)
        .quad 0x0000970600000fff        # 0x48 data r/w expand-down, base 0x60000, limit 0xfff, B=0
        .quad 0x0040970600000fff        # 0x50 the same with B=1
        .quad 0x0000820210000017        # 0x58 LDT, base 0x21000, limit 0x17
        .quad 0x00008c0000080000        # 0x60 32-bit call gate to 0x08:0, DPL 0
        .quad 0x00008e0000080000        # 0x68 32-bit interrupt gate (not valid for LAR)
        .quad 0x00cf9f000000ffff        # 0x70 code 32-bit, conforming, readable, DPL 0
        .quad 0x0000890228000067        # 0x78 available 32-bit TSS, base 0x22800, limit 0x67
gdt_end:
ldt:
        .quad 0x0040930440000fff        # 0x04 data r/w, base 0x44000, limit 0xfff
        .quad 0x00cf13000000ffff        # 0x0c data r/w, NOT present
        .quad 0x00cff3000000ffff        # 0x14 data r/w, DPL 3, 4 GiB
ldt_end:
gdtr:
        .word gdt_end - gdt - 1
        .long GDT
idtr:
        .word 32 * 8 - 1
        .long IDT
