// Policy knobs of the hypervisor model: every knob in one place, with the real code it
// imitates, and the named presets. A configuration is a plain object of knob values; the
// model reads knob values, never preset names (style.md "Policy is data").
// The domctl knobs come from /work/shared/spec/domctl.md (SEED-BASE = xen e3c2af4ccd61,
// "v1" = the XEN_DOMCTL_CDF_is_32bits series as posted on xen-devel, 31 Jul 2025).

/** One value a knob can take, and the code (or commit) that behaves that way. */
export interface KnobValue<V extends string = string> {
  value: V;
  models: string;
}

export interface Knob<V extends string = string> {
  /** Unique over the whole hypervisor model: "<area>.<where>.<what>". */
  name: string;
  /** Which part of the model reads it ("domctl"; "hvm" and "pv64" come later). */
  area: string;
  /** The string literal union the knob takes, each value documented. */
  values: readonly KnobValue<V>[];
  /** The real function or commit the knob imitates. */
  models: string;
  description: string;
}

// --- domctl knobs -------------------------------------------------------------------

export type CommonCdfIs32bits = "unknown-flag" | "allowed";
export type X86CdfIs32bits = "ignored" | "rejected";
export type ArmCdfIs32bits = "not-optional" | "flags_optional";
export type Arm64DefaultType = "DOMAIN_32BIT" | "DOMAIN_64BIT";
export type Arm64SameType = "early-return" | "reapply";
export type Arm64Aarch32Rw = "left-as-is" | "cleared";
export type Arm64VcpusCheckInitialised = "absent" | "ebusy";
export type X86OptPv32 = "enabled" | "disabled";
export type Arm64CpuHasEl132 = "yes" | "no";

/** The domctl part of a configuration: one value per domctl knob, keyed by knob name. */
export interface DomctlPolicy {
  "domctl.common.cdf_is_32bits": CommonCdfIs32bits;
  "domctl.x86.cdf_is_32bits": X86CdfIs32bits;
  "domctl.arm.cdf_is_32bits": ArmCdfIs32bits;
  "domctl.arm64.default_type": Arm64DefaultType;
  "domctl.arm64.switch_mode.same_type": Arm64SameType;
  "domctl.arm64.switch_mode.aarch32_rw": Arm64Aarch32Rw;
  "domctl.arm64.switch_mode.vcpus_check_initialised": Arm64VcpusCheckInitialised;
  "domctl.x86.opt_pv32": X86OptPv32;
  "domctl.arm64.cpu_has_el1_32": Arm64CpuHasEl132;
}

export type DomctlKnobName = keyof DomctlPolicy;

