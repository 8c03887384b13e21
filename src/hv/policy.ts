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

// --- the registry ---------------------------------------------------------------------

/** Every knob of the hypervisor model (`hvdiff knobs`). HVM and PV64 append theirs. */
export const KNOBS: readonly Knob[] = [...DOMCTL_KNOBS];

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
