// `hvdiff knobs`: every preset and every knob, with what it models.

import { KNOBS, PRESETS } from "../config/config.js";

export function knobsCommand(opts: { json?: boolean }, out: (s: string) => void): number {
  if (opts.json === true) {
    out(JSON.stringify({ presets: PRESETS, knobs: KNOBS }, null, 2));
    return 0;
  }
  out("Presets (use with --pair A,B):");
  for (const p of Object.values(PRESETS)) {
    out(`  ${p.name.padEnd(12)} ${JSON.stringify(p.cpu)}`);
    out(`  ${"".padEnd(12)} ${p.description}`);
  }
  out("");
  out("Knobs:");
  for (const k of KNOBS) {
    out(`  ${k.name} = ${k.values.map((v) => JSON.stringify(v)).join(" | ")}`);
    out(`      ${k.models}`);
    for (const d of k.decides) out(`      - ${d}`);
  }
  return 0;
}
