// The package this code runs from (the source tree under the tests, dist/ when built):
// its root directory and version, for reports and paths in them.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "hvdiff") return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("hvdiff's package.json not found above " + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const PACKAGE_ROOT = findRoot();
export const TOOL_VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;
