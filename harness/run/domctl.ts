// Toolstack sequences as pairs: the same ops under configurations A and B (each side's
// domctl knobs), or, for the strategies generator, the two ways of fixing a guest's width
// under A and B. A finding names the first op whose return value (or what it wrote back)
// differs, each side's errno and the rule in Xen's code that decided it; when every op
// returns the same, the first op after which the domains differ.

import { runDomctl, parseDomctl, DomctlError, describeOp, type DomctlResult, type DomctlOpResult } from "../../src/hv/xen/domctl/case.js";
import type { DomctlArch, DomctlCase, DomainState } from "../../src/hv/xen/domctl/domain.js";
import { DEFAULT_DOMCTL_PRESET, DOMCTL_PRESETS } from "../../src/hv/policy.js";
import type { Difference } from "../../src/case/diff.js";
import type { Configuration } from "../config/config.js";
import type { DomctlOpJson, DomctlProgram } from "../gen/domctl.js";
import { ddmin } from "../minimize/ddmin.js";
import { crashClass } from "./finding.js";

/** One side's view of an op, as a report shows it. */
export interface DomctlOpSide {
  ret: number;
  errno: string | null;
  /** "set_address_size: -EBUSY on arm64 because ... (file fn(): cond)". */
  explain: string;
  decisions: DomctlOpResult["decisions"];
  out?: DomctlOpResult["out"];
}

export interface DomctlFinding {
  kind: "divergence" | "crash";
  signature: string;
  diffs: Difference[];
  /** The first op that differs (or after which the domains differ); null for strategy pairs. */
  first: { index: number; op: DomctlOpJson; a: DomctlOpSide; b: DomctlOpSide } | null;
  crash?: { side: "a" | "b"; configuration: string; message: string; stack: string };
}

export class DomctlProgramError extends Error {}

/** The ops a side runs: the program's, or for a strategy pair side B's own. */
function opsOf(p: DomctlProgram, side: "a" | "b"): DomctlOpJson[] {
  return side === "b" && p.altOps !== undefined ? p.altOps : p.ops;
}

/** The case one side runs: the program's ops under the configuration's domctl knobs. */
export function sideCase(arch: DomctlArch, ops: DomctlOpJson[], cfg: Configuration): DomctlCase {
  let parsed: DomctlCase;
  try {
    parsed = parseDomctl({ arch, ops }, "domctl");
  } catch (e) {
    if (e instanceof DomctlError) throw new DomctlProgramError(`generated sequence: ${e.message}`);
    throw e;
  }
  return { ...parsed, preset: cfg.name, policy: cfg.domctl ?? { ...DOMCTL_PRESETS[DEFAULT_DOMCTL_PRESET]! } };
}

/** What cases.md's `domctl` case holds for `ops` (the preset is each side's configuration). */
export function domctlCaseJson(p: DomctlProgram, side: "a" | "b" = "a"): Record<string, unknown> {
  return { id: p.seed, domctl: { arch: p.arch, ops: opsOf(p, side) } };
}

/** Every leaf of a JSON value, by dotted path. */
function leaves(v: unknown, path: string, out: Map<string, string>): Map<string, string> {
  if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) leaves(x, path === "" ? k : `${path}.${k}`, out);
  } else {
    out.set(path, JSON.stringify(v));
  }
  return out;
}

function diffJson(prefix: string, a: unknown, b: unknown): Difference[] {
  const la = leaves(a, prefix, new Map());
  const lb = leaves(b, prefix, new Map());
  const out: Difference[] = [];
  for (const k of [...new Set([...la.keys(), ...lb.keys()])].sort()) {
    const [x, y] = [la.get(k), lb.get(k)];
    if (x !== y) out.push({ path: k, a: x ?? "(none)", b: y ?? "(none)" });
  }
  return out;
}

/** What the guest's builder can see of a domain: everything but the domid the rover chose. */
function visibleDomain(d: DomainState | null): unknown {
  if (d === null) return null;
  const { domid: _domid, ...rest } = d;
  return rest;
}

/**
 * What two strategies should agree on: the domain's type and width and how each vCPU
 * will run; not the flags (one strategy passes XEN_DOMCTL_CDF_is_32bits, the other not).
 */