export const DOMCTL_KNOBS: readonly Knob[] = [
  {
    name: "domctl.common.cdf_is_32bits",
    area: "domctl",
    values: [
      { value: "unknown-flag", models: "SEED-BASE: XEN_DOMCTL_CDF_MAX is trap_unmapped_accesses, so bit 9 is outside the mask 0x1FF and rule 1 gives -EINVAL" },
      { value: "allowed", models: "v1 patch 2/7: XEN_DOMCTL_CDF_is_32bits (1U << 9) is XEN_DOMCTL_CDF_MAX, mask 0x3FF" },
    ],
    models: "Xen common/domain.c sanitise_domain_config(): the mask of known XEN_DOMCTL_CDF_* flags",
    description: "whether the common createdomain check knows XEN_DOMCTL_CDF_is_32bits",
  },
  {
    name: "domctl.x86.cdf_is_32bits",
    area: "domctl",
    values: [
      { value: "ignored", models: "SEED-BASE and v1: x86 never reads bit 9; once the common mask lets it through it is accepted and ignored" },
      { value: "rejected", models: "review of 2/7 (Jan Beulich, Alejandro Vallejo): -EINVAL until x86 handles the flag" },
    ],
    models: "Xen arch/x86/domain.c arch_sanitise_domain_config()",
    description: "what x86 does with XEN_DOMCTL_CDF_is_32bits",
  },
  {
    name: "domctl.arm.cdf_is_32bits",
    area: "domctl",
    values: [
      { value: "not-optional", models: "SEED-BASE: flags_optional is iommu|vpmu|xs_domain|trap_unmapped_accesses; any other flag gives -EINVAL" },
      { value: "flags_optional", models: "v1 patch 2/7: is_32bits joins flags_optional; arm64 arch_domain_create() makes the domain DOMAIN_32BIT, arm32 compiles that out (ignored)" },
    ],
    models: "Xen arch/arm/domain.c arch_sanitise_domain_config() flags_optional, and arch_domain_create() under CONFIG_ARM_64",
    description: "whether Arm accepts XEN_DOMCTL_CDF_is_32bits (arm64 uses it, arm32 ignores it)",
  },
  {
    name: "domctl.arm64.default_type",
    area: "domctl",
    values: [
      { value: "DOMAIN_32BIT", models: "SEED-BASE: alloc_domain_struct() zeroes struct domain and nothing assigns d->arch.type, so it is 0 = DOMAIN_32BIT" },
      { value: "DOMAIN_64BIT", models: "v1 patch 2/7 (and 'allow to make aarch32 support optional' v2 3/4): arch_domain_create() sets DOMAIN_64BIT unless is_32bits" },
    ],
    models: "Xen arch/arm/domain.c arch_domain_create(): d->arch.type of an arm64 domain created without XEN_DOMCTL_CDF_is_32bits",
    description: "Arm64's domain width before any set_address_size",
  },
  {
    name: "domctl.arm64.switch_mode.same_type",
    area: "domctl",
    values: [
      { value: "early-return", models: "SEED-BASE: d->arch.type == type returns 0 and touches no vCPU" },
      { value: "reapply", models: "v1 patch 2/7: the test is dropped; every accepted call sets the type and every vCPU's HCR_EL2.RW again" },
    ],
    models: "Xen arch/arm/arm64/domctl.c switch_mode(): the same-type early return",
    description: "whether set_address_size to the current width is a no-op on arm64",
  },
  {
    name: "domctl.arm64.switch_mode.aarch32_rw",
    area: "domctl",
    values: [
      { value: "left-as-is", models: "SEED-BASE: only a switch to DOMAIN_64BIT calls vcpu_switch_to_aarch64_mode(); 64->32 leaves HCR_RW set" },
      { value: "cleared", models: "v1 patch 2/7: vcpu_switch_to_aarch32_mode() does hcr_el2 &= ~HCR_RW on every vCPU" },
    ],
    models: "Xen arch/arm/arm64/domctl.c switch_mode(): the per-vCPU loop for DOMAIN_32BIT",
    description: "whether switching an arm64 domain to 32-bit clears HCR_EL2.RW on its vCPUs",
  },
  {
    name: "domctl.arm64.switch_mode.vcpus_check_initialised",
    area: "domctl",
    values: [
      { value: "absent", models: "SEED-BASE: the type may change under an initialised vCPU" },
      { value: "ebusy", models: "v1 patch 1/7 'set_address_size add check for vcpus not initialized': -EBUSY if any vCPU is_initialised" },
    ],
    models: "Xen arch/arm/arm64/domctl.c switch_mode(): vcpus_check_initialised() after the tot_pages test",
    description: "whether set_address_size refuses once a vCPU context was loaded",
  },
  {
    name: "domctl.x86.opt_pv32",
    area: "domctl",
    values: [
      { value: "enabled", models: "default host with CONFIG_PV32" },
      { value: "disabled", models: "pv=no-32, or cleared at boot for CET shadow stacks/IBT or FRED (setup.c, traps-setup.c), or no CONFIG_PV32" },
    ],
    models: "Xen arch/x86/pv/domain.c opt_pv32, read by switch_compat()",
    description: "host: whether 32-bit PV guests are supported",
  },
  {
    name: "domctl.arm64.cpu_has_el1_32",
    area: "domctl",
    values: [
      { value: "yes", models: "the CPU implements AArch32 at EL1" },
      { value: "no", models: "AArch64-only CPU: set_address_size(32) gives -EINVAL" },
    ],
    models: "Xen arch/arm/arm64/domctl.c set_address_size(): cpu_has_el1_32",
    description: "host: whether an arm64 host can run AArch32 guests",
  },
];

