// Triage of a run's reports: every report of the given files, one entry per
// signature (reports of one signature from several runs or shards merged), most frequent
// first; as text for a terminal and as one static, self-contained HTML page. Signatures,
// messages and configuration descriptions come from report files: untrusted text, shown
// as text and never interpreted.

import type { Difference } from "../../src/case/diff.js";
import { isDomctlProgramJson, mergeReports, readReport, ReportError, type ProgramJson, type Report } from "./report.js";

/** Seeds listed per signature in the text output (the HTML lists all the report has). */
const TEXT_SEEDS = 5;

export interface TriageEntry {
  /** The reports of this signature merged: the earliest seed's report, the total count. */
  report: Report;
  /** The file of the report kept whole (the one its replay command runs). */
  file: string;
  /** Every file this signature was read from, by name. */
  files: string[];
}

export interface Triage {
  /** By count, most frequent first; equal counts by signature. */
  entries: TriageEntry[];
  /** Report files read without problems. */
  reports: number;
  /** One line per unreadable or malformed report file, naming it and the problem. */
  problems: string[];
}

/** Read the report files `files` (`hvdiff merge`'s reportFiles lists a directory's). */
export function triage(files: readonly string[]): Triage {
  const bySignature = new Map<string, TriageEntry>();
  const problems: string[] = [];
  let reports = 0;
  for (const file of files) {
    let r: Report;
    try {
      r = readReport(file);
    } catch (e) {
      if (!(e instanceof ReportError)) throw e;
      problems.push(oneLine(e.message));
      continue;
    }
    reports++;
    const e = bySignature.get(r.signature);
    if (e === undefined) {
      bySignature.set(r.signature, { report: r, file, files: [file] });
      continue;
    }
    const merged = mergeReports(e.report, r);
    // mergeReports keeps the earlier seed's report whole: so is its file (of two copies
    // of one report, the first by name, so the order of the directories does not matter).
    const kept = r.generator.seed === e.report.generator.seed ? (file < e.file ? file : e.file) : merged.generator.seed === e.report.generator.seed ? e.file : file;
    bySignature.set(r.signature, { report: merged, file: kept, files: [...e.files, file].sort() });
  }
  const entries = [...bySignature.values()].sort(
    (x, y) => y.report.count - x.report.count || (x.report.signature < y.report.signature ? -1 : x.report.signature > y.report.signature ? 1 : 0),
  );
  return { entries, reports, problems };
}

/** The command that replays an entry: the report kept whole, where triage found it. */
export function replayCommand(e: TriageEntry): string {
  return `npx hvdiff replay ${e.file}`;
}

// Control characters (a newline, an escape sequence) and bidirectional overrides would
// let a report's text rewrite the lines around it: they are shown as \uXXXX.
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Untrusted text as it may be shown: control characters made visible. */
export function printable(s: string): string {
  return s.replace(UNPRINTABLE, visible);
}

/** On one line: newlines and tabs made visible as well. */
function oneLine(s: string): string {
  return printable(s).replace(/[\t\n]/g, visible);
}

