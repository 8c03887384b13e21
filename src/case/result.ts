// The result of a case (cases.md "Output"): the guest-visible state after the run,
// formatted with the one hex formatter. This projection is what differential runs compare.

import type { Cpu, Exit } from "../cpu/cpu.js";
import { vectorName } from "../cpu/exceptions.js";
import { GPR_NAMES, SEG_NAMES } from "../cpu/state.js";
import type { GuestMemory } from "../mem/memory.js";
import { formatBytes, hex64, hexNumber } from "./hex.js";
import type { HvmLog } from "../hv/xen/hvm.js";
import type { Pv64Log } from "../hv/xen/pv64/pv64.js";

export interface SegmentOut {
  sel: string;
  base: string;
  limit: string;
  attr: string;
}

export type ExitOut =
  | { kind: "end" | "hlt" | "triple-fault" | "step-limit" }
  | { kind: "exception"; vector: number; name: string; errorCode?: number; rip: string }
  | { kind: "unsupported"; rip: string; bytes: string; disasm?: string; what?: string }
  | { kind: "crash"; message: string };

export interface CaseResult {
  id: string | number | null;
  exit: ExitOut;
  steps: number;
  mode: string;
  regs: Record<string, string>;
  sregs: Record<string, SegmentOut | string | { base: string; limit: string }>;
  memory: { addr: string; hex: string }[];
  /** Under a hypervisor: the hypercalls made and the knob decisions taken. Explains; never compared. */
  hv?: HvmLog | Pv64Log;
}

export function exitOut(e: Exit): ExitOut {
  switch (e.kind) {
    case "exception": {
      const out: ExitOut = { kind: "exception", vector: e.vector, name: vectorName(e.vector), rip: hexNumber(e.rip) };
      if (e.errorCode !== null) out.errorCode = e.errorCode;
      return out;
    }
    case "unsupported": {
      const out: ExitOut = { kind: "unsupported", rip: hexNumber(e.rip), bytes: formatBytes(e.bytes) };
      if (e.what !== undefined) out.what = e.what;
      return out;
    }
    case "crash":
      return { kind: "crash", message: e.message };
    default:
      return { kind: e.kind };
  }
}

export function project(
  id: string | number | null,
  cpu: Cpu,
  mem: GuestMemory,
  exit: Exit,
  dump: readonly { addr: number; len: number }[],
): CaseResult {
  const regs: Record<string, string> = {};
  for (let r = 0; r < 16; r++) regs[GPR_NAMES[r]!] = hex64(cpu.lo[r]!, cpu.hi[r]!);
  regs["rip"] = hexNumber(cpu.rip);
  regs["rflags"] = hexNumber(cpu.getRflags());
  const sregs: CaseResult["sregs"] = {};
  for (const s of [1, 3, 0, 4, 5, 2, 7, 6]) {
    sregs[SEG_NAMES[s]!] = {
      sel: hexNumber(cpu.segSel[s]!),
      base: hex64(cpu.segBaseLo[s]!, cpu.segBaseHi[s]!),
      limit: hexNumber(cpu.segLimit[s]!),
      attr: hexNumber(cpu.segAttr[s]!),
    };
  }
  sregs["cr0"] = hexNumber(cpu.cr0 >>> 0);
  sregs["cr2"] = hex64(cpu.cr2Lo, cpu.cr2Hi);
  sregs["cr3"] = hexNumber(cpu.cr3);
  sregs["cr4"] = hex64(cpu.cr4Lo, cpu.cr4Hi);
  sregs["efer"] = hexNumber(cpu.efer);
  sregs["gdtr"] = { base: hexNumber(cpu.gdtrBase), limit: hexNumber(cpu.gdtrLimit) };
  sregs["idtr"] = { base: hexNumber(cpu.idtrBase), limit: hexNumber(cpu.idtrLimit) };
  const memory = dump.map((d) => ({ addr: hexNumber(d.addr), hex: formatBytes(mem.readBytes(d.addr, d.len)) }));
  return { id, exit: exitOut(exit), steps: cpu.steps, mode: cpu.modeName(), regs, sregs, memory };
}
