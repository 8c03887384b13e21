import { readFileSync } from "node:fs";
import { parseCase } from "../dist/src/case/case.js";
import { PRESETS } from "../dist/harness/config/config.js";
import { PairRunner } from "../dist/harness/run/pair.js";
import { evaluate } from "../dist/harness/run/finding.js";
import { generatorFor } from "../dist/harness/gen/registry.js";
const runner = new PairRunner();
for (const [f, a, b] of process.argv.slice(2).map((x) => x.split(":"))) {
  const c = parseCase(JSON.parse(readFileSync(`corpus/${f}.json`, "utf8")));
  const r = evaluate(runner, c, PRESETS[a], PRESETS[b], generatorFor("pv64").compare);
  console.log("==", f, a, b, r?.signature);
  console.log(JSON.stringify(r?.first?.diffs?.slice(0, 8)), r?.first?.rip, r?.first?.disasm);
  console.log(JSON.stringify(r?.diffs?.slice(0, 10)));
}
