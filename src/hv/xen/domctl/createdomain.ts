// XEN_DOMCTL_createdomain: the domid choice in do_domctl(), sanitise_domain_config(), the
// per-arch arch_sanitise_domain_config() and the parts of arch_domain_create() that fix the
// domain's width (spec domctl.md 2.2-2.5, 6.3). Checks run in Xen's order; the first failure wins.

import type { DomctlPolicy } from "../../policy.js";
import {
  DOMID_FIRST_RESERVED, XEN_DOMCTL_CDF, hasFlag, Trace,
  type CdfName, type CreateDomainOp, type Domain, type DomctlArch, type Outcome,
} from "./domain.js";

/** The host the model runs on. Fixed; the facts a case may vary are knobs (policy.ts). */
export const X86_HOST = {
  hvm_enabled: true,
  CONFIG_PV: true,
  CONFIG_TBOOT: true,
  hvm_hap_supported: true,
  nested_virt_supported: true,
  iommu_enabled: true,
  /** No Intel PT with vmtrace on this host. */
  vmtrace_available: false,
  /** vpmu is off by default on x86 (vpmu= on the command line turns it on). */
  vpmu_is_available: false,
  /** MAX_VIRT_CPUS on x86-64 (asm/config.h) and HVM_MAX_VCPUS (hvm_info_table.h). */
  MAX_VIRT_CPUS: 8192,
  HVM_MAX_VCPUS: 128,
} as const;

export const ARM_HOST = {
  iommu_enabled: true,
  vmtrace_available: false,
  /** cpu_has_pmu */
  vpmu_is_available: true,
  /** arm64: SVE with a 256-bit maximum (sve_vl is in units of 128 bits); arm32: no SVE. */
  sve_max_bits: { arm64: 256, arm32: 0 },
  /** The host GIC a NATIVE request becomes: GICv3 on arm64 (vgic limit 4096), GICv2 on arm32 (limit 8). */
  vgic_max_vcpus: { arm64: 4096, arm32: 8 },
  /** MAX_VIRT_CPUS (arm asm/config.h). */
  MAX_VIRT_CPUS: { arm64: 128, arm32: 8 },
} as const;

const bit = (f: CdfName): number => 1 << XEN_DOMCTL_CDF[f];
const XEN_DOMCTL_IOMMU_no_sharept = 1;
const XEN_X86_MSR_RELAXED = 1;

const SANITISE = { fn: "sanitise_domain_config()", file: "xen/common/domain.c" } as const;
const X86_SANITISE = { fn: "arch_sanitise_domain_config()", file: "xen/arch/x86/domain.c" } as const;
const ARM_SANITISE = { fn: "arch_sanitise_domain_config()", file: "xen/arch/arm/domain.c" } as const;

/** The ids in use and do_domctl()'s static rover. */
export interface DomidSpace {
  rover: number;
  live: number[];
}