const BASE: DomctlPolicy = {
  "domctl.common.cdf_is_32bits": "unknown-flag",
  "domctl.x86.cdf_is_32bits": "ignored",
  "domctl.arm.cdf_is_32bits": "not-optional",
  "domctl.arm64.default_type": "DOMAIN_32BIT",
  "domctl.arm64.switch_mode.same_type": "early-return",
  "domctl.arm64.switch_mode.aarch32_rw": "left-as-is",
  "domctl.arm64.switch_mode.vcpus_check_initialised": "absent",
  "domctl.x86.opt_pv32": "enabled",
  "domctl.arm64.cpu_has_el1_32": "yes",
};

const V1: DomctlPolicy = {
  ...BASE,
  "domctl.common.cdf_is_32bits": "allowed",
  "domctl.arm.cdf_is_32bits": "flags_optional",
  "domctl.arm64.default_type": "DOMAIN_64BIT",
  "domctl.arm64.switch_mode.same_type": "reapply",
  "domctl.arm64.switch_mode.aarch32_rw": "cleared",
  "domctl.arm64.switch_mode.vcpus_check_initialised": "ebusy",
};

export const DOMCTL_PRESETS: Record<string, DomctlPolicy> = {
  /** SEED-BASE (xen e3c2af4ccd61; same domctl ABI as RELEASE-4.21.0). */
  "xen-4.21": BASE,
  /** The series as posted: patches 1/7 and 2/7; x86 accepts and ignores the flag. */
  "cdf-is-32bits-v1": V1,
  /** As v1, but x86 rejects the flag with -EINVAL, as the review asked. */
  "cdf-is-32bits-reviewed": { ...V1, "domctl.x86.cdf_is_32bits": "rejected" },
};

export const DOMCTL_PRESET_DESCRIPTIONS: Readonly<Record<string, string>> = {
  "xen-4.21": "Xen at SEED-BASE (4.21 domctl ABI, interface version 0x17), before the XEN_DOMCTL_CDF_is_32bits series",
  "cdf-is-32bits-v1": "the XEN_DOMCTL_CDF_is_32bits series as posted (1/7 + 2/7): arm64 64-bit by default, switch_mode() reapplies the type; x86 silently accepts and ignores the flag",
  "cdf-is-32bits-reviewed": "as cdf-is-32bits-v1, with x86 rejecting XEN_DOMCTL_CDF_is_32bits with -EINVAL (Beulich, Vallejo)",
};

// --- HVM knobs (Xen HVM guest ABI; spec xen-hvm.md and kvm-xen.md) ----------------------

/** Which predicate decides "64-bit" when the guest writes the hypercall-page MSR. */
export type HvmLatchMsr = "hvm_guest_x86_mode" | "is_long_mode" | "is_64_bit_hypercall";
/** Who latches the layout at HVMOP_set_param(HVM_PARAM_CALLBACK_IRQ). */
export type HvmLatchCallbackIrq = "hvm_latch_shinfo_size" | "xen_set_long_mode" | "none";
/** When the wallclock of shared_info is (re)written. */
export type HvmWallclock = "update_domain_wallclock_time" | "kvm_xen_shared_info_init" | "kvm_xen_shared_info_init-5.12";
/** The runstate-area rules. */
export type HvmRunstate = "update_runstate_area" | "kvm_xen_update_runstate_guest" | "kvm_gpc_activate-native-size";
/** The vcpu_info registration rules. */
export type HvmVcpuInfo = "map_guest_area" | "map_vcpu_info" | "kvm_xen_vcpu_set_attr";
/** What a hypercall from CPL > 0 does. */
export type HvmCpl = "hvm_hypercall" | "kvm_xen_hypercall";
/** What the other vendor's hypercall instruction does. */
export type HvmForeignInsn = "update_guest_vendor" | "kvm_fix_hypercall";
/** How the result of a 32-bit hypercall reaches RAX. */
export type HvmResult32 = "regs->eax" | "kvm_rax_write";
/** How the hypercall page is filled. */
export type HvmHypercallPage = "init_hypercall_page" | "kvm_xen_write_hypercall_page";

/** The shared_info layout before any latch. */
export type HvmInitialLayout = "native" | "compat";

