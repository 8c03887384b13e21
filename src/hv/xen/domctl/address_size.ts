// XEN_DOMCTL_set_address_size / XEN_DOMCTL_get_address_size per architecture
// (spec domctl.md 3, 4, 6.2).

import type { DomctlPolicy } from "../../policy.js";
import { isHvm, Trace, type Domain, type Outcome } from "./domain.js";

const X86_DOMCTL = { fn: "arch_do_domctl()", file: "xen/arch/x86/domctl.c" } as const;
const SWITCH_COMPAT = { fn: "switch_compat()", file: "xen/arch/x86/pv/domain.c" } as const;
const ARM64_SET = { fn: "set_address_size()", file: "xen/arch/arm/arm64/domctl.c" } as const;
const ARM64_SWITCH = { fn: "switch_mode()", file: "xen/arch/arm/arm64/domctl.c" } as const;

/** domain_tot_pages(d): tot_pages - extra_pages (the model has no extra pages). */
export function domainTotPages(d: Domain): number {
  return d.tot_pages;
}

export function setAddressSize(d: Domain, policy: DomctlPolicy, size: number): Outcome {
  const t = new Trace();
  switch (d.arch) {
    case "x86":
      return x86SetAddressSize(d, policy, size, t);
    case "arm32":
      // Xen arch/arm/arm32/domctl.c subarch_do_domctl(): an arm32 domain is always 32-bit.
      if (size === 32) {
        t.decide({ branch: "arm32-32", why: "arm32: size 32 is the only width, nothing changes" });
        return t.ok();
      }
      return t.fail("EINVAL", { fn: "subarch_do_domctl()", file: "xen/arch/arm/arm32/domctl.c", cond: "size != 32", why: "an arm32 domain can only be 32-bit" });
    case "arm64":
      return arm64SetAddressSize(d, policy, size, t);
  }
}

/** Xen arch/x86/domctl.c arch_do_domctl() XEN_DOMCTL_set_address_size. */
function x86SetAddressSize(d: Domain, policy: DomctlPolicy, size: number, t: Trace): Outcome {
  if (isHvm(d)) return t.fail("EOPNOTSUPP", { ...X86_DOMCTL, cond: "is_hvm_domain(d)", why: "an HVM/PVH domain has no fixed width" });
  if ((size === 64 && !d.pv32) || (size === 32 && d.pv32)) {
    t.decide({ branch: "same-width", why: `the PV domain is already ${size}-bit: 0 before any memory check` });
    return t.ok();
  }
  if (size !== 32) {
    return t.fail("EINVAL", { ...X86_DOMCTL, cond: size === 64 ? "size == 64 && is_pv_32bit_domain(d)" : "size != 32 && size != 64", why: size === 64 ? "a 32-bit PV domain cannot go back to 64-bit" : `${size} is not an address size` });
  }
  return switchCompat(d, policy, t);
}

/** Xen arch/x86/pv/domain.c switch_compat(): make a 64-bit PV domain 32-bit. */
function switchCompat(d: Domain, policy: DomctlPolicy, t: Trace): Outcome {
  if (t.knob(policy, "domctl.x86.opt_pv32", "opt_pv32", policy["domctl.x86.opt_pv32"] === "enabled"
    ? "the host runs 32-bit PV guests"
    : "opt_pv32 is off (pv=no-32, CET or FRED host, or no CONFIG_PV32)") === "disabled") {
    return t.fail("EOPNOTSUPP", { ...SWITCH_COMPAT, cond: "!opt_pv32", why: "the host does not run 32-bit PV guests" });
  }
  if (domainTotPages(d) !== 0) {
    return t.fail("EACCES", { ...SWITCH_COMPAT, cond: "domain_tot_pages(d) != 0", why: `the domain already has memory (${d.tot_pages} pages)` });
  }
  // has_32bit_shinfo, pv.is_32bit; every existing vCPU gets setup_compat_arg_xlat()/setup_compat_l4().
  d.pv32 = true;
  let n = 0;
  for (const v of d.vcpu) {
    if (v === null) continue;
    v.compat = true;
    n++;
  }
  t.decide({ branch: "switch_compat", why: `the domain becomes 32-bit PV; ${n} existing vCPU(s) get the compat setup` });
  return t.ok();
}