function builtDomain(d: DomainState | null): unknown {
  if (d === null) return null;
  return { type: d.type, width: d.width, tot_pages: d.tot_pages, vcpus: d.vcpus };
}

/** An op as a signature names it: its name and the argument that picks the rule. */
export function opLabel(op: DomctlOpJson): string {
  switch (op.op) {
    case "set_address_size":
      return `set_address_size ${String(op["size"])}`;
    case "setvcpucontext":
      return `setvcpucontext ${String(op["mode"])}`;
    case "createdomain":
      return Array.isArray(op["flags"]) && op["flags"].includes("is_32bits") ? "createdomain is_32bits" : "createdomain";
    default:
      return op.op;
  }
}

/** `domain.vcpus.0.hcr_el2_rw` -> `domain.vcpus.N.hcr_el2_rw`. */
function pathClass(path: string): string {
  return path.replace(/\.\d+(?=\.|$)/g, ".N");
}

function opSide(arch: DomctlArch, r: DomctlOpResult): DomctlOpSide {
  const s: DomctlOpSide = { ret: r.ret, errno: r.errno, explain: describeOp(arch, r), decisions: r.decisions };
  if (r.out !== undefined) s.out = r.out;
  return s;
}

type Run = { ok: true; result: DomctlResult } | { ok: false; message: string; stack: string };

function run(c: DomctlCase): Run {
  try {
    return { ok: true, result: runDomctl(c) };
  } catch (e) {
    // A bug of the model: a finding, never the end of the run.
    const err = e instanceof Error ? e : new Error(String(e));
    return { ok: false, message: err.message, stack: err.stack ?? err.message };
  }
}

/** Run `p` under A and B; the finding, or null when the two agree. */
export function evaluateDomctl(p: DomctlProgram, A: Configuration, B: Configuration): DomctlFinding | null {
  const pair = `${A.name}/${B.name}`;
  const ca = sideCase(p.arch, opsOf(p, "a"), A);
  const cb = sideCase(p.arch, opsOf(p, "b"), B);
  const ra = run(ca);
  const rb = run(cb);
  for (const [side, r, cfg] of [["a", ra, A], ["b", rb, B]] as const) {
    if (!r.ok) {
      return { kind: "crash", signature: `crash ${pair} ${cfg.name}: ${crashClass(r.message)}`, diffs: [], first: null, crash: { side, configuration: cfg.name, message: r.message, stack: r.stack } };
    }
  }
  const a = (ra as { result: DomctlResult }).result;
  const b = (rb as { result: DomctlResult }).result;

  if (p.altOps !== undefined) {
    // Two strategies: only the domain they build is compared.
    const diffs = diffJson("domain", builtDomain(a.domain), builtDomain(b.domain));
    if (diffs.length === 0) return null;
    const classes = [...new Set(diffs.map((d) => pathClass(d.path)))].sort().join(" ");
    return { kind: "divergence", signature: `divergence ${pair} ${p.arch} strategies ${p.strategies ?? ""}: ${classes}`, diffs, first: null };
  }

  // The first op whose result differs.
  for (let i = 0; i < a.ops.length; i++) {
    const [x, y] = [a.ops[i]!, b.ops[i]!];
    const diffs = [...(x.ret !== y.ret ? [{ path: `ops.${i}.ret`, a: x.errno ?? String(x.ret), b: y.errno ?? String(y.ret) }] : []), ...diffJson(`ops.${i}.out`, x.out ?? null, y.out ?? null)];
    if (diffs.length === 0) continue;
    const what = x.ret !== y.ret ? `ret ${x.errno ?? x.ret}/${y.errno ?? y.ret}` : [...new Set(diffs.map((d) => pathClass(d.path.replace(/^ops\.\d+\./, ""))))].sort().join(" ");
    return {
      kind: "divergence",
      signature: `divergence ${pair} ${p.arch} ${opLabel(p.ops[i]!)}: ${what}`,
      diffs: [...diffs, ...diffJson("domain", visibleDomain(a.domain), visibleDomain(b.domain))],
      first: { index: i, op: p.ops[i]!, a: opSide(p.arch, x), b: opSide(p.arch, y) },
    };
  }
  // Every op returned the same: the first op after which the domains differ.
  const final = diffJson("domain", visibleDomain(a.domain), visibleDomain(b.domain));
  if (final.length === 0) return null;
  for (let k = 1; k <= p.ops.length; k++) {
    const da = runDomctl({ ...ca, ops: ca.ops.slice(0, k) }).domain;
    const db = runDomctl({ ...cb, ops: cb.ops.slice(0, k) }).domain;
    const diffs = diffJson("domain", visibleDomain(da), visibleDomain(db));
    if (diffs.length === 0) continue;
    const classes = [...new Set(diffs.map((d) => pathClass(d.path)))].sort().join(" ");
    return {
      kind: "divergence",
      signature: `divergence ${pair} ${p.arch} ${opLabel(p.ops[k - 1]!)}: ${classes}`,
      diffs: final,
      first: { index: k - 1, op: p.ops[k - 1]!, a: opSide(p.arch, a.ops[k - 1]!), b: opSide(p.arch, b.ops[k - 1]!) },
    };
  }
  return null;
}

