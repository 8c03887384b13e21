// VCPUOP_register_vcpu_info (xen-hvm.md §5.4, kvm-xen.md §5): alignment (8 native / 4 compat,
// -ENXIO), page crossing (-ENXIO in Xen, -EINVAL in KVM+QEMU), re-registration (-EBUSY since
// Xen 4.18, -EINVAL before, allowed by KVM), and what the new area holds.

import { describe, expect, it } from "vitest";
import { HVM_PRESETS } from "../../../src/hv/policy.js";
import { ARGS, Asm, guest, HCALL_PAGE, result, run, Struct, u32, type Guest } from "./support.js";

const VCPUOP_register_vcpu_info = 10;
const GFN = 0x70;

/** Registers vcpu_info at each page offset in turn (mfn GFN), after an MSR latch from `mode`. */
function registerAt(preset: Parameters<typeof guest>[1], mode: "long64" | "compat32", offsets: number[]): Guest {
  const g = guest(mode, preset);
  const a = new Asm(mode === "long64" ? 64 : 32).wrmsr(0x40000000, HCALL_PAGE);
  offsets.forEach((off, i) => {
    g.m.mem.writeBytes(ARGS + 16 * i, new Struct(16).u64(0, GFN).u32(8, off).b);
    a.hypercall(24, VCPUOP_register_vcpu_info, 0, ARGS + 16 * i);
  });
  expect(run(g, a.bytes())).toEqual({ kind: "end" });
  return g;
}

const results = (g: Guest, n: number) => [...Array(n).keys()].map((i) => result(g, i));

describe("register_vcpu_info", () => {
  it("native layout, 4-aligned offset: xen -ENXIO (alignof xen_ulong_t = 8), kvm accepts", () => {
    expect(results(registerAt("xen", "long64", [4]), 1)).toEqual([-6]);
    expect(results(registerAt("kvm", "long64", [4]), 1)).toEqual([0]);
  });

  it("compat layout (xen latched compat): a 4-aligned offset is fine", () => {
    expect(results(registerAt("xen", "compat32", [4]), 1)).toEqual([0]);
  });

  it("crossing the page (offset 4064): xen -ENXIO, kvm -EINVAL; pre-4.18 xen -ENXIO", () => {
    expect(results(registerAt("xen", "long64", [4064]), 1)).toEqual([-6]);
    expect(results(registerAt("kvm", "long64", [4064]), 1)).toEqual([-22]);
    expect(results(registerAt({ ...HVM_PRESETS.xen, "hvm.vcpu_info.register": "map_vcpu_info" }, "long64", [4064]), 1)).toEqual([-6]);
  });

  it("offset >= 4096: gaddr >> 12 != mfn, -EINVAL", () => {
    expect(results(registerAt("xen", "long64", [4096]), 1)).toEqual([-22]);
  });

  it("re-registration: xen 4.18+ -EBUSY, xen before 4.18 -EINVAL, kvm moves the area", () => {
    expect(results(registerAt("xen", "long64", [64, 128]), 2)).toEqual([0, -16]);
    expect(results(registerAt({ ...HVM_PRESETS.xen, "hvm.vcpu_info.register": "map_vcpu_info" }, "long64", [64, 128]), 2)).toEqual([0, -22]);
    const k = registerAt("kvm", "long64", [64, 128]);
    expect(results(k, 2)).toEqual([0, 0]);
    expect(k.hv.vcpuInfoGpa).toBe(GFN * 4096 + 128);
  });

  it("xen populates the new area: evtchn_pending_sel all ones at the layout's width, upcall pending; kvm copies nothing", () => {
    const x = registerAt("xen", "long64", [64]);
    const base = GFN * 4096 + 64;
    expect([u32(x, base + 8), u32(x, base + 12)]).toEqual([0xffffffff, 0xffffffff]);
    expect(x.m.mem.read8(base)).toBe(1);
    const c = registerAt("xen", "compat32", [64]);
    expect([u32(c, base + 4), u32(c, base + 8)]).toEqual([0xffffffff, 0]);
    const k = registerAt("kvm", "long64", [64]);
    expect([u32(k, base + 8), k.m.mem.read8(base)]).toEqual([0, 0]);
    // Both refresh vcpu_info.time (offset 32): an even, non-zero version.
    for (const g of [x, k]) expect(u32(g, base + 32) % 2 === 0 && u32(g, base + 32) > 0).toBe(true);
  });

  it("another vcpuid: -ENOENT", () => {
    const g = guest("long64", "xen");
    g.m.mem.writeBytes(ARGS, new Struct(16).u64(0, GFN).b);
    expect(run(g, new Asm(64).hypercall(24, VCPUOP_register_vcpu_info, 1, ARGS).bytes())).toEqual({ kind: "end" });
    expect(result(g, 0)).toBe(-2);
  });
});
