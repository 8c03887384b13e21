# PAE paging in legacy protected mode: 4 KiB and 2 MiB pages, the PDPTE registers, NX
# with EFER.NXE, and what the TLB may and must do around PTE changes, INVLPG, MOV CR3
# with global pages and MOV CR4.PGE.
# SDM Vol. 3A 4.4 (PAE paging), 4.4.1 (PDPTE registers: loaded by MOV CR0/CR3/CR4, a
# present PDPTE with a reserved bit makes the MOV #GP(0)), 4.4.2 (translation, PTE/PDE
# formats), 4.6 (XD), 4.7 (#PF error code), 4.8 (accessed flag), 4.10.2.4 (global
# pages), 4.10.4.1 (INVLPG; MOV CR3 keeps only global entries; MOV CR4 changing PGE
# invalidates all), 4.10.4.2 ("the processor may use" stale translations).
#
# Starts in prot32 (paging off). Loads its own GDT at 0x25000 and a 32-bit IDT at
# 0x26000 (the emulator's tables are in the top megabyte of RAM, which these page
# tables do not map): #GP (13) and #PF (14) go to handlers; every other vector of 0-31
# to `unexpected` (HLT, EBX = 0xbad).
#
# Page tables (all entries 64 bits):
#   PDPT 0x20000:  PDPTE0 -> PD0 0x21000, PDPTE1 -> PD1 0x23000, PDPTE2/3 not present
#   PD0[0] -> PT0 0x22000: 4 KiB pages, identity for 0-2 MiB (P|R/W), except
#       0x180000 -> 0x190000                     (non-identity read)
#       0x181000 -> 0x191000, XD (bit 63)        (reserved while NXE = 0, NX after)
#       0x183000    not present
#       0x184000 -> 0x194000, later 0x195000     (stale TLB, INVLPG)
#       0x186000 -> 0x196000, G (bit 8)          (global page)
#       0x187000 -> 0x197000                     (non-global page)
#   PD0[2]: 2 MiB page 0x400000 -> 0x600000
#   PD0[3]: 2 MiB page 0x600000 -> 0x600000, XD
#   PD1[0]: 2 MiB page 0x40000000 -> 0x800000
#   Two more PDPTs for MOV CR3 to refuse: 0x20040 (PDPTE1 with bit 1 set) and 0x20060
#   (PDPTE1 with bit 63 set): bits 2:1, 8:5 and 63:MAXPHYADDR of a PDPTE are reserved.
#
# Each case has a 16-byte slot at RESULTS + 16 * n. A fault goes to a handler that
# stores +0 vector, +4 error code, +8 CR2 (#PF) or CR3 (#GP), +12 EIP of the frame,
# then reloads ESP and jumps to ESI. A case that must not fault stores +0 0xffffffff,
# +4 0, +8 0, +12 the value read; one that should fault but does not stores 0xfffffffe
# four times. The end is HLT with EBX = 0x600d.
#
# The TLB. The SDM lets a processor keep using a translation after its PTE changed,
# until INVLPG, MOV CR3 (non-global entries) or MOV CR4.PGE invalidates it, but it never
# requires it to (4.10.4.2: it "may" use the old one). Cases 10 and 16 read through such
# a stale entry and expect the OLD value: that asserts this emulator's TLB (src/cpu/
# mmu.ts: a direct-mapped TLB, 1024 entries indexed by linear page number, filled on a
# walk and dropped only by INVLPG, MOV CR3, CR0/CR4/EFER writes and CPL changes; MOV CR3
# keeps entries of G pages when CR4.PGE = 1). A real processor may show the old or the
# new value there. Cases 11, 17 and 18 read after an invalidation the SDM guarantees
# and must see the new value on any processor. Between a TLB fill and its stale read
# only pages whose numbers differ from 0x184/0x186 modulo 1024 are touched.

        .set PDPT, 0x20000
        .set PDPT_RW, 0x20040
        .set PDPT_XD, 0x20060
        .set PD0, 0x21000
        .set PT0, 0x22000
        .set PD1, 0x23000
        .set RESULTS, 0x24000
        .set GDT, 0x25000
        .set IDT, 0x26000
        .set KSTACK, 0x30000
        .set KCODE, 0x08
        .set KDATA, 0x10
        .set EFER, 0xc0000080
        .set XD, 0x80000000             # bit 63: bit 31 of an entry's high dword

        # A case that must fault at the instruction labelled `name`; `pre` (quoted, may be
        # empty) sets it up.
        .macro must_fault slot, name, pre, insn
        mov $RESULTS + \slot * 16, %edi
        mov $1f, %esi
        \pre
\name:  \insn
        movl $0xfffffffe, (%edi)
        movl $0xfffffffe, 4(%edi)
        movl $0xfffffffe, 8(%edi)
        movl $0xfffffffe, 12(%edi)
1:
        .endm

        # A jump to `target` whose instruction fetch must fault (EIP and CR2 = target).
        .macro must_fault_fetch slot, target
        mov $RESULTS + \slot * 16, %edi
        mov $1f, %esi
        mov $\target, %eax
        jmp *%eax
