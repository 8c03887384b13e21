// Every row of /work/shared/spec/domctl.md's domctl tables (6.1, 6.2, 6.3 and the table of
// section 5 "Operations that make a later set_address_size fail"), as data. Each row names its
// source and gives the result of its last op under every preset (and knob setting) where the
// spec distinguishes them, so a row that differs between presets fails under the wrong one.

import { describe, expect, test } from "vitest";
import type { DomctlResult } from "../../../src/hv/xen/domctl/case.js";
import { armCreate, hvmCreate, last, populate, PRESETS, pvCreate, run, type Preset } from "./helpers.js";

interface Expect {
  /** The last op's return value. */
  ret: number;
  /** The condition of the rule that decided a failure. */
  cond?: string;
  state?: (r: DomctlResult) => void;
}
interface Row {
  source: string;
  arch: "x86" | "arm64" | "arm32";
  ops: unknown[];
  /** Per preset; "all" when the presets agree. */
  expect: Partial<Record<Preset | "all", Expect>>;
  /** The same row under a knob override: [knobs, expectation under every preset]. */
  knob?: [Record<string, string>, Expect];
}

const EINVAL = -22, EBUSY = -16, EACCES = -13, EOPNOTSUPP = -95, ESRCH = -3, EEXIST = -17, ENOSYS = -38, ENODATA = -61;

const rw = (r: DomctlResult): boolean[] => r.domain!.vcpus.map((v) => v.hcr_el2_rw!);

