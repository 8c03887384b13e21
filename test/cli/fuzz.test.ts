// `hvdiff fuzz`, `replay`, `minimize`, `merge` end to end, on the built binary: checks a
// lying harness would fail. A planted divergence is found, minimized to the instruction
// that shows it, and replays; the same seed gives byte-identical reports with one job or
// two; kill -9 leaves only whole, valid reports and --resume finishes the run with what
// an uninterrupted run gives; shards together are the unsharded run; 20 000 cases end
// without an uncaught exception; bad input is one line and a non-zero exit.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkReport, type ProgramJson, type Report } from "../../harness/report/report.js";
import { MAX_DIFFS } from "../../harness/run/chunk.js";
import { fromRuns, toRuns, type RunState } from "../../harness/run/state.js";

const BIN = new URL("../../dist/harness/cli/main.js", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "hvdiff-fuzz-"));

function hvdiff(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** The reports of a directory, by file name, with the replay line (which names the directory) taken out. */
function reports(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const n of readdirSync(out).filter((f) => /^(divergence|crash)-/.test(f)).sort()) {
    m.set(n, readFileSync(join(out, n), "utf8").replace(/"replay": "[^"]*"/, '"replay": ""'));
  }
  return m;
}

/** The chunks of the first pair a run's state counts as done. */
function chunksDone(state: string): number {
  return fromRuns((JSON.parse(readFileSync(state, "utf8")) as RunState).done[0]!, 1).length;
}

function parsed(out: string): Report[] {
  return [...reports(out).entries()].map(([n, text]) => checkReport(JSON.parse(text), n));
}

const PLANTED = file("planted.json", JSON.stringify({ name: "planted", description: "Intel with the test-only CMC/AF bug", cpu: { vendor: "intel", fred: false, plant: "cmc-af" } }));

describe("hvdiff fuzz", () => {
  it("finds the planted divergence, minimizes it to the CMC that shows it, and replays it", () => {
    const out = join(dir, "planted");
    const r = hvdiff(["fuzz", "--pair", `intel,${PLANTED}`, "--cases", "1000", "--jobs", "1", "--out", out, "--no-progress"]);
    expect(r.status, r.stderr).toBe(0);
    const found = parsed(out).filter((x) => /cmc/.test(x.signature));
    expect(found.length).toBeGreaterThan(0);
    const rep = found[0]!;
    expect(rep.kind).toBe("divergence");
    expect(rep.first?.disasm).toBe("cmc");
    expect((rep.minimized.program as ProgramJson).items.map((i) => i.code)).toEqual(["f5"]);
    expect(rep.minimized.size.bytes).toBeLessThan(rep.original.size.bytes!);
    // The AF bit (0x10) is the whole difference.
    const d = rep.first!.diffs.find((x) => x.path === "regs.rflags")!;
    expect(BigInt(d.a) ^ BigInt(d.b)).toBe(0x10n);
    const file = join(out, readdirSync(out).find((n) => JSON.parse(readFileSync(join(out, n), "utf8")).signature === rep.signature)!);
    const re = hvdiff(["replay", file]);
    expect(re.status, re.stdout).toBe(0);
    expect(re.stdout).toMatch(/^reproduces: divergence intel\/planted/);
    expect(hvdiff(["replay", "--original", file]).status).toBe(0);
    // The same configuration on both sides finds nothing.
    const same = hvdiff(["fuzz", "--pair", "intel,intel", "--cases", "300", "--jobs", "1", "--out", join(dir, "same"), "--no-progress"]);
    expect(same.status).toBe(0);
    expect(reports(join(dir, "same")).size).toBe(0);
  });

  it("the same seed gives byte-identical report files, with one job or two", () => {
    const a = join(dir, "det-a");
    const b = join(dir, "det-b");
    expect(hvdiff(["fuzz", "--seed", "det", "--cases", "600", "--jobs", "1", "--out", a, "--no-progress"]).status).toBe(0);
    expect(hvdiff(["fuzz", "--seed", "det", "--cases", "600", "--jobs", "2", "--out", b, "--no-progress"]).status).toBe(0);
    const ra = reports(a);
    expect(ra.size).toBeGreaterThan(5);
    expect(reports(b)).toEqual(ra);
    // Each report is valid and names its own file in the replay command.
    for (const n of readdirSync(a).filter((f) => f.endsWith(".json") && !f.startsWith("."))) {
      const r = checkReport(JSON.parse(readFileSync(join(a, n), "utf8")), n);
      expect(r.replay).toBe(`npx hvdiff replay ${join(a, n)}`);
    }
  });

  it("kill -9 mid-run leaves only whole, valid reports; --resume finishes with what an uninterrupted run gives", async () => {
    const args = ["fuzz", "--seed", "kill", "--cases", "4000", "--jobs", "1", "--no-progress"];
    const whole = join(dir, "whole");
    expect(hvdiff([...args, "--out", whole]).status).toBe(0);

    const out = join(dir, "killed");
    const child = spawn(process.execPath, [BIN, ...args, "--out", out], { stdio: "ignore" });
    const state = join(out, ".hvdiff-run.json");
    // Kill it once a few chunks are done, well before the end.
    await new Promise<void>((resolve, reject) => {
      const t0 = Date.now();
      const poll = setInterval(() => {
        try {
          if (existsSync(state) && chunksDone(state) >= 3) {
            clearInterval(poll);
            child.kill("SIGKILL");
            resolve();
          } else if (Date.now() - t0 > 60000) {
            clearInterval(poll);
            reject(new Error("no progress"));
          }
        } catch {
          // the state file is replaced atomically; a read never sees half of it
        }
      }, 20);
    });
    await new Promise((r) => child.on("exit", r));
    expect(chunksDone(state)).toBeLessThan(20); // really killed mid-run
    for (const n of readdirSync(out)) {
      expect(n.endsWith(".tmp") || /\.json\.\d+$/.test(n), `${n}: a temporary file survived`).toBe(false);
      if (n.endsWith(".json") && !n.startsWith(".")) checkReport(JSON.parse(readFileSync(join(out, n), "utf8")), n);
    }
    const resumed = hvdiff([...args, "--out", out, "--resume"]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(reports(out)).toEqual(reports(whole));
  });

  it("a run's state keeps done chunks as runs: a few numbers however many chunks", () => {
    const ks = [...Array.from({ length: 1000 }, (_, i) => 1 + 3 * i), 5000, -1, -2, -3, -7];
    const runs = toRuns(ks, 3);
    expect(runs).toEqual([[-7, -7], [-3, -1], [1, 2998], [5000, 5000]]);
    expect(fromRuns(runs, 3).sort((a, b) => a - b)).toEqual([...ks].sort((a, b) => a - b));
  });

  it("--shard 0/2 and 1/2 together cover exactly the cases of the unsharded run", () => {
    const args = ["fuzz", "--seed", "shard", "--cases", "900", "--jobs", "1", "--no-progress"];
    const all = join(dir, "all");
    expect(hvdiff([...args, "--out", all]).status).toBe(0);
    expect(hvdiff([...args, "--shard", "0/2", "--out", join(dir, "s0")]).status).toBe(0);
    expect(hvdiff([...args, "--shard", "1/2", "--out", join(dir, "s1")]).status).toBe(0);
    const cases = (d: string) => (JSON.parse(readFileSync(join(d, ".hvdiff-run.json"), "utf8")) as { cases: number[] }).cases;
    expect(cases(join(dir, "s0")).map((n, p) => n + cases(join(dir, "s1"))[p]!)).toEqual(cases(all));
    const merged = join(dir, "merged");
    expect(hvdiff(["merge", join(dir, "s0"), join(dir, "s1"), "--out", merged]).status).toBe(0);
    expect(reports(merged)).toEqual(reports(all));
  });

  it("--corpus keeps the cases that reached new signal, the same with one job or two; a later run replays them first", () => {
    const c1 = join(dir, "corpus-1");
    const c2 = join(dir, "corpus-2");
    const run = (corpus: string, jobs: string, seed: string, out: string) =>
      hvdiff(["fuzz", "--seed", seed, "--cases", "400", "--jobs", jobs, "--corpus", corpus, "--out", join(dir, out), "--no-progress"]);
    const a = run(c1, "1", "cp", "corpus-out-1");
    expect(a.status, a.stderr).toBe(0);
    expect(run(c2, "2", "cp", "corpus-out-2").status).toBe(0);
    const kept = readdirSync(c1).sort();
    expect(kept.length).toBeGreaterThan(5);
    expect(kept.length).toBeLessThan(400);
    expect(readdirSync(c2).sort()).toEqual(kept);
    expect(a.stdout).toContain(`corpus ${c1}: ${kept.length} input(s), ${kept.length} new`);
    // Each input regenerates a case of the run.
    for (const n of kept) expect(JSON.parse(readFileSync(join(c1, n), "utf8")).seed).toMatch(/^cp\/\d+$/);
    // The same run again: the replay reaches all the signal there is, nothing new is kept,
    // and the replayed cases' findings are found again.
    const again = run(c1, "2", "cp", "corpus-out-3");
    expect(again.stdout).toContain(`corpus ${c1}: ${kept.length} input(s), 0 new`);
    expect([...reports(join(dir, "corpus-out-3")).keys()]).toEqual([...reports(join(dir, "corpus-out-1")).keys()]);
    // A file that is not an input: one line, exit 2.
    file("corpus-1/bad.json", "{}");
    const bad = run(c1, "1", "cp", "corpus-out-4");
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toContain(`${join(c1, "bad.json")}: not a corpus input`);
  });

  it("24 000 generated cases (4 000 a default pair) end without an uncaught exception", () => {
    const r = hvdiff(["fuzz", "--seed", "many", "--cases", "4000", "--jobs", "2", "--out", join(dir, "many"), "--no-progress"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^hvdiff fuzz: 24000 cases/);
    expect(r.stderr).toBe("");
    // No finding is an internal error of the emulator.
    const many = parsed(join(dir, "many"));
    expect(many.filter((x) => x.kind === "crash")).toEqual([]);
    // A report lists at most MAX_DIFFS differences, and says how many it left out.
    for (const x of many) {
      expect(x.diffs?.length ?? 0).toBeLessThanOrEqual(MAX_DIFFS);
      expect(x.diffsOmitted === undefined || x.diffs!.length === MAX_DIFFS).toBe(true);
    }
  }, 300_000);

  it("--ci fails on a finding outside the suppressions and writes JUnit", () => {
    const junit = join(dir, "junit.xml");
    const base = ["fuzz", "--seed", "ci", "--cases", "200", "--jobs", "1", "--no-progress", "--ci", "--junit", junit];
    const open = hvdiff([...base, "--out", join(dir, "ci1")]);
    expect(open.status).toBe(1);
    expect(readFileSync(junit, "utf8")).toMatch(/<testsuite name="hvdiff fuzz" tests="\d+" failures="[1-9]/);
    const all = file("suppress.json", JSON.stringify({ suppress: [{ signature: "divergence *", reason: "known vendor and FRED differences" }] }));
    const quiet = hvdiff([...base, "--out", join(dir, "ci2"), "--suppress", all]);
    expect(quiet.status, quiet.stdout).toBe(0);
    expect(readFileSync(junit, "utf8")).toMatch(/failures="0"/);
  });

  it("bad input: one line naming the place and the problem, exit 2, nothing written", () => {
    const bad = file("bad-config.json", JSON.stringify({ name: "x", cpu: { vendor: "via", fred: false } }));
    const badSuppress = file("bad-suppress.json", JSON.stringify({ suppress: [{ signature: "x" }] }));
    const badReport = file("bad-report.json", JSON.stringify({ format: "hvdiff-report/1" }));
    const cases: [string[], RegExp][] = [
      [["fuzz", "--cases", "abc"], /--cases 'abc': give a whole number/],
      [["fuzz", "--time", "soon"], /--time 'soon'/],
      [["fuzz", "--shard", "2/2"], /--shard '2\/2'/],
      [["fuzz", "--pair", "intel"], /--pair 'intel': give two configurations/],
      [["fuzz", "--pair", "intel,nonesuch"], /nonesuch: not a preset/],
      [["fuzz", "--pair", `intel,${bad}`], /bad-config\.json: cpu\.vendor: must be equal to one of the allowed values/],
      [["fuzz", "--cases", "10", "--suppress", badSuppress], /bad-suppress\.json: suppress\.0: must have required property 'reason'/],
      [["fuzz", "--resume", "--out", join(dir, "nothing-here")], /no run to resume/],
      [["replay", badReport], /bad-report\.json: must have required property/],
      [["replay", join(dir, "missing.json")], /missing\.json: no such file/],
    ];
    for (const [args, message] of cases) {
      const r = hvdiff([...args, "--no-progress"].filter((a, k, all) => !(a === "--no-progress" && all[0] !== "fuzz")));
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stdout, args.join(" ")).toBe("");
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.stderr, args.join(" ")).toMatch(message);
    }
  });
});
