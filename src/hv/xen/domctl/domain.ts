// The domain and vCPU state the domctl model acts on, the op records of a case, and the
// bookkeeping every op does: the decisions it took and, when it fails, the rule that decided.

import type { DomctlPolicy } from "../../policy.js";
import { neg, type ErrnoName } from "../errno.js";

export type DomctlArch = "x86" | "arm64" | "arm32";

/** XEN_DOMCTL_CDF_* (public/domctl.h), bit numbers. is_32bits is the seed patch's bit 9. */
export const XEN_DOMCTL_CDF = {
  hvm: 0,
  hap: 1,
  s3_integrity: 2,
  oos_off: 3,
  xs_domain: 4,
  iommu: 5,
  nested_virt: 6,
  vpmu: 7,
  trap_unmapped_accesses: 8,
  is_32bits: 9,
} as const;
export type CdfName = keyof typeof XEN_DOMCTL_CDF;
export const CDF_NAMES = Object.keys(XEN_DOMCTL_CDF) as CdfName[];

/** XEN_DOMCTL_INTERFACE_VERSION at SEED-BASE and RELEASE-4.21.0 (0x18 from 4.22). */
export const XEN_DOMCTL_INTERFACE_VERSION = 0x17;
/** DOMID_FIRST_RESERVED (public/xen.h). */
export const DOMID_FIRST_RESERVED = 0x7ff0;

/** The context a toolstack loads with setvcpucontext; "null" is a NULL ctxt handle (vcpu_reset()). */
export type VcpuCtxtMode = "aarch32" | "aarch64" | "x86_32" | "x86_64" | "null";
export const CTXT_MODES: Readonly<Record<DomctlArch, readonly VcpuCtxtMode[]>> = {
  x86: ["x86_32", "x86_64", "null"],
  arm64: ["aarch32", "aarch64", "null"],
  arm32: ["aarch32", "aarch64", "null"],
};

// --- ops --------------------------------------------------------------------------------

interface DomctlHeader {
  /** struct xen_domctl.interface_version; absent means the right one (0x17). */
  interface_version?: number;
}
export interface CreateDomainOp extends DomctlHeader {
  op: "createdomain";
  flags: CdfName[];
  max_vcpus: number;
  /** op->domain: 0 (or >= DOMID_FIRST_RESERVED) lets Xen choose. */
  domid: number;
  grant_opts: number;
  iommu_opts: number;
  vmtrace_size: number;
  altp2m_opts: number;
  /** x86 arch.misc_flags */
  misc_flags: number;
  /** Arm arch.sve_vl (vector length / 128) */
  sve_vl: number;
}
export interface MaxVcpusOp extends DomctlHeader { op: "max_vcpus"; n: number }
export interface MaxMemOp extends DomctlHeader { op: "max_mem"; kb: number }
/** XENMEM_populate_physmap of order-0 extents, through xc_domain_populate_physmap_exact(). */
export interface PopulatePhysmapOp { op: "populate_physmap"; pages: number }
export interface SetAddressSizeOp extends DomctlHeader { op: "set_address_size"; size: number }
export interface GetAddressSizeOp extends DomctlHeader { op: "get_address_size" }
export interface SetVcpuContextOp extends DomctlHeader { op: "setvcpucontext"; vcpu: number; mode: VcpuCtxtMode }
export interface GetVcpuContextOp extends DomctlHeader { op: "getvcpucontext"; vcpu: number }
export interface UnpauseDomainOp extends DomctlHeader { op: "unpausedomain" }
export interface DestroyDomainOp extends DomctlHeader { op: "destroydomain" }

export type DomctlOp =
  | CreateDomainOp | MaxVcpusOp | MaxMemOp | PopulatePhysmapOp | SetAddressSizeOp | GetAddressSizeOp
  | SetVcpuContextOp | GetVcpuContextOp | UnpauseDomainOp | DestroyDomainOp;
export type DomctlOpName = DomctlOp["op"];
export const OP_NAMES: readonly DomctlOpName[] = [
  "createdomain", "max_vcpus", "max_mem", "populate_physmap", "set_address_size", "get_address_size",
  "setvcpucontext", "getvcpucontext", "unpausedomain", "destroydomain",
];

export interface DomctlCase {
  arch: DomctlArch;
  preset: string;
  /** The preset with the case's knob overrides applied. */
  policy: DomctlPolicy;
  ops: DomctlOp[];
}

// --- explanations -------------------------------------------------------------------------

/** A branch an op took: which knob (if a knob decided), which branch, why. */
export interface Decision {
  knob?: string;
  value?: string;
  branch: string;
  why: string;
}

/** The rule in Xen's code that made an op fail. */
export interface Rule {
  /** The real function, e.g. "switch_mode()". */
  fn: string;
  /** Its file in xen.git (or tools/ for a toolstack rule). */
  file: string;
  /** The condition, in Xen's own terms. */
  cond: string;
  /** The same in words, for a report. */
  why: string;
}

/** What one op did. */
export interface Outcome {
  ret: number;
  decisions: Decision[];
  rule?: Rule;
  out?: Record<string, number | string | string[]>;
}

export class Trace {
  readonly decisions: Decision[] = [];
  out: Record<string, number | string | string[]> | undefined;

  decide(d: Decision): void {
    this.decisions.push(d);
  }

