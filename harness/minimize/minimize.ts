// The minimizer: delta debugging (Zeller's ddmin) over a program's items, keeping only
// what the finding needs, then value simplification (each register and flag value an
// item loads, towards 0). `keeps` says whether a candidate still shows the finding (the
// same signature); every candidate it accepts is a program the generator could have laid
// out, so the result replays like any other.

import { layout, type Item, type Program } from "../gen/program.js";

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

  // ddmin: try removing chunks of decreasing size.
  let items = p.items.slice();
  let n = 2;
  while (items.length >= 2 && tries < budget) {
    const chunk = Math.ceil(items.length / n);
    let reduced = false;
    for (let start = 0; start < items.length; start += chunk) {
      const complement = [...items.slice(0, start), ...items.slice(start + chunk)];
      if (complement.length > 0 && test(complement)) {
        items = complement;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= items.length) break;
      n = Math.min(items.length, n * 2);
    }
  }
  // A single item may itself be removable when it is not the last one.
  for (let k = items.length - 1; k >= 0 && items.length > 1 && tries < budget; k--) {
    const without = [...items.slice(0, k), ...items.slice(k + 1)];
    if (test(without)) items = without;
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
