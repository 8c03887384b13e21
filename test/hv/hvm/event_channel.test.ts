// Event channels under a latch (xen-hvm.md §1.5, §2; kvm-xen.md §8): a compat guest whose
// MSR write KVM latched native. The pending selector and the mask bitmap move between the
// layouts; the guest, reading the compat layout, looks in the wrong place.

import { describe, expect, it } from "vitest";
import { offsetOf } from "../../../src/hv/xen/layout.js";
import { ARGS, Asm, DOMID_SELF, guest, HCALL_PAGE, result, run, SHINFO, SHINFO_GFN, Struct, u32, type Guest } from "./support.js";

const EVTCHNOP_send = 4, EVTCHNOP_alloc_unbound = 6, EVTCHNOP_bind_ipi = 7, EVTCHNOP_close = 3, EVTCHNOP_unmask = 9, EVTCHNOP_bind_virq = 1;
const HVMOP_set_evtchn_upcall_vector = 23;
const XATP = ARGS, UPCALL = ARGS + 0x100, IPI = ARGS + 0x200, SEND = ARGS + 0x300;

/** Compat guest: MSR, map shared_info, upcall vector 0xf3 (no latch), bind_ipi, [mask], send. */
function compatIpi(preset: Parameters<typeof guest>[1], maskFirst: boolean): Guest {
  const g = guest("compat32", preset);
  const mem = g.m.mem;
  mem.writeBytes(XATP, new Struct(16).u16(0, DOMID_SELF).u32(12, SHINFO_GFN).b);
  mem.writeBytes(UPCALL, new Struct(8).u32(0, 0).u8(4, 0xf3).b);
  mem.writeBytes(IPI, new Struct(8).u32(0, 0).b);
  mem.writeBytes(SEND, new Struct(4).u32(0, 1).b);
  const a = new Asm(32)
    .wrmsr(0x40000000, HCALL_PAGE)
    .hypercall(12, 7, XATP)
    .hypercall(34, HVMOP_set_evtchn_upcall_vector, UPCALL)
    .hypercall(32, EVTCHNOP_bind_ipi, IPI);
  // The guest masks port 1 in the compat evtchn_mask (0x880).
  if (maskFirst) a.mov(0, 2).storeEax(SHINFO + offsetOf("x86_32", "shared_info", "evtchn_mask"));
  a.hypercall(32, EVTCHNOP_send, SEND)
    // What a compat guest reads: vcpu_info[0].evtchn_pending_sel (+4) and evtchn_upcall_pending.
    .loadEax(SHINFO + offsetOf("x86_32", "shared_info", "vcpu_info[0].evtchn_pending_sel")).storeEax(0x51000)
    .loadEax(SHINFO).storeEax(0x51004);
  expect(run(g, a.bytes())).toEqual({ kind: "end" });
  expect([0, 1, 2, 3].map((i) => result(g, i))).toEqual([0, 0, 0, 0]);
  expect(u32(g, IPI + 4)).toBe(1); // the port bind_ipi returned
  return g;
}

describe("event delivery under the latch", () => {
  it("xen (latched compat): the selector bit is where the compat guest looks", () => {
    const g = compatIpi("xen", false);
    expect(u32(g, 0x51000)).toBe(1);
    expect(u32(g, 0x51004) & 0xff).toBe(1);
    expect(u32(g, SHINFO + 0x800) & 2).toBe(2); // evtchn_pending bit 1 (same byte in both layouts)
  });

  it("kvm (latched native): the selector is a u64 at +8, the compat guest's +4 reads 0", () => {
    const g = compatIpi("kvm", false);
    expect(u32(g, 0x51000)).toBe(0);
    expect(u32(g, SHINFO + offsetOf("x86_64", "vcpu_info", "evtchn_pending_sel"))).toBe(1);
    expect(u32(g, 0x51004) & 0xff).toBe(1);
  });

  it("kvm-fixed behaves as xen", () => {
    expect(u32(compatIpi("kvm-fixed", false), 0x51000)).toBe(1);
  });

  it("a port masked in the compat bitmap: xen holds the event back, kvm reads the native mask (0xA00) and delivers", () => {
    const x = compatIpi("xen", true);
    expect(u32(x, 0x51000)).toBe(0);
    expect(u32(x, 0x51004) & 0xff).toBe(0);
    const k = compatIpi("kvm", true);
    expect(u32(k, SHINFO + 0x8)).toBe(1);
    expect(u32(k, 0x51004) & 0xff).toBe(1);
    expect(k.hv.events.some((e) => e.kind === "upcall")).toBe(true);
    expect(x.hv.events.some((e) => e.kind === "upcall")).toBe(false);
  });
});

