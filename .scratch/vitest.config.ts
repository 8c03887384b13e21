import { defineConfig } from "vitest/config";
export default defineConfig({ test: { root: "/work/main", include: ["test/**/*.test.ts"], testTimeout: 120_000, pool: "forks" } });
