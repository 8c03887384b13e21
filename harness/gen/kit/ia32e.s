# The guest kit for generated programs in IA-32e mode (long64 and compat32 bodies): a
# tiny guest kernel that sets up its own tables, delivers every event back into the
# program, and logs what it saw, so one program keeps running after a fault and both
# configurations of a pair run exactly the same kernel. Assembled by
# scripts/kits.mjs into kit/ia32e.ts; the generator (harness/gen/) patches nothing
# but the data slots named below.
#
# The program's convention: before each item the body stores the address of the next
# item in CONT (and its code selector in CONT+8 when it changes mode); every event
# handler resumes there, at the privilege the event came from. RING says which ring the
# body runs in; an item that drops to ring 3 sets it first, a handler that returns
# sets it again.
#
# Memory (guest-physical = linear):
#   0x100000 KIT     this code: entries, handlers, the FRED entry page (4 KiB aligned),
#                    the GDT (0x08 code64, 0x10 data, 0x18 code32, 0x20 code32 DPL3,
#                    0x28 data DPL3, 0x30 code64 DPL3, 0x38 TSS: the built-in layout)
#   0x102000 BODY    the generated program (the case's `code`)
#   0x181000 IDT     256 gates: 0-31 and 0x80 present (IST1), the rest not present
#   0x182000 TSS     RSP0, IST1
#   0x183000 CONT    resume RIP (8), resume CS (8)
#   0x183010 RING    the ring the body runs in (0 or 3)
#   0x183018 SAVED   RSP and RFLAGS saved by a SYSENTER item (8 + 8)
#   0x183100 LOG     a counter per event: vectors 0-31 at +8v, INT 0x80 at +0x100,
#                    SYSCALL (64-bit) +0x108, SYSCALL (compat, CSTAR) +0x110,
#                    SYSENTER +0x118; the last event's vector at +0x140, error code +0x148
#   0x184000 paging  PML4, PDPT, PD: 32 MiB in 2 MiB pages, user, writable, except
#                    0x600000 not present, 0x800000 read-only, 0xa00000 no-execute
#   0x18c000 SCRATCH the kit's private data, up to 0x190000: RESUME_FAR (where the FRED
#                    ring-0 handler far-jumps to compatibility code) at its start, then
#                    the stacks: tops of the RSP0 (also FRED
#                    level 0), FRED level-1 and IST1 stacks at 0x18d000, 0x18e000 and
#                    0x18f000. Which frames land there depends on the delivery (IDT or
#                    FRED), so the differential runner does not compare this range.
#   0x200000 DATA    the program's data and stack (16 KiB)

        .set KIT, 0x100000
        .set BODY, 0x102000
        .set IDT, 0x181000
        .set TSS, 0x182000
        .set CONT, 0x183000
        .set RING, 0x183010
        .set SAVED_RSP, 0x183018
        .set SAVED_FLAGS, 0x183020
        .set RESUME_FAR, 0x18c000               # in SCRATCH: kit-private
        .set SYSENTER_SAVE, 0x18c008             # RAX, RCX, RDX

        .set LOG, 0x183100
        .set LOG_INT80, LOG + 0x100
        .set LOG_SYSCALL64, LOG + 0x108
        .set LOG_SYSCALL32, LOG + 0x110
        .set LOG_SYSENTER, LOG + 0x118
        .set LOG_LASTVEC, LOG + 0x140
        .set LOG_LASTERR, LOG + 0x148
        .set PML4, 0x184000
        .set PDPT, 0x185000
        .set PD, 0x186000
        .set SCRATCH, 0x18c000
        .set SCRATCH_END, 0x190000
        .set DATA, 0x200000
        .set RSP0_TOP, 0x18d000
        .set FRED_TOP, 0x18e000
        .set IST1_TOP, 0x18f000
        .set STAR_VALUE_HI, 0x00230008          # SYSRET base 0x23, SYSCALL CS 0x08
        .set FMASK_VALUE, 0x47700               # AC NT DF IF TF, as Linux
        .set CR4_FRED_HI, 1                     # CR4 bit 32

        .text
# ---------------------------------------------------------------- entries
        .code32
entry_compat32:                                 # KIT + 0: the case starts in compat32
        ljmp $0x08, $init64
        .code64
        .org 0x10, 0xcc
entry_long64:                                   # KIT + 0x10: the case starts in long64
init64:
        cli
        mov $IST1_TOP, %esp
        lgdt gdtr(%rip)
        pushq $0x08
        lea 1f(%rip), %rax
        push %rax
        lretq