/** Xen arch/arm/arm64/domctl.c set_address_size(). */
function arm64SetAddressSize(d: Domain, policy: DomctlPolicy, size: number, t: Trace): Outcome {
  if (size === 32) {
    if (t.knob(policy, "domctl.arm64.cpu_has_el1_32", "cpu_has_el1_32", policy["domctl.arm64.cpu_has_el1_32"] === "yes"
      ? "the host has AArch32 at EL1" : "the host has no AArch32 at EL1") === "no") {
      return t.fail("EINVAL", { ...ARM64_SET, cond: "size == 32 && !cpu_has_el1_32", why: "the CPU cannot run AArch32 at EL1" });
    }
    if (d.sve_vl > 0) return t.fail("EINVAL", { ...ARM64_SET, cond: "size == 32 && is_sve_domain(d)", why: "an SVE domain cannot be 32-bit" });
    return switchMode(d, policy, "DOMAIN_32BIT", t);
  }
  if (size === 64) return switchMode(d, policy, "DOMAIN_64BIT", t);
  return t.fail("EINVAL", { ...ARM64_SET, cond: "size != 32 && size != 64", why: `${size} is not an address size` });
}

/** Xen arch/arm/arm64/domctl.c switch_mode(). (The d == NULL test cannot fire from do_domctl().) */
function switchMode(d: Domain, policy: DomctlPolicy, type: Domain["arm64_type"], t: Trace): Outcome {
  if (domainTotPages(d) !== 0) {
    return t.fail("EBUSY", { ...ARM64_SWITCH, cond: "domain_tot_pages(d) != 0", why: `the domain already has memory (${d.tot_pages} pages), tested before the same-type test` });
  }
  if (t.knob(policy, "domctl.arm64.switch_mode.vcpus_check_initialised", "vcpus_check_initialised",
    policy["domctl.arm64.switch_mode.vcpus_check_initialised"] === "ebusy"
      ? "1/7: switch_mode() refuses once any vCPU is initialised"
      : "SEED-BASE: no test of the vCPUs' is_initialised") === "ebusy" &&
    d.vcpu.some((v) => v !== null && v.is_initialised)) {
    return t.fail("EBUSY", { ...ARM64_SWITCH, cond: "vcpus_check_initialised(d)", why: "a vCPU is already initialised (setvcpucontext)" });
  }
  if (d.arm64_type === type) {
    if (t.knob(policy, "domctl.arm64.switch_mode.same_type", "same-type", policy["domctl.arm64.switch_mode.same_type"] === "early-return"
      ? `the domain is already ${type}: return 0, vCPUs untouched`
      : `the domain is already ${type}: the type is applied again (2/7 dropped the early return)`) === "early-return") {
      return t.ok();
    }
  }
  d.arm64_type = type;
  if (type === "DOMAIN_64BIT") {
    // vcpu_switch_to_aarch64_mode(): hcr_el2 |= HCR_RW
    for (const v of d.vcpu) if (v !== null) v.hcr_el2_rw = true;
    t.decide({ branch: "rw-set", why: "DOMAIN_64BIT: vcpu_switch_to_aarch64_mode() sets HCR_EL2.RW on every existing vCPU" });
  } else if (t.knob(policy, "domctl.arm64.switch_mode.aarch32_rw", "aarch32-rw", policy["domctl.arm64.switch_mode.aarch32_rw"] === "cleared"
    ? "DOMAIN_32BIT: vcpu_switch_to_aarch32_mode() clears HCR_EL2.RW on every existing vCPU"
    : "DOMAIN_32BIT: existing vCPUs keep their HCR_EL2.RW") === "cleared") {
    for (const v of d.vcpu) if (v !== null) v.hcr_el2_rw = false;
  }
  return t.ok();
}

/** XEN_DOMCTL_get_address_size: x86 arch_do_domctl(); Arm does not handle it. */
export function getAddressSize(d: Domain): Outcome {
  const t = new Trace();
  if (d.arch !== "x86") {
    return t.fail("ENOSYS", { fn: "arch_do_domctl()", file: `xen/arch/arm/domctl.c (subarch_do_domctl() in arm/${d.arch}/domctl.c)`, cond: "default: not handled", why: "Arm has no get_address_size" });
  }
  if (isHvm(d)) return t.fail("EOPNOTSUPP", { ...X86_DOMCTL, cond: "is_hvm_domain(d)", why: "an HVM/PVH domain has no fixed width" });
  const size = d.pv32 ? 32 : 64;
  t.decide({ branch: "address-size", why: d.pv32 ? "is_pv_32bit_domain(d): 32" : "BITS_PER_LONG: 64" });
  t.out = { size };
  return t.ok();
}
