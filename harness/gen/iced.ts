// iced-x86, loaded once: disassembly in results and reports, the encoder the generators
// use, the tests' decoder oracle; and the set of mnemonics our opcode map implements.

import { createRequire } from "node:module";
import type * as Iced from "iced-x86";
import { ONE_BYTE, TWO_BYTE } from "../../src/cpu/decode/opcodes.js";
import type { Node } from "../../src/cpu/decode/table.js";

export const iced = createRequire(import.meta.url)("iced-x86") as typeof Iced;
export type { Iced };

/** Lower-case mnemonics reachable in our opcode map (entries and resolver-selected forms). */
export function implementedMnemonics(): Set<string> {
  const out = new Set<string>();
  const walk = (n: Node, seen: Set<unknown>): void => {
    if (n === undefined || seen.has(n)) return;
    seen.add(n);
    if (n.kind === "entry") {
      out.add(n.mnem.toLowerCase());
      for (const m of Object.values(n.mnemBySize ?? {})) out.add(m.toLowerCase());
    } else if (n.kind === "group") n.byReg.forEach((x) => walk(x, seen));
    else if (n.kind === "mod") {
      walk(n.mem, seen);
      walk(n.reg, seen);
    }
  };
  const seen = new Set<unknown>();
  [...ONE_BYTE, ...TWO_BYTE].forEach((n) => walk(n, seen));
  // Entries selected by resolvers (mode, mandatory prefix, REX.B) are not reachable by the walk.
  for (const m of ["movsxd", "popcnt", "lzcnt", "tzcnt", "bsf", "bsr", "nop", "pause", "xchg", "cmpxchg8b", "cmpxchg16b", "ud0", "lfence", "mfence", "sfence",
    "bound", "arpl", "les", "lds", "lss", "lfs", "lgs"]) out.add(m);
  return out;
}