const ROWS: Row[] = [
  // --- 6.1 common commands ---------------------------------------------------------------
  { source: "6.1 createdomain: domid in 1..0x7FEF and already used -> -EEXIST", arch: "x86",
    ops: [{ op: "createdomain", domid: 5 }, { op: "createdomain", domid: 5 }], expect: { all: { ret: EEXIST, cond: "!is_free_domid(dom)" } } },
  { source: "2.3 #1 flags outside the known mask -> -EINVAL (bit 9 before the series)", arch: "arm64",
    ops: [{ op: "createdomain", flags: ["hvm", "hap", "is_32bits"] }],
    expect: { "xen-4.21": { ret: EINVAL, cond: "flags & ~0x1FF" }, "cdf-is-32bits-v1": { ret: 0 }, "cdf-is-32bits-reviewed": { ret: 0 } } },
  { source: "2.3 #2 grant_opts & ~0xf -> -EINVAL", arch: "x86", ops: [{ op: "createdomain", grant_opts: 0x10 }], expect: { all: { ret: EINVAL, cond: "grant_opts & ~XEN_DOMCTL_GRANT_version_mask" } } },
  { source: "2.3 #3 max_vcpus < 1 -> -EINVAL", arch: "arm64", ops: [{ op: "createdomain", flags: ["hvm", "hap"], max_vcpus: 0 }], expect: { all: { ret: EINVAL, cond: "max_vcpus < 1" } } },
  { source: "2.3 #4 hap without hvm -> -EINVAL", arch: "x86", ops: [{ op: "createdomain", flags: ["hap"] }], expect: { all: { ret: EINVAL, cond: "hap && !hvm" } } },
  { source: "2.3 #5a iommu and iommu_opts & ~no_sharept -> -EINVAL", arch: "x86", ops: [{ op: "createdomain", flags: ["iommu"], iommu_opts: 2 }], expect: { all: { ret: EINVAL, cond: "iommu_opts & ~XEN_DOMCTL_IOMMU_no_sharept" } } },
  { source: "2.3 #5c iommu clear and iommu_opts != 0 -> -EINVAL", arch: "x86", ops: [{ op: "createdomain", iommu_opts: 1 }], expect: { all: { ret: EINVAL, cond: "!iommu && iommu_opts" } } },
  { source: "2.3 #6 vmtrace_size && !vmtrace_available -> -EINVAL", arch: "x86", ops: [{ op: "createdomain", flags: ["hvm", "hap"], vmtrace_size: 65536 }], expect: { all: { ret: EINVAL, cond: "vmtrace_size && !vmtrace_available" } } },
  { source: "2.3 #7 vpmu && !vpmu_is_available -> -EINVAL (x86 vpmu off by default)", arch: "x86", ops: [{ op: "createdomain", flags: ["vpmu"] }], expect: { all: { ret: EINVAL, cond: "vpmu && !vpmu_is_available" } } },
  { source: "2.4 #2 HVM max_vcpus > HVM_MAX_VCPUS (128) -> -EINVAL", arch: "x86", ops: [{ op: "createdomain", flags: ["hvm", "hap"], max_vcpus: 129 }], expect: { all: { ret: EINVAL, cond: "max_vcpus > HVM_MAX_VCPUS (128)" } } },
  { source: "2.4 #2 PV max_vcpus > MAX_VIRT_CPUS (8192) -> -EINVAL", arch: "x86", ops: [{ op: "createdomain", max_vcpus: 8193 }], expect: { all: { ret: EINVAL, cond: "max_vcpus > MAX_VIRT_CPUS (8192)" } } },
  { source: "2.4 #5 PV: oos_off set in config->flags", arch: "x86", ops: [{ op: "createdomain", max_vcpus: 8192 }],
    expect: { all: { ret: 0, state: (r) => expect(r.ops[0]!.out!["flags"]).toEqual(["oos_off"]) } } },
  { source: "2.4 #7 nested_virt without hap -> -EINVAL", arch: "x86", ops: [{ op: "createdomain", flags: ["hvm", "nested_virt"] }], expect: { all: { ret: EINVAL, cond: "nested_virt && !hap" } } },
  { source: "2.4 #10 trap_unmapped_accesses on x86 -> -EINVAL", arch: "x86", ops: [{ op: "createdomain", flags: ["trap_unmapped_accesses"] }], expect: { all: { ret: EINVAL, cond: "flags & XEN_DOMCTL_CDF_trap_unmapped_accesses" } } },
  { source: "2.4 #11 misc_flags & ~XEN_X86_MSR_RELAXED -> -EINVAL", arch: "x86", ops: [{ op: "createdomain", misc_flags: 2 }], expect: { all: { ret: EINVAL, cond: "arch.misc_flags & ~XEN_X86_MSR_RELAXED" } } },
  { source: "2.4 #12 altp2m.opts & ~0x3 -> -EINVAL", arch: "x86", ops: [{ op: "createdomain", flags: ["hvm", "hap"], altp2m_opts: 4 }], expect: { all: { ret: EINVAL, cond: "altp2m.opts & ~XEN_DOMCTL_ALTP2M_mode_mask" } } },
  { source: "2.4 #13 altp2m with nested_virt -> -EINVAL", arch: "x86", ops: [{ op: "createdomain", flags: ["hvm", "hap", "nested_virt"], altp2m_opts: 1 }], expect: { all: { ret: EINVAL, cond: "altp2m_mode && nested_virt" } } },
  { source: "2.4 #14 altp2m without hap -> -EINVAL", arch: "x86", ops: [{ op: "createdomain", flags: ["hvm"], altp2m_opts: 1 }], expect: { all: { ret: EINVAL, cond: "altp2m_mode && !hap" } } },
  { source: "2.5 #1 Arm without hap -> -EINVAL", arch: "arm64", ops: [{ op: "createdomain", flags: ["hvm"] }], expect: { all: { ret: EINVAL, cond: "(flags & ~flags_optional) != (hvm | hap)" } } },
  { source: "2.5 #1 Arm s3_integrity always rejected -> -EINVAL", arch: "arm32", ops: [{ op: "createdomain", flags: ["hvm", "hap", "s3_integrity"] }], expect: { all: { ret: EINVAL, cond: "(flags & ~flags_optional) != (hvm | hap)" } } },
  { source: "2.5 #2 sve_vl > 0 without SVE (arm32) -> -EINVAL", arch: "arm32", ops: [{ op: "createdomain", flags: ["hvm", "hap"], sve_vl: 1 }], expect: { all: { ret: EINVAL, cond: "sve_vl_bits > 0 && !cpu_has_sve" } } },
  { source: "2.5 #3 sve_vl above the host maximum -> -EINVAL", arch: "arm64", ops: [{ op: "createdomain", flags: ["hvm", "hap"], sve_vl: 3 }], expect: { all: { ret: EINVAL, cond: "sve_vl_bits > get_sys_vl_len() (256)" } } },
  { source: "2.5 #4 iommu_opts no_sharept on Arm -> -EINVAL", arch: "arm64", ops: [{ op: "createdomain", flags: ["hvm", "hap", "iommu"], iommu_opts: 1 }], expect: { all: { ret: EINVAL, cond: "iommu_opts & XEN_DOMCTL_IOMMU_no_sharept" } } },
  { source: "2.5 #7 arm64 max_vcpus above min(vgic, MAX_VIRT_CPUS=128) -> -EINVAL", arch: "arm64", ops: [{ op: "createdomain", flags: ["hvm", "hap"], max_vcpus: 129 }], expect: { all: { ret: EINVAL, cond: "max_vcpus > min(vgic_max_vcpus(), MAX_VIRT_CPUS) (128)" } } },
  { source: "2.5 #7 arm32 max_vcpus above MAX_VIRT_CPUS=8 -> -EINVAL", arch: "arm32", ops: [{ op: "createdomain", flags: ["hvm", "hap"], max_vcpus: 9 }], expect: { all: { ret: EINVAL, cond: "max_vcpus > min(vgic_max_vcpus(), MAX_VIRT_CPUS) (8)" } } },
  { source: "2.5 #9 altp2m on Arm -> -EINVAL", arch: "arm64", ops: [{ op: "createdomain", flags: ["hvm", "hap"], altp2m_opts: 1 }], expect: { all: { ret: EINVAL, cond: "altp2m.opts != 0" } } },
  { source: "6.1 createdomain ok: x86 pv32 = false, pages 0, no vCPUs", arch: "x86", ops: [{ op: "createdomain", max_vcpus: 2 }],
    expect: { all: { ret: 0, state: (r) => expect(r.domain).toMatchObject({ type: "pv64", width: 64, tot_pages: 0, vcpus: [] }) } } },
  { source: "6.1 createdomain ok: Arm64 SEED-BASE type = 32; v1 type = is_32bits ? 32 : 64", arch: "arm64", ops: [{ op: "createdomain", flags: ["hvm", "hap"] }],
    expect: {
      "xen-4.21": { ret: 0, state: (r) => expect(r.domain).toMatchObject({ type: "DOMAIN_32BIT", tot_pages: 0, vcpus: [] }) },
      "cdf-is-32bits-v1": { ret: 0, state: (r) => expect(r.domain).toMatchObject({ type: "DOMAIN_64BIT", tot_pages: 0, vcpus: [] }) },
      "cdf-is-32bits-reviewed": { ret: 0, state: (r) => expect(r.domain!.type).toBe("DOMAIN_64BIT") },
    } },
  { source: "6.1 max_vcpus: max != config.max_vcpus -> -EINVAL", arch: "arm64", ops: [{ op: "createdomain", flags: ["hvm", "hap"], max_vcpus: 2 }, { op: "max_vcpus", n: 3 }], expect: { all: { ret: EINVAL, cond: "max != d->max_vcpus" } } },
  { source: "6.1 max_vcpus ok, idempotent; new Arm vCPUs have RW clear and is_initialised 0", arch: "arm64", ops: [...armCreate(3), { op: "max_vcpus", n: 3 }],
    expect: { all: { ret: 0, state: (r) => expect(r.domain!.vcpus.map((v) => [v.hcr_el2_rw, v.is_initialised])).toEqual([[false, false], [false, false], [false, false]]) } } },
  { source: "6.1 max_vcpus: new x86 PV vCPUs get compat areas if pv32", arch: "x86",
    ops: [{ op: "createdomain", max_vcpus: 2 }, { op: "set_address_size", size: 32 }, { op: "max_vcpus", n: 2 }],
    expect: { all: { ret: 0, state: (r) => expect(r.domain!.vcpus.map((v) => v.compat)).toEqual([true, true]) } } },
  { source: "6.1 max_mem: 0; max_pages = kb >> 2; nothing allocated", arch: "x86", ops: [{ op: "createdomain" }, { op: "max_mem", kb: 4100 }],
    expect: { all: { ret: 0, state: (r) => expect(r.domain).toMatchObject({ max_pages: 1025, tot_pages: 0 }) } } },
  { source: "6.1 setvcpucontext: vcpu >= max_vcpus -> -EINVAL", arch: "x86", ops: [...pvCreate(2), { op: "setvcpucontext", vcpu: 2, mode: "x86_64" }], expect: { all: { ret: EINVAL, cond: "vcpu >= d->max_vcpus" } } },
  { source: "6.1 setvcpucontext: vCPU not created -> -EINVAL", arch: "arm64", ops: [{ op: "createdomain", flags: ["hvm", "hap"], max_vcpus: 2 }, { op: "setvcpucontext", vcpu: 0, mode: "aarch32" }], expect: { all: { ret: EINVAL, cond: "d->vcpu[vcpu] == NULL" } } },
  { source: "6.1 setvcpucontext: NULL handle -> vcpu_reset, is_initialised = 0", arch: "arm32", ops: [...armCreate(1), { op: "setvcpucontext", vcpu: 0, mode: "aarch32" }, { op: "setvcpucontext", vcpu: 0, mode: "null" }],
    expect: { all: { ret: 0, state: (r) => expect(r.domain!.vcpus[0]).toMatchObject({ is_initialised: false, ctxt: null }) } } },
  { source: "6.1 setvcpucontext: Arm PSR does not match the type -> -EINVAL (arm64 default type differs by preset)", arch: "arm64", ops: [...armCreate(1), { op: "setvcpucontext", vcpu: 0, mode: "aarch64" }],
    expect: { "xen-4.21": { ret: EINVAL, cond: "is_32bit_domain(d) && !is_guest_pv32_psr(cpsr)" }, "cdf-is-32bits-v1": { ret: 0 }, "cdf-is-32bits-reviewed": { ret: 0 } } },
  { source: "6.1 setvcpucontext ok: is_initialised = 1; x86 PV32 reads the compat layout", arch: "x86", ops: [...pvCreate(1), { op: "set_address_size", size: 32 }, { op: "setvcpucontext", vcpu: 0, mode: "x86_32" }],
    expect: { all: { ret: 0, state: (r) => expect(r.domain!.vcpus[0]).toMatchObject({ is_initialised: true, ctxt_layout: "compat", width: 32 }) } } },
  { source: "6.1 getvcpucontext: not created -> -EINVAL", arch: "x86", ops: [{ op: "createdomain", max_vcpus: 1 }, { op: "getvcpucontext", vcpu: 0 }], expect: { all: { ret: EINVAL, cond: "d->vcpu[vcpu] == NULL" } } },
  { source: "6.1 getvcpucontext: !is_initialised -> -ENODATA", arch: "x86", ops: [...pvCreate(1), { op: "getvcpucontext", vcpu: 0 }], expect: { all: { ret: ENODATA, cond: "!v->is_initialised" } } },
  { source: "6.1 getvcpucontext ok -> 0", arch: "arm32", ops: [...armCreate(1), { op: "setvcpucontext", vcpu: 0, mode: "aarch32" }, { op: "getvcpucontext", vcpu: 0 }], expect: { all: { ret: 0 } } },
  { source: "6.1 destroydomain ok -> 0, domain gone", arch: "arm64", ops: [...armCreate(1), { op: "destroydomain" }], expect: { all: { ret: 0, state: (r) => expect(r.domain).toBeNull() } } },
  { source: "6.1 after teardown, lookups give -ESRCH (a second destroydomain too)", arch: "arm64", ops: [...armCreate(1), { op: "destroydomain" }, { op: "destroydomain" }], expect: { all: { ret: ESRCH, cond: "rcu_lock_domain_by_id(op->domain) == NULL" } } },
  { source: "6 shared: wrong interface version -> -EACCES (before the lookup)", arch: "x86", ops: [{ op: "max_vcpus", n: 1, interface_version: 0x18 }], expect: { all: { ret: EACCES, cond: "op->interface_version != XEN_DOMCTL_INTERFACE_VERSION" } } },
  { source: "6 shared: target domain does not exist -> -ESRCH", arch: "x86", ops: [{ op: "set_address_size", size: 32 }], expect: { all: { ret: ESRCH } } },

  // --- 6.2 set_address_size / get_address_size -------------------------------------------
  { source: "6.2 x86 HVM/PVH set_address_size -> -EOPNOTSUPP", arch: "x86", ops: [...hvmCreate(), { op: "set_address_size", size: 32 }], expect: { all: { ret: EOPNOTSUPP, cond: "is_hvm_domain(d)" } } },
  { source: "6.2 x86 PV size==64 && !pv32 -> 0, no change (even after memory)", arch: "x86", ops: [...pvCreate(), populate(), { op: "set_address_size", size: 64 }],
    expect: { all: { ret: 0, state: (r) => expect(r.domain!.type).toBe("pv64") } } },
  { source: "6.2 x86 PV size==32 && pv32 -> 0, no change (memory check not reached)", arch: "x86", ops: [...pvCreate(), { op: "set_address_size", size: 32 }, populate(), { op: "set_address_size", size: 32 }],
    expect: { all: { ret: 0, state: (r) => expect(r.domain!.type).toBe("pv32") } } },
  { source: "6.2 x86 PV size==32 && !pv32 && !opt_pv32 -> -EOPNOTSUPP", arch: "x86", ops: [...pvCreate(), { op: "set_address_size", size: 32 }],
    expect: { all: { ret: 0 } }, knob: [{ "domctl.x86.opt_pv32": "disabled" }, { ret: EOPNOTSUPP, cond: "!opt_pv32" }] },
  { source: "6.2 / 5 x86 PV size==32 && !pv32 && pages>0 -> -EACCES (not -EBUSY)", arch: "x86", ops: [...pvCreate(), populate(), { op: "set_address_size", size: 32 }], expect: { all: { ret: EACCES, cond: "domain_tot_pages(d) != 0" } } },
  { source: "6.2 x86 PV size==32 && !pv32 -> 0; pv32 = true, existing vCPUs converted", arch: "x86", ops: [...pvCreate(2), { op: "set_address_size", size: 32 }],
    expect: { all: { ret: 0, state: (r) => expect(r.domain).toMatchObject({ type: "pv32", width: 32, vcpus: [{ compat: true, width: 32 }, { compat: true, width: 32 }] }) } } },
  { source: "6.2 / 5 x86 PV size==64 && pv32 -> -EINVAL (no way back)", arch: "x86", ops: [...pvCreate(), { op: "set_address_size", size: 32 }, { op: "set_address_size", size: 64 }], expect: { all: { ret: EINVAL, cond: "size == 64 && is_pv_32bit_domain(d)" } } },
  { source: "6.2 x86 PV size not 32/64 -> -EINVAL", arch: "x86", ops: [...pvCreate(), { op: "set_address_size", size: 48 }], expect: { all: { ret: EINVAL, cond: "size != 32 && size != 64" } } },
  { source: "6.2 get_address_size x86 HVM -> -EOPNOTSUPP", arch: "x86", ops: [...hvmCreate(), { op: "get_address_size" }], expect: { all: { ret: EOPNOTSUPP } } },
  { source: "6.2 get_address_size x86 PV -> 0, size 64 for a new domain", arch: "x86", ops: [...pvCreate(), { op: "get_address_size" }], expect: { all: { ret: 0, state: (r) => expect(r.ops.at(-1)!.out).toEqual({ size: 64 }) } } },
  { source: "6.2 get_address_size x86 PV -> 0, size 32 after the switch", arch: "x86", ops: [...pvCreate(), { op: "set_address_size", size: 32 }, { op: "get_address_size" }], expect: { all: { ret: 0, state: (r) => expect(r.ops.at(-1)!.out).toEqual({ size: 32 }) } } },
  { source: "6.2 Arm32 set_address_size 32 -> 0 (even with memory)", arch: "arm32", ops: [...armCreate(), populate(), { op: "set_address_size", size: 32 }], expect: { all: { ret: 0 } } },
  { source: "6.2 Arm32 set_address_size otherwise -> -EINVAL", arch: "arm32", ops: [...armCreate(), { op: "set_address_size", size: 64 }], expect: { all: { ret: EINVAL, cond: "size != 32" } } },
  { source: "6.2 Arm64 size not 32/64 -> -EINVAL", arch: "arm64", ops: [...armCreate(), { op: "set_address_size", size: 16 }], expect: { all: { ret: EINVAL, cond: "size != 32 && size != 64" } } },
  { source: "6.2 Arm64 size==32 && !cpu_has_el1_32 -> -EINVAL", arch: "arm64", ops: [...armCreate(), { op: "set_address_size", size: 32 }],
    expect: { all: { ret: 0 } }, knob: [{ "domctl.arm64.cpu_has_el1_32": "no" }, { ret: EINVAL, cond: "size == 32 && !cpu_has_el1_32" }] },
  { source: "6.2 Arm64 size==32 && sve_vl > 0 -> -EINVAL", arch: "arm64", ops: [{ op: "createdomain", flags: ["hvm", "hap"], sve_vl: 2 }, { op: "set_address_size", size: 32 }], expect: { all: { ret: EINVAL, cond: "size == 32 && is_sve_domain(d)" } } },
  { source: "6.2 / 5 Arm64 pages>0 -> -EBUSY (switch 32->64)", arch: "arm64", ops: [...armCreate(), populate(), { op: "set_address_size", size: 64 }], expect: { all: { ret: EBUSY, cond: "domain_tot_pages(d) != 0" } } },
  { source: "6.2 Arm64 SEED-BASE type==requested -> 0, no change; v1 (same-type test dropped) applies the type again", arch: "arm64",
    // set_address_size(64) before max_vcpus, then again once the vCPUs exist (RW clear).
    ops: [{ op: "createdomain", flags: ["hvm", "hap"], max_vcpus: 2 }, { op: "set_address_size", size: 64 }, { op: "max_vcpus", n: 2 }, { op: "set_address_size", size: 64 }],
    expect: {
      "xen-4.21": { ret: 0, state: (r) => { expect(r.ops.at(-1)!.decisions.map((d) => d.branch)).toContain("same-type"); expect(rw(r)).toEqual([false, false]); } },
      "cdf-is-32bits-v1": { ret: 0, state: (r) => { expect(r.domain!.type).toBe("DOMAIN_64BIT"); expect(rw(r)).toEqual([true, true]); } },
      "cdf-is-32bits-reviewed": { ret: 0, state: (r) => expect(rw(r)).toEqual([true, true]) },
    } },
  { source: "6.2 Arm64 requested 64 -> type 64, RW set on every existing vCPU", arch: "arm64", ops: [...armCreate(2), { op: "set_address_size", size: 64 }],
    expect: { all: { ret: 0, state: (r) => { expect(r.domain!.type).toBe("DOMAIN_64BIT"); expect(rw(r)).toEqual([true, true]); } } } },
  { source: "6.2 Arm64 requested 32 after 64: SEED-BASE leaves RW set; v1 clears it", arch: "arm64", ops: [...armCreate(2), { op: "set_address_size", size: 64 }, { op: "set_address_size", size: 32 }],
    expect: {
      "xen-4.21": { ret: 0, state: (r) => { expect(r.domain!.type).toBe("DOMAIN_32BIT"); expect(rw(r)).toEqual([true, true]); } },
      "cdf-is-32bits-v1": { ret: 0, state: (r) => { expect(r.domain!.type).toBe("DOMAIN_32BIT"); expect(rw(r)).toEqual([false, false]); } },
      "cdf-is-32bits-reviewed": { ret: 0, state: (r) => expect(rw(r)).toEqual([false, false]) },
    } },
  { source: "6.2 / 5 Arm64 v1: anyInit -> -EBUSY; SEED-BASE: no check, the type changes under an initialised vCPU", arch: "arm64",
    ops: [...armCreate(1), { op: "set_address_size", size: 64 }, { op: "setvcpucontext", vcpu: 0, mode: "aarch64" }, { op: "set_address_size", size: 32 }],
    expect: {
      "xen-4.21": { ret: 0, state: (r) => expect(r.domain).toMatchObject({ type: "DOMAIN_32BIT", vcpus: [{ is_initialised: true, ctxt: "aarch64", hcr_el2_rw: true }] }) },
      "cdf-is-32bits-v1": { ret: EBUSY, cond: "vcpus_check_initialised(d)" },
      "cdf-is-32bits-reviewed": { ret: EBUSY, cond: "vcpus_check_initialised(d)" },
    } },
  { source: "5 Arm64 (+1/7): the -EBUSY clears again after a NULL-handle reset", arch: "arm64",
    ops: [...armCreate(1), { op: "setvcpucontext", vcpu: 0, mode: "aarch64" }, { op: "setvcpucontext", vcpu: 0, mode: "null" }, { op: "set_address_size", size: 64 }],
    expect: { all: { ret: 0 } } },
  { source: "5 Arm64: max_vcpus, max_mem have no effect; existing vCPUs are switched", arch: "arm64", ops: [...armCreate(4), { op: "set_address_size", size: 64 }],
    expect: { all: { ret: 0, state: (r) => expect(rw(r)).toEqual([true, true, true, true]) } } },
  { source: "5 x86 PV: max_vcpus, max_mem, setvcpucontext without memory do not affect set_address_size", arch: "x86",
    ops: [...pvCreate(2), { op: "setvcpucontext", vcpu: 0, mode: "x86_64" }, { op: "set_address_size", size: 32 }], expect: { all: { ret: 0, state: (r) => expect(r.domain!.type).toBe("pv32") } } },
  { source: "5 x86 HVM: anything -> -EOPNOTSUPP (after memory too)", arch: "x86", ops: [...hvmCreate(), populate(), { op: "set_address_size", size: 64 }], expect: { all: { ret: EOPNOTSUPP } } },
  { source: "6.2 get_address_size Arm64 -> -ENOSYS", arch: "arm64", ops: [...armCreate(), { op: "get_address_size" }], expect: { all: { ret: ENOSYS } } },
  { source: "6.2 get_address_size Arm32 -> -ENOSYS", arch: "arm32", ops: [...armCreate(), { op: "get_address_size" }], expect: { all: { ret: ENOSYS } } },

  // --- 6.3 createdomain with XEN_DOMCTL_CDF_is_32bits ---------------------------------
  { source: "6.3 Arm64: SEED-BASE -EINVAL; v1 accepted, type = 32", arch: "arm64", ops: [{ op: "createdomain", flags: ["hvm", "hap", "is_32bits"] }],
    expect: {
      "xen-4.21": { ret: EINVAL, cond: "flags & ~0x1FF" },
      "cdf-is-32bits-v1": { ret: 0, state: (r) => expect(r.domain!.type).toBe("DOMAIN_32BIT") },
      "cdf-is-32bits-reviewed": { ret: 0, state: (r) => expect(r.domain!.type).toBe("DOMAIN_32BIT") },
    } },
  { source: "6.3 Arm32: SEED-BASE -EINVAL; v1 accepted and ignored", arch: "arm32", ops: [{ op: "createdomain", flags: ["hvm", "hap", "is_32bits"] }],
    expect: {
      "xen-4.21": { ret: EINVAL, cond: "flags & ~0x1FF" },
      "cdf-is-32bits-v1": { ret: 0, state: (r) => { expect(r.domain!.type).toBe("DOMAIN_32BIT"); expect(r.ops[0]!.decisions.map((d) => d.branch)).toContain("arm32-ignores"); } },
      "cdf-is-32bits-reviewed": { ret: 0 },
    } },
  { source: "6.3 x86: SEED-BASE -EINVAL (common); v1 accepted and ignored; after review -EINVAL (arch)", arch: "x86", ops: [{ op: "createdomain", flags: ["is_32bits"] }],
    expect: {
      "xen-4.21": { ret: EINVAL, cond: "flags & ~0x1FF" },
      "cdf-is-32bits-v1": { ret: 0, state: (r) => expect(r.domain).toMatchObject({ type: "pv64", width: 64, flags: ["oos_off", "is_32bits"] }) },
      "cdf-is-32bits-reviewed": { ret: EINVAL, cond: "flags & XEN_DOMCTL_CDF_is_32bits" },
    } },
  { source: "6.3 x86 HVM with the flag: v1 accepted and ignored; after review -EINVAL", arch: "x86", ops: [{ op: "createdomain", flags: ["hvm", "hap", "is_32bits"] }],
    expect: {
      "xen-4.21": { ret: EINVAL },
      "cdf-is-32bits-v1": { ret: 0, state: (r) => expect(r.domain!.type).toBe("hvm") },
      "cdf-is-32bits-reviewed": { ret: EINVAL, cond: "flags & XEN_DOMCTL_CDF_is_32bits" },
    } },
];

