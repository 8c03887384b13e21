# Page-fault error codes, one #PF per permission case (SDM Vol. 3A 4.6 access rights,
# 4.7 page-fault exceptions, 6.15 "Interrupt 14").
#
# The program starts in long64 on the emulator's tables and replaces all of them with
# its own, in low memory:
#   GDT at 0x14000 (a copy of `gdt` below: 64-bit code/data for ring 0 and ring 3, and a
#   64-bit TSS descriptor, SDM 8.2.3), loaded with LGDT, a far return into the new CS
#   and LTR; the TSS at 0x16000 with RSP0 = KSTACK, the stack a fault from ring 3 lands
#   on (SDM 6.14.4); an IDT at 0x15000 whose only present gate is vector 14 (a 64-bit
#   interrupt gate, DPL 0, no IST, SDM 6.14.1); 4-level paging (SDM 4.5) with 4 KiB
#   pages identity-mapping the first 2 MiB: PML4 0x10000, PDPT 0x11000, PD 0x12000,
#   PT 0x13000. Every PML4E/PDPTE/PDE is P|R/W|U/S (0x7), so the PTE alone decides.
#   PTEs are supervisor read/write (0x3) except the test pages:
#     0x80000  not present (PTE = 0)
#     0x81000  supervisor, read-only              P
#     0x82000  user, read/write, executable       P|R/W|U/S   (SMEP / SMAP target)
#     0x83000  user, read-only                    P|U/S
#     0x84000  supervisor, read/write, XD         P|R/W|XD (bit 63, EFER.NXE = 1)
#     0x85000  supervisor, read/write, bit 51 set: reserved (MAXPHYADDR = 40, bits 51:40
#              of a PTE are reserved, SDM 4.5.4, the PTE format table)
#     0x86000  user, read/write, executable: the ring-3 snippets are copied here
#     0x87000  user, read/write, XD
#     0x88000  user, read/write: the ring-3 stack (RSP 0x89000)
#
# Every fault goes to pf_handler, which stores the error code and CR2 as two qwords at
# RDI (the results array at RESULTS, 16 bytes per case), reloads SS and RSP and jumps to
# R15, the continuation the case set up; a fault from ring 3 thus continues in ring 0
# (the handler already runs at CPL 0). A case whose access must not fault stores the
# marker 0xffffffffffffffff and the value it read instead. A case that should fault but
# does not falls through and stores the marker with 0 (or, in ring 3, reads 0x80ff8,
# not present, which stores 0x4 / 0x80ff8), so a missing fault shows in the results.
#
# CPUID is checked first: CPUID.(7,0):EBX SMEP (bit 7) and SMAP (bit 20),
# CPUID.80000001H:EDX NX (bit 20); the masked words are stored at FEATURES and a missing
# feature ends the run early with R14 = 0xbad. The end is HLT with R14 = 0x600d.

        .set PML4, 0x10000
        .set PDPT, 0x11000
        .set PD, 0x12000
        .set PT, 0x13000
        .set GDT, 0x14000
        .set IDT, 0x15000
        .set TSS, 0x16000
        .set RESULTS, 0x17000
        .set FEATURES, 0x17800
        .set KSTACK, 0x30000
        .set USER_CODE, 0x86000
        .set USTACK, 0x89000
        .set EFER, 0xc0000080
        .set KCODE, 0x08
        .set KDATA, 0x10
        .set UDATA, 0x18 | 3
        .set UCODE, 0x20 | 3
        .set TSSSEL, 0x28
        .set NOFAULT, -1

        # A case that must fault: the handler continues at the local label 1 after the
        # fallback that records "no fault" (marker, 0).
        .macro must_fault insn:vararg
        lea 1f(%rip), %r15
        \insn
        movq $NOFAULT, (%rdi)
        movq $0, 8(%rdi)
        add $16, %rdi
1:
        .endm

        # A case run in ring 3: IRETQ to `rip` with CS = UCODE, SS = UDATA, RSP = USTACK,
        # RFLAGS = 0x2 (SDM Vol. 2A IRET: return to outer privilege level); the fault
        # brings the processor back to CPL 0 through the IDT and the handler continues
        # at the label after the IRETQ.
        .macro in_ring3 target
        lea 1f(%rip), %r15
        pushq $UDATA
        pushq $USTACK
        pushq $0x2
        pushq $UCODE
        pushq $\target
        iretq
1:
        .endm

        .text
        .code64
