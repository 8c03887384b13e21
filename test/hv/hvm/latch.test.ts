// The shared_info layout latch (xen-hvm.md §2, kvm-xen.md §1, §3, §7): a guest in
// compatibility mode (EFER.LMA = 1, CS.L = 0) writes the hypercall-page MSR and maps
// shared_info; where does the wallclock land? Then the second latch point,
// HVM_PARAM_CALLBACK_IRQ.

import { describe, expect, it } from "vitest";
import { HVM_PRESETS } from "../../../src/hv/policy.js";
import { offsetOf } from "../../../src/hv/xen/layout.js";
import { WALLCLOCK_SEC } from "../../../src/hv/xen/shared_info.js";
import { ARGS, Asm, DOMID_SELF, guest, HCALL_PAGE, result, run, SHINFO, SHINFO_GFN, Struct, u32, type Guest } from "./support.js";

const WC_SEC_COMPAT = SHINFO + offsetOf("x86_32", "shared_info", "wc_sec");
const WC_SEC_NATIVE = SHINFO + offsetOf("x86_64", "shared_info", "wc_sec");
const WC_VERSION_COMPAT = SHINFO + offsetOf("x86_32", "shared_info", "wc_version");

const XENMEM_add_to_physmap = 7;
const HVMOP_set_param = 0;

/** xen_add_to_physmap for XENMAPSPACE_shared_info at SHINFO_GFN, in the layout of a 32- or 64-bit call. */
function xatp(g: Guest, at: number, bits: 32 | 64): void {
  const abi = bits === 64 ? "x86_64" : "x86_32";
  const s = new Struct(bits === 64 ? 24 : 16)
    .u16(offsetOf(abi, "xen_add_to_physmap", "domid"), DOMID_SELF)
    .u32(offsetOf(abi, "xen_add_to_physmap", "space"), 0)
    .u32(offsetOf(abi, "xen_add_to_physmap", "idx"), 0)
    .u32(offsetOf(abi, "xen_add_to_physmap", "gpfn"), SHINFO_GFN);
  g.m.mem.writeBytes(at, s.b);
}

function callbackParam(g: Guest, at: number, vector: number): void {
  const s = new Struct(16)
    .u16(offsetOf("x86_32", "xen_hvm_param", "domid"), DOMID_SELF)
    .u32(offsetOf("x86_32", "xen_hvm_param", "index"), 0)
    .u64(offsetOf("x86_32", "xen_hvm_param", "value"), vector, 2 << 24); // HVM_PARAM_CALLBACK_TYPE_VECTOR
  g.m.mem.writeBytes(at, s.b);
}

/** Compat guest: WRMSR 0x40000000, then XENMEM_add_to_physmap(shared_info) through the hypercall page. */
function compatMsrThenMap(preset: Parameters<typeof guest>[1]): Guest {
  const g = guest("compat32", preset);
  xatp(g, ARGS, 32);
  const code = new Asm(32).wrmsr(0x40000000, HCALL_PAGE).hypercallViaPage(12, XENMEM_add_to_physmap, ARGS).bytes();
  expect(run(g, code)).toEqual({ kind: "end" });
  expect(result(g, 0)).toBe(0);
  return g;
}

describe("the latch at the hypercall-page MSR write, from compatibility mode", () => {
  it("xen (hvm_guest_x86_mode, CS.L = 0) latches compat: the wallclock is at the compat offset", () => {
    const g = compatMsrThenMap("xen");
    expect(g.hv.has32bitShinfo).toBe(true);
    expect(u32(g, WC_SEC_COMPAT)).toBe(WALLCLOCK_SEC);
    expect(u32(g, WC_VERSION_COMPAT) % 2).toBe(0);
    expect(g.hv.decisions.find((d) => d.knob === "hvm.latch.hypercall_msr")).toMatchObject({
      branch: "hvm_guest_x86_mode",
      why: expect.stringContaining("CS.L=0"),
    });
  });

  it("kvm (is_long_mode, EFER.LMA = 1) latches native: the compat offset stays empty, the wallclock is at the native one", () => {
    const g = compatMsrThenMap("kvm");
    expect(g.hv.has32bitShinfo).toBe(false);
    expect(u32(g, WC_SEC_COMPAT)).toBe(0);
    expect(u32(g, WC_SEC_NATIVE)).toBe(WALLCLOCK_SEC);
    expect(g.hv.decisions.find((d) => d.knob === "hvm.latch.hypercall_msr")).toMatchObject({ branch: "is_long_mode" });
  });

  it("kvm-fixed (is_64_bit_hypercall) shows the guest what xen shows it at the compat offsets", () => {
    const x = compatMsrThenMap("xen");
    const f = compatMsrThenMap("kvm-fixed");
    expect(f.hv.has32bitShinfo).toBe(true);
    const compat = (g: Guest) => g.m.mem.readBytes(SHINFO + 0x900, 0x928 - 0x900);
    expect(compat(f)).toEqual(compat(x));
    expect(u32(f, WC_SEC_COMPAT)).toBe(WALLCLOCK_SEC);
    // Xen also holds the stale native copy written at domain build (nothing is ever cleared).
    expect(u32(x, WC_SEC_NATIVE)).toBe(WALLCLOCK_SEC);
    expect(u32(f, WC_SEC_NATIVE)).toBe(0);
  });

  it("a 64-bit guest latches native on every side", () => {
    for (const p of ["xen", "kvm", "kvm-fixed"] as const) {
      const g = guest("long64", p);
      xatp(g, ARGS, 64);
      expect(run(g, new Asm(64).wrmsr(0x40000000, HCALL_PAGE).hypercall(12, XENMEM_add_to_physmap, ARGS).bytes())).toEqual({ kind: "end" });
      expect(u32(g, WC_SEC_NATIVE)).toBe(WALLCLOCK_SEC);
      expect(g.hv.has32bitShinfo).toBe(false);
    }
  });

  it("a 32-bit protected-mode guest latches compat on every side", () => {
    for (const p of ["xen", "kvm", "kvm-fixed"] as const) {
      const g = guest("prot32", p);
      xatp(g, ARGS, 32);
      expect(run(g, new Asm(32).wrmsr(0x40000000, HCALL_PAGE).hypercall(12, XENMEM_add_to_physmap, ARGS).bytes())).toEqual({ kind: "end" });
      expect(u32(g, WC_SEC_COMPAT)).toBe(WALLCLOCK_SEC);
      expect(g.hv.has32bitShinfo).toBe(true);
    }
  });
});