1:
        .endm

        # A case that must not fault: `insn` reads into EAX.
        .macro must_read slot, insn
        mov $RESULTS + \slot * 16, %edi
        mov $1f, %esi
        \insn
        movl $0xffffffff, (%edi)
        movl $0, 4(%edi)
        movl $0, 8(%edi)
        mov %eax, 12(%edi)
1:
        .endm

        # Set a 64-bit table entry.
        .macro entry at, lo, hi=0
        movl $\lo, \at
        movl $\hi, \at + 4
        .endm

        .text
        .code32
start:
        cli
        cld
        mov $KSTACK, %esp

        # ---- GDT and IDT in low memory
        mov $gdt, %esi
        mov $GDT, %edi
        mov $gdt_end - gdt, %ecx
        rep movsb
        lgdt gdtr
        ljmp $KCODE, $1f
1:      mov $KDATA, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov %ax, %fs
        mov %ax, %gs
        xor %ebx, %ebx
2:      mov $unexpected, %eax
        mov %ax, IDT(,%ebx,8)
        movw $KCODE, IDT + 2(,%ebx,8)
        movw $0x8e00, IDT + 4(,%ebx,8)  # P, DPL 0, 32-bit interrupt gate
        shr $16, %eax
        mov %ax, IDT + 6(,%ebx,8)
        inc %ebx
        cmp $32, %ebx
        jne 2b
        mov $gp_handler, %eax
        mov %ax, IDT + 13 * 8
        shr $16, %eax
        mov %ax, IDT + 13 * 8 + 6
        mov $pf_handler, %eax
        mov %ax, IDT + 14 * 8
        shr $16, %eax
        mov %ax, IDT + 14 * 8 + 6
        lidt idtr

        # ---- page tables (SDM 4.4.2, tables 4-8 to 4-11)
        mov $PDPT, %edi
        xor %eax, %eax
        mov $0x4000 >> 2, %ecx
        rep stosl                       # PDPT (and the two spare ones), PD0, PT0, PD1
        entry PDPT, (PD0|1)             # PDPTE: P only (bits 2:1 are reserved)
        entry (PDPT+8), (PD1|1)
        entry PD0, (PT0|3)              # PDE -> page table: P, R/W
        entry (PD0+2*8), (0x600000|0x83)          # PDE, PS: 2 MiB page, P, R/W
        entry (PD0+3*8), (0x600000|0x83), XD
        entry PD1, (0x800000|0x83)
        mov $PT0, %edi
        mov $3, %eax                    # P, R/W, physical = linear
        mov $512, %ecx
