// The runstate area (xen-hvm.md §6, kvm-xen.md §4): a 32-bit guest registers it 44 bytes
// before a page end; accepted by xen and kvm, refused by kvm-2022 (-EINVAL: the native 48
// bytes must fit one page). And the updates at schedule points, in the latched layout.

import { describe, expect, it } from "vitest";
import { HVM_PRESETS } from "../../../src/hv/policy.js";
import { TIMESLICE_STEPS } from "../../../src/hv/xen/hvm.js";
import { offsetOf } from "../../../src/hv/xen/layout.js";
import { ARGS, Asm, guest, HCALL_PAGE, result, run, Struct, type Guest } from "./support.js";

const PAGE_END = 0x61000;
const AREA = PAGE_END - 44;
const VCPUOP_register_runstate_memory_area = 5;
const VCPUOP_register_runstate_phys_area = 14;
const SCHEDOP_block = 1;
const VCPUOP_set_singleshot_timer = 8;

function register(preset: Parameters<typeof guest>[1], op = VCPUOP_register_runstate_memory_area): Guest {
  const g = guest("prot32", preset);
  g.m.mem.writeBytes(ARGS, new Struct(8).u64(0, AREA).b);
  g.m.mem.writeBytes(AREA, new Uint8Array(44).fill(0xaa));
  g.m.mem.writeBytes(PAGE_END, new Uint8Array(8).fill(0xee)); // the next page's first bytes
  const code = new Asm(32).wrmsr(0x40000000, HCALL_PAGE).hypercall(24, op, 0, ARGS).bytes();
  expect(run(g, code)).toEqual({ kind: "end" });
  return g;
}

describe("a 32-bit guest's runstate area 44 bytes before a page end", () => {
  it("xen accepts it by virtual address (no page check) and writes the 44-byte compat struct", () => {
    const g = register("xen");
    expect(result(g, 0)).toBe(0);
    expect(g.hv.has32bitShinfo).toBe(true);
    // v->runstate copied at once: running since 0, nothing accounted yet (44 bytes, all zero).
    expect(g.m.mem.readBytes(AREA, 44)).toEqual(new Uint8Array(44));
    expect(g.m.mem.readBytes(PAGE_END, 8)).toEqual(new Uint8Array(8).fill(0xee));
  });

  it("xen accepts it by physical address too: 44 bytes through compat_vcpu_op fit the page", () => {
    const g = register("xen", VCPUOP_register_runstate_phys_area);
    expect(result(g, 0)).toBe(0);
    expect(g.hv.runstateAreas.phys).toEqual({ gpa: AREA, compat: true });
  });

  it("kvm (6.2+) accepts it: 44 bytes by the current long_mode", () => {
    const g = register("kvm");
    expect(result(g, 0)).toBe(0);
    expect(g.hv.runstateAreas.kvmGpa).toBe(AREA);
    expect(g.m.mem.readBytes(AREA, 44)).toEqual(new Uint8Array(44));
    expect(g.m.mem.readBytes(PAGE_END, 8)).toEqual(new Uint8Array(8).fill(0xee));
  });

  it("kvm-2022 refuses it with -EINVAL (offset + 48 > 4096) and writes nothing", () => {
    const g = register("kvm-2022");
    expect(result(g, 0)).toBe(-22);
    expect(g.hv.runstateAreas.kvmGpa).toBeNull();
    expect(g.m.mem.readBytes(AREA, 44)).toEqual(new Uint8Array(44).fill(0xaa));
    expect(g.hv.decisions.find((d) => d.knob === "hvm.runstate.area")).toMatchObject({ branch: "kvm_gpc_activate-native-size" });
  });

  it("kvm has no VCPUOP_register_runstate_phys_area (QEMU's vcpu_op: -ENOSYS)", () => {
    expect(result(register("kvm", VCPUOP_register_runstate_phys_area), 0)).toBe(-38);
  });

  it("xen's phys area refuses a native (48-byte) struct there: -ENXIO", () => {
    const g = guest("long64", "xen");
    g.m.mem.writeBytes(ARGS, new Struct(8).u64(0, AREA).b);
    expect(run(g, new Asm(64).hypercall(24, VCPUOP_register_runstate_phys_area, 0, ARGS).bytes())).toEqual({ kind: "end" });
    expect(result(g, 0)).toBe(-6);
  });
});