describe("before any latch", () => {
  it("a 64-bit guest mapping shared_info before the MSR: xen writes native, kvm (long_mode = 0) writes compat", () => {
    const out: Record<string, Guest> = {};
    for (const p of ["xen", "kvm"] as const) {
      const g = guest("long64", p);
      xatp(g, ARGS, 64);
      expect(run(g, new Asm(64).hypercall(12, XENMEM_add_to_physmap, ARGS).bytes())).toEqual({ kind: "end" });
      out[p] = g;
    }
    expect([u32(out.xen!, WC_SEC_NATIVE), u32(out.xen!, WC_SEC_COMPAT)]).toEqual([WALLCLOCK_SEC, 0]);
    expect([u32(out.kvm!, WC_SEC_NATIVE), u32(out.kvm!, WC_SEC_COMPAT)]).toEqual([0, WALLCLOCK_SEC]);
  });
});

describe("the latch at HVM_PARAM_CALLBACK_IRQ", () => {
  /** Compat guest: MSR, map, then HVMOP_set_param(CALLBACK_IRQ, vector 0xf3). */
  function compatMsrMapCallback(preset: Parameters<typeof guest>[1]): Guest {
    const g = guest("compat32", preset);
    xatp(g, ARGS, 32);
    callbackParam(g, ARGS + 0x100, 0xf3);
    const code = new Asm(32)
      .wrmsr(0x40000000, HCALL_PAGE)
      .hypercall(12, XENMEM_add_to_physmap, ARGS)
      .loadEax(WC_SEC_COMPAT).storeEax(0x51000) // what the guest sees before CALLBACK_IRQ
      .hypercall(34, HVMOP_set_param, ARGS + 0x100)
      .bytes();
    expect(run(g, code)).toEqual({ kind: "end" });
    expect(result(g, 1)).toBe(0);
    return g;
  }

  it("xen latches compat again (hvm_latch_shinfo_size) and rewrites the wallclock there", () => {
    const g = compatMsrMapCallback("xen");
    expect(u32(g, 0x51000)).toBe(WALLCLOCK_SEC);
    expect(u32(g, WC_SEC_COMPAT)).toBe(WALLCLOCK_SEC);
    // Domain build, MSR latch, CALLBACK_IRQ latch: each bumps the version by 2.
    expect(u32(g, WC_VERSION_COMPAT)).toBe(4);
    expect(g.hv.decisions.find((d) => d.knob === "hvm.latch.callback_irq")).toMatchObject({ branch: "hvm_latch_shinfo_size", why: expect.stringContaining("32bit") });
  });

  it("kvm: the VMM's LONG_MODE (the call's width) repairs the MSR latch: the wallclock moves to compat", () => {
    const g = compatMsrMapCallback("kvm");
    expect(u32(g, 0x51000)).toBe(0); // before: the guest looked at compat and found nothing
    expect(g.hv.has32bitShinfo).toBe(true);
    expect(u32(g, WC_SEC_COMPAT)).toBe(WALLCLOCK_SEC);
    expect(u32(g, WC_VERSION_COMPAT)).toBe(2);
    expect(g.hv.decisions.find((d) => d.knob === "hvm.latch.callback_irq")).toMatchObject({ branch: "xen_set_long_mode" });
  });

  it("without a VMM latch (knob 'none') the MSR's native latch stays and the compat wallclock stays empty", () => {
    const g = compatMsrMapCallback({ ...HVM_PRESETS.kvm, "hvm.latch.callback_irq": "none" });
    expect(g.hv.has32bitShinfo).toBe(false);
    expect(u32(g, WC_SEC_COMPAT)).toBe(0);
  });

  it("kvm before 6.9 (kvm_xen_shared_info_init-5.12): the latch moves nothing, the wallclock stays native", () => {
    const g = compatMsrMapCallback({ ...HVM_PRESETS.kvm, "hvm.shinfo.wallclock": "kvm_xen_shared_info_init-5.12" });
    expect(g.hv.has32bitShinfo).toBe(true);
    expect(u32(g, WC_SEC_COMPAT)).toBe(0);
    expect(u32(g, WC_SEC_NATIVE)).toBe(WALLCLOCK_SEC);
  });
});