3:      mov %eax, (%edi)
        add $0x1000, %eax
        add $8, %edi
        loop 3b
        entry (PT0+0x180*8), 0x190003
        entry (PT0+0x181*8), 0x191003, XD
        entry (PT0+0x183*8), 0
        entry (PT0+0x184*8), 0x194003
        entry (PT0+0x186*8), 0x196103         # G (bit 8)
        entry (PT0+0x187*8), 0x197003
        entry PDPT_RW, (PD0|1)
        entry (PDPT_RW+8), (PD1|3)              # bit 1 (reserved in a PDPTE)
        entry PDPT_XD, (PD0|1)
        entry (PDPT_XD+8), (PD1|1), XD          # bit 63 (reserved in a PDPTE)

        # ---- what each physical page holds
        movl $0xaaaaaaaa, 0x180000      # what an identity map of 0x180000 would read
        movl $0x11111111, 0x190000
        movl $0x22222222, 0x191000
        movl $0x44444444, 0x194000
        movl $0x55555555, 0x195000
        movl $0x66666666, 0x196000
        movl $0x77777777, 0x197000
        movl $0x88888888, 0x198000
        movl $0xbbbbbbbb, 0x400100      # what an identity map of 0x400100 would read
        movl $0x12345678, 0x600100
        movl $0x99999999, 0x800000

        # ---- PAE paging on: CR4.PAE, CR3, then CR0.PG, which loads the PDPTEs (4.4.1).
        mov %cr4, %eax
        or $0x20, %eax
        mov %eax, %cr4
        mov $PDPT, %eax
        mov %eax, %cr3
        mov %cr0, %eax
        or $0x80000000, %eax
        mov %eax, %cr0

        # 0: 4 KiB page, 0x180000 -> 0x190000.
        must_read 0, "mov 0x180000, %eax"
        # 1: 2 MiB page, 0x400100 -> 0x600100.
        must_read 1, "mov 0x400100, %eax"
        # 2: PDPTE1 -> PD1 -> 2 MiB page, 0x40000000 -> 0x800000.
        must_read 2, "mov 0x40000000, %eax"
        # 3: EFER.NXE = 0: bit 63 of a present PTE is reserved (4.4.2): a read faults with
        # P | RSVD = 0x9 (4.7); I/D is 0 (a data access).
        must_fault 3, f03, "", "mov 0x181000, %eax"
        # 4: a fetch from a not-present page with NXE = 0: error code 0 (I/D is reported
        # only when CR4.SMEP = 1 or PAE with NXE = 1, 4.7).
        must_fault_fetch 4, 0x183000

        # EFER.NXE = 1.
        mov $EFER, %ecx
        rdmsr
        or $0x800, %eax
        wrmsr
        # 5: XD does not stop a read: 0x22222222.
        must_read 5, "mov 0x181000, %eax"
        # 6: a fetch from the XD page: P | I/D = 0x11 (4.6).
        must_fault_fetch 6, 0x181000
        # 7: a fetch from the not-present page with NXE = 1: I/D = 0x10.
        must_fault_fetch 7, 0x183000
        # 8: a fetch from the XD 2 MiB page: 0x11.
        must_fault_fetch 8, 0x600100

        # 9: fill the TLB for 0x184000 (-> 0x194000): 0x44444444.
        must_read 9, "mov 0x184000, %eax"
        # 10: the PTE now says 0x195000, no INVLPG: this model still uses the old
        # translation: 0x44444444 (real processors may read 0x55555555).
        entry (PT0+0x184*8), 0x195003
        must_read 10, "mov 0x184000, %eax"
        # 11: INVLPG invalidates it (4.10.4.1): 0x55555555 on any processor.
        invlpg 0x184000
        must_read 11, "mov 0x184000, %eax"

        # 12: PDPTE1 cleared in memory, INVLPG 0x40000000 so no TLB entry is left: the
        # translation uses the PDPTE register, not memory (4.4.1: PAE paging does not
        # access the PDPTEs in memory while translating): still 0x99999999.
        entry (PDPT+8), 0
        invlpg 0x40000000
        must_read 12, "mov 0x40000000, %eax"
        # 13: MOV CR3 reloads the PDPTE registers from memory: PDPTE1 is not present now,
        # the read is a #PF with error code 0 and CR2 = 0x40000000.
        mov %cr3, %eax
        mov %eax, %cr3
        must_fault 13, f13, "", "mov 0x40000000, %eax"

        # Global pages: CR4.PGE = 1 (MOV CR4, which also invalidates everything).
        mov %cr4, %eax
        or $0x80, %eax
        mov %eax, %cr4
        # 14, 15: fill the TLB: the G page 0x186000 (-> 0x196000) and the non-G page
        # 0x187000 (-> 0x197000).
        must_read 14, "mov 0x186000, %eax"
        must_read 15, "mov 0x187000, %eax"
        # Both PTEs now point at 0x198000; MOV CR3 invalidates non-global entries only.
        entry (PT0+0x186*8), 0x198103
        entry (PT0+0x187*8), 0x198003
        mov %cr3, %eax
        mov %eax, %cr3
        # 16: the global entry survived (this model; a processor may also have dropped it):
        # 0x66666666.
        must_read 16, "mov 0x186000, %eax"
        # 17: the non-global one was invalidated: a new walk reads 0x88888888.
        must_read 17, "mov 0x187000, %eax"
        # 18: MOV CR4 clearing and setting PGE invalidates global entries too: 0x88888888.
        mov %cr4, %eax
        and $~0x80, %eax
        mov %eax, %cr4
        or $0x80, %eax
        mov %eax, %cr4
        must_read 18, "mov 0x186000, %eax"

        # 19, 20: MOV CR3 to a PDPT whose present PDPTE1 has a reserved bit: #GP(0), CR3
        # and the PDPTE registers unchanged (4.4.1). The handler stores CR3.
        must_fault 19, f19, "mov $PDPT_RW, %eax", "mov %eax, %cr3"
        must_fault 20, f20, "mov $PDPT_XD, %eax", "mov %eax, %cr3"
        # 21: CR3 is still 0x20000.
        must_read 21, "mov %cr3, %eax"
        # 22: translation still works through PDPTE0: 0x11111111.
        must_read 22, "mov 0x180000, %eax"

        mov $0x600d, %ebx
        hlt

        # ---- handlers: 32-bit interrupt gates at CPL 0, no privilege change; the frame
        # is error code, EIP, CS, EFLAGS.
pf_handler:
        movl $14, (%edi)
        mov (%esp), %eax
        mov %eax, 4(%edi)
        mov %cr2, %eax
        mov %eax, 8(%edi)
        mov 4(%esp), %eax
        mov %eax, 12(%edi)
        mov $KSTACK, %esp
        jmp *%esi
gp_handler:
        movl $13, (%edi)
        mov (%esp), %eax
        mov %eax, 4(%edi)
        mov %cr3, %eax
        mov %eax, 8(%edi)
        mov 4(%esp), %eax
        mov %eax, 12(%edi)
        mov $KSTACK, %esp
        jmp *%esi
unexpected:
        mov $0xbad, %ebx
        hlt

        .balign 8
gdt:
        .quad 0
        .quad 0x00cf9b000000ffff        # 0x08 code 32-bit
        .quad 0x00cf93000000ffff        # 0x10 data
gdt_end:
gdtr:
        .word gdt_end - gdt - 1
        .long GDT
idtr:
        .word 32 * 8 - 1
        .long IDT