/** The HVM part of a configuration: one value per HVM knob, keyed by knob name. */
export interface HvmPolicy {
  "hvm.shinfo.initial_layout": HvmInitialLayout;
  "hvm.latch.hypercall_msr": HvmLatchMsr;
  "hvm.latch.callback_irq": HvmLatchCallbackIrq;
  "hvm.shinfo.wallclock": HvmWallclock;
  "hvm.runstate.area": HvmRunstate;
  "hvm.vcpu_info.register": HvmVcpuInfo;
  "hvm.hypercall.cpl": HvmCpl;
  "hvm.hypercall.foreign_insn": HvmForeignInsn;
  "hvm.hypercall.result32": HvmResult32;
  "hvm.hypercall_page.fill": HvmHypercallPage;
}

export type HvmKnobName = keyof HvmPolicy;

export const HVM_KNOBS: readonly Knob[] = [
  {
    name: "hvm.shinfo.initial_layout",
    area: "hvm",
    values: [
      { value: "native", models: "Xen: d->arch.has_32bit_shinfo lives in the zeroed struct domain, so an HVM domain starts with the native layout" },
      { value: "compat", models: "KVM: kvm->arch.xen.long_mode starts 0 (KVM_XEN_ATTR_TYPE_LONG_MODE unset), i.e. the 32-bit layout" },
    ],
    models: "Xen struct arch_domain has_32bit_shinfo / KVM struct kvm_xen long_mode: the value before the first latch",
    description: "the shared_info layout before the guest writes the MSR or sets HVM_PARAM_CALLBACK_IRQ",
  },
  {
    name: "hvm.latch.hypercall_msr",
    area: "hvm",
    values: [
      { value: "hvm_guest_x86_mode", models: "Xen hvm_latch_shinfo_size() from hvm_init_hypercall_page(): has_32bit_shinfo = (hvm_guest_x86_mode() != X86_MODE_64BIT), i.e. CS.L decides; compat mode latches 32-bit" },
      { value: "is_long_mode", models: "KVM kvm_xen_write_hypercall_page() since 5.12: long_mode = is_long_mode(vcpu), i.e. EFER.LMA decides; compat mode latches 64-bit" },
      { value: "is_64_bit_hypercall", models: "the fix Woodhouse proposed (lkml 2026-05-20): latch with is_64_bit_hypercall() (CS.L, or protected guest state)" },
    ],
    models: "Xen hvm_latch_shinfo_size() / KVM kvm_xen_write_hypercall_page(): the shared_info layout latch at the hypercall-page MSR write",
    description: "which mode predicate picks native or compat shared_info when the guest writes MSR 0x40000000",
  },
  {
    name: "hvm.latch.callback_irq",
    area: "hvm",
    values: [
      { value: "hvm_latch_shinfo_size", models: "Xen hvm_set_param(HVM_PARAM_CALLBACK_IRQ): hvm_set_callback_via() then hvm_latch_shinfo_size() (hvm_guest_x86_mode, CS.L); wallclock per hvm.shinfo.wallclock" },
      { value: "xen_set_long_mode", models: "QEMU handle_set_param(): after xen_evtchn_set_callback_param(), xen_set_long_mode(exit->u.hcall.longmode) = KVM_XEN_HVM_SET_ATTR(LONG_MODE) with the hypercall's width (is_64_bit_hypercall)" },
      { value: "none", models: "KVM alone: HVMOP_set_param is not handled in-kernel, so a VMM that does not set KVM_XEN_ATTR_TYPE_LONG_MODE leaves the MSR latch in place" },
    ],
    models: "the second latch point: HVMOP_set_param(HVM_PARAM_CALLBACK_IRQ), in Xen or in the VMM under KVM",
    description: "who latches the shared_info layout when the guest sets HVM_PARAM_CALLBACK_IRQ",
  },
  {
    name: "hvm.shinfo.wallclock",
    area: "hvm",
    values: [
      { value: "update_domain_wallclock_time", models: "Xen: the wallclock is written at domain build (domain_set_time_offset(), native layout) and rewritten in the new layout at every latch, changed or not (hvm_latch_shinfo_size)" },
      { value: "kvm_xen_shared_info_init", models: "KVM 6.9+: written when SHARED_INFO is set; the MSR latch rewrites it only when long_mode changes; KVM_XEN_ATTR_TYPE_LONG_MODE rewrites it every time (21b99e4d6db6)" },
      { value: "kvm_xen_shared_info_init-5.12", models: "KVM 5.12-6.8: written only when SHARED_INFO is set, in the layout of that moment; a later latch moves nothing" },
    ],
    models: "Xen update_domain_wallclock_time() / KVM kvm_xen_shared_info_init(): what a layout flip does to existing shared_info data (only the wallclock is rewritten, nothing converted)",
    description: "when the shared_info wallclock is (re)written and at which layout",
  },
  {
    name: "hvm.runstate.area",
    area: "hvm",
    values: [
      { value: "update_runstate_area", models: "Xen: VCPUOP_register_runstate_memory_area keeps the guest virtual address, translated at each update, may cross pages, layout = has_32bit_shinfo at each update; VCPUOP_register_runstate_phys_area goes through map_guest_area() (-ENXIO across a page, layout fixed at registration, XEN_RUNSTATE_UPDATE always)" },
      { value: "kvm_xen_update_runstate_guest", models: "KVM 6.2+ (5ec3289b31ab) with QEMU: the GVA is translated once to a GPA; two gfn_to_pfn caches, the area may cross into the next guest-physical page (two pieces); size 48/44 by long_mode at each update; XEN_RUNSTATE_UPDATE only with RUNSTATE_UPDATE_FLAG" },
      { value: "kvm_gpc_activate-native-size", models: "KVM before 6.2 / 'Always use non-compat vcpu_runstate_info size for gfn=>pfn cache' (Christopherson, 2022-10-13): the native 48 bytes must fit one page, else -EINVAL" },
    ],
    models: "Xen update_runstate_area() / KVM kvm_xen_vcpu_set_attr(RUNSTATE_ADDR) and kvm_xen_update_runstate_guest()",
    description: "where and how the runstate area may be registered and how it is written",
  },
  {
    name: "hvm.vcpu_info.register",
    area: "hvm",
    values: [
      { value: "map_guest_area", models: "Xen 4.18+ common/domain.c map_guest_area(): -EINVAL bad gaddr, -EBUSY re-registration, -ENXIO across a page or misaligned (4 compat / 8 native); vcpu_info_populate() copies the old area and sets evtchn_pending_sel to all ones" },
      { value: "map_vcpu_info", models: "Xen before 4.18 (map_vcpu_info, removed by 295514ff75): offset > PAGE_SIZE-64 or misaligned -ENXIO; re-registration -EINVAL" },
      { value: "kvm_xen_vcpu_set_attr", models: "QEMU vcpuop_register_vcpu_info() + KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO: offset > PAGE_SIZE-64 gives -EINVAL; no alignment rule; re-registration moves the area; nothing is copied" },
    ],
    models: "Xen map_guest_area() / map_vcpu_info(), KVM+QEMU VCPUOP_register_vcpu_info",
    description: "the rules of VCPUOP_register_vcpu_info",
  },
  {
    name: "hvm.hypercall.cpl",
    area: "hvm",
    values: [
      { value: "hvm_hypercall", models: "Xen hvm_hypercall(): hvm_get_cpl() != 0 returns -EPERM in the hypervisor (VM86 always -EPERM; real mode unchecked)" },
      { value: "kvm_xen_hypercall", models: "KVM kvm_xen_hypercall() since 6.1-rc7 (c2b8cdfaf3a6): CPL > 0 is never handled in-kernel, it exits to the VMM (KVM_EXIT_XEN_HCALL with cpl); QEMU kvm_xen_handle_exit() answers -EPERM" },
    ],
    models: "Xen hvm_hypercall() / KVM kvm_xen_hypercall(): hypercalls from CPL > 0",
    description: "where a hypercall from CPL > 0 is refused",
  },
  {
    name: "hvm.hypercall.foreign_insn",
    area: "hvm",
    values: [
      { value: "update_guest_vendor", models: "Xen vmx/svm_update_guest_vendor(): #UD is intercepted only for a cross-vendor guest (or hvm_fep), so VMMCALL on Intel / VMCALL on AMD raises #UD in the guest" },
      { value: "kvm_fix_hypercall", models: "KVM handle_ud() -> em_hypercall() -> emulator_fix_hypercall() (KVM_X86_QUIRK_FIX_HYPERCALL_INSN, on by default): the 3 bytes are rewritten to the native instruction, which is re-executed" },
    ],
    models: "what the other vendor's hypercall instruction does (not in the spec files; from Xen vmx.c/svm.c and KVM x86.c)",
    description: "VMMCALL on Intel, VMCALL on AMD",
  },
  {
    name: "hvm.hypercall.result32",
    area: "hvm",
    values: [
      { value: "regs->eax", models: "Xen hvm_hypercall(): a 32-bit call's result is stored to regs->eax, bits 63:32 of RAX are kept" },
      { value: "kvm_rax_write", models: "KVM kvm_xen_hypercall_set_result(): the full 64-bit RAX is written (raw write in 7.3)" },
    ],
    models: "Xen hvm_hypercall() / KVM kvm_xen_hypercall_set_result(): the return register of a non-64-bit hypercall",
    description: "whether a 32-bit hypercall's result clears or keeps RAX[63:32]",
  },
  {
    name: "hvm.hypercall_page.fill",
    area: "hvm",
    values: [
      { value: "init_hypercall_page", models: "Xen init_hypercall_page() + vmx/svm_init_hypercall_page(): 0xCC fill, 128 stubs, stub 23 (__HYPERVISOR_iret) is UD2" },
      { value: "kvm_xen_write_hypercall_page", models: "KVM kvm_xen_write_hypercall_page() (INTERCEPT_HCALL): the same 32-byte template for all 128 slots, iret included" },
    ],
    models: "the hypercall page contents",
    description: "how the hypercall page is filled",
  },
];