function check(r: DomctlResult, e: Expect, label: string): void {
  const op = last(r);
  expect(op.ret, label).toBe(e.ret);
  expect(op.errno, label).toEqual(e.ret === 0 ? null : expect.stringMatching(/^-E[A-Z]+$/));
  if (e.ret !== 0) expect(op.rule, label).toBeDefined();
  if (e.cond !== undefined) expect(op.rule?.cond, label).toBe(e.cond);
  e.state?.(r);
}

describe("domctl.md tables, row by row", () => {
  for (const row of ROWS) {
    test(row.source, () => {
      for (const p of PRESETS) {
        const e = row.expect[p] ?? row.expect.all;
        if (e === undefined) throw new Error(`row has no expectation for ${p}`);
        check(run(row.arch, p, row.ops), e, `${row.source} under ${p}`);
      }
      if (row.knob !== undefined) {
        for (const p of PRESETS) check(run(row.arch, p, row.ops, row.knob[0]), row.knob[1], `${row.source} under ${p} + ${JSON.stringify(row.knob[0])}`);
      }
    });
  }

  test("rows that give per-preset results really differ between presets", () => {
    for (const row of ROWS) {
      if (row.expect.all !== undefined) continue;
      const rets = PRESETS.map((p) => last(run(row.arch, p, row.ops)).ret);
      const states = PRESETS.map((p) => JSON.stringify(run(row.arch, p, row.ops).domain));
      expect(new Set(rets).size > 1 || new Set(states).size > 1, row.source).toBe(true);
    }
  });
});

