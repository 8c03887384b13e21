// A toolstack sequence run against the model: do_domctl()'s common steps (interface
// version, target lookup) and the dispatch to each op. Ops are issued in the case's order
// whatever earlier ones returned (the hypervisor's view: a toolstack that goes on).

import type { DomctlPolicy } from "../../policy.js";
import { createdomain, type DomidSpace } from "./createdomain.js";
import { getAddressSize, setAddressSize } from "./address_size.js";
import {
  domainState, Trace, XEN_DOMCTL_INTERFACE_VERSION,
  type Decision, type Domain, type DomainState, type DomctlArch, type DomctlCase, type DomctlOp, type DomctlOpName, type Outcome, type Rule,
} from "./domain.js";
import { errnoName } from "../errno.js";
import { maxMem, populatePhysmap } from "./memory.js";
import { getVcpuContext, maxVcpus, setVcpuContext } from "./vcpu.js";

export interface DomctlOpResult {
  op: DomctlOpName;
  /** 0, or the negative errno the hypercall (or for populate_physmap, libxc) returned. */
  ret: number;
  /** "-EBUSY", or null for success. */
  errno: string | null;
  decisions: Decision[];
  /** For a failing op: the rule in Xen's code that decided it. */
  rule?: Rule;
  /** What the op wrote back: createdomain {domid, flags}, get_address_size {size}, populate_physmap {done}, getvcpucontext {mode}. */
  out?: Record<string, number | string | string[]>;
}

export interface DomctlResult {
  arch: DomctlArch;
  preset: string;
  policy: DomctlPolicy;
  ops: DomctlOpResult[];
  /** The domain the ops target at the end (the last one created), or null if none exists. */
  domain: DomainState | null;
}

const DO_DOMCTL = { fn: "do_domctl()", file: "xen/common/domctl.c" } as const;

/** Run one toolstack sequence. Pure and deterministic; never throws for a parsed case. */
export function runDomctl(c: DomctlCase): DomctlResult {
  const ids: DomidSpace = { rover: 0, live: [0] }; // dom0, the caller, holds domid 0
  let target: Domain | null = null;
  let targetId: number | null = null;
  const ops: DomctlOpResult[] = [];
  for (const op of c.ops) {
    let o: Outcome;
    if (op.op === "populate_physmap") {
      o = populatePhysmap(target, op.pages);
    } else if (op.interface_version !== undefined && op.interface_version !== XEN_DOMCTL_INTERFACE_VERSION) {
      o = new Trace().fail("EACCES", { ...DO_DOMCTL, cond: "op->interface_version != XEN_DOMCTL_INTERFACE_VERSION", why: `interface version 0x${op.interface_version.toString(16)}, this Xen speaks 0x${XEN_DOMCTL_INTERFACE_VERSION.toString(16)}` });
    } else if (op.op === "createdomain") {
      const r = createdomain(c.arch, c.policy, ids, op);
      o = r.outcome;
      if (r.domain !== null) {
        target = r.domain;
        targetId = r.domain.domid;
      }
    } else if (target === null) {
      o = new Trace().fail("ESRCH", { ...DO_DOMCTL, cond: "rcu_lock_domain_by_id(op->domain) == NULL", why: targetId === null ? "no domain was created" : `domain ${targetId} was destroyed` });
    } else {
      const d: Domain = target;
      o = dispatch(d, c.policy, op);
      if (op.op === "destroydomain" && o.ret === 0) {
        // domain_kill() runs to DOMDYING_dead and drops the last reference: later lookups fail.
        ids.live = ids.live.filter((x) => x !== d.domid);
        target = null;
      }
    }
    const r: DomctlOpResult = { op: op.op, ret: o.ret, errno: errnoName(o.ret), decisions: o.decisions };
    if (o.rule !== undefined) r.rule = o.rule;
    if (o.out !== undefined) r.out = o.out;
    ops.push(r);
  }
  return { arch: c.arch, preset: c.preset, policy: { ...c.policy }, ops, domain: target === null ? null : domainState(target) };
}

function dispatch(d: Domain, policy: DomctlPolicy, op: Exclude<DomctlOp, { op: "createdomain" | "populate_physmap" }>): Outcome {
  switch (op.op) {
    case "max_vcpus":
      return maxVcpus(d, op.n);
    case "max_mem":
      return maxMem(d, op.kb);
    case "set_address_size":
      return setAddressSize(d, policy, op.size);
    case "get_address_size":
      return getAddressSize(d);
    case "setvcpucontext":
      return setVcpuContext(d, op.vcpu, op.mode);
    case "getvcpucontext":
      return getVcpuContext(d, op.vcpu);
    case "unpausedomain":
      return unpauseDomain(d);
    case "destroydomain": {
      const t = new Trace();
      t.decide({ branch: "domain_kill", why: "domain_kill() tears the domain down (continuations hidden); it can no longer be looked up" });
      return t.ok();
    }
  }
}

/** Xen common/domain.c domain_unpause_by_systemcontroller(). */
function unpauseDomain(d: Domain): Outcome {
  const t = new Trace();
  if (d.controller_pause_count - 1 < 0) {
    return t.fail("EINVAL", { fn: "domain_unpause_by_systemcontroller()", file: "xen/common/domain.c", cond: "controller_pause_count - 1 < 0", why: "the toolstack holds no pause reference (already unpaused)" });
  }
  d.controller_pause_count--;
  if (d.controller_pause_count === 0 && !d.creation_finished) {
    d.creation_finished = true;
    t.decide({ branch: "creation_finished", why: "the first unpause finishes creation: arch_domain_creation_finished()" });
  }
  return t.ok();
}

/** One line for a report: "set_address_size: -EBUSY on arm64 because ... (xen/arch/arm/arm64/domctl.c switch_mode(): domain_tot_pages(d) != 0)". */
export function describeOp(arch: DomctlArch, r: DomctlOpResult): string {
  if (r.rule === undefined) return `${r.op}: ${r.ret} on ${arch}`;
  return `${r.op}: ${r.errno} on ${arch} because ${r.rule.why} (${r.rule.file} ${r.rule.fn}: ${r.rule.cond})`;
}