const HVM_XEN: HvmPolicy = {
  "hvm.shinfo.initial_layout": "native",
  "hvm.latch.hypercall_msr": "hvm_guest_x86_mode",
  "hvm.latch.callback_irq": "hvm_latch_shinfo_size",
  "hvm.shinfo.wallclock": "update_domain_wallclock_time",
  "hvm.runstate.area": "update_runstate_area",
  "hvm.vcpu_info.register": "map_guest_area",
  "hvm.hypercall.cpl": "hvm_hypercall",
  "hvm.hypercall.foreign_insn": "update_guest_vendor",
  "hvm.hypercall.result32": "regs->eax",
  "hvm.hypercall_page.fill": "init_hypercall_page",
};

const HVM_KVM: HvmPolicy = {
  "hvm.shinfo.initial_layout": "compat",
  "hvm.latch.hypercall_msr": "is_long_mode",
  "hvm.latch.callback_irq": "xen_set_long_mode",
  "hvm.shinfo.wallclock": "kvm_xen_shared_info_init",
  "hvm.runstate.area": "kvm_xen_update_runstate_guest",
  "hvm.vcpu_info.register": "kvm_xen_vcpu_set_attr",
  "hvm.hypercall.cpl": "kvm_xen_hypercall",
  "hvm.hypercall.foreign_insn": "kvm_fix_hypercall",
  "hvm.hypercall.result32": "kvm_rax_write",
  "hvm.hypercall_page.fill": "kvm_xen_write_hypercall_page",
};