start:
        mov $KSTACK, %rsp

        # ---- CPUID: SMEP, SMAP (leaf 7.0 EBX bits 7, 20), NX (0x80000001 EDX bit 20)
        mov $7, %eax
        xor %ecx, %ecx
        cpuid
        and $(1 << 7) | (1 << 20), %ebx
        mov %ebx, FEATURES
        mov $0x80000001, %eax
        cpuid
        and $1 << 20, %edx
        mov %edx, FEATURES + 4
        cmpl $(1 << 7) | (1 << 20), FEATURES
        jne fail
        test %edx, %edx
        jz fail

        # ---- page tables (the emulator's 2 MiB identity map is still in use)
        cld
        mov $PML4, %edi
        xor %eax, %eax
        mov $4 * 512, %ecx
        rep stosq                       # PML4, PDPT, PD, PT cleared
        movq $PDPT | 7, PML4
        movq $PD | 7, PDPT
        movq $PT | 7, PD
        mov $PT, %edi
        mov $3, %eax                    # P | R/W, supervisor, physical = linear
        mov $512, %ecx
2:      mov %rax, (%rdi)
        add $0x1000, %rax
        add $8, %rdi
        loop 2b
        movq $0, PT + 0x80 * 8                  # 0x80000 not present
        movq $0x81000 | 1, PT + 0x81 * 8        # 0x81000 supervisor read-only
        movq $0x82000 | 7, PT + 0x82 * 8        # 0x82000 user read/write
        movq $0x83000 | 5, PT + 0x83 * 8        # 0x83000 user read-only
        movabs $0x8000000000084003, %rax        # 0x84000 supervisor, XD
        mov %rax, PT + 0x84 * 8
        movabs $0x0008000000085003, %rax        # 0x85000 bit 51 (reserved) set
        mov %rax, PT + 0x85 * 8
        movq $0x86000 | 7, PT + 0x86 * 8        # 0x86000 user code
        movabs $0x8000000000087007, %rax        # 0x87000 user, XD
        mov %rax, PT + 0x87 * 8
        movq $0x88000 | 7, PT + 0x88 * 8        # 0x88000 user stack

        # The ring-3 snippets to 0x86000, and the value the SMAP case reads at 0x82100.
        lea user_code(%rip), %rsi
        mov $USER_CODE, %edi
        mov $user_code_end - user_code, %ecx
        rep movsb
        movabs $0x5555aaaa12345678, %rax
        mov %rax, 0x82100

        # ---- GDT, TSS, IDT
        lea gdt(%rip), %rsi
        mov $GDT, %edi
        mov $gdt_end - gdt, %ecx
        rep movsb
        lgdt gdtr
        pushq $KCODE
        lea 3f(%rip), %rax
        push %rax
        lretq                           # CS = 0x08 from the new GDT
3:      mov $KDATA, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        xor %eax, %eax
        mov %ax, %fs
        mov %ax, %gs
        movq $KSTACK, TSS + 4           # RSP0 (64-bit TSS offset 4, SDM 8.7, the 64-bit TSS format)
        mov $TSSSEL, %ax
        ltr %ax

        mov $IDT, %edi
        xor %eax, %eax
        mov $512, %ecx
        rep stosq                       # 256 empty (not present) gates
        lea pf_handler(%rip), %rax      # vector 14: 64-bit interrupt gate (SDM 6.14.1)
        mov %ax, IDT + 14 * 16          #   offset 15:0
        movw $KCODE, IDT + 14 * 16 + 2  #   selector
        movb $0, IDT + 14 * 16 + 4      #   IST 0: no IST stack
        movb $0x8e, IDT + 14 * 16 + 5   #   P, DPL 0, type 0xE
        shr $16, %rax
        mov %ax, IDT + 14 * 16 + 6      #   offset 31:16
        shr $16, %rax
        mov %eax, IDT + 14 * 16 + 8     #   offset 63:32
        lidt idtr

        # ---- paging on our tables: EFER.NXE first (XD is a reserved bit without it,
        # SDM 4.5), then CR3, CR4.SMEP (bit 20), CR0.WP (bit 16).
        mov $EFER, %ecx
        rdmsr
        bts $11, %eax                   # EFER.NXE
        wrmsr
        mov $PML4, %eax
        mov %rax, %cr3
        mov %cr4, %rax
        bts $20, %rax                   # CR4.SMEP
        mov %rax, %cr4
        mov %cr0, %rax
        bts $16, %rax                   # CR0.WP
        mov %rax, %cr0

        mov $RESULTS, %edi

        # ---- the cases; the error code bits (SDM 4.7, figure "Page-Fault Error Code"):
        # P (0) protection violation rather than not-present, W/R (1) write, U/S (2)
        # CPL 3, RSVD (3) reserved bit, I/D (4) instruction fetch (reported since
        # CR4.SMEP = 1 and EFER.NXE = 1 here). CR2 is the linear address accessed.

        # 0: supervisor read, not present: 0x0.
        must_fault mov 0x80000, %rax
        # 1: supervisor write, not present: W = 0x2.
        must_fault mov %rax, 0x80010
        # 2: supervisor write to a read-only supervisor page, CR0.WP = 1: P|W = 0x3
        # (SDM 4.6.1: with WP = 1 a supervisor write needs R/W = 1).
        must_fault mov %rax, 0x81020
        # 3: the same write with CR0.WP = 0: no fault (supervisor writes ignore R/W).
        mov %cr0, %rax
        btr $16, %rax
        mov %rax, %cr0
        lea 4f(%rip), %r15
        movq $0x0c0ffee0, 0x81020
        mov 0x81020, %rax
        movq $NOFAULT, (%rdi)
        mov %rax, 8(%rdi)
        add $16, %rdi
