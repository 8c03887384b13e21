// The guest-visible difference between two runs of one case: the one diff the
// differential runner, the minimizer and reports use. What the guest can observe is the
// result's exit, mode, registers and system registers, and every page of RAM either run
// wrote; the step count and hypervisor bookkeeping are not part of it.

import type { GuestMemory } from "../mem/memory.js";
import { formatBytes } from "./hex.js";
import type { CaseResult } from "./result.js";

export interface Difference {
  /** Where: `exit.kind`, `regs.rcx`, `sregs.cs.attr`, `memory.0x7ff8` (an 8-byte aligned window). */
  path: string;
  a: string;
  b: string;
}

/** Differences between two results, in a fixed order: exit, mode, regs, sregs. */
export function diffResults(a: CaseResult, b: CaseResult): Difference[] {
  const out: Difference[] = [];
  diffObjects("exit", a.exit as unknown as Record<string, unknown>, b.exit as unknown as Record<string, unknown>, out);
  if (a.mode !== b.mode) out.push({ path: "mode", a: a.mode, b: b.mode });
  diffObjects("regs", withoutRf(a.regs), withoutRf(b.regs), out);
  diffObjects("sregs", a.sregs as unknown as Record<string, unknown>, b.sregs as unknown as Record<string, unknown>, out);
  return out;
}

/**
 * RF (RFLAGS bit 16) lives for one instruction: set by the return from a fault's handler,
 * cleared when the next instruction completes. At the end of a run it says only whether
 * the last thing that ran was such a return, not anything the guest computed.
 */
function withoutRf(regs: Record<string, string>): Record<string, string> {
  const f = regs["rflags"];
  if (f === undefined) return regs;
  return { ...regs, rflags: `0x${(Number(f) & ~0x10000).toString(16)}` };
}

function diffObjects(prefix: string, a: Record<string, unknown>, b: Record<string, unknown>, out: Difference[]): void {
  const keys = [...Object.keys(a)];
  for (const k of Object.keys(b)) if (!(k in a)) keys.push(k);
  for (const k of keys) {
    const va = a[k];
    const vb = b[k];
    const path = `${prefix}.${k}`;
    if (typeof va === "object" && va !== null && typeof vb === "object" && vb !== null) {
      diffObjects(path, va as Record<string, unknown>, vb as Record<string, unknown>, out);
    } else if (va !== vb) {
      out.push({ path, a: show(va), b: show(vb) });
    }
  }
}

function show(v: unknown): string {
  return v === undefined ? "(none)" : typeof v === "string" ? v : JSON.stringify(v);
}

/**
 * Differences in the pages `ppns` (ascending) between two memories: each differing
 * 8-byte aligned window, as hex bytes in address order. Windows inside `ignore`
 * (guest-physical ranges, 8-byte aligned) are not compared.
 */
export function diffPages(a: GuestMemory, b: GuestMemory, ppns: Iterable<number>, ignore: readonly { addr: number; len: number }[] = []): Difference[] {
  const out: Difference[] = [];
  for (const ppn of ppns) {
    const pa = a.pages[ppn]!;
    const pb = b.pages[ppn]!;
    const page = ppn * 4096;
    if (pa === pb || ignore.some((r) => r.addr <= page && page + 4096 <= r.addr + r.len) || samePage(pa, pb)) continue;
    for (let o = 0; o < 4096; o += 8) {
      let same = true;
      for (let k = 0; k < 8; k++) {
        if (pa[o + k] !== pb[o + k]) {
          same = false;
          break;
        }
      }
      if (same) continue;
      const at = page + o;
      if (ignore.some((r) => at >= r.addr && at < r.addr + r.len)) continue;
      out.push({ path: `memory.0x${at.toString(16)}`, a: formatBytes(pa.subarray(o, o + 8)), b: formatBytes(pb.subarray(o, o + 8)) });
    }
  }
  return out;
}

/** Two 4 KiB pages hold the same bytes (compared a 32-bit word at a time). */
function samePage(pa: Uint8Array, pb: Uint8Array): boolean {
  const wa = new Int32Array(pa.buffer, pa.byteOffset, 1024);
  const wb = new Int32Array(pb.buffer, pb.byteOffset, 1024);
  for (let k = 0; k < 1024; k++) if (wa[k] !== wb[k]) return false;
  return true;
}

/** The pages either memory wrote since its snapshot, ascending. */
export function pagesWritten(a: number[], b: number[]): number[] {
  return [...new Set([...a, ...b])].sort((x, y) => x - y);
}