export type HvmPresetName = "xen" | "kvm" | "kvm-fixed" | "kvm-2022";

/** The HVM presets of design/cases.md. */
export const HVM_PRESETS: Record<HvmPresetName, HvmPolicy> = {
  xen: HVM_XEN,
  kvm: HVM_KVM,
  "kvm-fixed": { ...HVM_KVM, "hvm.latch.hypercall_msr": "is_64_bit_hypercall" },
  "kvm-2022": { ...HVM_KVM, "hvm.runstate.area": "kvm_gpc_activate-native-size" },
};

export const HVM_PRESET_DESCRIPTIONS: Readonly<Record<HvmPresetName, string>> = {
  xen: "Xen (c447b7308b13): latch by hvm_guest_x86_mode (CS.L) at the MSR write and at HVM_PARAM_CALLBACK_IRQ; Xen's runstate and vcpu_info rules",
  kvm: "KVM 7.3-rc1 with QEMU as the VMM: latch by is_long_mode (EFER.LMA) at the MSR write, by the hypercall's width at CALLBACK_IRQ; runstate may cross a page (6.2+)",
  "kvm-fixed": "as kvm, with the MSR latch by is_64_bit_hypercall (the proposed fix)",
  "kvm-2022": "as kvm, but the runstate area must fit one page at the native 48-byte size (pre-6.2 / the 2022 proposal)",
};

