// The Xen guest ABI layouts (src/hv/xen/layout.ts) against Xen's own public headers: a C
// program that includes <xen/*.h> prints offsetof/sizeof of every struct and field the model
// lists, compiled with gcc -m64 (native) and gcc -m32 (compat: Xen builds its compat structs
// from the same headers with -m32). Needs the Debian packages gcc, gcc-multilib, libxen-dev;
// without them the test fails and says which to install.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ABIS, abiJson, fieldOf, layoutOf, offsetOf, sizeOf, structNames, type Abi } from "../../../src/hv/xen/layout.js";

// Facts from /work/shared/spec/xen-hvm.md (§ numbers below), checked there against Xen's headers.
describe("layout calculator: facts from the spec", () => {
  it("vcpu_runstate_info is 48 bytes native and 44 compat, state_entry_time at 8 vs 4 (§1.6)", () => {
    expect(sizeOf("x86_64", "vcpu_runstate_info")).toBe(48);
    expect(sizeOf("x86_32", "vcpu_runstate_info")).toBe(44);
    expect(offsetOf("x86_64", "vcpu_runstate_info", "state_entry_time")).toBe(8);
    expect(offsetOf("x86_32", "vcpu_runstate_info", "state_entry_time")).toBe(4);
    expect(offsetOf("x86_64", "vcpu_runstate_info", "time[3]")).toBe(40);
    expect(offsetOf("x86_32", "vcpu_runstate_info", "time[3]")).toBe(36);
  });

  it("shared_info's wallclock sits at 0xC00/0xC04/0xC08 native and 0x900/0x904/0x908 compat (§1.5)", () => {
    expect(offsetOf("x86_64", "shared_info", "wc_version")).toBe(0xc00);
    expect(offsetOf("x86_64", "shared_info", "wc_sec")).toBe(0xc04);
    expect(offsetOf("x86_64", "shared_info", "wc_nsec")).toBe(0xc08);
    expect(offsetOf("x86_32", "shared_info", "wc_version")).toBe(0x900);
    expect(offsetOf("x86_32", "shared_info", "wc_sec")).toBe(0x904);
    expect(offsetOf("x86_32", "shared_info", "wc_nsec")).toBe(0x908);
  });

  it("wc_sec_hi is top level at 0xC0C native and arch.wc_sec_hi at 0x924 compat (§1.4, §1.5)", () => {
    expect(offsetOf("x86_64", "shared_info", "wc_sec_hi")).toBe(0xc0c);
    expect(offsetOf("x86_32", "shared_info", "arch.wc_sec_hi")).toBe(0x924);
    expect(() => offsetOf("x86_32", "shared_info", "wc_sec_hi")).toThrow(/no field/);
    expect(() => offsetOf("x86_64", "shared_info", "arch.wc_sec_hi")).toThrow(/no field/);
  });

  it("evtchn_pending is 64 u64 words (4096 ports) native and 32 u32 words (1024 ports) compat (§1.5)", () => {
    const native = fieldOf("x86_64", "shared_info", "evtchn_pending");
    const compat = fieldOf("x86_32", "shared_info", "evtchn_pending");
    expect([native.count, native.elemSize, native.offset]).toEqual([64, 8, 0x800]);
    expect([compat.count, compat.elemSize, compat.offset]).toEqual([32, 4, 0x800]);
    expect((native.count ?? 0) * native.elemSize * 8).toBe(4096);
    expect((compat.count ?? 0) * compat.elemSize * 8).toBe(1024);
    expect(offsetOf("x86_64", "shared_info", "evtchn_mask")).toBe(0xa00);
    expect(offsetOf("x86_32", "shared_info", "evtchn_mask")).toBe(0x880);
  });

  it("shared_info is 3136 bytes native and 2344 compat, arch at 0xC10 vs 0x90C (§1.5)", () => {
    expect(sizeOf("x86_64", "shared_info")).toBe(3136);
    expect(sizeOf("x86_32", "shared_info")).toBe(2344);
    expect(offsetOf("x86_64", "shared_info", "arch")).toBe(0xc10);
    expect(offsetOf("x86_32", "shared_info", "arch")).toBe(0x90c);
  });

  it("vcpu_info is 64 bytes in both; evtchn_pending_sel and arch move, time does not (§1.3)", () => {
    for (const abi of ABIS) {
      expect(sizeOf(abi, "vcpu_info")).toBe(64);
      expect(offsetOf(abi, "vcpu_info", "time")).toBe(32);
      expect(sizeOf(abi, "vcpu_time_info")).toBe(32);
    }
    expect(fieldOf("x86_64", "vcpu_info", "evtchn_pending_sel")).toMatchObject({ offset: 8, size: 8 });
    expect(fieldOf("x86_32", "vcpu_info", "evtchn_pending_sel")).toMatchObject({ offset: 4, size: 4 });
    expect(fieldOf("x86_64", "vcpu_info", "arch.pad")).toMatchObject({ offset: 24, size: 8 });
    expect(fieldOf("x86_32", "vcpu_info", "arch.pad")).toMatchObject({ offset: 12, size: 20 });
    expect(offsetOf("x86_64", "vcpu_info", "time.tsc_timestamp")).toBe(40);
    // entry n of shared_info.vcpu_info is at 64*n in both layouts
    expect(offsetOf("x86_64", "shared_info", "vcpu_info[5].evtchn_pending_sel")).toBe(5 * 64 + 8);
    expect(offsetOf("x86_32", "shared_info", "vcpu_info[5].evtchn_pending_sel")).toBe(5 * 64 + 4);
  });

  it("argument structs: xen_add_to_physmap 24 vs 16, xen_hvm_param 16 in both (§5.3)", () => {
    expect(sizeOf("x86_64", "xen_add_to_physmap")).toBe(24);
    expect(sizeOf("x86_32", "xen_add_to_physmap")).toBe(16);
    expect(offsetOf("x86_32", "xen_add_to_physmap", "gpfn")).toBe(12);
    for (const abi of ABIS) {
      expect(sizeOf(abi, "xen_hvm_param")).toBe(16);
      expect(offsetOf(abi, "xen_hvm_param", "value")).toBe(8);
      expect(sizeOf(abi, "vcpu_register_vcpu_info")).toBe(16);
      expect(sizeOf(abi, "vcpu_register_runstate_memory_area")).toBe(8);
    }
  });

  it("iret_context is 72 bytes of u64 and exists only in the x86_64 ABI (fred-syscall-pv.md §4)", () => {
    expect(sizeOf("x86_64", "iret_context")).toBe(72);
    expect(offsetOf("x86_64", "iret_context", "ss")).toBe(64);
    expect(structNames("x86_32")).not.toContain("iret_context");
  });

  it("an unknown struct, field or out-of-range index throws", () => {
    expect(() => layoutOf("x86_64", "no_such_struct")).toThrow(/no struct/);
    expect(() => offsetOf("x86_64", "shared_info", "vcpu_info[32]")).toThrow(/out of range/);
    expect(() => offsetOf("x86_64", "shared_info", "wc_sec[0]")).toThrow(/out of range/);
  });

  it("abiJson has exactly the cases.md shape and is deterministic", () => {
    const doc = abiJson();
    expect(Object.keys(doc)).toEqual(["x86_64", "x86_32"]);
    for (const abi of ABIS) {
      for (const [name, s] of Object.entries(doc[abi])) {
        expect(Object.keys(s)).toEqual(["size", "fields"]);
        expect(Object.keys(s.fields)).toEqual(layoutOf(abi, name).fields.map((f) => f.name));
        for (const f of Object.values(s.fields)) expect(Object.keys(f)).toEqual(["offset", "size"]);
      }
    }
    expect(JSON.stringify(abiJson())).toBe(JSON.stringify(doc));
  });
});