/** Xen common/domctl.c do_domctl() XEN_DOMCTL_createdomain, then domain_create(). */
export function createdomain(
  arch: DomctlArch, policy: DomctlPolicy, ids: DomidSpace, op: CreateDomainOp,
): { outcome: Outcome; domain: Domain | null } {
  const t = new Trace();
  // do_domctl(): a specific id in 1..DOMID_FIRST_RESERVED-1 must be free; otherwise the rover picks one.
  let dom = op.domid;
  if (dom > 0 && dom < DOMID_FIRST_RESERVED) {
    if (ids.live.includes(dom)) {
      return { outcome: t.fail("EEXIST", { fn: "do_domctl()", file: "xen/common/domctl.c", cond: "!is_free_domid(dom)", why: `domain ${dom} already exists` }), domain: null };
    }
    t.decide({ branch: "domid-requested", why: `op->domain ${dom} is free` });
  } else {
    for (dom = ids.rover + 1; dom !== ids.rover; dom++) {
      if (dom === DOMID_FIRST_RESERVED) dom = 1;
      if (!ids.live.includes(dom)) break;
    }
    if (dom === ids.rover) {
      return { outcome: t.fail("ENOMEM", { fn: "do_domctl()", file: "xen/common/domctl.c", cond: "dom == rover", why: "no free domid" }), domain: null };
    }
    ids.rover = dom;
    t.decide({ branch: "domid-rover", why: `the rover picked domid ${dom}` });
  }

  let flags = 0;
  for (const f of op.flags) flags |= bit(f);
  const sanitised = sanitiseDomainConfig(arch, policy, op, flags, t);
  if (typeof sanitised !== "number") return { outcome: sanitised, domain: null };
  flags = sanitised;

  // arch_domain_create(): the width of the new domain.
  let arm64Type: Domain["arm64_type"] = "DOMAIN_32BIT";
  if (arch === "arm64") {
    if (hasFlag(flags, "is_32bits")) {
      arm64Type = "DOMAIN_32BIT";
      t.decide({ knob: "domctl.arm.cdf_is_32bits", value: policy["domctl.arm.cdf_is_32bits"], branch: "type-from-flag", why: "arm64 arch_domain_create(): XEN_DOMCTL_CDF_is_32bits makes the domain DOMAIN_32BIT" });
    } else {
      arm64Type = t.knob(policy, "domctl.arm64.default_type", "default-type",
        policy["domctl.arm64.default_type"] === "DOMAIN_32BIT"
          ? "arm64: alloc_domain_struct() zeroes struct domain and nothing sets d->arch.type, so it is DOMAIN_32BIT (0)"
          : "arm64 arch_domain_create(): without XEN_DOMCTL_CDF_is_32bits the domain is DOMAIN_64BIT");
    }
  } else if (arch === "arm32" && hasFlag(flags, "is_32bits")) {
    t.decide({ knob: "domctl.arm.cdf_is_32bits", value: policy["domctl.arm.cdf_is_32bits"], branch: "arm32-ignores", why: "arm32 compiles the is_32bits code of arch_domain_create() out: accepted and ignored" });
  } else if (arch === "x86") {
    t.decide({ branch: hasFlag(flags, "hvm") ? "hvm" : "pv64", why: hasFlag(flags, "hvm") ? "XEN_DOMCTL_CDF_hvm: an HVM/PVH domain" : "a PV domain starts 64-bit: arch_domain_create() leaves d->arch.pv.is_32bit zeroed" });
  }

  const domain: Domain = {
    domid: dom,
    arch,
    flags,
    max_vcpus: op.max_vcpus,
    sve_vl: op.sve_vl,
    arm64_type: arm64Type,
    pv32: false,
    max_pages: 0,
    tot_pages: 0,
    // domain_create(): the toolstack owns one pause reference until its first unpausedomain.
    controller_pause_count: 1,
    creation_finished: false,
    vcpu: Array.from({ length: Math.min(op.max_vcpus, 0x10000) }, () => null),
  };
  ids.live.push(dom);
  t.out = { domid: dom, flags: cdfList(flags) };
  return { outcome: t.ok(), domain };
}

function cdfList(flags: number): string[] {
  return (Object.keys(XEN_DOMCTL_CDF) as CdfName[]).filter((f) => hasFlag(flags, f));
}