/** The smallest sequence (ddmin over ops, then over each createdomain's flags) that keeps `signature`. */
export function minimizeDomctl(p: DomctlProgram, keeps: (c: DomctlProgram) => boolean, budget = 400): { program: DomctlProgram; tries: number } {
  let tries = 0;
  const test = (c: DomctlProgram): boolean => {
    if (tries >= budget) return false;
    tries++;
    return keeps(c);
  };
  let cur = p;
  cur = { ...cur, ops: ddmin(cur.ops, (ops) => test({ ...cur, ops })) };
  if (cur.altOps !== undefined) cur = { ...cur, altOps: ddmin(cur.altOps, (altOps) => test({ ...cur, altOps })) };
  // Flags the finding does not need, one at a time.
  for (const key of ["ops", "altOps"] as const) {
    const ops = cur[key];
    if (ops === undefined) continue;
    for (let i = 0; i < ops.length; i++) {
      const flags = ops[i]!["flags"];
      if (!Array.isArray(flags)) continue;
      for (const f of [...(flags as string[])]) {
        const now = cur[key]!;
        const op = now[i]!;
        const without = { ...op, flags: (op["flags"] as string[]).filter((x) => x !== f) };
        const candidate = { ...cur, [key]: [...now.slice(0, i), without, ...now.slice(i + 1)] };
        if (test(candidate)) cur = candidate;
      }
    }
  }
  return { program: cur, tries };
}

/**
 * The coverage signal of a toolstack pair (`hvdiff fuzz --corpus`): each op's label and
 * return value per configuration, each knob branch taken, where the two sides split, and
 * the finding's signature.
 */
export function domctlSignal(p: DomctlProgram, A: Configuration, B: Configuration, f: DomctlFinding | null): Set<string> {
  const out = new Set<string>();
  const results: (DomctlResult | null)[] = [];
  for (const [side, cfg] of [["a", A], ["b", B]] as const) {
    const r = run(sideCase(p.arch, opsOf(p, side), cfg));
    results.push(r.ok ? r.result : null);
    if (!r.ok) continue;
    const ops = opsOf(p, side);
    r.result.ops.forEach((o, i) => {
      out.add(`op ${cfg.name} ${p.arch} ${opLabel(ops[i]!)} ${o.errno ?? "0"}`);
      for (const d of o.decisions) if (d.knob !== undefined) out.add(`knob ${d.knob}=${d.value ?? ""} ${d.branch}`);
    });
  }
  const [a, b] = results;
  if (a != null && b != null && p.altOps === undefined) {
    a.ops.forEach((o, i) => {
      if (o.ret !== b.ops[i]!.ret) out.add(`split ${p.arch} ${opLabel(p.ops[i]!)} ${o.errno ?? "0"}/${b.ops[i]!.errno ?? "0"}`);
    });
  }
  out.add(`verdict ${f === null ? "same" : f.kind}`);
  if (f !== null) out.add(`signature ${f.signature}`);
  return out;
}
