// Flag instructions (LAHF SAHF CLC STC CMC CLD STD), NOP and hint NOPs, PAUSE, fences,
// HLT, UD2, INT3, CPUID, RDTSC.

import type { Handler } from "../decode/insn.js";
import { cpuid } from "../cpuid.js";
import { CpuFault, GP, RunStop, UD } from "../exceptions.js";
import { AF, CF, DF, PF, SF, ZF } from "../flags.js";
import { RAX, RBX, RCX, RDX } from "../state.js";

/** NOP, multi-byte NOP (0F 1F /0), the hint-NOP space (0F 18-1F), PAUSE, LFENCE/MFENCE/SFENCE. */
export const nop: Handler = () => {};

/** LAHF: AH = SF:ZF:0:AF:0:PF:1:CF (SDM Vol. 2A LAHF; valid in 64-bit mode with LAHF_LM). */
export const lahf: Handler = (cpu) => {
  const f = (cpu.getRflags() & (SF | ZF | AF | PF | CF)) | 2;
  cpu.lo[RAX] = (cpu.lo[RAX]! & ~0xff00) | (f << 8);
};

/** SAHF: SF ZF AF PF CF = AH; OF unchanged. */
export const sahf: Handler = (cpu) => {
  const ah = (cpu.lo[RAX]! >>> 8) & (SF | ZF | AF | PF | CF);
  const f = cpu.lf.get();
  cpu.lf.set((f & ~(SF | ZF | AF | PF | CF)) | ah);
};

/** CLC STC CMC (i.op: 0 clear, 1 set, 2 complement). */
export const carryOp: Handler = (cpu, i) => {
  const cf = i.op === 0 ? 0 : i.op === 1 ? 1 : cpu.lf.cf() ^ 1;
  cpu.lf.setCf(cf);
  // The harness's planted divergence (cpuid.ts PlantedBug), never in a real configuration.
  if (i.op === 2 && cpu.model.plant === "cmc-af") cpu.lf.set(cpu.lf.get() ^ AF);
};

/** CLD / STD (i.op: 0 clear, 1 set). */
export const directionOp: Handler = (cpu, i) => {
  cpu.flagsOther = i.op === 0 ? cpu.flagsOther & ~DF : cpu.flagsOther | DF;
};

/** HLT: privileged (#GP(0) at CPL > 0); ends the run with exit `hlt`. */
export const hlt: Handler = (cpu) => {
  if (cpu.cpl !== 0) throw new CpuFault(GP, 0);
  cpu.steps++;
  throw new RunStop("hlt");
};

/** UD2 (0F 0B), UD1 (0F B9 /r), UD0 (0F FF): the defined invalid opcodes. */
export const ud: Handler = () => {
  throw new CpuFault(UD);
};

/** CPUID: EAX/ECX in; RAX, RBX, RCX, RDX out (upper halves cleared). */
export const cpuidInsn: Handler = (cpu) => {
  let r = cpuid(cpu.model, cpu.lo[RAX]!, cpu.lo[RCX]!, (cpu.cr4Lo & (1 << 18)) !== 0);
  // A hypervisor supplies its own leaves (0x40000000 up) and may adjust the others.
  if (cpu.hypervisor?.cpuid !== undefined) r = cpu.hypervisor.cpuid(cpu, cpu.lo[RAX]! >>> 0, cpu.lo[RCX]! >>> 0, r);
  cpu.setReg(4, RAX, r[0], 0);
  cpu.setReg(4, RBX, r[1], 0);
  cpu.setReg(4, RCX, r[2], 0);
  cpu.setReg(4, RDX, r[3], 0);
};

/**
 * RDTSC: EDX:EAX = the time-stamp counter. Deterministic: the counter is the number of
 * instructions retired before this one (cpu.steps) plus IA32_TSC's offset, so the same
 * case gives the same value everywhere. CR4.TSD makes it privileged.
 */
export const rdtsc: Handler = (cpu) => {
  if ((cpu.cr4Lo & 4) !== 0 && cpu.cpl !== 0) throw new CpuFault(GP, 0);
  const t = cpu.tsc();
  cpu.setReg(4, RAX, t % 4294967296, 0);
  cpu.setReg(4, RDX, Math.floor(t / 4294967296), 0);
};