/** Xen common/domain.c sanitise_domain_config(); returns the (possibly adjusted) flags or the failure. */
function sanitiseDomainConfig(arch: DomctlArch, policy: DomctlPolicy, op: CreateDomainOp, flags: number, t: Trace): number | Outcome {
  const host = arch === "x86" ? X86_HOST : ARM_HOST;
  const known = t.knob(policy, "domctl.common.cdf_is_32bits", "cdf-mask",
    policy["domctl.common.cdf_is_32bits"] === "allowed"
      ? "XEN_DOMCTL_CDF_MAX is XEN_DOMCTL_CDF_is_32bits: known flags are 0x3FF"
      : "XEN_DOMCTL_CDF_MAX is trap_unmapped_accesses: known flags are 0x1FF") === "allowed" ? 0x3ff : 0x1ff;
  const fail = (cond: string, why: string): Outcome => t.fail("EINVAL", { ...SANITISE, cond, why });
  if ((flags & ~known) !== 0) return fail(`flags & ~0x${known.toString(16).toUpperCase()}`, "a XEN_DOMCTL_CDF_* flag this Xen does not know");
  if ((op.grant_opts & ~0xf) !== 0) return fail("grant_opts & ~XEN_DOMCTL_GRANT_version_mask", "unknown grant_opts bits");
  if (op.max_vcpus < 1) return fail("max_vcpus < 1", "a domain needs at least one vCPU");
  if (hasFlag(flags, "hap") && !hasFlag(flags, "hvm")) return fail("hap && !hvm", "HAP needs an HVM domain");
  if (hasFlag(flags, "iommu")) {
    if ((op.iommu_opts & ~XEN_DOMCTL_IOMMU_no_sharept) !== 0) return fail("iommu_opts & ~XEN_DOMCTL_IOMMU_no_sharept", "unknown iommu_opts bits");
    if (!host.iommu_enabled) return fail("!iommu_enabled", "the host has no IOMMU");
  } else if (op.iommu_opts !== 0) {
    return fail("!iommu && iommu_opts", "iommu_opts without XEN_DOMCTL_CDF_iommu");
  }
  if (op.vmtrace_size !== 0 && !host.vmtrace_available) return fail("vmtrace_size && !vmtrace_available", "the host has no vmtrace");
  if (hasFlag(flags, "vpmu") && !host.vpmu_is_available) return fail("vpmu && !vpmu_is_available", "the host has no vPMU");
  return arch === "x86" ? x86Sanitise(policy, op, flags, t) : armSanitise(arch, policy, op, flags, t);
}

/** Xen arch/x86/domain.c arch_sanitise_domain_config() (SEED-BASE order). */
function x86Sanitise(policy: DomctlPolicy, op: CreateDomainOp, flags: number, t: Trace): number | Outcome {
  const fail = (cond: string, why: string): Outcome => t.fail("EINVAL", { ...X86_SANITISE, cond, why });
  const hvm = hasFlag(flags, "hvm");
  if (hvm ? !X86_HOST.hvm_enabled : !X86_HOST.CONFIG_PV) return fail(hvm ? "hvm && !hvm_enabled" : "!hvm && !IS_ENABLED(CONFIG_PV)", "the host cannot run this domain type");
  const limit = hvm ? X86_HOST.HVM_MAX_VCPUS : X86_HOST.MAX_VIRT_CPUS;
  if (op.max_vcpus > limit) return fail(`max_vcpus > ${hvm ? "HVM_MAX_VCPUS" : "MAX_VIRT_CPUS"} (${limit})`, "too many vCPUs");
  if (hasFlag(flags, "s3_integrity") && !X86_HOST.CONFIG_TBOOT) return fail("s3_integrity && !IS_ENABLED(CONFIG_TBOOT)", "no tboot");
  if (hasFlag(flags, "hap") && !X86_HOST.hvm_hap_supported) return fail("hap && !hvm_hap_supported()", "no HAP");
  if (!hvm) {
    flags |= bit("oos_off");
    t.decide({ branch: "pv-oos_off", why: "PV: arch_sanitise_domain_config() sets XEN_DOMCTL_CDF_oos_off in config->flags" });
  }
  const nested = hasFlag(flags, "nested_virt");
  if (nested && !X86_HOST.nested_virt_supported) return fail("nested_virt && !hvm_nested_virt_supported()", "no nested virtualisation");
  if (nested && !hasFlag(flags, "hap")) return fail("nested_virt && !hap", "nested virtualisation needs HAP");
  if (op.vmtrace_size !== 0 && !hvm) return fail("vmtrace_size && !hvm", "vmtrace is HVM only");
  if (op.vmtrace_size !== 0) {
    const s = op.vmtrace_size;
    if (s < 4096 || s > 64 * 1024 * 1024 || (s & (s - 1)) !== 0) return fail("vmtrace_size not a power of two in [4K, 64M]", "bad vmtrace buffer size");
  }
  if (hasFlag(flags, "trap_unmapped_accesses")) return fail("flags & XEN_DOMCTL_CDF_trap_unmapped_accesses", "an Arm-only feature");
  if (hasFlag(flags, "is_32bits")) {
    // Not in SEED-BASE's function: the review of 2/7 asked for a check here; the model puts it
    // next to the other "not on x86" flag test.
    if (t.knob(policy, "domctl.x86.cdf_is_32bits", "is_32bits", policy["domctl.x86.cdf_is_32bits"] === "rejected"
      ? "x86 rejects XEN_DOMCTL_CDF_is_32bits until it handles it (review of 2/7: Beulich, Vallejo)"
      : "x86 ignores XEN_DOMCTL_CDF_is_32bits: arch_sanitise_domain_config() never reads bit 9") === "rejected") {
      return fail("flags & XEN_DOMCTL_CDF_is_32bits", "x86 does not support XEN_DOMCTL_CDF_is_32bits");
    }
  }
  if ((op.misc_flags & ~XEN_X86_MSR_RELAXED) !== 0) return fail("arch.misc_flags & ~XEN_X86_MSR_RELAXED", "unknown misc_flags bits");
  if ((op.altp2m_opts & ~0x3) !== 0) return fail("altp2m.opts & ~XEN_DOMCTL_ALTP2M_mode_mask", "unknown altp2m bits");
  if ((op.altp2m_opts & 0x3) !== 0) {
    if (nested) return fail("altp2m_mode && nested_virt", "altp2m and nested virtualisation exclude each other");
    if (!hasFlag(flags, "hap")) return fail("altp2m_mode && !hap", "altp2m needs HAP");
  }
  return flags;
}

