// Vitest global setup: build dist/ once, so end-to-end tests run the real `hvdiff` binary.

import { execFileSync } from "node:child_process";

export default function setup(): void {
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], { stdio: "inherit" });
}
