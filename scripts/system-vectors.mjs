#!/usr/bin/env node
// The hand-built system programs of test/vectors/system: each NAME.s (GNU as, AT&T
// syntax) is assembled and linked at its case's `base`, and NAME.json's `case.code`
// must be exactly those bytes. `node scripts/system-vectors.mjs --write` refreshes
// `case.code` after a program is edited; the test (test/cpu/system-programs.test.ts)
// fails when a program and its code differ. Needs binutils.

import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assemble } from "./gas.mjs";

export const SYSTEM_DIR = fileURLToPath(new URL("../test/vectors/system/", import.meta.url));

/** Every program: [json file name, parsed json, assembled bytes]. */
export function systemPrograms() {
  return readdirSync(SYSTEM_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => {
      const v = JSON.parse(readFileSync(join(SYSTEM_DIR, f), "utf8"));
      return [f, v, assemble(join(SYSTEM_DIR, v.program), v.case.base)];
    });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const write = process.argv.includes("--write");
  let stale = 0;
  for (const [f, v, bytes] of systemPrograms()) {
    const hex = bytes.toString("hex");
    if (v.case.code === hex) continue;
    stale++;
    if (write) {
      // Only the code string changes; the file keeps its layout.
      const path = join(SYSTEM_DIR, f);
      const text = readFileSync(path, "utf8").replace(/("code":\s*")[0-9a-f ]*(")/, `$1${hex}$2`);
      writeFileSync(path, text);
      console.log(`${f}: code refreshed (${bytes.length} bytes)`);
    } else {
      console.log(`${f}: code differs from ${v.program}`);
    }
  }
  process.exitCode = stale > 0 && !write ? 1 : 0;
}