1:      mov $0x10, %eax
        mov %eax, %ss
        # DS and ES hold the ring-3 data segment in every ring, as Linux does, so they
        # stay usable after a return to ring 3 (compatibility mode needs them); FS, GS null.
        mov $0x2b, %eax
        mov %eax, %ds
        mov %eax, %es
        xor %eax, %eax
        mov %eax, %fs
        mov %eax, %gs

        # TSS: RSP0 and IST1; no I/O bitmap.
        movq $RSP0_TOP, TSS + 4
        movq $IST1_TOP, TSS + 0x24
        movw $0x68, TSS + 0x66
        mov $0x38, %eax
        ltr %ax

        # IDT: gates 0-31 to stubs 0-31, gate 0x80 to stub 32; interrupt gates, IST1,
        # DPL 3 for 3, 4 and 0x80 (INT3, INTO and INT 0x80 allowed from ring 3).
        xor %ecx, %ecx
2:      mov %ecx, %eax
        cmp $32, %ecx
        jb 3f
        mov $0x80, %eax
3:      lea stubs(%rip), %rdx
        mov %ecx, %esi
        shl $4, %esi
        add %rsi, %rdx                          # stub address
        shl $4, %eax
        lea IDT(%rax), %rdi                     # gate address
        mov %dx, (%rdi)
        movw $0x08, 2(%rdi)
        movw $0x8e01, 4(%rdi)                   # P, DPL 0, interrupt gate, IST1
        cmp $3, %ecx
        je 4f
        cmp $4, %ecx
        je 4f
        cmp $32, %ecx
        jne 5f
4:      movw $0xee01, 4(%rdi)                   # DPL 3
5:      shr $16, %rdx
        mov %dx, 6(%rdi)
        shr $16, %rdx
        mov %edx, 8(%rdi)
        inc %ecx
        cmp $33, %ecx
        jne 2b
        lidt idtr(%rip)

        # Page tables: 32 MiB in 2 MiB pages (P, R/W, U/S, PS) with three special pages;
        # the rest of the address space is not present.
        movq $PDPT | 7, PML4
        movq $PD | 7, PDPT
        xor %ecx, %ecx
6:      mov %rcx, %rax
        shl $21, %rax
        or $0x87, %rax
        mov %rax, PD(,%rcx,8)
        inc %ecx
        cmp $16, %ecx
        jne 6b
        movq $0, PD + 3 * 8                     # 0x600000: not present
        andq $~2, PD + 4 * 8                    # 0x800000: read-only
        btsq $63, PD + 5 * 8                    # 0xa00000: no-execute
        mov $PML4, %eax
        mov %rax, %cr3
        # Touch the data region once: its 2 MiB page is accessed and dirty from the start,
        # whichever delivery later writes a frame on the body's event stack.
        movl $0, DATA + 0x3ff8

        # EFER.SCE and EFER.NXE; the SYSCALL and SYSENTER MSRs.
        mov $0xc0000080, %ecx
        rdmsr
        or $0x801, %eax
        wrmsr
        mov $0xc0000081, %ecx                   # STAR
        xor %eax, %eax
        mov $STAR_VALUE_HI, %edx
        wrmsr
        mov $0xc0000082, %ecx                   # LSTAR
        lea syscall64(%rip), %rax
        xor %edx, %edx
        wrmsr
        mov $0xc0000083, %ecx                   # CSTAR
        lea syscall32(%rip), %rax
        wrmsr
        mov $0xc0000084, %ecx                   # FMASK
        mov $FMASK_VALUE, %eax
        wrmsr
        mov $0x174, %ecx                        # SYSENTER_CS
        mov $0x08, %eax
        wrmsr
        mov $0x175, %ecx                        # SYSENTER_ESP
        mov $RSP0_TOP, %eax
        wrmsr
        mov $0x176, %ecx                        # SYSENTER_EIP
        lea sysenter_entry(%rip), %rax
        wrmsr

        # FRED when CPUID.(7,1):EAX[17] says so: entries at fred_page, every exception
        # at stack level 1 (IA32_FRED_RSP1), then CR4.FRED.
        mov $7, %eax
        mov $1, %ecx
        cpuid
        bt $17, %eax
        jnc 7f
        mov $0x1d4, %ecx                        # IA32_FRED_CONFIG
        lea fred_page(%rip), %rax
        xor %edx, %edx
        wrmsr
        mov $0x1cc, %ecx                        # IA32_FRED_RSP0: events from ring 3
        mov $RSP0_TOP, %eax
        wrmsr
        mov $0x1cd, %ecx                        # IA32_FRED_RSP1: exceptions in ring 0
        mov $FRED_TOP, %eax
        wrmsr
        mov $0x1d0, %ecx                        # IA32_FRED_STKLVLS: level 1 for 0-31
        mov $0x55555555, %eax
        mov %eax, %edx
        wrmsr
        mov %cr4, %rax
        bts $32, %rax
        mov %rax, %cr4
