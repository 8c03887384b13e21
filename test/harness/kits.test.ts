// The generator's guest kits: each harness/gen/kit/NAME.ts must be its NAME.s assembled
// (scripts/kits.mjs --write regenerates them).

import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
// @ts-expect-error: a plain JavaScript module shared with the command that regenerates the kits.
import { KIT_DIR, kitModule, kitNames } from "../../scripts/kits.mjs";

describe("guest kits", () => {
  const names = kitNames() as string[];
  it("there is a kit, and each kit's module is its source assembled", () => {
    expect(names).toContain("ia32e");
    for (const n of names) {
      expect(readFileSync(join(KIT_DIR as string, `${n}.ts`), "utf8"), `${n}: run node scripts/kits.mjs --write`).toBe(kitModule(n));
    }
  });
});
