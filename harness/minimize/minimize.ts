// The minimizer: delta debugging (Zeller's ddmin) over a program's items, keeping only
// what the finding needs, then value simplification (each register and flag value an
// item loads, towards 0). `keeps` says whether a candidate still shows the finding (the
// same signature); every candidate it accepts is a program the generator could have laid
// out, so the result replays like any other.

import { layout, type Item, type Program } from "../gen/program.js";
import { disassemble } from "../disasm.js";
import { ddmin } from "./ddmin.js";

/** [offset, length] of each instruction of `code` (for a code size of 4 or 8 bytes). */
function instructions(code: Uint8Array, codeSize: number): [number, number][] {
  const out: [number, number][] = [];
  for (let at = 0; at < code.length; ) {
    const d = disassemble(code.subarray(at), codeSize, at);
    if (d.length === 0) break;
    out.push([at, d.length]);
    at += d.length;
  }
  return out;
}

/** The values of an item after bytes [at, at + len) are NOP-ed (shift 0) or removed (shift len). */
function dropValues(values: Item["values"], at: number, len: number, shift: number): Item["values"] {
  if (values === undefined) return undefined;
  const out = values.filter((v) => v.at + v.size <= at || v.at >= at + len).map((v) => (v.at >= at + len ? { at: v.at - shift, size: v.size } : v));
  return out.length > 0 ? out : undefined;
}

export interface MinimizeResult {
  program: Program;
  /** Candidates run. */
  tries: number;
  original: { items: number; bytes: number };
  minimized: { items: number; bytes: number };
}

function size(p: Program): { items: number; bytes: number } {
  return { items: p.items.length, bytes: layout(p.items).length };
}

/**
 * Minimize `p` while `keeps(candidate)` holds; at most `budget` candidates are tried
 * (the result is then as small as the budget allowed).
 */
export function minimize(p: Program, keeps: (candidate: Program) => boolean, budget = 1500): MinimizeResult {
  let tries = 0;
  const test = (items: Item[]): boolean => {
    if (tries >= budget) return false;
    tries++;
    return keeps({ ...p, items });
  };

  // Over items; a test beyond the budget fails, so ddmin ends with what it has.
  let items = ddmin(p.items, test);

  // Instructions within items: each replaced by NOPs of its length (offsets and branches
  // stay valid), then the NOPs taken out where that still keeps the finding.
  for (let k = 0; k < items.length && tries < budget; k++) {
    const bits = items[k]!.mode === "long64" ? 8 : 4;
    const bounds = instructions(items[k]!.code, bits);
    const nopped: [number, number][] = [];
    for (let j = bounds.length - 1; j >= 0 && tries < budget; j--) {
      const [at, len] = bounds[j]!;
      const it = items[k]!;
      if (it.code.subarray(at, at + len).every((b) => b === 0x90)) continue;
      const code = it.code.slice();
      code.fill(0x90, at, at + len);
      const candidate = [...items.slice(0, k), { ...it, code, values: dropValues(it.values, at, len, 0) }, ...items.slice(k + 1)];
      if (test(candidate)) {
        items = candidate;
        nopped.push([at, len]);
      }
    }
    if (nopped.length > 0 && tries < budget) {
      const it = items[k]!;
      const keep = it.code.filter((_, o) => !nopped.some(([at, len]) => o >= at && o < at + len));
      let values = it.values;
      for (const [at, len] of [...nopped].sort((x, y) => y[0] - x[0])) values = dropValues(values, at, len, len);
      const candidate = [...items.slice(0, k), { ...it, code: Uint8Array.from(keep), values }, ...items.slice(k + 1)];
      if (test(candidate)) items = candidate;
    }
  }

  // Values towards 0, one at a time.
  for (let k = 0; k < items.length && tries < budget; k++) {
    for (const v of items[k]!.values ?? []) {
      const it = items[k]!;
      if (it.code.subarray(v.at, v.at + v.size).every((b) => b === 0)) continue;
      const code = it.code.slice();
      code.fill(0, v.at, v.at + v.size);
      const candidate = [...items.slice(0, k), { ...it, code }, ...items.slice(k + 1)];
      if (test(candidate)) items = candidate;
    }
  }

  const program = { ...p, items };
  return { program, tries, original: size(p), minimized: size(program) };
}
