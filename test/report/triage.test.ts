// Triage: reports of one signature from several directories merge into one entry, entries
// go most frequent first, untrusted text is shown as text, the differing parts of A/B
// values are marked, and the page is the same bytes for the same reports.

import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PRESETS } from "../../harness/config/config.js";
import { REPORT_FORMAT } from "../../harness/report/schema.js";
import { writeReport, type Report } from "../../harness/report/report.js";
import { escapeHtml, markDifferences, printable, triage, triageHtml, triageText } from "../../harness/report/triage.js";

const root = mkdtempSync(join(tmpdir(), "hvdiff-triage-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A small valid report: one SYSCALL item whose RCX differs (the shape `fuzz` writes). */
function report(signature: string, count: number, seeds: string[]): Report {
  const program = { start: "long64" as const, items: [{ kind: "syscall", mode: "long64" as const, ring: 0 as const, code: "0f05" }], maxSteps: 100 };
  const diffs = [{ path: "regs.rcx", a: "0x0", b: "0x102016" }];
  return {
    format: REPORT_FORMAT,
    tool: { name: "hvdiff", version: "0.1.0" },
    kind: "divergence",
    signature,
    pair: { a: PRESETS["intel"]!, b: PRESETS["amd"]! },
    generator: { name: "ia32e@1", seed: seeds[0]! },
    count,
    seeds,
    compare: { prefixed: true, scratch: [] },
    original: { case: {}, program, size: { items: 3, bytes: 40 } },
    minimized: { case: {}, program, size: { items: 1, bytes: 2 }, tries: 4 },
    diffs,
    first: { step: 0, mode: "long64", rip: "0x102014", bytes: "0f05", disasm: "syscall", item: { index: 0, kind: "syscall" }, diffs },
    replay: "npx hvdiff replay elsewhere.json",
  };
}

/** The report files of directories, by name. */
function files(...dirs: string[]): string[] {
  return dirs.flatMap((d) => readdirSync(d).sort().map((f) => join(d, f)));
}

function dir(name: string, reports: Report[]): string {
  const d = join(root, name);
  mkdirSync(d);
  for (const r of reports) writeReport(d, r);
  return d;
}

describe("triage", () => {
  const s1 = dir("shard0", [report("divergence x", 3, ["run/4", "run/9", "run/12"]), report("divergence y", 5, ["run/1", "run/2", "run/3", "run/5", "run/6"])]);
  const s2 = dir("shard1", [report("divergence x", 4, ["run/2", "run/200", "run/201", "run/202"]), report("divergence w", 2, ["run/7", "run/8"])]);

  it("merges one signature's reports across directories: counts add, seeds merge, the earliest seed's report is kept", () => {
    const t = triage(files(s1, s2));
    expect(t.problems).toEqual([]);
    expect(t.reports).toBe(4);
    const x = t.entries.find((e) => e.report.signature === "divergence x")!;
    expect(x.report.count).toBe(7);
    expect(x.report.seeds).toEqual(["run/2", "run/4", "run/9", "run/12", "run/200", "run/201", "run/202"]);
    expect(x.report.generator.seed).toBe("run/2");
    expect(x.file.startsWith(s2)).toBe(true);
    expect(x.files).toHaveLength(2);
  });

  it("sorts by count, most frequent first, equal counts by signature", () => {
    const t = triage(files(s1, s2, dir("more", [report("divergence v", 5, ["run/30"])])));
    expect(t.entries.map((e) => [e.report.count, e.report.signature])).toEqual([
      [7, "divergence x"],
      [5, "divergence v"],
      [5, "divergence y"],
      [2, "divergence w"],
    ]);
  });

  it("names each malformed file with its problem and skips it", () => {
    const d = dir("bad", [report("divergence z", 1, ["run/1"])]);
    writeFileSync(join(d, "broken.json"), "{not json");
    writeFileSync(join(d, "partial.json"), JSON.stringify({ ...report("divergence q", 1, ["run/1"]), count: 0 }));
    const t = triage(files(d));
    expect(t.entries.map((e) => e.report.signature)).toEqual(["divergence z"]);
    expect(t.problems).toHaveLength(2);
    expect(t.problems[0]).toMatch(/broken\.json: invalid JSON/);
    expect(t.problems[1]).toMatch(/partial\.json: count: must be >= 1/);
  });

  it("text output: one block per signature with its first divergence, sizes, file and replay command", () => {
    const lines = triageText(triage(files(s1, s2)));
    expect(lines[0]).toBe("hvdiff triage: 3 signature(s), 14 finding(s) in 4 report(s)");
    const heads = lines.filter((l) => /^ {0,6}\d+ {2}\S/.test(l)).map((l) => l.trim());
    expect(heads).toEqual(["7  divergence x", "5  divergence y", "2  divergence w"]);
    const text = lines.join("\n");
    expect(text).toContain("first     long64 rip 0x102014  0f05  syscall  (step 0, item 0: syscall)");
    expect(text).toMatch(/regs\.rcx +0x0 +0x102016/);
    expect(text).toContain("minimized 1 item, 2 bytes (original 3 items, 40 bytes; 4 tries)");
    expect(text).toContain("seeds     run/2 run/4 run/9 run/12 run/200 (+2 more)");
    expect(text).toMatch(/replay +npx hvdiff replay .*shard1\/divergence-[0-9a-f]{16}\.json/);
  });

  it("says why the sides differ: each side's decisions, A then B", () => {
    const r = report("divergence d", 1, ["run/1"]);
    r.decisions = {
      a: [{ step: 3, rip: "0x102014", rule: "SYSCALL", choice: "#UD because the vendor is Intel & <not 64-bit>" }],
      b: [{ step: 3, rip: "0x102014", rule: "SYSCALL", choice: "legacy: to CSTAR" }],
    };
    const t = triage(files(dir("why", [r])));
    const text = triageText(t).join("\n");
    expect(text).toContain("why       A SYSCALL: #UD because the vendor is Intel & <not 64-bit>\n                   B SYSCALL: legacy: to CSTAR");
    const html = triageHtml(t);
    expect(html).toContain("<b>SYSCALL</b>: #UD because the vendor is Intel &#38; &#60;not 64-bit&#62;</td><td>step 3");
  });

  it("the page is the same bytes for the same reports, whatever the order of the directories", () => {
    const html = triageHtml(triage(files(s1, s2)));
    expect(triageHtml(triage(files(s2, s1)))).toBe(html);
    expect(html).not.toMatch(/\d{4}-\d{2}-\d{2}/); // no dates
  });
});

describe("untrusted text", () => {
  it("escapeHtml leaves no markup and shows control characters", () => {
    expect(escapeHtml(`<script>alert("x")</script> & 'y'`)).toBe("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;y&#39;");
    expect(escapeHtml("a\u001b[31mb")).toBe("a\\u001b[31mb");
  });

  it("printable keeps newlines (stacks) but shows bidirectional overrides", () => {
    expect(printable("a\nb\u202ec")).toBe("a\nb\\u202ec");
  });
});

describe("markDifferences", () => {
  it("marks hex numbers digit by digit from the right", () => {
    expect(markDifferences("0x7fff", "0xe834463200007fff")).toEqual(["0x7fff", "0x<mark>e83446320000</mark>7fff"]);
    expect(markDifferences("0x46", "0x2")).toEqual(["0x<mark>46</mark>", "0x<mark>2</mark>"]);
  });

  it("marks byte strings byte by byte", () => {
    expect(markDifferences("0d00000000000000", "0600000000000001")).toEqual(["<mark>0d</mark>000000000000<mark>00</mark>", "<mark>06</mark>000000000000<mark>01</mark>"]);
  });

  it("marks other values of one length character by character, of different lengths whole, escaped", () => {
    expect(markDifferences("a<b", "a>b")).toEqual(["a<mark>&#60;</mark>b", "a<mark>&#62;</mark>b"]);
    expect(markDifferences("hlt", "exception")).toEqual(["<mark>hlt</mark>", "<mark>exception</mark>"]);
  });
});
