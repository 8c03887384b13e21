// vCPU creation and contexts: XEN_DOMCTL_max_vcpus, XEN_DOMCTL_setvcpucontext and
// XEN_DOMCTL_getvcpucontext (common/domctl.c do_domctl(), spec domctl.md 4.3, 6.1).
// The caller is always the toolstack in dom0, so the "target is the caller" tests never fire.

import { isHvm, isPv32, Trace, type Domain, type Outcome, type Vcpu, type VcpuCtxtMode } from "./domain.js";

const DOMCTL = { file: "xen/common/domctl.c" } as const;

/** Xen common/domctl.c do_domctl() XEN_DOMCTL_max_vcpus, vcpu_create() and the arch hooks. */
export function maxVcpus(d: Domain, max: number): Outcome {
  const t = new Trace();
  if (max !== d.max_vcpus) {
    return t.fail("EINVAL", { fn: "do_domctl() XEN_DOMCTL_max_vcpus", ...DOMCTL, cond: "max != d->max_vcpus", why: `max_vcpus was fixed at ${d.max_vcpus} by createdomain` });
  }
  const made: number[] = [];
  for (let i = 0; i < max; i++) {
    if (d.vcpu[i] !== null) continue;
    d.vcpu[i] = newVcpu(d, i);
    made.push(i);
  }
  if (made.length === 0) {
    t.decide({ branch: "idempotent", why: "every vCPU already exists" });
  } else if (d.arch === "arm64") {
    t.decide({ branch: "hcr-default", why: `arch_vcpu_create(): hcr_el2 = get_default_hcr_flags(), without HCR_RW, whatever the domain type (${d.arm64_type}); vCPU(s) ${made.join(",")}` });
  } else if (d.arch === "x86" && !isHvm(d)) {
    t.decide({ branch: isPv32(d) ? "pv-compat" : "pv-native", why: isPv32(d)
      ? "pv_vcpu_initialise(): is_pv_32bit_domain, so new vCPUs get the compat setup"
      : "pv_vcpu_initialise(): a 64-bit PV domain, native vCPUs" });
  }
  return t.ok();
}

function newVcpu(d: Domain, id: number): Vcpu {
  return { id, is_initialised: false, ctxt: null, hcr_el2_rw: false, compat: isPv32(d), ctxt_layout: null };
}

function lookup(d: Domain, vcpu: number, fn: string, t: Trace): Vcpu | Outcome {
  const v = vcpu < d.max_vcpus ? d.vcpu[vcpu] ?? null : null;
  if (v === null) {
    return t.fail("EINVAL", { fn, ...DOMCTL, cond: vcpu >= d.max_vcpus ? "vcpu >= d->max_vcpus" : "d->vcpu[vcpu] == NULL", why: vcpu >= d.max_vcpus ? `vCPU ${vcpu} is beyond max_vcpus ${d.max_vcpus}` : `vCPU ${vcpu} was not created (XEN_DOMCTL_max_vcpus)` });
  }
  return v;
}

/** Xen common/domctl.c XEN_DOMCTL_setvcpucontext, then vcpu_reset() or arch_set_info_guest(). */
export function setVcpuContext(d: Domain, vcpu: number, mode: VcpuCtxtMode): Outcome {
  const t = new Trace();
  const v = lookup(d, vcpu, "do_domctl() XEN_DOMCTL_setvcpucontext", t);
  if (!("id" in v)) return v;
  if (mode === "null") {
    // Xen common/domain.c vcpu_reset(): a NULL ctxt handle.
    v.is_initialised = false;
    v.ctxt = null;
    v.ctxt_layout = null;
    t.decide({ branch: "vcpu_reset", why: "a NULL ctxt handle resets the vCPU: is_initialised = 0" });
    return t.ok();
  }
  if (d.arch === "x86") {
    // common/domctl.c copies the compat vcpu_guest_context behind is_pv_32bit_domain().
    const layout = isPv32(d) ? "compat" : "native";
    const written = mode === "x86_32" && !isHvm(d) ? "compat" : "native";
    t.decide({ branch: `layout-${layout}`, why: layout === written
      ? `Xen reads the ${layout} vcpu_guest_context, as the toolstack wrote it`
      : `Xen reads the ${layout} vcpu_guest_context but the toolstack wrote a ${mode} (${written}) one: the context is misread` });
    v.ctxt_layout = layout;
  } else {
    // Xen arch/arm/domain.c arch_set_info_guest(): the PSRs are checked against the domain
    // type (is_32bit_domain), never against HCR_EL2.RW.
    const type32 = d.arch === "arm32" || d.arm64_type === "DOMAIN_32BIT";
    if ((mode === "aarch32") !== type32) {
      return t.fail("EINVAL", { fn: "arch_set_info_guest()", file: "xen/arch/arm/domain.c", cond: type32 ? "is_32bit_domain(d) && !is_guest_pv32_psr(cpsr)" : "is_64bit_domain(d) && !is_guest_pv64_psr(cpsr)", why: `an ${mode} context in a ${type32 ? "32" : "64"}-bit domain` });
    }
    if (d.arch === "arm64" && v.hcr_el2_rw !== (mode === "aarch64")) {
      t.decide({ branch: "psr-vs-hcr", why: `the PSR matches the domain type, but HCR_EL2.RW is ${v.hcr_el2_rw ? "set" : "clear"}: EL1 will run ${v.hcr_el2_rw ? "AArch64" : "AArch32"} with an ${mode} context` });
    } else {
      t.decide({ branch: "psr-ok", why: `an ${mode} context in a ${type32 ? "32" : "64"}-bit domain` });
    }
  }
  v.ctxt = mode;
  v.is_initialised = true;
  return t.ok();
}

/** Xen common/domctl.c XEN_DOMCTL_getvcpucontext. */
export function getVcpuContext(d: Domain, vcpu: number): Outcome {
  const t = new Trace();
  const v = lookup(d, vcpu, "do_domctl() XEN_DOMCTL_getvcpucontext", t);
  if (!("id" in v)) return v;
  if (!v.is_initialised) {
    return t.fail("ENODATA", { fn: "do_domctl() XEN_DOMCTL_getvcpucontext", ...DOMCTL, cond: "!v->is_initialised", why: `vCPU ${vcpu} has no context yet` });
  }
  if (v.ctxt !== null) t.out = { mode: v.ctxt };
  return t.ok();
}