function visible(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

function pairName(r: Report): string {
  return `${r.pair.a.name}/${r.pair.b.name}`;
}

function sizeText(s: { items: number; bytes?: number }): string {
  // A toolstack sequence counts ops and has no code bytes.
  if (s.bytes === undefined) return `${s.items} op${s.items === 1 ? "" : "s"}`;
  return `${s.items} item${s.items === 1 ? "" : "s"}, ${s.bytes} byte${s.bytes === 1 ? "" : "s"}`;
}

// ---------------------------------------------------------------------------------------
// Text

/** The triage as lines of text, one block per signature. */
export function triageText(t: Triage): string[] {
  const findings = t.entries.reduce((n, e) => n + e.report.count, 0);
  const out = [`hvdiff triage: ${t.entries.length} signature(s), ${findings} finding(s) in ${t.reports} report(s)`];
  for (const e of t.entries) {
    const r = e.report;
    const field = (name: string, value: string) => out.push(`         ${name.padEnd(10)}${value}`);
    const more = (lines: string[]) => lines.forEach((l) => out.push(`         ${"".padEnd(10)}${l}`));
    out.push("");
    out.push(`${String(r.count).padStart(7)}  ${oneLine(r.signature)}`);
    field("kind", r.kind);
    field("pair", `${oneLine(pairName(r))}  (A ${oneLine(r.pair.a.name)}, B ${oneLine(r.pair.b.name)})`);
    const seeds = r.seeds.slice(0, TEXT_SEEDS).map(oneLine).join(" ");
    field("seeds", r.count > TEXT_SEEDS ? `${seeds} (+${r.count - Math.min(TEXT_SEEDS, r.seeds.length)} more)` : seeds);
    if (r.first !== undefined) {
      const f = r.first;
      const item = f.item === undefined ? "" : `, item ${f.item.index}: ${oneLine(f.item.kind)}`;
      field("first", `${oneLine(f.mode)} rip ${f.rip}  ${f.bytes}  ${oneLine(f.disasm)}  (step ${f.step}${item})`);
      more([...diffLines(f.diffs, r), ...(f.diffsOmitted === undefined ? [] : [`(+${f.diffsOmitted} more differences)`])]);
    } else if (r.firstOp !== undefined) {
      const f = r.firstOp;
      field("first op", `${f.index}: ${oneLine(JSON.stringify(f.op))}`);
      more([`A ${oneLine(f.a.explain)}`, `B ${oneLine(f.b.explain)}`]);
      const knobs = (["a", "b"] as const).flatMap((side) => f[side].decisions.filter((d) => d.knob !== undefined).map((d) => `${side.toUpperCase()} ${oneLine(d.knob!)}=${oneLine(d.value ?? "")}: ${oneLine(d.why)}`));
      if (knobs.length > 0) more(knobs);
    } else if (r.kind === "divergence" && !isDomctlProgramJson(r.original.program)) {
      field("first", "(not located)");
    }
    if (r.crash !== undefined) {
      const c = r.crash;
      field("crash", `on ${c.side.toUpperCase()} (${oneLine(c.configuration)}): ${oneLine(c.message)}`);
    }
    if ((r.first === undefined || r.firstOp !== undefined) && r.diffs !== undefined && r.diffs.length > 0) {
      field("diffs", "at the end of the run:");
      more([...diffLines(r.diffs, r), ...(r.diffsOmitted === undefined ? [] : [`(+${r.diffsOmitted} more differences)`])]);
    }
    const why = r.decisions === undefined ? [] : (["a", "b"] as const).flatMap((side) => r.decisions![side].map((d) => `${side.toUpperCase()} ${oneLine(d.rule)}: ${oneLine(d.choice)}`));
    if (why.length > 0) {
      field("why", why[0]!);
      more(why.slice(1));
    }
    field("minimized", `${sizeText(r.minimized.size)} (original ${sizeText(r.original.size)}; ${r.minimized.tries} tries)`);
    field("report", oneLine(e.file));
    for (const other of e.files.filter((f) => f !== e.file)) field("also in", oneLine(other));
    field("replay", oneLine(replayCommand(e)));
  }
  return out;
}

/** Differences as aligned columns: path, the value under A, the value under B. */
function diffLines(diffs: readonly Difference[], r: Report): string[] {
  const rows = [["path", `A ${oneLine(r.pair.a.name)}`, `B ${oneLine(r.pair.b.name)}`], ...diffs.map((d) => [d.path, d.a, d.b].map(oneLine))];
  const w0 = Math.max(...rows.map((x) => x[0]!.length));
  const w1 = Math.max(...rows.map((x) => x[1]!.length));
  return rows.map(([p, a, b]) => `${p!.padEnd(w0)}  ${a!.padEnd(w1)}  ${b}`.trimEnd());
}

// ---------------------------------------------------------------------------------------
// HTML

/** Text for an HTML text node or a quoted attribute value. */
export function escapeHtml(s: string): string {
  return printable(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 80em; padding: 0 1em; color: #1b1b1b; }
code, pre, td.v, .hex { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
table { border-collapse: collapse; margin: .4em 0 1em; }
th, td { border: 1px solid #ccc; padding: .2em .5em; text-align: left; vertical-align: top; }
thead th { background: #f0f0f0; }
td.count { text-align: right; }
section.signature { border-top: 2px solid #888; margin-top: 2em; }
section.signature h2 { font-size: 1.1em; word-break: break-word; }
table.configs td, table.decisions td { width: 40em; }
tbody th { background: #f8f8f8; font-weight: 600; }
tr.differs td { background: #fff3c4; }
mark { background: #ffc94d; color: inherit; }
.hex { word-break: break-all; }
pre { background: #f6f6f6; padding: .5em; overflow-x: auto; }
.kind-crash { color: #a40000; }
`;

/** A self-contained page: a summary table and one section per signature. Same input, same bytes. */
export function triageHtml(t: Triage): string {
  const findings = t.entries.reduce((n, e) => n + e.report.count, 0);
  const h: string[] = [];
  h.push("<!DOCTYPE html>");
  h.push('<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">');
  h.push(`<title>hvdiff triage: ${t.entries.length} signature(s)</title><style>${STYLE}</style></head><body>`);
  h.push("<h1>hvdiff triage</h1>");
  h.push(`<p id="totals">${t.entries.length} signature(s), ${findings} finding(s) in ${t.reports} report(s).</p>`);
  h.push('<table id="summary"><thead><tr><th>#</th><th>signature</th><th>count</th><th>pair</th><th>kind</th></tr></thead><tbody>');
  t.entries.forEach((e, i) => {
    const r = e.report;
    h.push(
      `<tr class="kind-${r.kind}"><td>${i + 1}</td><td><a href="#sig-${i + 1}">${escapeHtml(r.signature)}</a></td>` +
        `<td class="count">${r.count}</td><td>${escapeHtml(pairName(r))}</td><td>${r.kind}</td></tr>`,
    );
  });
  h.push("</tbody></table>");
  t.entries.forEach((e, i) => h.push(sectionHtml(e, i + 1)));
  h.push("</body></html>");
  return h.join("\n") + "\n";
}

function sectionHtml(e: TriageEntry, n: number): string {
  const r = e.report;
  const h: string[] = [];
  h.push(`<section class="signature kind-${r.kind}" id="sig-${n}">`);
  h.push(`<h2>${n}. <span class="sig">${escapeHtml(r.signature)}</span></h2>`);
  h.push(
    `<p class="facts">count <b class="count">${r.count}</b> · kind <b>${r.kind}</b> · pair <b>${escapeHtml(pairName(r))}</b>` +
      ` · generator <code>${escapeHtml(r.generator.name)}</code> · hvdiff ${escapeHtml(r.tool.version)}</p>`,
  );

  h.push("<h3>Configurations</h3>");
  const fa = flatten(r.pair.a);
  const fb = flatten(r.pair.b);
  const keys = [...new Set([...fa.keys(), ...fb.keys()])];
  const rows = keys.map((k) => {
    const [a, b] = [fa.get(k) ?? "(unset)", fb.get(k) ?? "(unset)"];
    return `<tr${a !== b ? ' class="differs"' : ""}><th>${escapeHtml(k)}</th><td class="a">${escapeHtml(a)}</td><td class="b">${escapeHtml(b)}</td></tr>`;
  });
  h.push(`<table class="configs"><thead><tr><th></th><th>A</th><th>B</th></tr></thead><tbody>${rows.join("")}</tbody></table>`);

  if (r.first !== undefined) {
    const f = r.first;
    h.push('<h3>First divergence</h3><div class="first">');
    const item = f.item === undefined ? "" : ` · item ${f.item.index}: ${escapeHtml(f.item.kind)}`;
    h.push(`<p>step ${f.step} · ${escapeHtml(f.mode)} · rip <code>${f.rip}</code>${item}</p>`);
    h.push(`<p class="insn"><code class="bytes hex">${f.bytes}</code> <code class="disasm">${escapeHtml(f.disasm)}</code></p>`);
    h.push(diffTable(f.diffs, r, "first-diffs"));
    if (f.diffsOmitted !== undefined) h.push(`<p class="omitted">and ${f.diffsOmitted} more differences</p>`);
    h.push("</div>");
  }
  if (r.firstOp !== undefined) {
    const f = r.firstOp;
    h.push('<h3>First differing op</h3><div class="first">');
    h.push(`<p>op ${f.index}: <code>${escapeHtml(JSON.stringify(f.op))}</code></p>`);
    const side = (x: typeof f.a) =>
      `<td><b>${x.errno ?? x.ret}</b><br>${escapeHtml(x.explain)}<ul>${x.decisions.map((d) => `<li>${d.knob !== undefined ? `<code>${escapeHtml(d.knob)}=${escapeHtml(d.value ?? "")}</code> ` : ""}${escapeHtml(d.branch)}: ${escapeHtml(d.why)}</li>`).join("")}</ul></td>`;
    h.push(`<table class="ops"><thead><tr><th>A: ${escapeHtml(r.pair.a.name)}</th><th>B: ${escapeHtml(r.pair.b.name)}</th></tr></thead><tbody><tr>${side(f.a)}${side(f.b)}</tr></tbody></table>`);
    h.push("</div>");
  }
  if (r.crash !== undefined) {
    const c = r.crash;
    h.push('<h3>Crash</h3><div class="crash">');
    h.push(`<p>on side ${c.side.toUpperCase()} (<b>${escapeHtml(c.configuration)}</b>): <span class="message">${escapeHtml(c.message)}</span></p>`);
    h.push(`<pre class="stack">${escapeHtml(c.stack)}</pre></div>`);
  }
  if (r.decisions !== undefined && r.decisions.a.length + r.decisions.b.length > 0) {
    // What the configurations decided that the other did not: why the sides differ.
    const d = r.decisions;
    const cell = (x: (typeof d.a)[number] | undefined) =>
      x === undefined ? "<td></td>" : `<td>step ${x.step} · rip <code>${x.rip}</code><br><b>${escapeHtml(x.rule)}</b>: ${escapeHtml(x.choice)}</td>`;
    const pairs = Array.from({ length: Math.max(d.a.length, d.b.length) }, (_, i) => `<tr>${cell(d.a[i])}${cell(d.b[i])}</tr>`);
    h.push("<h3>Decisions</h3>");
    h.push(`<table class="decisions"><thead><tr><th>A: ${escapeHtml(r.pair.a.name)}</th><th>B: ${escapeHtml(r.pair.b.name)}</th></tr></thead><tbody>${pairs.join("")}</tbody></table>`);
  }
  h.push("<h3>Final differences</h3>");
  h.push(r.diffs === undefined || r.diffs.length === 0 ? '<p class="final-diffs">none recorded</p>' : diffTable(r.diffs, r, "final-diffs"));
  if (r.diffsOmitted !== undefined) h.push(`<p class="omitted">and ${r.diffsOmitted} more differences</p>`);

  const m = r.minimized;
  const mp = m.program;
  if (isDomctlProgramJson(mp)) {
    h.push("<h3>Minimized sequence</h3>");
    h.push(`<p class="size">${sizeText(m.size)}, from ${sizeText(r.original.size)} (${m.tries} tries); ${escapeHtml(mp.arch)}${mp.strategies !== undefined ? ` · strategies ${escapeHtml(mp.strategies)}` : ""}</p>`);
    const list = (ops: readonly object[]) => `<ol class="ops" start="0">${ops.map((o) => `<li><code>${escapeHtml(JSON.stringify(o))}</code></li>`).join("")}</ol>`;
    h.push(mp.altOps === undefined ? list(mp.ops) : `<p>A runs:</p>${list(mp.ops)}<p>B runs:</p>${list(mp.altOps)}`);
  } else {
    h.push("<h3>Minimized program</h3>");
    h.push(
      `<p class="size">${sizeText(m.size)}, from ${sizeText(r.original.size)} (${m.tries} tries); ` +
        `starts in ${escapeHtml(mp.start)}, at most ${mp.maxSteps} steps</p>`,
    );
    h.push(itemsTable(mp));
  }

  h.push("<h3>Seeds</h3>");
  const unlisted = r.count - r.seeds.length;
  h.push(`<p class="seeds">${r.seeds.map((s) => `<code>${escapeHtml(s)}</code>`).join(" ")}${unlisted > 0 ? ` and ${unlisted} more` : ""}</p>`);

  h.push("<h3>Replay</h3>");
  h.push(`<pre class="replay">${escapeHtml(replayCommand(e))}</pre>`);
  h.push(`<p class="files">from ${e.files.map((f) => `<code>${escapeHtml(f)}</code>`).join(", ")}</p>`);
  h.push("</section>");
  return h.join("\n");
}

function diffTable(diffs: readonly Difference[], r: Report, cls: string): string {
  const rows = diffs.map((d) => {
    const [a, b] = markDifferences(d.a, d.b);
    return `<tr class="differs"><td class="path">${escapeHtml(d.path)}</td><td class="v a">${a}</td><td class="v b">${b}</td></tr>`;
  });
  return (
    `<table class="diff ${cls}"><thead><tr><th>path</th><th>A: ${escapeHtml(r.pair.a.name)}</th><th>B: ${escapeHtml(r.pair.b.name)}</th></tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table>`
  );
}

function itemsTable(p: ProgramJson): string {
  const rows = p.items.map(
    (it, i) =>
      `<tr><td>${i}</td><td>${escapeHtml(it.kind)}</td><td>${escapeHtml(it.mode)}</td><td>${it.ring}</td>` +
      `<td>${it.switchTo === undefined ? "" : escapeHtml(it.switchTo)}</td><td class="hex">${escapeHtml(it.code)}</td></tr>`,
  );
  return `<table class="items"><thead><tr><th>#</th><th>kind</th><th>mode</th><th>ring</th><th>then</th><th>code</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/** A configuration's fields as dotted paths and text: `cpu.vendor` -> `intel`. */
function flatten(v: object, prefix = "", out = new Map<string, string>()): Map<string, string> {
  for (const [k, x] of Object.entries(v)) {
    if (x !== null && typeof x === "object" && !Array.isArray(x)) flatten(x as object, `${prefix}${k}.`, out);
    else out.set(`${prefix}${k}`, typeof x === "string" ? x : JSON.stringify(x));
  }
  return out;
}

/**
 * Two values as HTML with the parts that differ marked: hex numbers digit by digit from
 * the right (`0x7fff` / `0xe834463200007fff` marks B's upper digits), byte strings of one
 * length byte by byte, other values of one length character by character, the rest whole.
 */
export function markDifferences(a: string, b: string): [string, string] {
  const num = /^0x[0-9a-f]+$/;
  if (num.test(a) && num.test(b)) {
    const da = a.slice(2);
    const db = b.slice(2);
    const n = Math.max(da.length, db.length);
    const units = (d: string) => Array.from({ length: n }, (_, i) => (i < n - d.length ? "" : d[i - (n - d.length)]!));
    const [ua, ub] = [units(da), units(db)];
    return [`0x${markUnits(ua, ub)}`, `0x${markUnits(ub, ua)}`];
  }
  const bytes = /^([0-9a-f]{2})+$/;
  const [ua, ub] = bytes.test(a) && bytes.test(b) ? [a.match(/../g)!, b.match(/../g)!] : [Array.from(a), Array.from(b)];
  if (ua.length === ub.length) return [markUnits(ua, ub), markUnits(ub, ua)];
  return [`<mark>${escapeHtml(a)}</mark>`, `<mark>${escapeHtml(b)}</mark>`];
}

/** `mine` with each unit that is not the same in `other` marked; runs share one mark. */
function markUnits(mine: readonly string[], other: readonly string[]): string {
  let out = "";
  let open = false;
  mine.forEach((u, i) => {
    if (u === "") return;
    const differs = u !== other[i];
    if (differs !== open) {
      out += differs ? "<mark>" : "</mark>";
      open = differs;
    }
    out += escapeHtml(u);
  });
  return open ? out + "</mark>" : out;
}
