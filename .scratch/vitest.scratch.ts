import { defineConfig } from "vitest/config";
export default defineConfig({ test: { root: "/work/main", include: [".scratch/**/*.test.ts"], testTimeout: 600_000, pool: "forks" } });