/** Xen arch/arm/domain.c arch_sanitise_domain_config() (SEED-BASE order). */
function armSanitise(arch: "arm64" | "arm32", policy: DomctlPolicy, op: CreateDomainOp, flags: number, t: Trace): number | Outcome {
  const fail = (cond: string, why: string): Outcome => t.fail("EINVAL", { ...ARM_SANITISE, cond, why });
  let optional = bit("iommu") | bit("vpmu") | bit("xs_domain") | bit("trap_unmapped_accesses");
  if (hasFlag(flags, "is_32bits") &&
    t.knob(policy, "domctl.arm.cdf_is_32bits", "flags_optional", policy["domctl.arm.cdf_is_32bits"] === "flags_optional"
      ? "XEN_DOMCTL_CDF_is_32bits is in flags_optional (2/7)"
      : "XEN_DOMCTL_CDF_is_32bits is not in flags_optional") === "flags_optional") {
    optional |= bit("is_32bits");
  }
  const required = bit("hvm") | bit("hap");
  if ((flags & ~optional) !== required) return fail("(flags & ~flags_optional) != (hvm | hap)", "Arm domains are hvm|hap plus optional flags only");
  const sveBits = op.sve_vl * 128;
  const maxSve = ARM_HOST.sve_max_bits[arch];
  if (sveBits > 0 && maxSve === 0) return fail("sve_vl_bits > 0 && !cpu_has_sve", "the host has no SVE");
  if (sveBits > maxSve) return fail(`sve_vl_bits > get_sys_vl_len() (${maxSve})`, "SVE vector length above the host's");
  if ((op.iommu_opts & XEN_DOMCTL_IOMMU_no_sharept) !== 0) return fail("iommu_opts & XEN_DOMCTL_IOMMU_no_sharept", "the P2M must be shared with the IOMMU");
  const cap = Math.min(ARM_HOST.vgic_max_vcpus[arch], ARM_HOST.MAX_VIRT_CPUS[arch]);
  if (op.max_vcpus > cap) return fail(`max_vcpus > min(vgic_max_vcpus(), MAX_VIRT_CPUS) (${cap})`, "too many vCPUs");
  if (op.altp2m_opts !== 0) return fail("altp2m.opts != 0", "no altp2m on Arm");
  return flags;
}
