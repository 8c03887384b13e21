import seedrandom from "seedrandom";
import { Pv64Generator } from "../harness/gen/pv64.js";
import { toRunnable } from "../harness/gen/program.js";
import { PairRunner, withConfiguration } from "../harness/run/pair.js";
import { PRESETS } from "../harness/config/config.js";
import { CaseRunner } from "../src/case/run.js";
const r = new CaseRunner();
let n = 0;
for (let i = 0; i < 3000 && n < 4; i++) {
  const p = new Pv64Generator(seedrandom(`s${i}`)).program(`s${i}`);
  const c = withConfiguration(toRunnable(p, "x"), PRESETS["xen-idt"]!);
  const res = r.run(c);
  if (res.exit.kind === "step-limit") {
    n++;
    console.log(i, p.items.map((it) => it.kind).join(" "), p.migrate ?? "");
    const ev = (res.hv as any)?.events ?? [];
    console.log(ev.slice(0, 40).map((e: any) => `${e.step} ${e.kind} ${e.detail}`).join("\n"));
  }
}
