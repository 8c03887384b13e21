// The seed cases stay meaningful: each debate case in corpus/README.md (the same list as
// the recipes in scripts/corpus.mjs that build them), run under its documented pair with
// the kit's comparison, gives its documented signature; every case file there is valid
// and runs.

import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAnyCase } from "../src/case/case.js";
import { runDomctl } from "../src/hv/xen/domctl/case.js";
import { evaluateDomctl } from "../harness/run/domctl.js";
import { CaseRunner } from "../src/case/run.js";
import { parsePair } from "../harness/config/config.js";
import { SCRATCH } from "../harness/gen/program.js";
import { PV64_SCRATCH } from "../harness/gen/pv64.js";
import { PairRunner } from "../harness/run/pair.js";
import { evaluate } from "../harness/run/finding.js";
// @ts-expect-error: a plain JavaScript module, the command that rebuilds the debate cases.
import { RECIPES } from "../scripts/corpus.mjs";

const CORPUS = fileURLToPath(new URL("../corpus/", import.meta.url));

/** The rows of the README's table: `file` | pair | `signature` | what. */
function documented(): { file: string; pair: string; signature: string }[] {
  const rows: { file: string; pair: string; signature: string }[] = [];
  for (const line of readFileSync(join(CORPUS, "README.md"), "utf8").split("\n")) {
    const m = /^\| `([^`]+\.json)` \| ([^|]+) \| `([^`]+)` \|/.exec(line);
    if (m !== null) rows.push({ file: m[1]!, pair: m[2]!.trim(), signature: m[3]! });
  }
  return rows;
}

describe("corpus", () => {
  const rows = documented();

  it("the README documents the debate cases, and each documented file exists", () => {
    expect(rows.length).toBeGreaterThanOrEqual(5);
    const files = new Set(readdirSync(CORPUS));
    for (const r of rows) expect(files.has(r.file), r.file).toBe(true);
    for (const name of ["fred-vs-idt-syscall-rcx-r11", "intel-vs-amd-syscall-compat", "intel-vs-amd-sysret-noncanonical", "intel-vs-amd-sysenter-long-mode", "fred-swapgs-ud"]) {
      expect(rows.map((r) => r.file)).toContain(`${name}.json`);
    }
  });

  it("the README and the recipes of scripts/corpus.mjs list the same cases, pairs and signatures", () => {
    const programRows = rows.filter((r) => !r.file.startsWith("domctl-"));
    const recipes = (RECIPES as { name: string; pair: string[]; expect: string; alsoPairs?: [string[], string][] }[]).flatMap((r) => [
      { file: `${r.name}.json`, pair: r.pair.join(","), signature: r.expect },
      ...(r.alsoPairs ?? []).map(([pair, expect]) => ({ file: `${r.name}.json`, pair: pair.join(","), signature: expect })),
    ]);
    expect(programRows).toEqual(recipes);
  });

  it.each(rows)("$file under $pair gives its documented signature", ({ file, pair, signature }) => {
    const [A, B] = parsePair(pair);
    const c = parseAnyCase(JSON.parse(readFileSync(join(CORPUS, file), "utf8")));
    const f =
      c.kind === "domctl"
        ? evaluateDomctl({ generator: "corpus", seed: file, arch: c.domctl.arch, ops: JSON.parse(readFileSync(join(CORPUS, file), "utf8")).domctl.ops }, A, B)
        : evaluate(new PairRunner(), c.case, A, B, { prefixed: true, scratch: c.case.hv?.model === "xen-pv64" ? PV64_SCRATCH : SCRATCH });
    expect(f?.signature).toBe(signature);
  });

  it("every case file is a valid case: a program runs to an end on the default CPU, a sequence creates its domain", () => {
    const r = new CaseRunner();
    const files = readdirSync(CORPUS).filter((f) => f.endsWith(".json"));
    expect(files.filter((f) => f.startsWith("domctl-")).length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const c = parseAnyCase(JSON.parse(readFileSync(join(CORPUS, file), "utf8")));
      if (c.kind === "domctl") {
        expect(runDomctl({ ...c.domctl, policy: { ...c.domctl.policy } }).ops.length, file).toBe(c.domctl.ops.length);
        continue;
      }
      const res = r.run(c.case);
      expect(["end", "hlt"], file).toContain(res.exit.kind);
    }
  });
});