// --- PV64 knobs (Xen PV64 under FRED and IDT hosts; spec fred-syscall-pv.md) ----------

/** How the host takes events and SYSCALL from a PV guest, and the exit path that goes with it. */
export type Pv64Delivery = "legacy_syscall_init" | "init_fred";
/** entry_from_pv() on a SYSCALL event: the entry hunk of c5a4b9125b (as the spec reads it, or as [PATCH v2] posted it). */
export type Pv64FredSyscallEntry = "76193ef47d" | "c5a4b9125b" | "c5a4b9125b-v2";
/** eretu_exit_to_guest: the exit hunk of c5a4b9125b. */
export type Pv64FredEretuExit = "76193ef47d" | "c5a4b9125b";

/** The PV64 part of a configuration: one value per PV64 knob, keyed by knob name. */
export interface Pv64Policy {
  "pv64.host.delivery": Pv64Delivery;
  "pv64.fred.syscall_entry": Pv64FredSyscallEntry;
  "pv64.fred.eretu_exit": Pv64FredEretuExit;
}

export type Pv64KnobName = keyof Pv64Policy;

export const PV64_KNOBS: readonly Knob[] = [
  {
    name: "pv64.host.delivery",
    area: "pv64",
    values: [
      { value: "legacy_syscall_init", models: "Xen traps-setup.c legacy_syscall_init(): LSTAR/CSTAR -> write_stub_trampoline -> lstar_enter/cstar_enter, SYSENTER_EIP -> sysenter_entry, IDT for exceptions; exit through restore_all_guest (SYSRET when TRAP_syscall, else iret_exit_to_guest)" },
      { value: "init_fred", models: "Xen traps-setup.c init_fred() (X86_FEATURE_XEN_FRED): CR4.FRED, FRED_CONFIG -> entry_FRED_R3 -> entry_from_pv(); restore_all_guest's ALTERNATIVE jumps to eretu_exit_to_guest" },
    ],
    models: "Xen legacy_syscall_init() / init_fred(): which entry and exit paths a PV guest's SYSCALL, faults and returns take",
    description: "host: legacy IDT + SYSCALL/SYSRET, or FRED",
  },
  {
    name: "pv64.fred.syscall_entry",
    area: "pv64",
    values: [
      { value: "76193ef47d", models: "Xen 76193ef47d 'x86/pv: System call handling in FRED mode': entry_from_pv() rebuilds CS/SS only; regs->rcx and regs->r11 keep the guest's pre-SYSCALL values (FRED does not write them)" },
      { value: "c5a4b9125b", models: "Xen c5a4b9125b as committed (2026-05-28; in xen.git at c447b7308b, and in stable-4.21 as 9a0327bf53), entry hunk: entry_from_pv() sets regs->rcx = regs->rip (after SYSCALL) and regs->r11 = regs->rflags, as legacy SYSCALL hardware would; TRAP_syscall stays clear for hypercalls" },
      { value: "c5a4b9125b-v2", models: "[PATCH v2] x86/pv: Provide better SYSCALL backwards compatibility in FRED mode (xen-devel, 2026-03-31), not what was committed: as c5a4b9125b, and regs->entry_vector |= TRAP_syscall before pv_hypercall(), so a hypercall (HYPERCALL_iret with VGCF_in_syscall included) exits as SYSRET would" },
    ],
    models: "Xen traps.c entry_from_pv(), case X86_ET_OTHER vector 1 (SYSCALL); read only on a FRED host",
    description: "FRED host: whether SYSCALL entry writes RCX/R11 into the saved registers",
  },
  {
    name: "pv64.fred.eretu_exit",
    area: "pv64",
    values: [
      { value: "76193ef47d", models: "Xen before c5a4b9125b: eretu_exit_to_guest is POP_GPRS; eretu, so RCX/R11 are regs->rcx/r11 whatever TRAP_syscall says" },
      { value: "c5a4b9125b", models: "Xen c5a4b9125b, exit hunk: eretu_exit_to_guest tests TRAP_syscall, then cmovnz EFRAME_rip -> %rcx and EFRAME_eflags -> %r11 before eretu (where SYSRET would have been used)" },
    ],
    models: "Xen x86_64/entry-fred.S eretu_exit_to_guest; read only on a FRED host",
    description: "FRED host: whether the exit to guest loads RCX/R11 from the frame when TRAP_syscall is set",
  },
];

