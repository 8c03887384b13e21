// `npm run bench`: emulator speed on three guest loops (marginal MIPS, start-up excluded),
// snapshot take/restore cost, and the decode-cache hit rate.

import { performance } from "node:perf_hooks";
import { Machine } from "../../src/case/machine.js";
import { parseBytes } from "../../src/case/hex.js";
import { fuzzBench } from "./fuzz.js";

const CODE = 0x100000;
const DATA = 0x200000;

/** Virtual address of the 8 MiB the paging loops walk, mapped with 4 KiB pages (see map4k). */
const PAGED = 0x40000000;

/**
 * Map PAGED..PAGED+8 MiB to physical 8 MiB..16 MiB with 4-level, 4 KiB pages: PDPT[1] of
 * the booted identity map gets a PD whose four PTs hold 2048 entries.
 */
function map4k(m: Machine): void {
  const pdpt = m.tablesBase + 0x11000; // machine.ts: PML4 at T + 0x10000, PDPT after it
  const pd = 0x380000;
  m.mem.write32(pdpt + 8 * (PAGED / 0x40000000), pd | 7);
  for (let k = 0; k < 4; k++) {
    const pt = pd + 0x1000 * (k + 1);
    m.mem.write32(pd + 8 * k, pt | 7);
    for (let e = 0; e < 512; e++) m.mem.write32(pt + 8 * e, (0x800000 + (k * 512 + e) * 4096) | 7);
  }
  m.cpu.flushTlb();
}

/** Guest loops (64-bit code at CODE); each runs until the step budget is spent. */
const LOOPS: { name: string; what: string; hex: string; regs?: Record<number, number>; paged?: boolean }[] = [
  {
    name: "register ALU",
    what: "add/xor/lea/sub/shl/and on registers, dec + jnz",
    // top: add rax,rbx; xor rdx,rax; lea rsi,[rsi+rdx*2]; sub rbx,3; shl r8,1; and r9d,edx; dec ecx; jnz top; jmp top
    hex: "4801d8 4831c2 488d3456 4883eb03 49d1e0 4121d1 ffc9 75e8 ebe6",
    regs: { 1: 1_000_000_000 },
  },
  {
    name: "memory",
    what: "load, read-modify-write and store over a 4 KiB buffer, dec + jnz",
    // mov ecx,512; inner: mov rax,[rdi+rcx*8-8]; add [rsi+rcx*8-8],rax; mov [rdx+rcx*8-8],rax; inc qword [rdi]; dec ecx; jnz inner; jmp outer
    hex: "b900020000 488b44cff8 480144cef8 488944caf8 48ff07 ffc9 75ea ebe3",
    regs: { 7: DATA, 6: DATA + 0x1000, 2: DATA + 0x2000 },
  },
  {
    name: "branchy",
    what: "Collatz steps: data-dependent branches, shifts and LEA",
    // top: test al,1; jz even; lea rax,[rax+rax*2+1]; jmp next; even: shr rax,1; next: inc ebx;
    //      cmp rax,1; jne top; mov eax,ebx; add eax,27; jmp top
    hex: "a801 7407 488d444001 eb03 48d1e8 ffc3 4883f801 75ea 89d8 83c01b ebe3",
    regs: { 0: 27 },
  },
  {
    name: "paged, TLB",
    what: "load + read-modify-write on each of 256 4 KiB pages (4-level paging), the TLB holding them all",
    // outer: mov esi,PAGED; mov ecx,256; inner: mov rax,[rsi]; add [rsi+8],rax; add rsi,0x1000; dec ecx; jnz inner; jmp outer
    hex: "be00000040 b900010000 488b06 48014608 4881c600100000 ffc9 75ee ebe2",
    paged: true,
  },
  {
    name: "paged, walks",
    what: "the same over 2048 pages: twice the 1024-entry TLB, so every access walks the tables",
    hex: "be00000040 b900080000 488b06 48014608 4881c600100000 ffc9 75ee ebe2",
    paged: true,
  },
];

function machine(): Machine {
  const m = new Machine(256 * 1024 * 1024, { vendor: "intel", fred: false });
  m.boot("long64");
  return m;
}

/** Instructions run on a machine so far (for the decode-cache hit rate). */
const executed = new WeakMap<Machine, number>();

