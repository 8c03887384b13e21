#!/usr/bin/env node
// The differential seed cases in corpus/: one case per debate the CPU model shows today,
// each a short program of the IA-32e generator's own items (harness/gen/ia32e.ts) on its
// guest kit, written as a plain case (cases.md) that `hvdiff exec` runs and that
// test/corpus.test.ts runs under its pair (corpus/README.md lists file, pair and signature).
//
// A recipe names the starting mode and the item kinds the generator may draw; the first
// seed `corpus/<name>/<k>` whose program has exactly the wanted items and gives the
// expected signature under the pair (and under `alsoPairs`) is taken. A `pv64` recipe names
// the pv64@1 items in order (and the migration target), built by that generator. `node scripts/corpus.mjs` says which files
// differ from their recipe; `--write` rewrites them. Needs `npm run build` first.

import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import seedrandom from "seedrandom";
import { Ia32eGenerator } from "../dist/harness/gen/ia32e.js";
import { Pv64Generator } from "../dist/harness/gen/pv64.js";
import { generatorFor } from "../dist/harness/gen/registry.js";
import { SCRATCH, toCase, toRunnable } from "../dist/harness/gen/program.js";
import { formatBytes } from "../dist/src/case/hex.js";
import { PRESETS } from "../dist/harness/config/config.js";
import { PairRunner } from "../dist/harness/run/pair.js";
import { evaluate } from "../dist/harness/run/finding.js";

const CORPUS = fileURLToPath(new URL("../corpus/", import.meta.url));

/** RCX of a SYSRETQ item set to a non-canonical address (MOV RCX, imm64 with bits 63:47 not all equal). */
const nonCanonicalRcx = (p) => ["48b90000000000800000", "48b900000000ff7fffff"].some((h) => formatBytes(p.items[0].code).includes(h));

