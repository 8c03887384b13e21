// The program generators `hvdiff fuzz` can run, by name. A generator turns a random
// source into a program and says how its cases are compared (its kit's scratch memory,
// whether its prefix can be snapshotted). The hypervisor issues add theirs here.

import type { PairOptions } from "../run/pair.js";
import type { Configuration } from "../config/config.js";
import { HVM_GENERATOR, Ia32eGenerator, IA32E_GENERATOR } from "./ia32e.js";
import { SCRATCH, type Program } from "./program.js";
import { Pv64Generator, PV64_GENERATOR, PV64_SCRATCH } from "./pv64.js";
import { DOMCTL_GENERATOR, DOMCTL_STRATEGIES_GENERATOR, generateDomctl, generateStrategies, type DomctlProgram } from "./domctl.js";

export interface ProgramGenerator {
  /** Name and version (`ia32e@1`): reports record it, replay needs the same. */
  name: string;
  description: string;
  generate(random: () => number, seed: string): Program;
  compare: PairOptions;
}

const GENERATORS: ProgramGenerator[] = [
  {
    name: IA32E_GENERATOR,
    description: "64-bit and compatibility-mode bodies on the IA-32e guest kit: MSRs, CR4/EFER, SYSCALL/SYSRET/SYSENTER, INT and faults, far transfers, ring 3",
    generate: (random, seed) => new Ia32eGenerator(random).program(seed),
    compare: { prefixed: true, scratch: SCRATCH },
  },
  {
    name: HVM_GENERATOR,
    description: "programs under the Xen HVM model on the IA-32e kit: the hypercall-page MSR and HVM_PARAM_CALLBACK_IRQ from 64-bit and compatibility code, shared_info, runstate and vcpu_info near page ends, event channels, reads of shared_info",
    generate: (random, seed) => new Ia32eGenerator(random, { hypercalls: true }).program(seed),
    compare: { prefixed: true, scratch: SCRATCH },
  },
  {
    name: PV64_GENERATOR,
    description: "64-bit PV guests under the Xen PV64 model: callback_op/set_callbacks, stack_switch, HYPERVISOR_iret to user mode with and without VGCF_in_syscall, user SYSCALL with live RCX/R11, SYSRET-style and Linux-style syscall callbacks, xen_version, sched_op yield, suspend and migrate",
    generate: (random, seed) => new Pv64Generator(random).program(seed),
    // Xen's private area (the top 1 MiB) is not compared: its stack frames differ between hosts by
    // design. "Prefixed" with an empty prefix (entry = base): what the hosts set up differently
    // (CR4.FRED, the IDT) is the baseline, not a finding.
    compare: { prefixed: true, scratch: PV64_SCRATCH },
  },
];

/** Generators of toolstack sequences (domctl cases) rather than guest programs. */
export interface DomctlGenerator {
  name: string;
  description: string;
  generate(random: () => number, seed: string): DomctlProgram;
}

const DOMCTL_GENERATORS: DomctlGenerator[] = [
  {
    name: DOMCTL_GENERATOR,
    description: "toolstack sequences in libxl's order and shuffled, repeated, with bad flags and sizes, on x86, arm64 and arm32; each run under A and B",
    generate: generateDomctl,
  },
  {
    name: DOMCTL_STRATEGIES_GENERATOR,
    description: "two builds of one domain: the width fixed by XEN_DOMCTL_CDF_is_32bits (or the default) under A, by set_address_size under B",
    generate: generateStrategies,
  },
];

export const DEFAULT_GENERATOR = IA32E_GENERATOR;

export function generatorNames(): string[] {
  return [...GENERATORS, ...DOMCTL_GENERATORS].map((g) => g.name);
}

const named = (name: string) => (x: { name: string }) => x.name === name || x.name.split("@")[0] === name;

/** The program generator `name` (with or without its version); throws for an unknown one. */
export function generatorFor(name: string): ProgramGenerator {
  const g = GENERATORS.find(named(name));
  if (g === undefined) {
    if (DOMCTL_GENERATORS.some(named(name))) throw new Error(`'${name}' generates toolstack sequences, not guest programs`);
    throw new Error(`unknown generator '${name}' (${generatorNames().join(", ")})`);
  }
  return g;
}

/** The toolstack generator `name`, or null when `name` is not one. */
export function domctlGeneratorFor(name: string): DomctlGenerator | null {
  return DOMCTL_GENERATORS.find(named(name)) ?? null;
}

/** Throws for a name no generator has. */
export function checkGenerator(name: string): void {
  if (domctlGeneratorFor(name) === null) generatorFor(name);
}

/** What a pair runs when --generator is not given: toolstack sequences for domctl configurations, hypercall programs for HVM ones, PV guests for PV64 ones, else guest programs. */
export function defaultGeneratorFor(A: Configuration, B: Configuration): string {
  if (A.domctl !== undefined || B.domctl !== undefined) return DOMCTL_GENERATOR;
  if (A.hvm !== undefined || B.hvm !== undefined) return HVM_GENERATOR;
  if (A.pv64 !== undefined || B.pv64 !== undefined) return PV64_GENERATOR;
  return DEFAULT_GENERATOR;
}