/** Run `steps` instructions of a loop from a fresh start; returns seconds. */
function timeRun(m: Machine, code: Uint8Array, regs: Record<number, number>, steps: number): number {
  const cpu = m.cpu;
  if (executed.get(m) === undefined) m.mem.writeBytes(CODE, code);
  cpu.lo.fill(0);
  cpu.hi.fill(0);
  for (const [r, v] of Object.entries(regs)) cpu.lo[Number(r)] = v;
  cpu.rip = CODE;
  cpu.stopRip = NaN;
  cpu.steps = 0;
  cpu.stepLimit = steps;
  const t0 = performance.now();
  const exit = cpu.run();
  const t = (performance.now() - t0) / 1000;
  if (exit.kind !== "step-limit") throw new Error(`bench loop ended with ${JSON.stringify(exit)}`);
  executed.set(m, (executed.get(m) ?? 0) + cpu.steps);
  return t;
}

function mips(loop: (typeof LOOPS)[number]): { mips: number; hitRate: number; decodes: number; executed: number; walks: number } {
  const m = machine();
  if (loop.paged === true) map4k(m);
  const code = parseBytes(loop.hex);
  const regs = loop.regs ?? {};
  timeRun(m, code, regs, 20_000_000); // warm-up: let the JIT settle
  // Marginal rate: the difference of a long and a short run removes start-up costs.
  const short = 10_000_000;
  const long = 60_000_000;
  let best = 0;
  for (let k = 0; k < 3; k++) {
    const a = timeRun(m, code, regs, short);
    const b = timeRun(m, code, regs, long);
    best = Math.max(best, (long - short) / (b - a) / 1e6);
  }
  const n = executed.get(m) ?? 0;
  return { mips: best, hitRate: 1 - m.cpu.decodes / Math.max(1, n), decodes: m.cpu.decodes, executed: n, walks: m.cpu.pageWalks };
}

function snapshotCost(): { takeUs: number; restoreUs: number; restore1GUs: number } {
  // A 100-instruction case that writes a few pages: a loop of stores over 3 pages.
  // mov ecx,25; top: mov [rdi],rcx; mov [rdi+0x1000],rcx; mov [rdi+0x2000],rcx; dec ecx; jnz top
  const code = parseBytes("b919000000 48890f 48898f00100000 48898f00200000 ffc9 75ea");
  const run = (ram: number) => {
    const m = new Machine(ram, { vendor: "intel", fred: false });
    m.boot("long64");
    m.mem.writeBytes(CODE, code);
    const s = m.snapshot();
    const cpu = m.cpu;
    const once = () => {
      cpu.lo[7] = DATA;
      cpu.rip = CODE;
      cpu.stopRip = CODE + code.length;
      cpu.steps = 0;
      cpu.stepLimit = 1000;
      cpu.run();
    };
    for (let k = 0; k < 2000; k++) {
      once();
      m.restore(s);
    }
    const n = 20000;
    let restore = 0;
    for (let k = 0; k < n; k++) {
      once();
      const t0 = performance.now();
      m.restore(s);
      restore += performance.now() - t0;
    }
    // Taking a machine snapshot: the processor state copy and an O(1) memory snapshot.
    const t0 = performance.now();
    for (let k = 0; k < n; k++) m.mem.release(m.snapshot().mem);
    const take = (performance.now() - t0) / n;
    return { take: take * 1000, restore: (restore / n) * 1000 };
  };
  const small = run(256 * 1024 * 1024);
  const big = run(1024 * 1024 * 1024);
  return { takeUs: small.take, restoreUs: small.restore, restore1GUs: big.restore };
}

async function main(): Promise<void> {
  console.log(`hvdiff bench — Node ${process.version}, ${process.arch}`);
  for (const loop of LOOPS) {
    const r = mips(loop);
    const walks = `page walks: ${(r.walks / r.executed * 1000).toFixed(3)} per 1000 instructions`;
    console.log(`  ${loop.name.padEnd(13)} ${r.mips.toFixed(1).padStart(6)} MIPS   decode cache: ${r.decodes} decodes for ${r.executed.toExponential(1)} instructions, hit rate ${(r.hitRate * 100).toFixed(6)}%; ${walks}   (${loop.what})`);
  }
  const s = snapshotCost();
  console.log(`  snapshot     take ${s.takeUs.toFixed(2)} µs; restore after a 100-instruction case ${s.restoreUs.toFixed(2)} µs with 256 MiB of RAM, ${s.restore1GUs.toFixed(2)} µs with 1 GiB`);
  await fuzzBench((l) => console.log(l));
}

void main();
