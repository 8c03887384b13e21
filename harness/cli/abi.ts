// `hvdiff abi`: the Xen guest-ABI struct layouts the model uses (src/hv/xen/layout.ts), native
// (x86_64) and compat (x86_32). `--json` prints the stable document of design/cases.md.

import { hexNumber } from "../../src/case/hex.js";
import { ABIS, abiJson, layoutOf, structNames, type StructLayout } from "../../src/hv/xen/layout.js";

export function abiCommand(opts: { json?: boolean }, out: (s: string) => void): number {
  if (opts.json === true) {
    out(JSON.stringify(abiJson(), null, 2));
    return 0;
  }
  out("Xen guest ABI layouts (x86_64 = native, x86_32 = compat): each field's offset (hex) and size (bytes).");
  for (const name of mergedOrder(structNames("x86_64"), structNames("x86_32"))) {
    const present = ABIS.filter((abi) => structNames(abi).includes(name));
    const layouts = present.map((abi) => layoutOf(abi, name));
    out("");
    out(`${name}: ${ABIS.map((abi) => `${abi} ${present.includes(abi) ? `${layoutOf(abi, name).size} bytes` : "(not defined)"}`).join(", ")}`);
    // Separate tables when the members differ from the start (cpu_user_regs); else one merged table.
    const firsts = layouts.map((l) => l.fields[0]?.name);
    if (firsts.every((f) => f === firsts[0])) table(layouts, out);
    else for (const l of layouts) table([l], out);
  }
  return 0;
}

function table(layouts: StructLayout[], out: (s: string) => void): void {
  const rows = layouts.map((l) => l.fields.map((f) => f.name)).reduce<string[]>((acc, n) => mergedOrder(acc, n), []);
  if (rows.length === 0) return;
  const width = Math.max(5, ...rows.map((r) => r.length));
  out(`  ${"field".padEnd(width)}${layouts.map((l) => `  ${l.abi.padStart(8)} ${"size".padStart(5)}`).join("")}`);
  for (const r of rows) {
    const cells = layouts.map((l) => {
      const f = l.fields.find((x) => x.name === r);
      return f === undefined ? `  ${"-".padStart(8)} ${"".padStart(5)}` : `  ${hexNumber(f.offset).padStart(8)} ${String(f.size).padStart(5)}`;
    });
    out(`  ${r.padEnd(width)}${cells.join("")}`.trimEnd());
  }
}

/** The first list's order, with a name only in the second placed after its predecessor there. */
function mergedOrder(a: readonly string[], b: readonly string[]): string[] {
  const out = [...a];
  let at = 0;
  for (const n of b) {
    const i = out.indexOf(n);
    if (i >= 0) at = i + 1;
    else out.splice(at++, 0, n);
  }
  return out;
}