export type Pv64PresetName = "xen-idt" | "xen-fred" | "xen-fred-fixed";

/** The PV64 presets of design/cases.md. */
export const PV64_PRESETS: Record<Pv64PresetName, Pv64Policy> = {
  "xen-idt": { "pv64.host.delivery": "legacy_syscall_init", "pv64.fred.syscall_entry": "c5a4b9125b", "pv64.fred.eretu_exit": "c5a4b9125b" },
  "xen-fred": { "pv64.host.delivery": "init_fred", "pv64.fred.syscall_entry": "76193ef47d", "pv64.fred.eretu_exit": "76193ef47d" },
  "xen-fred-fixed": { "pv64.host.delivery": "init_fred", "pv64.fred.syscall_entry": "c5a4b9125b", "pv64.fred.eretu_exit": "c5a4b9125b" },
};

export const PV64_PRESET_DESCRIPTIONS: Readonly<Record<Pv64PresetName, string>> = {
  "xen-idt": "Xen on a legacy host: SYSCALL via LSTAR into lstar_enter, exit through restore_all_guest (SYSRET or IRET); the FRED knobs are not read",
  "xen-fred": "Xen on a FRED host after 76193ef47d, before c5a4b9125b: SYSCALL leaves RCX/R11 alone and nothing sets them",
  "xen-fred-fixed": "Xen on a FRED host with c5a4b9125b: entry_from_pv() sets regs->rcx/r11 on SYSCALL, eretu_exit_to_guest loads them from the frame when TRAP_syscall is set",
};

// --- the registry ---------------------------------------------------------------------

/** Every knob of the hypervisor model (`hvdiff knobs`). */
export const KNOBS: readonly Knob[] = [...DOMCTL_KNOBS, ...HVM_KNOBS, ...PV64_KNOBS];

export function findKnob(name: string): Knob | undefined {
  return KNOBS.find((k) => k.name === name);
}

/** Why `value` is not a value of knob `name`, or null if it is. */
export function knobValueProblem(name: string, value: unknown, knobs: readonly Knob[] = KNOBS): string | null {
  const k = knobs.find((x) => x.name === name);
  if (k === undefined) return "unknown knob";
  if (typeof value !== "string" || !k.values.some((v) => v.value === value)) {
    return `must be one of ${k.values.map((v) => JSON.stringify(v.value)).join(", ")}`;
  }
  return null;
}

/**
 * `base` (a preset's policy) with `overrides` applied, each knob checked by name and value
 * against `knobs`: the policy, or the first override that is wrong and why.
 */
export function withKnobs<P extends object>(base: P, overrides: object, knobs: readonly Knob[]): { policy: P } | { knob: string; problem: string } {
  const policy = { ...base } as Record<string, unknown>;
  for (const [knob, value] of Object.entries(overrides)) {
    const problem = knobValueProblem(knob, value, knobs);
    if (problem !== null) return { knob, problem };
    policy[knob] = value;
  }
  return { policy: policy as P };
}

/**
 * The preset a case or configuration runs under when it names none, and the one a
 * configuration file's partial knobs complete: Xen at SEED-BASE for domctls, Xen for HVM,
 * a legacy (IDT) host for PV64.
 */
export const DEFAULT_DOMCTL_PRESET = "xen-4.21";
export const DEFAULT_HVM_PRESET: HvmPresetName = "xen";
export const DEFAULT_PV64_PRESET: Pv64PresetName = "xen-idt";