// ---------------------------------------------------------------------------------------------
// Against the real headers.

const HEADERS = [
  "xen/xen.h", "xen/vcpu.h", "xen/memory.h", "xen/hvm/params.h", "xen/hvm/hvm_op.h",
  "xen/event_channel.h", "xen/sched.h", "xen/callback.h", "xen/version.h", "xen/features.h",
];

// Index paths the model resolves with offsetOf beyond the listed fields.
const INDEXED: { struct: string; path: string }[] = [
  { struct: "shared_info", path: "vcpu_info[1].evtchn_pending_sel" },
  { struct: "shared_info", path: "vcpu_info[31].time.system_time" },
  { struct: "shared_info", path: "vcpu_info[7].arch.cr2" },
  { struct: "vcpu_runstate_info", path: "time[2]" },
];

function cProgram(abi: Abi): string {
  const lines: string[] = [];
  for (const name of structNames(abi)) {
    const l = layoutOf(abi, name);
    lines.push(`  printf("S %s %zu\\n", "${name}", sizeof(${l.cname}));`);
    for (const f of l.fields) {
      lines.push(
        `  printf("F %s %s %zu %zu\\n", "${name}", "${f.name}", offsetof(${l.cname}, ${f.name}), sizeof(((${l.cname} *)0)->${f.name}));`,
      );
    }
  }
  for (const { struct, path: p } of INDEXED) {
    lines.push(`  printf("I %s %s %zu\\n", "${struct}", "${p}", offsetof(struct ${struct}, ${p}));`);
  }
  return [
    "/* Generated by test/hv/xen/layout.test.ts. */",
    // Guests that do not ask get the 0x00000000 interface (xen-compat.h); the model follows the
    // current one (e.g. vcpu_time_info.flags needs > 0x040600).
    "#define __XEN_INTERFACE_VERSION__ __XEN_LATEST_INTERFACE_VERSION__",
    "#include <stddef.h>",
    "#include <stdint.h>",
    "#include <stdio.h>",
    ...HEADERS.map((h) => `#include <${h}>`),
    "int main(void) {",
    ...lines,
    "  return 0;",
    "}",
    "",
  ].join("\n");
}