describe("Arm64 -EBUSY once memory exists, before and after the series (4.2, 5)", () => {
  // SEED-BASE: a default domain is DOMAIN_32BIT, so set_address_size(32) is the no-op call;
  // under v1 the default is DOMAIN_64BIT, so set_address_size(64) is. Both fail once populated.
  for (const [p, same] of [["xen-4.21", 32], ["cdf-is-32bits-v1", 64], ["cdf-is-32bits-reviewed", 64]] as const) {
    test(`${p}: same-type set_address_size(${same}) after populate_physmap -> -EBUSY, not 0`, () => {
      const r = run("arm64", p, [...armCreate(), populate(1), { op: "set_address_size", size: same }]);
      expect(r.domain!.type).toBe(same === 32 ? "DOMAIN_32BIT" : "DOMAIN_64BIT");
      expect(last(r)).toMatchObject({ ret: EBUSY, errno: "-EBUSY", rule: { fn: "switch_mode()", cond: "domain_tot_pages(d) != 0" } });
    });
    test(`${p}: the same call before populate_physmap -> 0`, () => {
      expect(last(run("arm64", p, [...armCreate(), { op: "set_address_size", size: same }])).ret).toBe(0);
    });
  }
  test("x86 PV differs: the same-width call after memory is 0, the 64->32 call -EACCES", () => {
    for (const p of PRESETS) {
      expect(last(run("x86", p, [...pvCreate(), populate(1), { op: "set_address_size", size: 64 }])).ret).toBe(0);
      expect(last(run("x86", p, [...pvCreate(), populate(1), { op: "set_address_size", size: 32 }])).errno).toBe("-EACCES");
    }
  });
});
