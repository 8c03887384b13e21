// `hvdiff knobs`: every preset and every knob, with what it models: the CPU's
// (harness/config/config.ts) and the hypervisor model's (src/hv/policy.ts).

import { KNOBS, PRESETS } from "../config/config.js";
import { KNOBS as HV_KNOBS, PV64_PRESET_DESCRIPTIONS, PV64_PRESETS } from "../../src/hv/policy.js";

export function knobsCommand(opts: { json?: boolean }, out: (s: string) => void): number {
  if (opts.json === true) {
    out(JSON.stringify({ presets: PRESETS, pv64Presets: PV64_PRESETS, knobs: KNOBS, hypervisorKnobs: HV_KNOBS }, null, 2));
    return 0;
  }
  out("Presets (use with --pair A,B):");
  for (const p of Object.values(PRESETS)) {
    out(`  ${p.name.padEnd(24)} cpu ${JSON.stringify(p.cpu)}`);
    if (p.domctl !== undefined) {
      for (const [k, v] of Object.entries(p.domctl)) out(`  ${"".padEnd(24)} ${k} = ${v}`);
    }
    out(`  ${"".padEnd(24)} ${p.description}`);
  }
  out("");
  out("PV64 presets (a case's hv.preset with \"model\": \"xen-pv64\"; as --pair presets they run the pv64 generator):");
  for (const [name, policy] of Object.entries(PV64_PRESETS)) {
    out(`  ${name.padEnd(24)} ${PV64_PRESET_DESCRIPTIONS[name as keyof typeof PV64_PRESETS]}`);
    for (const [k, v] of Object.entries(policy)) out(`  ${"".padEnd(24)} ${k} = ${v}`);
  }
  out("");
  out("CPU knobs:");
  for (const k of KNOBS) {
    out(`  ${k.name} = ${k.values.map((v) => JSON.stringify(v)).join(" | ")}`);
    out(`      ${k.models}`);
    for (const d of k.decides) out(`      - ${d}`);
  }
  out("");
  out("Hypervisor knobs (a configuration file sets them by name):");
  for (const k of HV_KNOBS) {
    out(`  ${k.name}  [${k.area}]`);
    out(`      ${k.description}`);
    out(`      models: ${k.models}`);
    for (const v of k.values) out(`      - ${JSON.stringify(v.value)}: ${v.models}`);
  }
  return 0;
}
