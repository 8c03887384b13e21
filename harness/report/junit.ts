// A JUnit XML summary of a fuzzing run for CI systems: one test case per pair (it
// passes when the pair shows no finding outside the suppressions) and one per
// signature (a failure, or skipped when suppressed).

export interface JunitFinding {
  pair: string;
  signature: string;
  count: number;
  file: string;
  suppressed: string | null;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function junitXml(pairs: { name: string; cases: number }[], findings: JunitFinding[], seconds: number): string {
  const cases: string[] = [];
  let failures = 0;
  let skipped = 0;
  for (const p of pairs) {
    const open = findings.filter((f) => f.pair === p.name && f.suppressed === null);
    if (open.length > 0) failures++;
    const body = open.length === 0 ? "" : `<failure message="${open.length} unsuppressed signature(s)">${esc(open.map((f) => f.signature).join("\n"))}</failure>`;
    cases.push(`    <testcase classname="hvdiff.fuzz" name="${esc(`pair ${p.name}: ${p.cases} cases`)}">${body}</testcase>`);
  }
  for (const f of findings) {
    let body: string;
    if (f.suppressed !== null) {
      skipped++;
      body = `<skipped message="${esc(`suppressed: ${f.suppressed}`)}"/>`;
    } else {
      failures++;
      body = `<failure message="${esc(`${f.count} case(s); report ${f.file}`)}">${esc(f.signature)}</failure>`;
    }
    cases.push(`    <testcase classname="hvdiff.finding" name="${esc(f.signature)}">${body}</testcase>`);
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites>\n  <testsuite name="hvdiff fuzz" tests="${cases.length}" failures="${failures}" skipped="${skipped}" time="${seconds.toFixed(1)}">\n` +
    cases.join("\n") +
    `\n  </testsuite>\n</testsuites>\n`
  );
}