describe("event channel operations", () => {
  it("alloc_unbound, bind_virq, close, unmask and their errors", () => {
    const g = guest("long64", "xen");
    const mem = g.m.mem;
    mem.writeBytes(ARGS, new Struct(8).u16(0, DOMID_SELF).u16(2, DOMID_SELF).b); // alloc_unbound
    mem.writeBytes(ARGS + 0x10, new Struct(8).u16(0, 5).u16(2, DOMID_SELF).b); // dom 5: -ESRCH
    mem.writeBytes(ARGS + 0x20, new Struct(12).u32(0, 0).u32(4, 0).b); // bind_virq VIRQ_TIMER
    mem.writeBytes(ARGS + 0x30, new Struct(12).u32(0, 0).u32(4, 0).b); // again: -EEXIST
    mem.writeBytes(ARGS + 0x40, new Struct(12).u32(0, 24).u32(4, 0).b); // virq 24: -EINVAL
    mem.writeBytes(ARGS + 0x50, new Struct(4).u32(0, 2).b); // send on the VIRQ port: -EINVAL
    mem.writeBytes(ARGS + 0x60, new Struct(4).u32(0, 1).b); // send on the unbound port: dropped, 0
    mem.writeBytes(ARGS + 0x70, new Struct(4).u32(0, 1).b); // close 1
    mem.writeBytes(ARGS + 0x80, new Struct(4).u32(0, 1).b); // close 1 again: -EINVAL
    mem.writeBytes(ARGS + 0x90, new Struct(4).u32(0, 4096).b); // unmask 4096 (native max 4096): -EINVAL
    mem.writeBytes(ARGS + 0xa0, new Struct(8).u32(0, 1).b); // bind_ipi vcpu 1: -ENOENT
    const a = new Asm(64)
      .hypercall(32, EVTCHNOP_alloc_unbound, ARGS)
      .hypercall(32, EVTCHNOP_alloc_unbound, ARGS + 0x10)
      .hypercall(32, EVTCHNOP_bind_virq, ARGS + 0x20)
      .hypercall(32, EVTCHNOP_bind_virq, ARGS + 0x30)
      .hypercall(32, EVTCHNOP_bind_virq, ARGS + 0x40)
      .hypercall(32, EVTCHNOP_send, ARGS + 0x50)
      .hypercall(32, EVTCHNOP_send, ARGS + 0x60)
      .hypercall(32, EVTCHNOP_close, ARGS + 0x70)
      .hypercall(32, EVTCHNOP_close, ARGS + 0x80)
      .hypercall(32, EVTCHNOP_unmask, ARGS + 0x90)
      .hypercall(32, EVTCHNOP_bind_ipi, ARGS + 0xa0)
      .hypercall(32, 99, 0);
    expect(run(g, a.bytes())).toEqual({ kind: "end" });
    expect([...Array(12).keys()].map((i) => result(g, i))).toEqual([0, -3, 0, -17, -22, -22, 0, 0, -22, -22, -2, -38]);
    expect(u32(g, ARGS + 4)).toBe(1);
    expect(u32(g, ARGS + 0x28)).toBe(2);
  });
});

describe("the upcall through the guest's IDT", () => {
  for (const preset of ["xen", "kvm"] as const) {
    it(`${preset}: HVM_PARAM_CALLBACK_IRQ vector 0xf3, an IPI to itself, the handler runs`, () => {
      const g = guest("long64", preset);
      const mem = g.m.mem;
      const IDT = 0x82000, HANDLER = 0x83000;
      const gate = new Struct(16).u16(0, HANDLER & 0xffff).u16(2, 0x08).u8(5, 0x8e).u16(6, HANDLER >>> 16).b;
      mem.writeBytes(IDT + 0xf3 * 16, gate);
      g.m.cpu.idtrBase = IDT;
      g.m.cpu.idtrLimit = 0xfff;
      mem.writeBytes(HANDLER, new Asm(64).storeEax(0x51008).raw(0xf4).bytes());
      mem.writeBytes(ARGS, new Struct(16).u16(0, DOMID_SELF).u32(4, 0).u64(8, 0xf3, 2 << 24).b);
      mem.writeBytes(IPI, new Struct(8).b);
      mem.writeBytes(SEND, new Struct(4).u32(0, 1).b);
      const a = new Asm(64)
        .raw(0xfb) // sti
        .hypercall(34, 0, ARGS)
        .hypercall(32, EVTCHNOP_bind_ipi, IPI);
      // Send (mov edi, 4; mov esi, SEND; mov eax, 32; vmcall), then nops: the upcall arrives after the VMCALL.
      a.mov(7, EVTCHNOP_send).mov(6, SEND).mov(0, 32).vmcall().raw(0x90, 0x90, 0x90);
      expect(run(g, a.bytes())).toEqual({ kind: "hlt" });
      expect(u32(g, 0x51008)).toBe(0); // EVTCHNOP_send's result, seen by the handler in eax
      expect(g.hv.events.filter((e) => e.kind === "upcall")).toHaveLength(1);
    });
  }
});

describe("SCHEDOP_poll", () => {
  it("-EINVAL for more than 128 ports or a port past max_evtchns (1024 compat); a pending port returns at once", () => {
    const g = guest("compat32", "xen");
    const mem = g.m.mem;
    mem.writeBytes(IPI, new Struct(8).b);
    mem.writeBytes(SEND, new Struct(4).u32(0, 1).b);
    mem.writeBytes(0x52000, new Struct(8).u32(0, 1).u32(4, 1024).b); // the port lists
    const poll = (at: number, ports: number, nr: number) => mem.writeBytes(at, new Struct(16).u32(0, ports).u32(4, nr).u64(8, 0).b);
    poll(ARGS, 0x52000, 129);
    poll(ARGS + 0x20, 0x52004, 1); // port 1024: past the compat limit
    poll(ARGS + 0x40, 0x52000, 1); // port 1, pending after the send
    const a = new Asm(32)
      .wrmsr(0x40000000, HCALL_PAGE) // latch compat
      .hypercall(32, EVTCHNOP_bind_ipi, IPI)
      .hypercall(32, EVTCHNOP_send, SEND)
      .hypercall(29, 3, ARGS)
      .hypercall(29, 3, ARGS + 0x20)
      .hypercall(29, 3, ARGS + 0x40);
    expect(run(g, a.bytes())).toEqual({ kind: "end" });
    expect([0, 1, 2, 3, 4].map((i) => result(g, i))).toEqual([0, 0, -22, -22, 0]);
    expect(g.hv.events.some((e) => e.kind === "schedule")).toBe(false);
  });
});
