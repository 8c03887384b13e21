// iced-x86, loaded once: disassembly in results and reports, the encoder the generators
// use, the tests' decoder oracle; and the set of mnemonics our opcode map implements.

import { createRequire } from "node:module";
import type * as Iced from "iced-x86";
import { ONE_BYTE, TWO_BYTE } from "../../src/cpu/decode/opcodes.js";
import type { Node } from "../../src/cpu/decode/table.js";

export const iced = createRequire(import.meta.url)("iced-x86") as typeof Iced;
export type { Iced };

// iced-x86's objects live in WebAssembly memory, and this build has no finalizers: one
// that is not free()d stays for the life of the process (a fuzzing run grew by 14 MB a
// minute). Generators create many short-lived Instructions and MemoryOperands; an arena
// frees every one created inside withIcedArena() when it returns. The long-lived tools
// (encoders, decoders, formatters, factories) are freed by whoever made them.
type Wasm = { __wbg_ptr: number; free(): void };
const LONG_LIVED = new Set(["Encoder", "BlockEncoder", "Decoder", "Formatter", "FastFormatter", "InstructionInfoFactory"]);
let arena: Wasm[] | null = null;
{
  const exports = iced as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value !== "function" || LONG_LIVED.has(name)) continue;
    const cls = value as { __wrap?: (ptr: number) => Wasm; prototype: object };
    const wrap = cls.__wrap;
    if (typeof wrap !== "function") continue;
    // Objects a method returns come through __wrap; `new X()` through the constructor.
    cls.__wrap = (ptr: number) => {
      const o = wrap.call(cls, ptr);
      arena?.push(o);
      return o;
    };
    exports[name] = new Proxy(cls, {
      construct(target, args, newTarget) {
        const o = Reflect.construct(target as unknown as new (...a: unknown[]) => Wasm, args, newTarget) as Wasm;
        arena?.push(o);
        return o;
      },
    });
  }
}

/** Run `fn`; free every short-lived iced-x86 object it created (none may escape it). */
export function withIcedArena<T>(fn: () => T): T {
  const outer = arena;
  const mine: Wasm[] = [];
  arena = mine;
  try {
    return fn();
  } finally {
    arena = outer;
    for (const o of mine) if (o.__wbg_ptr !== 0) o.free();
  }
}

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
