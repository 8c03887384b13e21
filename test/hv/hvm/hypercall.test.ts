// The hypercall path (xen-hvm.md §3, §4; kvm-xen.md §1, §6): the page, the MSR, the
// register ABI by mode, CPL > 0, unknown numbers, the other vendor's instruction, and the
// width of a 32-bit call's result.

import { describe, expect, it } from "vitest";
import { HVM_PRESETS } from "../../../src/hv/policy.js";
import { CS, RAX, SS } from "../../../src/cpu/state.js";
import { GDT_USER_CODE64, GDT_USER_DATA } from "../../../src/case/machine.js";
import { ARGS, Asm, CODE, guest, HCALL_PAGE, result, run, Struct, u32 } from "./support.js";

describe("the hypercall page", () => {
  for (const vendor of ["intel", "amd"] as const) {
    it(`${vendor}: 128 stubs of 32 bytes; xen puts UD2 at iret (23), kvm does not`, () => {
      const insn = vendor === "intel" ? [0x0f, 0x01, 0xc1] : [0x0f, 0x01, 0xd9];
      for (const p of ["xen", "kvm"] as const) {
        const g = guest("long64", p, vendor);
        expect(run(g, new Asm(64, vendor).wrmsr(0x40000000, HCALL_PAGE).bytes())).toEqual({ kind: "end" });
        const page = g.m.mem.readBytes(HCALL_PAGE, 4096);
        expect([...page.subarray(32 * 17, 32 * 17 + 10)]).toEqual([0xb8, 17, 0, 0, 0, ...insn, 0xc3, 0xcc]);
        expect([...page.subarray(32 * 23, 32 * 23 + 3)]).toEqual(p === "xen" ? [0x0f, 0x0b, 0xcc] : [0xb8, 23, 0]);
        expect(page.subarray(32 * 127 + 9, 4096).every((b) => b === 0xcc)).toBe(true);
      }
    });
  }

  it("page index != 0: #GP; kvm has latched before the check, xen has not", () => {
    for (const p of ["xen", "kvm"] as const) {
      const g = guest("long64", p);
      const code = new Asm(64).wrmsr(0x40000000, HCALL_PAGE | 1).bytes();
      expect(run(g, code)).toEqual({ kind: "exception", vector: 13, errorCode: 0, rip: CODE + code.length - 2 });
      // Both start with a layout: xen native, kvm compat (long_mode = 0); a 64-bit latch flips kvm's.
      expect(g.hv.has32bitShinfo).toBe(false);
      expect(g.hv.decisions.some((d) => d.knob === "hvm.latch.hypercall_msr")).toBe(p === "kvm");
    }
  });

  it("RDMSR 0x40000000: 0 under xen, #GP under kvm; other indices of the range #GP; CPUID advertises Xen", () => {
    const x = guest("long64", "xen");
    expect(run(x, new Asm(64).mov(1, 0x40000000).raw(0x0f, 0x32).storeEax(0x51000).bytes())).toEqual({ kind: "end" });
    const k = guest("long64", "kvm");
    expect(run(k, new Asm(64).mov(1, 0x40000000).raw(0x0f, 0x32).bytes())).toMatchObject({ kind: "exception", vector: 13 });
    expect(run(guest("long64", "xen"), new Asm(64).wrmsr(0x40000001, 0).bytes())).toMatchObject({ kind: "exception", vector: 13 });
    const c = guest("long64", "xen");
    const a = new Asm(64).mov(0, 0x40000000).raw(0x0f, 0xa2).mov(0, 0).raw(0x89, 0x1c, 0x25, 0, 0x10, 0x05, 0) // mov [0x51000], ebx
      .mov(0, 0x40000002).raw(0x0f, 0xa2).raw(0x89, 0x1c, 0x25, 4, 0x10, 0x05, 0); // mov [0x51004], ebx
    expect(run(c, a.bytes())).toEqual({ kind: "end" });
    expect(String.fromCharCode(...c.m.mem.readBytes(0x51000, 4))).toBe("XenV");
    expect(u32(c, 0x51004)).toBe(0x40000000);
  });
});

