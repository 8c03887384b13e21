// The pv64@1 generator (harness/gen/pv64.ts) and the PV64 configurations: programs are
// deterministic from the seed, every one is a bare long64 case under xen-pv64 whose JSON
// form parses to the case the fuzzer runs; the presets carry the PV64 policies and pick the
// generator; a pair run gives each side its knobs and keeps the case's migration; the
// spec's case (a) shows as the user's RCX/R11 after its SYSCALL.

import { describe, expect, it } from "vitest";
import seedrandom from "seedrandom";
import { KSTACK, PV64_BODY, PV64_GENERATOR, PV64_LAYOUT, PV64_SCRATCH, Pv64Generator } from "../../harness/gen/pv64.js";
import { toCase, toRunnable, type Program } from "../../harness/gen/program.js";
import { defaultGeneratorFor, generatorFor } from "../../harness/gen/registry.js";
import { ConfigError, DEFAULT_PAIRS, parseConfiguration, PRESETS } from "../../harness/config/config.js";
import { PairRunner, withConfiguration } from "../../harness/run/pair.js";
import { evaluate } from "../../harness/run/finding.js";
import { programFrom, programJson } from "../../harness/report/report.js";
import { parseCase } from "../../src/case/case.js";
import { CaseRunner } from "../../src/case/run.js";
import { PV64_PRESETS } from "../../src/hv/policy.js";
import { iretStubReturn } from "../../src/hv/xen/pv64/guest.js";

const gen = (seed: string) => new Pv64Generator(seedrandom(seed)).program(seed);

describe("pv64@1 programs", () => {
  it("are deterministic from the seed, and every one parses as the case the fuzzer runs", () => {
    const kinds = new Set<string>();
    let migrating = 0;
    for (let i = 0; i < 300; i++) {
      const p = gen(`pv/${i}`);
      expect(JSON.stringify(programJson(gen(`pv/${i}`)))).toBe(JSON.stringify(programJson(p)));
      expect([p.generator, p.start, p.hv]).toEqual([PV64_GENERATOR, "pv64", "xen-pv64"]);
      for (const it of p.items) {
        kinds.add(it.kind);
        expect(it.mode).toBe("pv64");
      }
      if (p.migrate !== undefined) migrating++;
      const c = toRunnable(p, "x");
      const parsed = parseCase(toCase(p, "x"));
      for (const k of ["mode", "base", "entry", "code", "memory", "gprs", "ram", "maxSteps", "hv"] as const) expect(parsed[k], k).toEqual(c[k]);
      expect([c.base, c.entry, c.gprs[4]!.lo]).toEqual([PV64_BODY, PV64_BODY, KSTACK]);
      // A report's program gives back the same case.
      expect(toRunnable(programFrom(programJson(p), p.generator, p.seed), "x")).toEqual(c);
    }
    for (const k of ["register-linux", "register-sysret-style", "register-linux-in-syscall", "stack-switch", "xen-version", "sched-yield",
      "raw-hypercall", "suspend", "iret-user", "iret-user-in-syscall", "user-syscall", "user-record",
      "register-sysenter", "trap-table", "user-sysenter", "user-int80", "user-int81-prefixed", "kernel-int81", "kernel-hlt", "user-pf", "user-int3"]) expect(kinds, k).toContain(k);
    expect(migrating).toBeGreaterThan(20);
    // Migration goes both ways: to the legacy host and to the FRED hosts.
    const targets = new Set(Array.from({ length: 300 }, (_, i) => gen(`pv/${i}`).migrate).filter((m) => m !== undefined));
    expect([...targets].sort()).toEqual(["xen-fred", "xen-fred-fixed", "xen-idt"]);
  });
});

describe("PV64 configurations", () => {
  it("the presets carry the PV64 policies and one FRED-capable CPU (the host decides whether to use it); they pick pv64@1; the default pairs include xen-idt against xen-fred", () => {
    for (const name of ["xen-idt", "xen-fred", "xen-fred-fixed"] as const) {
      const c = PRESETS[name]!;
      expect(c.pv64).toEqual(PV64_PRESETS[name]);
      expect(c.cpu).toEqual({ vendor: "intel", fred: true });
    }
    expect(defaultGeneratorFor(PRESETS["xen-idt"]!, PRESETS["xen-fred"]!)).toBe(PV64_GENERATOR);
    expect(generatorFor("pv64").compare.scratch).toEqual(PV64_SCRATCH);
    expect(PV64_SCRATCH).toEqual([{ addr: PV64_LAYOUT.host, len: 1024 * 1024 }]);
    expect(DEFAULT_PAIRS.filter(([a, b]) => PRESETS[a]!.pv64 !== undefined || PRESETS[b]!.pv64 !== undefined)).toEqual([["xen-idt", "xen-fred"]]);
  });

  it("a configuration file's pv64 knobs complete xen-idt's and are checked", () => {
    const c = parseConfiguration({ name: "half", cpu: { vendor: "intel", fred: true }, pv64: { "pv64.host.delivery": "init_fred", "pv64.fred.syscall_entry": "c5a4b9125b" } }, "half.json");
    expect(c.pv64).toEqual({ ...PV64_PRESETS["xen-idt"], "pv64.host.delivery": "init_fred", "pv64.fred.syscall_entry": "c5a4b9125b" });
    expect(() => parseConfiguration({ name: "bad", cpu: { vendor: "intel", fred: true }, pv64: { "pv64.fred.eretu_exit": "nope" } }, "bad.json"))
      .toThrow(new ConfigError('bad.json: pv64["pv64.fred.eretu_exit"]: must be one of "76193ef47d", "c5a4b9125b"'));
    expect(() => parseConfiguration({ name: "nofred", cpu: { vendor: "intel", fred: false }, pv64: { "pv64.host.delivery": "init_fred" } }, "n.json")).toThrow(ConfigError);
  });

  it("withConfiguration gives a xen-pv64 case the side's knobs and keeps its migration", () => {
    let p: Program | undefined;
    for (let i = 0; p === undefined; i++) {
      const q = gen(`mig/${i}`);
      if (q.migrate !== undefined) p = q;
    }
    const c = toRunnable(p, "m");
    const side = withConfiguration(c, PRESETS["xen-fred-fixed"]!);
    expect(side.cpu.fred).toBe(true);
    expect(side.hv).toEqual({ model: "xen-pv64", preset: "xen-fred-fixed", policy: PV64_PRESETS["xen-fred-fixed"], migrate: c.hv!.model === "xen-pv64" ? c.hv!.migrate : undefined });
    expect(side.hv!.model === "xen-pv64" && side.hv!.migrate?.to).toBe(p.migrate);
  });
});