4:      mov %cr0, %rax
        bts $16, %rax                   # WP = 1 again
        mov %rax, %cr0
        # 4: ring 3 reads a supervisor page: P|U = 0x5 (SDM 4.6: user accesses need
        # U/S = 1 at every level).
        in_ring3 USER_CODE + (u_read_sup - user_code)
        # 5: ring 3 writes a read-only user page: P|W|U = 0x7.
        in_ring3 USER_CODE + (u_write_ro - user_code)
        # 6: ring 3 fetches from an XD user page (IRETQ straight to it): P|U|I = 0x15.
        in_ring3 0x87000
        # 7: supervisor fetch from an XD supervisor page: P|I = 0x11.
        mov $0x84000, %eax
        must_fault jmp *%rax
        # 8: supervisor read through a PTE with a reserved bit: P|RSVD = 0x9 (SDM 4.7:
        # RSVD is set only with P, reserved bits being checked in present entries).
        must_fault mov 0x85040, %rax
        # 9: supervisor fetch through that PTE: P|RSVD|I = 0x19.
        mov $0x85000, %eax
        must_fault jmp *%rax
        # 10: SMEP, supervisor fetch from a user page: P|I = 0x11 (SDM 4.6.1: with
        # CR4.SMEP = 1 supervisor fetches from user-mode addresses are not allowed).
        mov $0x82000, %eax
        must_fault jmp *%rax

        mov %cr4, %rax
        bts $21, %rax                   # CR4.SMAP
        mov %rax, %cr4
        # 11: SMAP, supervisor read of a user page with EFLAGS.AC = 0: P = 0x1
        # (SDM 4.6.1: explicit supervisor reads of user-mode addresses need AC = 1).
        must_fault mov 0x82100, %rax
        # 12: the same read after STAC (AC = 1): no fault, reads the value stored there.
        lea 5f(%rip), %r15
        stac
        mov 0x82100, %rax
        clac
        movq $NOFAULT, (%rdi)
        mov %rax, 8(%rdi)
        add $16, %rdi
5:
        # 13: SMAP, supervisor write to a user read/write page with AC = 0: P|W = 0x3.
        must_fault mov %rax, 0x82108

        mov $0x600d, %r14d
        hlt
fail:
        mov $0xbad, %r14d
        hlt

        # ---- #PF handler (vector 14, CPL 0). Frame: error code, RIP, CS, RFLAGS, RSP, SS
        # (SDM 6.14.2); CR2 is the faulting linear address (SDM 6.15, Interrupt 14).
pf_handler:
        mov (%rsp), %rax
        mov %rax, (%rdi)                # error code
        mov %cr2, %rax
        mov %rax, 8(%rdi)               # CR2
        add $16, %rdi
        mov $KDATA, %ax                 # from ring 3, SS was loaded with a null selector
        mov %ax, %ss
        mov $KSTACK, %rsp
        jmp *%r15

        # ---- ring-3 snippets, copied to USER_CODE (position independent: absolute
        # addresses only). After the access a read of 0x80ff8 (not present) would record
        # 0x4 / 0x80ff8 if the access did not fault.
user_code:
u_read_sup:
        mov 0x81008, %rax
        mov 0x80ff8, %rax
u_write_ro:
        mov %rax, 0x83018
        mov 0x80ff8, %rax
user_code_end:

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