describe("the register ABI by mode", () => {
  it("64-bit: nr in rax, arguments in rdi rsi; 32-bit: eax, ebx ecx", () => {
    for (const [mode, bits] of [["long64", 64], ["compat32", 32], ["prot32", 32]] as const) {
      const g = guest(mode, "xen");
      g.m.mem.writeBytes(ARGS, new Struct(8).b);
      // xen_version(XENVER_version) = 4.22, XENVER_pagesize, get_features(submap 0).
      expect(run(g, new Asm(bits).hypercall(17, 0, 0).hypercall(17, 7, 0).hypercall(17, 6, ARGS).bytes())).toEqual({ kind: "end" });
      expect([result(g, 0), result(g, 1), result(g, 2)]).toEqual([0x40016, 4096, 0]);
      expect(u32(g, ARGS + 4)).not.toBe(0);
      expect(g.hv.hypercalls[0]).toMatchObject({ nr: 17, name: "xen_version", mode: bits === 64 ? "64bit" : "32bit", ret: 0x40016 });
    }
  });

  it("a 32-bit call's result: xen writes eax only (RAX[63:32] kept), kvm all of RAX", () => {
    for (const [p, hi] of [["xen", 0x12345678], ["kvm", -1]] as const) {
      const g = guest("compat32", p);
      g.m.cpu.hi[RAX] = 0x12345678;
      // mov eax, 99 would clear the high half; set only AL/AX-free: use "mov ax" via 66 B8.
      g.m.cpu.lo[RAX] = 99;
      expect(run(g, [0x0f, 0x01, 0xc1])).toEqual({ kind: "end" });
      expect([g.m.cpu.lo[RAX], g.m.cpu.hi[RAX]]).toEqual([-38, hi]);
    }
  });
});

describe("CPL > 0", () => {
  function user(p: Parameters<typeof guest>[1]) {
    const g = guest("long64", p);
    g.m.loadSegment(CS, GDT_USER_CODE64 | 3);
    g.m.loadSegment(SS, GDT_USER_DATA | 3);
    g.m.cpu.segSel[CS] = GDT_USER_CODE64 | 3;
    g.m.cpu.cpl = 3;
    g.m.cpu.refreshMode();
    expect(run(g, new Asm(64).hypercall(17, 0, 0).bytes())).toEqual({ kind: "end" });
    return g;
  }

  it("xen refuses in the hypervisor with -EPERM", () => {
    const g = user("xen");
    expect(result(g, 0)).toBe(-1);
    expect(g.hv.hypercalls[0]).toMatchObject({ by: "xen", ret: -1, errno: "-EPERM" });
    expect(g.hv.events.some((e) => e.kind === "exit")).toBe(false);
  });

  it("kvm exits to the VMM (KVM_EXIT_XEN_HCALL, cpl 3), which answers -EPERM", () => {
    const g = user("kvm");
    expect(result(g, 0)).toBe(-1);
    expect(g.hv.hypercalls[0]).toMatchObject({ by: "vmm", ret: -1 });
    expect(g.hv.events.find((e) => e.kind === "exit")!.detail).toContain("cpl=3");
    expect(g.hv.decisions.find((d) => d.knob === "hvm.hypercall.cpl")).toMatchObject({ branch: "kvm_xen_hypercall" });
  });
});

describe("unknown and unavailable hypercalls", () => {
  it("-ENOSYS (-38) for iret, set_callbacks, numbers above 63 and a number with RAX[63:32] set, on every side", () => {
    for (const p of ["xen", "kvm"] as const) {
      const g = guest("long64", p);
      const a = new Asm(64).hypercall(23).hypercall(4).hypercall(64).hypercall(63).hypercall(41);
      expect(run(g, a.bytes())).toEqual({ kind: "end" });
      expect([0, 1, 2, 3, 4].map((i) => result(g, i))).toEqual([-38, -38, -38, -38, -38]);
      expect(g.m.cpu.hi[RAX]).toBe(-1);
      const h = guest("long64", p);
      h.m.cpu.lo[RAX] = 17;
      h.m.cpu.hi[RAX] = 1;
      expect(run(h, [0x0f, 0x01, 0xc1])).toEqual({ kind: "end" });
      expect(h.m.cpu.lo[RAX]).toBe(-38);
    }
  });
});

describe("the other vendor's instruction", () => {
  it("VMMCALL on Intel: xen #UD; kvm rewrites it to VMCALL and runs it", () => {
    const x = guest("long64", "xen", "intel");
    expect(run(x, new Asm(64, "amd").hypercall(17, 0, 0).bytes())).toMatchObject({ kind: "exception", vector: 6 });
    const k = guest("long64", "kvm", "intel");
    const code = new Asm(64, "amd").hypercall(17, 0, 0).bytes();
    expect(run(k, code)).toEqual({ kind: "end" });
    expect(result(k, 0)).toBe(0x40016);
    const at = code.length - 7 - 3;
    expect([...k.m.mem.readBytes(CODE + at, 3)]).toEqual([0x0f, 0x01, 0xc1]);
  });

  it("VMCALL on AMD: the same, mirrored", () => {
    expect(run(guest("long64", "xen", "amd"), new Asm(64, "intel").hypercall(17, 0, 0).bytes())).toMatchObject({ kind: "exception", vector: 6 });
    const k = guest("long64", { ...HVM_PRESETS.kvm }, "amd");
    expect(run(k, new Asm(64, "intel").hypercall(17, 0, 0).bytes())).toEqual({ kind: "end" });
    expect(result(k, 0)).toBe(0x40016);
  });
});