describe("pv64@1 pairs", () => {
  it("case (a): xen-idt/xen-fred part at the user's SYSCALL, RCX/R11 as the legacy processor wrote them against the user's own", () => {
    const runner = new PairRunner();
    const opts = generatorFor("pv64").compare;
    let found = false;
    for (let i = 0; i < 400 && !found; i++) {
      const p = gen(`a/${i}`);
      const f = evaluate(runner, toRunnable(p, "a"), PRESETS["xen-idt"]!, PRESETS["xen-fred"]!, opts);
      if (f?.signature !== "divergence xen-idt/xen-fred long64 syscall: memory regs.r11 regs.rcx") continue;
      if (!p.items.some((it) => it.kind === "register-linux")) continue;
      found = true;
      const rcx = f.first!.diffs.find((d) => d.path === "regs.rcx")!;
      // Legacy: the return address (right after the SYSCALL); FRED without the fix: what the user loaded.
      expect(BigInt(rcx.a)).toBe(BigInt(f.first!.rip) + 2n);
      expect(BigInt(rcx.b)).not.toBe(BigInt(rcx.a));
    }
    expect(found).toBe(true);
  });

  it("xen-idt/xen-fred-fixed: no case (a); HYPERVISOR_iret with VGCF_in_syscall still leaves the iret stub's address in RCX", () => {
    const runner = new PairRunner();
    const opts = generatorFor("pv64").compare;
    const sigs = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const p = gen(`fx/${i}`);
      const f = evaluate(runner, toRunnable(p, "f"), PRESETS["xen-idt"]!, PRESETS["xen-fred-fixed"]!, opts);
      if (f === null) continue;
      sigs.add(f.signature);
      if (/ jmp rdx: regs\.r11 regs\.rcx$/.test(f.signature)) {
        expect(p.items.some((it) => it.kind === "iret-user-in-syscall")).toBe(true);
        expect(f.first!.diffs.find((d) => d.path === "regs.rcx")!.b).toBe(`0x${iretStubReturn(PV64_LAYOUT).toString(16)}`);
      }
    }
    expect(sigs).toContain("divergence xen-idt/xen-fred-fixed long64 jmp rdx: regs.r11 regs.rcx");
    expect([...sigs].some((s) => / syscall: memory regs\.r11 regs\.rcx$/.test(s))).toBe(false);
  });

  it("xen-idt/xen-fred-fixed: the SYSENTER and INT n paths the fix does not touch part too, and no program runs out of steps", () => {
    const runner = new PairRunner();
    const opts = generatorFor("pv64").compare;
    const single = new CaseRunner();
    const sigs = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const p = gen(`fx2/${i}`);
      const f = evaluate(runner, toRunnable(p, "f"), PRESETS["xen-idt"]!, PRESETS["xen-fred-fixed"]!, opts);
      for (const name of ["xen-idt", "xen-fred-fixed"]) expect(single.run(withConfiguration(toRunnable(p, "f"), PRESETS[name]!)).exit.kind, `fx2/${i} ${name}`).not.toBe("step-limit");
      if (f !== null) sigs.add(f.signature.replace("divergence xen-idt/xen-fred-fixed long64 ", ""));
    }
    // The sysenter callback's record (RCX/R11/RFLAGS at its entry) differs: SYSRET against ERETU.
    expect(sigs).toContain("sysenter: memory");
    // No sysenter callback and no #GP handler: the domain dies on both, with the IF entry_from_pv cleared on FRED.
    expect(sigs).toContain("sysenter: regs.rflags");
    // INT n: at least the bounce frame on the guest kernel's stack (test/hv/pv64/int_n.test.ts has the rules).
    expect(sigs).toContain("int N: memory");
  });
});
