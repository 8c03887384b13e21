// The program generators `hvdiff fuzz` can run, by name. A generator turns a random
// source into a program and says how its cases are compared (its kit's scratch memory,
// whether its prefix can be snapshotted). The hypervisor issues add theirs here.

import type { PairOptions } from "../run/pair.js";
import { Ia32eGenerator, IA32E_GENERATOR } from "./ia32e.js";
import { SCRATCH, type Program } from "./program.js";

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
];

export const DEFAULT_GENERATOR = IA32E_GENERATOR;

export function generatorNames(): string[] {
  return GENERATORS.map((g) => g.name);
}

/** The generator `name` (with or without its version); throws for an unknown one. */
export function generatorFor(name: string): ProgramGenerator {
  const g = GENERATORS.find((x) => x.name === name || x.name.split("@")[0] === name);
  if (g === undefined) throw new Error(`unknown generator '${name}' (${generatorNames().join(", ")})`);
  return g;
}