  /** A decision taken because of a knob's value. */
  knob<K extends keyof DomctlPolicy>(policy: DomctlPolicy, knob: K, branch: string, why: string): DomctlPolicy[K] {
    const value = policy[knob];
    this.decisions.push({ knob, value, branch, why });
    return value;
  }

  ok(): Outcome {
    return this.done(0);
  }

  fail(errno: ErrnoName, rule: Rule): Outcome {
    return { ...this.done(neg(errno)), rule };
  }

  private done(ret: number): Outcome {
    const o: Outcome = { ret, decisions: this.decisions };
    if (this.out !== undefined) o.out = this.out;
    return o;
  }
}

// --- state ---------------------------------------------------------------------------------

export interface Vcpu {
  id: number;
  /** v->is_initialised: set by setvcpucontext (arch_set_info_guest), cleared by vcpu_reset(). */
  is_initialised: boolean;
  /** The context last loaded by setvcpucontext, as the toolstack wrote it. */
  ctxt: Exclude<VcpuCtxtMode, "null"> | null;
  /** arm64: HCR_EL2.RW (bit 31): EL1 runs AArch64 when set. */
  hcr_el2_rw: boolean;
  /** x86 PV: setup_compat_arg_xlat()/setup_compat_l4() done (vCPU set up for a 32-bit guest). */
  compat: boolean;
  /** x86: the layout Xen read the last context as (compat iff is_pv_32bit_domain). */
  ctxt_layout: "native" | "compat" | null;
}

export interface Domain {
  domid: number;
  arch: DomctlArch;
  /** config->flags after sanitising (x86 forces oos_off for PV), as written back. */
  flags: number;
  max_vcpus: number;
  sve_vl: number;
  /** arm64: d->arch.type. */
  arm64_type: "DOMAIN_32BIT" | "DOMAIN_64BIT";
  /** x86: d->arch.pv.is_32bit (is_pv_32bit_domain for a PV domain). */
  pv32: boolean;
  max_pages: number;
  tot_pages: number;
  controller_pause_count: number;
  creation_finished: boolean;
  /** d->vcpu[]: null until XEN_DOMCTL_max_vcpus creates it. */
  vcpu: (Vcpu | null)[];
}

export function hasFlag(flags: number, f: CdfName): boolean {
  return (flags & (1 << XEN_DOMCTL_CDF[f])) !== 0;
}
export function isHvm(d: Domain): boolean {
  return hasFlag(d.flags, "hvm");
}
/** is_pv_32bit_domain() (xen/include/xen/sched.h). */
export function isPv32(d: Domain): boolean {
  return d.arch === "x86" && !isHvm(d) && d.pv32;
}

/** The final state of one vCPU, as a result reports it. */
export interface VcpuState {
  vcpu: number;
  is_initialised: boolean;
  ctxt: Exclude<VcpuCtxtMode, "null"> | null;
  /** The width the vCPU executes its kernel at: arm64 HCR_EL2.RW, arm32 32, x86 PV compat ? 32 : 64, HVM null (the guest chooses). */
  width: 32 | 64 | null;
  hcr_el2_rw?: boolean;
  compat?: boolean;
  ctxt_layout?: "native" | "compat" | null;
}

export interface DomainState {
  domid: number;
  arch: DomctlArch;
  flags: CdfName[];
  /** arm: d->arch.type ("DOMAIN_32BIT" is constant on arm32); x86: "pv32", "pv64" or "hvm". */
  type: "DOMAIN_32BIT" | "DOMAIN_64BIT" | "pv32" | "pv64" | "hvm";
  /** The domain's width: what set_address_size and XEN_DOMCTL_CDF_is_32bits fix; null for x86 HVM. */
  width: 32 | 64 | null;
  max_vcpus: number;
  max_pages: number;
  tot_pages: number;
  controller_pause_count: number;
  creation_finished: boolean;
  /** The vCPUs XEN_DOMCTL_max_vcpus created, by id. */
  vcpus: VcpuState[];
}

export function domainType(d: Domain): DomainState["type"] {
  switch (d.arch) {
    case "arm64":
      return d.arm64_type;
    case "arm32":
      return "DOMAIN_32BIT";
    case "x86":
      return isHvm(d) ? "hvm" : d.pv32 ? "pv32" : "pv64";
  }
}

export function domainState(d: Domain): DomainState {
  const type = domainType(d);
  const width = type === "hvm" ? null : type === "DOMAIN_32BIT" || type === "pv32" ? 32 : 64;
  const vcpus: VcpuState[] = [];
  for (const v of d.vcpu) {
    if (v === null) continue;
    const s: VcpuState = { vcpu: v.id, is_initialised: v.is_initialised, ctxt: v.ctxt, width: null };
    if (d.arch === "arm64") {
      s.width = v.hcr_el2_rw ? 64 : 32;
      s.hcr_el2_rw = v.hcr_el2_rw;
    } else if (d.arch === "arm32") {
      s.width = 32;
    } else {
      if (!isHvm(d)) {
        s.width = v.compat ? 32 : 64;
        s.compat = v.compat;
      }
      s.ctxt_layout = v.ctxt_layout;
    }
    vcpus.push(s);
  }
  return {
    domid: d.domid,
    arch: d.arch,
    flags: CDF_NAMES.filter((f) => hasFlag(d.flags, f)),
    type,
    width,
    max_vcpus: d.max_vcpus,
    max_pages: d.max_pages,
    tot_pages: d.tot_pages,
    controller_pause_count: d.controller_pause_count,
    creation_finished: d.creation_finished,
    vcpus,
  };
}