export const RECIPES = [
  { name: "fred-vs-idt-syscall-rcx-r11", pair: ["intel", "intel-fred"], start: "long64", kinds: ["syscall"], items: ["syscall"],
    expect: "divergence intel/intel-fred long64 syscall: regs.r11 regs.rcx" },
  { name: "fred-vs-idt-syscall-compat", pair: ["intel", "intel-fred"], start: "compat32", kinds: ["syscall"], items: ["syscall"],
    expect: "divergence intel/intel-fred compat32 syscall: memory" },
  { name: "fred-vs-idt-sysenter-cs-zero", pair: ["intel", "intel-fred"], start: "long64", kinds: ["wrmsr", "sysenter"],
    items: ["wrmsr IA32_SYSENTER_CS", "sysenter"], expect: "divergence intel/intel-fred long64 sysenter: memory",
    also: (p) => formatBytes(p.items[0].code).includes("b800000000") },
  { name: "fred-sysret-ud", pair: ["intel", "intel-fred"], start: "long64", kinds: ["sysret"], items: ["sysretq"],
    expect: "divergence intel/intel-fred long64 sysretq: memory regs.rflags sregs.cs sregs.ss", also: (p) => !nonCanonicalRcx(p) },
  { name: "fred-swapgs-ud", pair: ["intel", "intel-fred"], start: "long64", kinds: ["wrmsr", "swapgs"], items: ["wrmsr IA32_KERNEL_GS_BASE", "swapgs"],
    expect: "divergence intel/intel-fred long64 swapgs: memory sregs.gs" },
  { name: "fred-lkgs-ud-without-fred", pair: ["intel", "intel-fred"], start: "long64", kinds: ["lkgs"], items: ["lkgs"],
    expect: "divergence intel/intel-fred long64 lkgs eax: memory sregs.gs" },
  { name: "fred-cr4-fred-bit", pair: ["intel", "intel-fred"], start: "long64", kinds: ["cr4"], items: ["cr4 ^= bit 32"],
    expect: "divergence intel/intel-fred long64 mov cr4,rax: memory" },
  { name: "intel-vs-amd-syscall-compat", pair: ["intel", "amd"], start: "compat32", kinds: ["syscall"], items: ["syscall"],
    expect: "divergence intel/amd compat32 syscall: memory regs.r11 regs.rcx" },
  { name: "intel-vs-amd-sysret-noncanonical", pair: ["intel", "amd"], start: "long64", kinds: ["sysret"], items: ["sysretq"],
    expect: "divergence intel/amd long64 sysretq: memory regs.rflags sregs.cs sregs.ss", also: nonCanonicalRcx },
  { name: "intel-vs-amd-sysenter-long-mode", pair: ["intel", "amd"], start: "long64", kinds: ["sysenter"], items: ["sysenter"],
    expect: "divergence intel/amd long64 sysenter: memory" },
  { name: "intel-vs-amd-sysenter-compat", pair: ["intel", "amd"], start: "compat32", kinds: ["sysenter"], items: ["sysenter"],
    expect: "divergence intel/amd compat32 sysenter: memory" },
  // Under the Xen HVM model (the hvm@1 generator's items).
  // A 64-bit guest latches native (the index-1 write: KVM latches before it checks the
  // index, Xen not at all), maps shared_info, drops to compatibility mode and writes the
  // MSR again: Xen (hvm_guest_x86_mode) latches compat and rewrites the wallclock there,
  // KVM (is_long_mode) stays native; with is_64_bit_hypercall only the pages' stubs differ.
  { name: "hvm-latch-msr-compat", pair: ["kvm", "xen"], hypercalls: true, start: "long64", kinds: ["hc-page", "hc-shinfo", "switch"],
    items: ["hypercall page, index 1", "map shared_info", "to compat32", "hypercall page"],
    expect: "divergence kvm/xen compat32 wrmsr: memory(hypercall page) memory(shared_info)" },
  { name: "hvm-latch-msr-compat-fixed", pair: ["kvm-fixed", "xen"], hypercalls: true, start: "long64", kinds: ["hc-page", "hc-shinfo", "switch"],
    items: ["hypercall page, index 1", "map shared_info", "to compat32", "hypercall page"],
    expect: "divergence kvm-fixed/xen compat32 wrmsr: memory(hypercall page)" },
  { name: "hvm-shinfo-initial-layout", pair: ["kvm", "xen"], hypercalls: true, start: "long64", kinds: ["hc-shinfo"],
    items: ["map shared_info"], expect: "divergence kvm/xen long64 vmcall memory_op/7: memory(shared_info)" },
  { name: "hvm-runstate-44-before-page-end", pair: ["kvm", "kvm-2022"], hypercalls: true, start: "compat32", kinds: ["hc-runstate"],
    items: ["runstate area 44 bytes before a page end"], expect: "divergence kvm/kvm-2022 compat32 vmcall vcpu_op/5: regs.rax" },
  { name: "hvm-runstate-phys-area", pair: ["kvm", "xen"], hypercalls: true, start: "compat32", kinds: ["hc-runstate-phys"],
    items: ["runstate phys area 44 bytes before a page end"], expect: "divergence kvm/xen compat32 vmcall vcpu_op/14: regs.rax" },
  { name: "hvm-vcpu-info-crosses-page", pair: ["kvm", "xen"], hypercalls: true, start: "long64", kinds: ["hc-vcpu-info"],
    items: ["vcpu_info at offset 4064"], expect: "divergence kvm/xen long64 vmcall vcpu_op/10: regs.rax" },
  // Under the Xen PV64 model (the pv64@1 generator's items): spec fred-syscall-pv.md 5.4's
  // observable cases (a)-(d), then what the fix leaves.
  { name: "pv64-a-user-rcx-r11", pair: ["xen-idt", "xen-fred"], pv64: true, items: ["register-linux", "iret-user", "user-syscall"],
    expect: "divergence xen-idt/xen-fred long64 syscall: memory regs.r11 regs.rcx" },
  { name: "pv64-b-sysret-style-kernel", pair: ["xen-idt", "xen-fred"], pv64: true, items: ["register-sysret-style", "iret-user", "user-syscall"],
    expect: "divergence xen-idt/xen-fred long64 syscall: exit.kind exit.name exit.rip exit.vector memory regs.r11 regs.rcx regs.rip regs.rsp" },
  { name: "pv64-c-iret-in-syscall", pair: ["xen-idt", "xen-fred"], pv64: true, items: ["register-linux", "iret-user-in-syscall", "user-record"],
    expect: "divergence xen-idt/xen-fred long64 jmp rdx: regs.r11 regs.rcx",
    alsoPairs: [[["xen-idt", "xen-fred-fixed"], "divergence xen-idt/xen-fred-fixed long64 jmp rdx: regs.r11 regs.rcx"]] },
  { name: "pv64-d-migrate", pair: ["xen-idt", "xen-fred"], pv64: true, items: ["register-linux", "suspend"], migrate: "xen-idt",
    expect: "divergence xen-idt/xen-fred long64 syscall sched_op/2: regs.r11 regs.rcx" },
  { name: "pv64-d-migrate-to-fred", pair: ["xen-idt", "xen-fred"], pv64: true, items: ["register-linux", "suspend", "iret-user", "user-syscall"], migrate: "xen-fred-fixed",
    expect: "divergence xen-idt/xen-fred long64 syscall sched_op/2: regs.r11 regs.rcx" },
  { name: "pv64-syscall-df-frame", pair: ["xen-idt", "xen-fred-fixed"], pv64: true, items: ["register-linux", "iret-user", "user-syscall"],
    expect: "divergence xen-idt/xen-fred-fixed long64 syscall: memory regs.rflags" },
  { name: "pv64-sysenter-callback", pair: ["xen-idt", "xen-fred-fixed"], pv64: true, items: ["register-sysenter", "iret-user", "user-sysenter"],
    expect: "divergence xen-idt/xen-fred-fixed long64 sysenter: memory" },
  { name: "pv64-sysenter-no-callback", pair: ["xen-idt", "xen-fred-fixed"], pv64: true, items: ["trap-table", "iret-user", "user-sysenter"],
    expect: "divergence xen-idt/xen-fred-fixed long64 sysenter: memory", also: (p) => hasVector(p, 0x0d) },
  { name: "pv64-int80-dpl0-from-user", pair: ["xen-idt", "xen-fred-fixed"], pv64: true, items: ["trap-table", "iret-user", "user-int80"],
    expect: "divergence xen-idt/xen-fred-fixed long64 int N: exit.errorCode exit.kind exit.name exit.rip exit.vector memory regs.rip regs.rsp" },
  { name: "pv64-int-n-rf", pair: ["xen-idt", "xen-fred-fixed"], pv64: true, items: ["trap-table", "kernel-int81"],
    expect: "divergence xen-idt/xen-fred-fixed long64 int N: memory", also: (p) => trapVectors(p).some(([v, flags]) => v === 0x81 && (flags & 3) >= 1) },
  { name: "pv64-int80-prefixed-slow-path", pair: ["xen-idt", "xen-fred-fixed"], pv64: true, items: ["trap-table", "iret-user", "user-int80-prefixed"],
    expect: "divergence xen-idt/xen-fred-fixed long64 int N: memory", also: (p) => hasVector(p, 0x0d) && !hasVector(p, 0x80) },
  { name: "pv64-exception-fred-ss-word", pair: ["xen-idt", "xen-fred-fixed"], pv64: true, items: ["trap-table", "kernel-ud2"],
    expect: "divergence xen-idt/xen-fred-fixed long64 ud2: memory", also: (p) => hasVector(p, 0x06) },
];

