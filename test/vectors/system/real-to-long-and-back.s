# Real mode up to long mode and back down again, the way a boot loader and a
# kexec-style exit do it. Each stage runs the same four bytes, 31 C0 40 90:
# "xor eax,eax; inc eax; nop" outside 64-bit mode (eax = 1), but "xor eax,eax;
# rex nop" in 64-bit mode, where 40 is a REX prefix (eax = 0). The result and CS
# are stored at RESULTS, so a stage that runs in the wrong mode shows.
#
#   real16 -> LGDT, CR0.PE, far JMP -> prot32                       (SDM Vol. 3A 10.9.1)
#          -> 32-bit paging with a 4 MiB page (CR4.PSE), A/D set      (SDM Vol. 3A 4.3)
#          -> paging off, CR4.PAE, EFER.LME, CR0.PG: IA-32e, compat    (SDM Vol. 3A 10.8.5)
#          -> far JMP to a 64-bit segment -> long64
#          -> far JMP through memory (m16:32) -> compat32
#          -> far CALL to 64-bit code, RETF back -> compat32
#          -> CR0.PG off in compatibility mode, EFER.LME off: legacy   (SDM Vol. 3A 10.8.5.4)
#          -> 16-bit segments, CR0.PE off, far JMP -> real16, HLT      (SDM Vol. 3A 10.9.2)

        .set RESULTS, 0x9000
        .set PML4, 0x20000
        .set PDPT, 0x21000
        .set PD, 0x22000
        .set PD32, 0x23000
        .set EFER, 0xc0000080

        .macro probe slot
        .byte 0x31, 0xc0, 0x40, 0x90
        mov %eax, RESULTS + \slot
        mov %cs, %ax
        mov %ax, RESULTS + \slot + 4
        .endm

        .text
        .code16
start:
        cli
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x7000, %sp
        probe 0x00
        lgdtl gdtr
        mov %cr0, %eax
        or $1, %eax                     # CR0.PE
        mov %eax, %cr0
        ljmp $0x18, $prot32             # loads CS from the GDT: 32-bit code

        .code32
prot32:
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $0x7000, %esp
        probe 0x08

        # 32-bit paging, one 4 MiB page at 0 (PDE: P, R/W, PS).
        movl $0x83, PD32
        mov %cr4, %eax
        or $0x10, %eax                  # CR4.PSE
        mov %eax, %cr4
        mov $PD32, %eax
        mov %eax, %cr3
        mov %cr0, %eax
        or $0x80000000, %eax            # CR0.PG
        mov %eax, %cr0
        movl $0xcafe0001, RESULTS + 0x10  # a write through the 4 MiB page: sets A and D
        mov PD32, %eax
        mov %eax, RESULTS + 0x14
        mov %cr0, %eax
        and $0x7fffffff, %eax           # paging off again before PAE
        mov %eax, %cr0

        # 4-level tables: one 2 MiB page at 0.
        movl $PDPT | 3, PML4
        movl $PD | 3, PDPT
        movl $0x83, PD
        mov %cr4, %eax
        or $0x20, %eax                  # CR4.PAE
        mov %eax, %cr4
        mov $PML4, %eax
        mov %eax, %cr3
        mov $EFER, %ecx
        rdmsr
        or $0x100, %eax                 # EFER.LME
        wrmsr
        mov %cr0, %eax
        or $0x80000000, %eax            # CR0.PG: EFER.LMA = 1, CS still 32-bit
        mov %eax, %cr0
        mov $EFER, %ecx
        rdmsr
        mov %eax, RESULTS + 0x18
        probe 0x20                      # compatibility mode already
        ljmp $0x08, $long64

        .code64
long64:
        probe 0x28
        movabs $0x1122334455667788, %rax
        mov %rax, RESULTS + 0x30
        ljmpl *compat_ptr               # FF /5 with m16:32

        .code32
compat32:
        probe 0x38
        lcall $0x08, $long64_sub        # 9A ptr16:32 to 64-bit code
        probe 0x48                      # back after RETF

        # Leave IA-32e mode from compatibility mode.
        mov %cr0, %eax
        and $0x7fffffff, %eax
        mov %eax, %cr0
        mov $EFER, %ecx
        rdmsr
        and $~0x100, %eax
        wrmsr
        rdmsr
        mov %eax, RESULTS + 0x50
        probe 0x58
        ljmp $0x20, $prot16             # 16-bit code segment

        .code16
prot16:
        mov $0x28, %ax                  # 16-bit data, limit 0xffff
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov %cr0, %eax
        and $0xfffffffe, %eax           # CR0.PE off
        mov %eax, %cr0
        ljmp $0, $real16
real16:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        probe 0x60
        hlt

        .code64
long64_sub:
        probe 0x40
        lret                            # 32-bit operand size: pops EIP, CS

        .balign 8
gdt:
        .quad 0
        .quad 0x00af9a000000ffff        # 0x08 code, 64-bit (L)
        .quad 0x00cf92000000ffff        # 0x10 data, 4 GiB
        .quad 0x00cf9a000000ffff        # 0x18 code, 32-bit (D)
        .quad 0x00009a000000ffff        # 0x20 code, 16-bit, 64 KiB
        .quad 0x000092000000ffff        # 0x28 data, 16-bit, 64 KiB
gdt_end:
gdtr:
        .word gdt_end - gdt - 1
        .long gdt
compat_ptr:
        .long compat32
        .word 0x18