7:
        # The body starts in the mode and ring 0 the generator chose (body_cs).
        movq $BODY, CONT
        mov body_cs(%rip), %rax
        mov %rax, CONT + 8
        movq $0, RING
        xor %eax, %eax
        xor %ecx, %ecx
        xor %edx, %edx
        xor %ebx, %ebx
        xor %esi, %esi
        xor %edi, %edi
        pushq body_cs(%rip)
        pushq $BODY
        lretq

# ---------------------------------------------------------------- IDT events
# Stubs: one per gate, 16 bytes, pushing a dummy error code where the CPU pushes none
# (vectors 8, 10-14, 17, 21, 29 and 30 have one) and the stub number.
        .balign 16
stubs:
        .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32
        .balign 16
        .if (\v == 8) || (\v >= 10 && \v <= 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
        pushq $\v
        .else
        pushq $0
        pushq $\v
        .endif
        jmp idt_common
        .endr

# Stack: stub number, error code, RIP, CS, RFLAGS, RSP, SS.
idt_common:
        push %rax
        push %rdx
        mov 16(%rsp), %rax                      # stub number
        incq LOG(,%rax,8)
        mov %rax, LOG_LASTVEC
        mov 24(%rsp), %rax
        mov %rax, LOG_LASTERR
        mov CONT, %rax
        mov %rax, 32(%rsp)                      # resume RIP
        mov 40(%rsp), %rdx                      # the interrupted CS: its ring
        call resume_cs                          # rax = CONT's CS at that ring
        mov %rax, 40(%rsp)
        pop %rdx
        pop %rax
        add $16, %rsp
        iretq

# rdx = the interrupted CS -> rax = the resume CS at the same ring; RING updated.
resume_cs:
        mov CONT + 8, %rax
        and $3, %edx
        mov %rdx, RING
        jz 1f
        cmp $0x08, %eax
        mov $0x33, %eax                         # 64-bit code at ring 3
        je 1f
        mov $0x23, %eax                         # compat code at ring 3
1:      ret

# ---------------------------------------------------------------- SYSCALL, SYSENTER
# Legacy SYSCALL from 64-bit code: RCX is the next RIP, R11 the RFLAGS. Back to ring 3
# with SYSRETQ, or in ring 0 by restoring RFLAGS and jumping.
syscall64:
        incq LOG_SYSCALL64
        cmpq $3, RING
        je 1f
        push %r11
        popfq
        jmp *%rcx
1:      sysretq

# Legacy SYSCALL from compatibility mode (AMD: CSTAR): back with SYSRETL at ring 3, or
# by a far return to the compat code segment in ring 0.
syscall32:
        incq LOG_SYSCALL32
        cmpq $3, RING
        je 1f
        push %r11
        popfq
        pushq $0x18
        push %rcx
        lretq
1:      sysretl

# SYSENTER saves nothing: the item saved RSP and RFLAGS in SAVED; resume at CONT in the
# ring the body runs in, with RAX, RCX and RDX as they were (kept in SCRATCH meanwhile).
sysenter_entry:
        incq LOG_SYSENTER
        mov %rax, SYSENTER_SAVE
        mov %rcx, SYSENTER_SAVE + 8
        mov %rdx, SYSENTER_SAVE + 16
        mov CONT + 8, %rax                      # the resume CS at ring 0
        mov $0x10, %edx                         # and SS
        cmpq $3, RING
        jne 1f
        mov $0x2b, %edx
        mov $0x33, %ecx
        cmp $0x08, %eax
        mov $0x23, %eax
        cmove %ecx, %eax
1:      push %rdx                               # SS
        pushq SAVED_RSP
        pushq SAVED_FLAGS
        push %rax                               # CS
        pushq CONT                              # RIP
        mov SYSENTER_SAVE, %rax
        mov SYSENTER_SAVE + 8, %rcx
        mov SYSENTER_SAVE + 16, %rdx
        iretq

# ---------------------------------------------------------------- FRED events
# The FRED entry page: events from ring 3 at +0, from ring 0 at +0x100. Frame at RSP:
# error code, RIP, CS word, RFLAGS, RSP, SS word, event data, 0.
        .balign 4096
fred_page:
fred_from_ring3:
        push %rax
        push %rdx
        call fred_event
        pop %rdx
        pop %rax
        .byte 0xf3, 0x0f, 0x01, 0xca            # eretu
        .org fred_page + 0x100, 0xcc
fred_from_ring0:
        # An event in ring 0 keeps CS: from compatibility-mode code this runs as 32-bit
        # code. JMP m16:32 through an absolute address (FF /5, SIB with no base or index)
        # means the same in both modes and touches no register: on to 64-bit code.
        .byte 0xff, 0x2c, 0x25
        .long fred_r0_ptr
fred_from_ring0_64:
        push %rax
        push %rdx
        call fred_event
        # ERETS returns to the handler's own CS only. For compatibility-mode code at ring 0
        # it returns to fred_to_compat instead, which far-jumps on: so ERETS still restores
        # RSP, RFLAGS and the stack level.
        movzwl 16 + 0x10(%rsp), %eax            # the frame's CS
        cmp $0x08, %eax
        je 1f
        mov %ax, RESUME_FAR + 4
        mov 16 + 8(%rsp), %rax
        mov %eax, RESUME_FAR
        lea fred_to_compat(%rip), %rax
        mov %rax, 16 + 8(%rsp)
        movw $0x08, 16 + 0x10(%rsp)             # CS word bits 15:0; the old stack level stays
1:      pop %rdx
        pop %rax
        .byte 0xf2, 0x0f, 0x01, 0xca            # erets
fred_to_compat:
        .byte 0xff, 0x2c, 0x25                  # ljmp *RESUME_FAR (m16:32, absolute)
        .long RESUME_FAR

# Frame at 24(%rsp) (after the call and two pushes). SYSCALL and SYSENTER (type 7)
# return to the next instruction; everything else resumes at CONT.
fred_event:
        mov 24 + 0x28(%rsp), %rax               # SS word
        shr $48, %rax
        and $0xf, %eax
        cmp $7, %eax
        jne 2f
        mov 24 + 0x28(%rsp), %rax
        shr $32, %rax
        and $0xff, %eax                         # 1 SYSCALL, 2 SYSENTER
        cmp $1, %eax
        jne 1f
        incq LOG_SYSCALL64
        testb $2, 24 + 0x2f(%rsp)               # SS word bit 57 (L): from 64-bit code?
        jnz 3f
        decq LOG_SYSCALL64
        incq LOG_SYSCALL32
        ret
1:      # SYSENTER: as the legacy path does (it cannot know where it came from), resume at
        # CONT with the RSP and RFLAGS the item saved.
        incq LOG_SYSENTER
        mov SAVED_RSP, %rax
        mov %rax, 24 + 0x20(%rsp)
        mov SAVED_FLAGS, %rax
        mov %rax, 24 + 0x18(%rsp)
        jmp 5f
3:      ret
2:      mov 24 + 0x28(%rsp), %rax
        shr $32, %rax
        and $0xff, %eax                         # vector
        cmp $0x80, %eax
        jne 4f
        mov $32, %eax
4:      incq LOG(,%rax,8)
        mov %rax, LOG_LASTVEC
        mov 24(%rsp), %rax
        mov %rax, LOG_LASTERR
5:      mov CONT, %rax
        mov %rax, 24 + 8(%rsp)
        movzwl 24 + 0x10(%rsp), %edx
        call resume_cs
        mov %rax, 24 + 0x10(%rsp)
        ret

# ---------------------------------------------------------------- data
        .balign 8
gdt:
        .quad 0
        .quad 0x00af9a000000ffff                # 0x08 code, 64-bit, DPL 0
        .quad 0x00cf92000000ffff                # 0x10 data, DPL 0
        .quad 0x00cf9a000000ffff                # 0x18 code, 32-bit, DPL 0
        .quad 0x00cffa000000ffff                # 0x20 code, 32-bit, DPL 3
        .quad 0x00cff2000000ffff                # 0x28 data, DPL 3
        .quad 0x00affa000000ffff                # 0x30 code, 64-bit, DPL 3
        .quad 0x0000890000000067 | ((TSS & 0xffffff) << 16) | ((TSS >> 24) << 56)  # 0x38 TSS
        .quad 0
gdt_end:
gdtr:
        .word gdt_end - gdt - 1
        .quad gdt
idtr:
        .word 256 * 16 - 1
        .quad IDT
fred_r0_ptr:
        .long fred_from_ring0_64
        .word 0x08
        .balign 8
body_cs:                                        # patched by the generator: 0x08 or 0x18
        .quad 0x08
