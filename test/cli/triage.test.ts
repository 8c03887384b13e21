// `hvdiff triage` end to end on the built binary: the reports of two shards of a small
// fuzzing run, grouped by signature and sorted; a malformed report file named on one line
// of standard error (exit 1); the --html page as headless Chromium reads it (Debian
// package `chromium`; the test fails without it).

import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = new URL("../../dist/harness/cli/main.js", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "hvdiff-triage-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const shards = [join(dir, "shard0"), join(dir, "shard1")];

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function hvdiff(args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function hvdiffAsync(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args]);
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("error", reject);
    p.on("close", (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

/** Every signature of the shards with its count, from the runs' own state files. */
function expectedCounts(dirs: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of dirs) {
    const state = JSON.parse(readFileSync(join(d, ".hvdiff-run.json"), "utf8")) as { signatures: Record<string, { count: number }> };
    for (const [sig, s] of Object.entries(state.signatures)) out.set(sig, (out.get(sig) ?? 0) + s.count);
  }
  return out;
}

/** Most frequent first, equal counts by signature. */
function byCount(m: Map<string, number>): [string, number][] {
  return [...m].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
}

/** The blocks of the text output after its first line: the head line and the named fields. */
function blocks(stdout: string): { count: number; signature: string; lines: string[] }[] {
  return stdout
    .split("\n\n")
    .slice(1)
    .filter((b) => !b.startsWith("wrote "))
    .map((b) => {
      const [head, ...lines] = b.trimEnd().split("\n");
      const m = /^ {0,6}(\d+) {2}(.*)$/.exec(head!)!;
      return { count: Number(m[1]), signature: m[2]!, lines: lines.map((l) => l.trim()) };
    });
}

/** The text of some serialized HTML, as the page shows it. */
function text(html: string): string {
  return html
    .replace(/<[^>]*>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&nbsp;/g, "\u00a0")
    .replace(/&amp;/g, "&");
}

function rows(table: string): string[][] {
  return [...table.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((r) => [...r[1]!.matchAll(/<t[dh][^>]*>([\s\S]*?)<\/t[dh]>/g)].map((c) => text(c[1]!)));
}

beforeAll(async () => {
  // One run in two shards (chunks of 200 seeds: 200 and 30 cases), side by side.
  const runs = await Promise.all(
    shards.map((out, i) => hvdiffAsync(["fuzz", "--pair", "intel,amd", "--cases", "230", "--jobs", "1", "--no-progress", "--shard", `${i}/2`, "--out", out])),
  );
  for (const r of runs) expect(r.stderr).toBe("");
  for (const r of runs) expect(r.status).toBe(0);
});

describe("hvdiff triage", () => {
  it("merges one signature's reports across shards and sorts by count, most frequent first", () => {
    const r = hvdiff(["triage", ...shards]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const expected = byCount(expectedCounts(shards));
    expect(expected.length).toBeGreaterThan(2);
    const total = expected.reduce((n, [, c]) => n + c, 0);
    const reports = shards.reduce((n, d) => n + readdirSync(d).filter((f) => f.endsWith(".json") && !f.startsWith(".")).length, 0);
    expect(r.stdout.split("\n")[0]).toBe(`hvdiff triage: ${expected.length} signature(s), ${total} finding(s) in ${reports} report(s)`);
    const bs = blocks(r.stdout);
    expect(bs.map((b) => [b.signature, b.count])).toEqual(expected);
    let inBoth = 0;
    for (const b of bs) {
      const field = (name: string) => b.lines.filter((l) => l.startsWith(name + " ")).map((l) => l.slice(name.length).trim());
      expect(field("kind")).toEqual([b.signature.split(" ")[0]]);
      expect(field("pair")).toEqual(["intel/amd  (A intel, B amd)"]);
      expect(field("seeds")[0]).toMatch(/^hvdiff\/\d+( hvdiff\/\d+)*( \(\+\d+ more\))?$/);
      if (b.signature.startsWith("divergence ")) {
        expect(field("first")[0]).toMatch(/^(long64|compat32) rip 0x[0-9a-f]+ {2}[0-9a-f]+ {2}\S/);
        expect(b.lines).toContainEqual(expect.stringMatching(/^path +A intel +B amd$/));
      }
      expect(field("minimized")[0]).toMatch(/^\d+ items?, \d+ bytes? \(original \d+ items?, \d+ bytes?; \d+ tries\)$/);
      const [file] = field("report");
      expect(field("replay")).toEqual([`npx hvdiff replay ${file}`]);
      const report = JSON.parse(readFileSync(file!, "utf8")) as { signature: string };
      expect(report.signature).toBe(b.signature);
      if (field("also in").length > 0) inBoth++;
    }
    expect(inBoth).toBeGreaterThan(0);
  });

  it("names a malformed report file on one line of standard error, skips it and exits 1", () => {
    const bad = join(dir, "bad");
    cpSync(shards[0]!, bad, { recursive: true });
    const good = readdirSync(bad).filter((f) => f.endsWith(".json") && !f.startsWith("."));
    const report = JSON.parse(readFileSync(join(bad, good[0]!), "utf8"));
    writeFileSync(join(bad, "crash-00000000000000ff.json"), '{"format": "hvdiff-report/1", ');
    writeFileSync(join(bad, "known.json"), '{"suppress": []}'); // not named as a report: not read
    writeFileSync(join(bad, "divergence-0000000000000000.json"), JSON.stringify({ ...report, first: { ...report.first, rip: "1020ad" } }));
    const r = hvdiff(["triage", bad]);
    expect(r.status).toBe(1);
    const errs = r.stderr.trimEnd().split("\n");
    expect(errs).toEqual([
      expect.stringMatching(new RegExp(`^hvdiff triage: ${join(bad, "crash-00000000000000ff.json")}: invalid JSON: `)),
      `hvdiff triage: ${join(bad, "divergence-0000000000000000.json")}: first.rip: must match pattern "^0x[0-9a-f]+$"`,
    ]);
    expect(blocks(r.stdout).map((b) => [b.signature, b.count])).toEqual(byCount(expectedCounts([shards[0]!])));
  });

  it("a directory that does not exist is a usage error (one line, exit 2)", () => {
    const r = hvdiff(["triage", join(dir, "nowhere")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`hvdiff: ${join(dir, "nowhere")}: no such directory\n`);
  });

  it("--html writes one page, the same bytes each time, that Chromium shows with every signature, count and A/B value", () => {
    // A hostile report: its signature and crash message are markup, its message two lines.
    const hostile = join(dir, "hostile");
    mkdirSync(hostile);
    const base = readdirSync(shards[0]!).filter((f) => f.endsWith(".json") && !f.startsWith("."))[0]!;
    const report = JSON.parse(readFileSync(join(shards[0]!, base), "utf8"));
    delete report.first;
    delete report.diffs;
    const signature = `crash intel/amd <script>document.title="pwned"</script> & "quoted" 'x'`;
    const message = `<img src=x onerror="document.title='pwned'">\nsecond line`;
    const stack = "Error: boom\n    at <anonymous>";
    Object.assign(report, { kind: "crash", signature, count: 1000, crash: { side: "b", configuration: "amd", message, stack } });
    writeFileSync(join(hostile, "crash-0123456789abcdef.json"), JSON.stringify(report));

    const page = join(dir, "triage.html");
    const r = hvdiff(["triage", ...shards, hostile, "--html", page]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.trimEnd().endsWith(`wrote ${page}`)).toBe(true);
    const crashLines = r.stdout.split("\n").filter((l) => l.includes("crash     on B"));
    expect(crashLines).toEqual([`         crash     on B (amd): <img src=x onerror="document.title='pwned'">\\u000asecond line`]);
    expect(hvdiff(["triage", ...shards, hostile, "--html", join(dir, "again.html")]).status).toBe(0);
    const html = readFileSync(page, "utf8");
    expect(readFileSync(join(dir, "again.html"), "utf8")).toBe(html);
    // Self-contained: no element that loads anything, links only within the page.
    expect(html).not.toMatch(/<(script|link|img|iframe|object|embed|source)\b|url\(|@import/i);
    expect([...html.matchAll(/\shref="([^"]*)"/g)].every((m) => m[1]!.startsWith("#sig-"))).toBe(true);

    const chrome = spawnSync(
      "chromium",
      ["--headless", "--no-sandbox", "--disable-gpu", `--user-data-dir=${join(dir, "chromium")}`, "--dump-dom", pathToFileURL(page).href],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(chrome.error, "run `chromium` (Debian package chromium)").toBeUndefined();
    expect(chrome.status).toBe(0);
    const dom = chrome.stdout;

    // The hostile text is text: no element was made of it, no script of it ran.
    expect(text(/<title>([\s\S]*?)<\/title>/.exec(dom)![1]!)).toMatch(/^hvdiff triage/);
    expect(dom).not.toMatch(/<script|<img/);
    const expected: [string, number][] = [[signature, 1000], ...byCount(expectedCounts(shards))];

    // The summary: one row per signature, most frequent first, with its count, pair and kind.
    const summary = /<table id="summary">([\s\S]*?)<\/table>/.exec(dom)![1]!;
    expect(rows(summary).slice(1)).toEqual(expected.map(([sig, n], i) => [String(i + 1), sig, String(n), "intel/amd", sig.split(" ")[0]]));

    // One section per signature, in the same order.
    const sections = [...dom.matchAll(/<section class="signature[^"]*" id="sig-(\d+)">([\s\S]*?)<\/section>/g)];
    expect(sections.map((s) => text(/<span class="sig">([\s\S]*?)<\/span>/.exec(s[2]!)![1]!))).toEqual(expected.map(([sig]) => sig));

    const crash = sections[0]![2]!;
    expect(text(/<span class="message">([\s\S]*?)<\/span>/.exec(crash)![1]!)).toBe(message);
    expect(text(/<pre class="stack">([\s\S]*?)<\/pre>/.exec(crash)![1]!)).toBe(stack);

    // The most frequent divergence: configurations side by side, the first divergence with
    // its bytes and every path with its A and B values marked, the items, seeds and replay.
    const t = expected.findIndex(([sig]) => sig.startsWith("divergence "));
    const top = sections[t]![2]!;
    const file = blocks(r.stdout)[t]!.lines.find((l) => l.startsWith("report "))!.slice("report".length).trim();
    const rep = JSON.parse(readFileSync(file, "utf8"));
    const configs = rows(/<table class="configs">([\s\S]*?)<\/table>/.exec(top)![1]!);
    expect(configs).toContainEqual(["name", "intel", "amd"]);
    expect(configs).toContainEqual(["cpu.vendor", "intel", "amd"]);
    expect(text(/<code class="bytes hex">([\s\S]*?)<\/code>/.exec(top)![1]!)).toBe(rep.first.bytes);
    expect(text(/<code class="disasm">([\s\S]*?)<\/code>/.exec(top)![1]!)).toBe(rep.first.disasm);
    const firstDiffs = /<table class="diff first-diffs">([\s\S]*?)<\/table>/.exec(top)![1]!;
    expect(rows(firstDiffs)).toEqual([["path", "A: intel", "B: amd"], ...rep.first.diffs.map((d: { path: string; a: string; b: string }) => [d.path, d.a, d.b])]);
    expect(firstDiffs.match(/<tr class="differs">/g)).toHaveLength(rep.first.diffs.length);
    expect(firstDiffs.match(/<td class="v b">[^<]*<mark>/g)).toHaveLength(rep.first.diffs.length);
    const finalDiffs = /<table class="diff final-diffs">([\s\S]*?)<\/table>/.exec(top)![1]!;
    expect(rows(finalDiffs).slice(1)).toEqual(rep.diffs.map((d: { path: string; a: string; b: string }) => [d.path, d.a, d.b]));
    const items = rows(/<table class="items">([\s\S]*?)<\/table>/.exec(top)![1]!).slice(1);
    expect(items).toEqual(
      rep.minimized.program.items.map((it: { kind: string; mode: string; ring: number; switchTo?: string; code: string }, i: number) => [
        String(i),
        it.kind,
        it.mode,
        String(it.ring),
        it.switchTo ?? "",
        it.code,
      ]),
    );
    if (rep.decisions !== undefined) {
      const decisions = rows(/<table class="decisions">([\s\S]*?)<\/table>/.exec(top)![1]!).slice(1);
      expect(decisions.map((r) => r[0]).filter((c) => c !== "")).toEqual(rep.decisions.a.map((d: { step: number; rip: string; rule: string; choice: string }) => `step ${d.step} · rip ${d.rip}${d.rule}: ${d.choice}`));
    }
    expect(text(/<p class="seeds">([\s\S]*?)<\/p>/.exec(top)![1]!)).toContain(rep.seeds.slice(0, 3).join(" "));
    expect(text(/<pre class="replay">([\s\S]*?)<\/pre>/.exec(top)![1]!)).toBe(`npx hvdiff replay ${file}`);
  });
});
