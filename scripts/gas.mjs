// Assembling GNU as sources (AT&T syntax, one .text section) into bytes at a fixed
// address, with their symbols: for the hand-built system programs
// (scripts/system-vectors.mjs) and the generator's guest kits (scripts/kits.mjs).
// Needs binutils (`as`, `ld`, `objcopy`, `nm`).

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function run(tool, args, source) {
  const r = spawnSync(tool, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${source}: ${tool} failed: ${(r.stderr || r.error?.message || "").trim()}`);
  return r.stdout;
}

/** `source` assembled and linked so its first byte is at `base`: { bytes, symbols: name -> address }. */
export function assembleWithSymbols(source, base) {
  const dir = mkdtempSync(join(tmpdir(), "hvdiff-as-"));
  try {
    const obj = join(dir, "p.o");
    const elf = join(dir, "p.elf");
    const bin = join(dir, "p.bin");
    run("as", ["--64", "-o", obj, source], source);
    // ld reads -Ttext as hex whatever its prefix: always give it 0x-hex.
    const at = typeof base === "number" ? `0x${base.toString(16)}` : base;
    run("ld", ["-m", "elf_x86_64", "-N", "-e", "0", `-Ttext=${at}`, "-o", elf, obj], source);
    run("objcopy", ["-O", "binary", "-j", ".text", elf, bin], source);
    const symbols = {};
    for (const line of run("nm", [elf], source).split("\n")) {
      const m = /^([0-9a-f]+) ([tTaA]) (\w+)$/.exec(line.trim());
      if (m !== null && /^(__bss_start|_edata|_end)$/.test(m[3])) continue;
      if (m !== null) symbols[m[3]] = parseInt(m[1], 16);
    }
    return { bytes: readFileSync(bin), symbols };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The bytes only. */
export function assemble(source, base) {
  return assembleWithSymbols(source, base).bytes;
}