describe("runstate updates at schedule points", () => {
  /** A 64-bit guest registers its area, arms a single-shot timer 1000 ns ahead, and blocks. */
  function blockWithTimer(preset: Parameters<typeof guest>[1], area: number, flag = false): Guest {
    const g = guest("long64", preset);
    g.m.mem.writeBytes(ARGS, new Struct(8).u64(0, area).b);
    g.m.mem.writeBytes(ARGS + 0x40, new Struct(16).u64(0, 5000).u32(8, 0).b); // timeout_abs_ns = 5000
    const a = new Asm(64).wrmsr(0x40000000, HCALL_PAGE);
    if (flag) a.hypercall(21, 0, 5);
    a.hypercall(24, VCPUOP_register_runstate_memory_area, 0, ARGS)
      .hypercall(24, VCPUOP_set_singleshot_timer, 0, ARGS + 0x40)
      .hypercall(29, SCHEDOP_block, 0);
    g.m.mem.writeBytes(area, new Uint8Array(48).fill(0xaa));
    expect(run(g, a.bytes())).toEqual({ kind: "end" });
    return g;
  }

  it("SCHEDOP_block until the timer: blocked time accounted, state running again, native layout", () => {
    for (const p of ["xen", "kvm"] as const) {
      const g = blockWithTimer(p, 0x62000);
      const at = (f: string) => g.m.mem.read32(0x62000 + offsetOf("x86_64", "vcpu_runstate_info", f)) >>> 0;
      expect(at("state")).toBe(0);
      expect(at("time[2]")).toBeGreaterThan(0); // RUNSTATE_blocked
      expect(at("state_entry_time")).toBe(5000);
      expect(g.m.mem.read8(0x62000 + 15) & 0x80).toBe(0); // XEN_RUNSTATE_UPDATE clear at rest
    }
  });

  it("xen writes the native padding (bytes 4..7); kvm's in-place update leaves it", () => {
    const x = blockWithTimer("xen", 0x62000);
    const k = blockWithTimer("kvm", 0x62000);
    expect(x.m.mem.readBytes(0x62004, 4)).toEqual(new Uint8Array(4));
    expect(k.m.mem.readBytes(0x62004, 4)).toEqual(new Uint8Array(4).fill(0xaa));
  });

  it("an area crossing pages: xen follows the guest's page tables, kvm writes the next guest-physical page", () => {
    // VA 0x40000000 -> PA 0x62000 and VA 0x40001000 -> PA 0x70000 (not 0x63000).
    const remap = (g: Guest) => {
      const pdpt = g.m.tablesBase + 0x11000;
      g.m.mem.write32(pdpt + 8, 0x80000 | 7);
      g.m.mem.write32(0x80000, 0x81000 | 7);
      g.m.mem.write32(0x81000, 0x62000 | 7);
      g.m.mem.write32(0x81008, 0x70000 | 7);
      g.m.cpu.flushTlb();
    };
    const area = 0x40000ff0;
    const out: Record<string, Guest> = {};
    for (const p of ["xen", "kvm"] as const) {
      const g = guest("long64", p);
      remap(g);
      g.m.mem.writeBytes(ARGS, new Struct(8).u64(0, area).b);
      g.m.mem.writeBytes(ARGS + 0x40, new Struct(16).u64(0, 5000).b);
      const a = new Asm(64).wrmsr(0x40000000, HCALL_PAGE).hypercall(21, 0, 5)
        .hypercall(24, VCPUOP_register_runstate_memory_area, 0, ARGS)
        .hypercall(24, VCPUOP_set_singleshot_timer, 0, ARGS + 0x40)
        .hypercall(29, SCHEDOP_block, 0);
      expect(run(g, a.bytes())).toEqual({ kind: "end" });
      expect(g.m.mem.read32(0x62ff0 + 8) >>> 0).toBe(5000); // state_entry_time, first piece
      out[p] = g;
    }
    // time[2] (blocked) is at struct offset 32: the second piece, 16 bytes into the next page.
    const blocked = (g: Guest, pa: number) => g.m.mem.read32(pa + 0x10) >>> 0;
    expect(blocked(out.xen!, 0x70000)).toBeGreaterThan(0);
    expect(blocked(out.xen!, 0x63000)).toBe(0);
    expect(blocked(out.kvm!, 0x63000)).toBeGreaterThan(0);
    expect(blocked(out.kvm!, 0x70000)).toBe(0);
    const g22 = guest("long64", "kvm-2022");
    remap(g22);
    g22.m.mem.writeBytes(ARGS, new Struct(8).u64(0, area).b);
    expect(run(g22, new Asm(64).hypercall(24, VCPUOP_register_runstate_memory_area, 0, ARGS).bytes())).toEqual({ kind: "end" });
    expect(result(g22, 0)).toBe(-22);
  });

  it("a time slice ends every TIMESLICE_STEPS instructions: preempted (runnable) time appears at the next hypercall", () => {
    const g = guest("long64", "xen");
    g.m.mem.writeBytes(ARGS, new Struct(8).u64(0, 0x63000).b);
    const a = new Asm(64).hypercall(24, VCPUOP_register_runstate_memory_area, 0, ARGS);
    // A loop of TIMESLICE_STEPS nops: mov ecx, n; l: dec ecx; jnz l
    a.mov(1, TIMESLICE_STEPS).raw(0xff, 0xc9, 0x75, 0xfc).hypercall(29, 0, 0);
    expect(run(g, a.bytes(), 100_000)).toEqual({ kind: "end" });
    expect(g.m.mem.read32(0x63000 + offsetOf("x86_64", "vcpu_runstate_info", "time[1]")) >>> 0).toBeGreaterThan(0);
    expect(g.hv.events.some((e) => e.kind === "schedule")).toBe(true);
  });

  it("the layout of a Xen VA area follows has_32bit_shinfo at each update, not the registration", () => {
    // Registered from 64-bit code (native 48 bytes written), then CALLBACK_IRQ from ... the same
    // 64-bit code keeps native; flip it to compat with the knob's Xen rule from a compat guest instead.
    const g = guest("compat32", HVM_PRESETS.xen);
    g.m.mem.writeBytes(ARGS, new Struct(8).u64(0, 0x64000).b);
    g.m.mem.writeBytes(ARGS + 0x40, new Struct(12).u64(0, 5000).b);
    g.m.mem.writeBytes(0x64000, new Uint8Array(48).fill(0xaa));
    const a = new Asm(32).hypercall(24, VCPUOP_register_runstate_memory_area, 0, ARGS) // compat call: 44 bytes
      .hypercall(24, VCPUOP_set_singleshot_timer, 0, ARGS + 0x40)
      .hypercall(29, SCHEDOP_block, 0);
    expect(run(g, a.bytes())).toEqual({ kind: "end" });
    // No latch happened: has_32bit_shinfo is still native, so the updates wrote 48 native bytes.
    expect(g.hv.has32bitShinfo).toBe(false);
    expect(g.m.mem.read32(0x64000 + 8) >>> 0).toBe(5000);
    expect(g.m.mem.readBytes(0x64000 + 44, 4)).not.toEqual(new Uint8Array(4).fill(0xaa));
  });
});