/** The trap-table item's entries (the first item): [vector, flags] pairs, from its MOV dword [trap_info], vector | flags << 8 | cs << 16. */
function trapVectors(p) {
  const hex = formatBytes(p.items[0].code);
  return [...hex.matchAll(/c70425[0-9a-f]{8}([0-9a-f]{2})([0-9a-f]{2})33e0/g)].map((m) => [parseInt(m[1], 16), parseInt(m[2], 16)]);
}
const hasVector = (p, vector) => trapVectors(p).some(([v]) => v === vector);

const runner = new PairRunner();
const compare = { prefixed: true, scratch: SCRATCH };

/** The case of a recipe (its JSON text), or an error naming the recipe. */
export function corpusCase(r) {
  for (let k = 0; k < 5000; k++) {
    const seed = `corpus/${r.name}/${k}`;
    const p = r.pv64 === true
      ? new Pv64Generator(seedrandom(seed)).program(seed, { items: r.items, migrate: r.migrate })
      : new Ia32eGenerator(seedrandom(seed), { hypercalls: r.hypercalls === true }).program(seed, { count: r.items.length, kinds: r.kinds });
    if (r.pv64 !== true && (p.start !== r.start || p.items.some((it, i) => it.kind !== r.items[i]))) continue;
    if (r.also !== undefined && !r.also(p)) continue;
    const opts = r.pv64 === true ? generatorFor("pv64").compare : compare;
    const signature = (pair) => evaluate(runner, toRunnable(p, r.name), PRESETS[pair[0]], PRESETS[pair[1]], opts)?.signature;
    if (signature(r.pair) !== r.expect) continue;
    if ((r.alsoPairs ?? []).some(([pair, expect]) => signature(pair) !== expect)) continue;
    return JSON.stringify(toCase(p, r.name), null, 2) + "\n";
  }
  throw new Error(`${r.name}: no seed gives ${r.items.join(", ")} with '${r.expect}'`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const write = process.argv.includes("--write");
  let stale = 0;
  for (const r of RECIPES) {
    const path = join(CORPUS, `${r.name}.json`);
    const text = corpusCase(r);
    if (existsSync(path) && readFileSync(path, "utf8") === text) continue;
    stale++;
    if (write) writeFileSync(path, text);
    console.log(`corpus/${r.name}.json: ${write ? "written" : "differs from its recipe"}`);
  }
  process.exitCode = stale > 0 && !write ? 1 : 0;
}
