// Software interrupts and exceptions: INT n, INT3, INTO, INT1 (ICEBP), BOUND, and IRET.
// SDM Vol. 2A INT n/INTO/INT3/INT1, BOUND, IRET; delivery is events.ts's.

import type { Handler } from "../decode/insn.js";
import { BP, BR, CpuFault, DB, FAULT_PRIVILEGED_SOFTWARE, FAULT_SOFTWARE, OF as OF_VECTOR } from "../exceptions.js";
import { EventKind, iret } from "../events.js";
import { signExtend } from "./operand.js";

/**
 * INT n: delivered through the IVT/IDT/FRED in both exception modes (it is not an
 * exception; a fault while delivering it is).
 */
export const intN: Handler = (cpu, i) => {
  const vector = i.imm & 0xff;
  cpu.raiseEvent({
    vector,
    errorCode: null,
    kind: EventKind.SoftwareInterrupt,
    returnRip: cpu.rip,
    data: 0,
    insnLen: i.len,
    software: true,
  });
};

/** INT3 (CC): #BP, a software exception reported after the instruction. */
export const int3: Handler = () => {
  throw new CpuFault(BP, null, true, FAULT_SOFTWARE);
};

/** INTO (CE, not in 64-bit mode): #OF when OF = 1. */
export const into: Handler = (cpu) => {
  if (cpu.lf.of() === 1) throw new CpuFault(OF_VECTOR, null, true, FAULT_SOFTWARE);
};

/** INT1 / ICEBP (F1): #DB as a privileged software exception (no gate DPL check). */
export const int1: Handler = () => {
  throw new CpuFault(DB, null, true, FAULT_PRIVILEGED_SOFTWARE);
};

/** BOUND Gv, Ma (62, not in 64-bit mode): #BR when the index is outside [lower, upper]. */
export const bound: Handler = (cpu, i) => {
  const size = i.osize;
  const lin = cpu.ea(i, 2 * size);
  const lower = signExtend(cpu.rd(lin, size), size);
  const upper = signExtend(cpu.rd(lin + size, size), size);
  const index = signExtend(cpu.getReg(size, i.reg), size);
  if (index < lower || index > upper) throw new CpuFault(BR);
};

/** IRET / IRETD / IRETQ. */
export const iretInsn: Handler = (cpu, i) => {
  iret(cpu, i.osize);
};
