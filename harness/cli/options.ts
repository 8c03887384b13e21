// Parsing the values of command-line options: each bad value is a UsageError naming the
// option and the problem (one line, exit 2).

import { UsageError } from "./exec.js";

/** "90", "90s", "10m", "2h" -> seconds. */
export function parseDuration(flag: string, s: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(s.trim());
  if (m === null) throw new UsageError(`${flag} '${s}': give a duration like 30s, 10m or 2h`);
  const n = Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1);
  if (!(n > 0)) throw new UsageError(`${flag} '${s}': must be more than 0`);
  return n;
}

export function parseCount(flag: string, s: string, min = 1): number {
  if (!/^\d+$/.test(s.trim())) throw new UsageError(`${flag} '${s}': give a whole number`);
  const n = Number(s);
  if (n < min) throw new UsageError(`${flag} '${s}': must be at least ${min}`);
  return n;
}

/** "I/N" with 0 <= I < N. */
export function parseShard(s: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  if (m === null) throw new UsageError(`--shard '${s}': give I/N, as in 0/4`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) throw new UsageError(`--shard '${s}': need 0 <= I < N`);
  return { index, count };
}