interface CLayouts {
  structs: Map<string, number>;
  fields: Map<string, { offset: number; size: number }>;
  indexed: Map<string, number>;
}

function missing(what: string, pkg: string): Error {
  return new Error(`${what}; install the Debian package ${pkg} (apt-get install -y ${pkg})`);
}

function headerLayouts(abi: Abi, dir: string): CLayouts {
  const src = path.join(dir, `abi-${abi}.c`);
  const exe = path.join(dir, `abi-${abi}`);
  fs.writeFileSync(src, cProgram(abi));
  const flag = abi === "x86_64" ? "-m64" : "-m32";
  const cc = spawnSync("gcc", [flag, "-std=gnu11", "-Wall", "-Werror", "-o", exe, src], { encoding: "utf8" });
  if (cc.error !== undefined) throw missing(`gcc could not be run (${cc.error.message})`, "gcc");
  if (cc.status !== 0) {
    if (/xen\/xen\.h: No such file/.test(cc.stderr)) throw missing("Xen's public headers (/usr/include/xen) are missing", "libxen-dev");
    if (abi === "x86_32" && /(stubs-32\.h|bits\/.*\.h|stdint\.h|stdio\.h): No such file/.test(cc.stderr)) {
      throw missing("gcc -m32 has no 32-bit C library headers", "gcc-multilib");
    }
    throw new Error(`gcc ${flag} failed on ${src}:\n${cc.stderr}`);
  }
  const run = spawnSync(exe, [], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`${exe} exited with ${run.status}: ${run.stderr}`);
  const out: CLayouts = { structs: new Map(), fields: new Map(), indexed: new Map() };
  for (const line of run.stdout.trim().split("\n")) {
    const w = line.split(" ");
    if (w[0] === "S") out.structs.set(w[1] as string, Number(w[2]));
    else if (w[0] === "F") out.fields.set(`${w[1]}.${w[2]}`, { offset: Number(w[3]), size: Number(w[4]) });
    else if (w[0] === "I") out.indexed.set(`${w[1]}.${w[2]}`, Number(w[3]));
  }
  return out;
}

describe("layouts match Xen's public headers compiled with gcc", () => {
  for (const abi of ABIS) {
    it(`every struct and field of the ${abi} ABI (gcc ${abi === "x86_64" ? "-m64" : "-m32"})`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hvdiff-xen-abi-"));
      try {
        const c = headerLayouts(abi, dir);
        const mismatches: string[] = [];
        let checked = 0;
        for (const [name, s] of Object.entries(abiJson()[abi])) {
          const size = c.structs.get(name);
          if (size !== s.size) mismatches.push(`${abi} sizeof(${name}): model ${s.size}, headers ${size}`);
          for (const [field, f] of Object.entries(s.fields)) {
            const h = c.fields.get(`${name}.${field}`);
            checked++;
            if (h === undefined) mismatches.push(`${abi} ${name}.${field}: not printed by the C program`);
            else if (h.offset !== f.offset || h.size !== f.size) {
              mismatches.push(
                `${abi} ${name}.${field}: model offset ${f.offset} size ${f.size}, headers offset ${h.offset} size ${h.size}`,
              );
            }
          }
        }
        for (const { struct, path: p } of INDEXED) {
          const model = offsetOf(abi, struct, p);
          const h = c.indexed.get(`${struct}.${p}`);
          if (model !== h) mismatches.push(`${abi} offsetof(${struct}, ${p}): model ${model}, headers ${h}`);
        }
        expect(mismatches).toEqual([]);
        expect(checked).toBeGreaterThan(100);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
