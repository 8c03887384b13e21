// Architectural exceptions (SDM Vol. 3A 6.3.1, Table 6-1) and the objects that carry them
// out of an instruction. A handler throws CpuFault; the run loop catches it at the
// instruction boundary, where the faulting instruction has changed no state.

export const DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8;
export const TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19;
export const VE = 20, CP = 21;

export const VECTOR_NAMES: Readonly<Record<number, string>> = {
  0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM", 8: "#DF",
  10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF", 17: "#AC", 18: "#MC",
  19: "#XM", 20: "#VE", 21: "#CP",
};

/** Exceptions that push an error code (SDM Vol. 3A Table 6-1). */
export function hasErrorCode(vector: number): boolean {
  return vector === DF || (vector >= TS && vector <= PF) || vector === AC || vector === CP;
}

export function vectorName(vector: number): string {
  return VECTOR_NAMES[vector] ?? `vector ${vector}`;
}

/** How an exception arose, for the IDT's privilege check and FRED's event type. */
export const FAULT_HARDWARE = 0;
/** INT3, INTO: software exceptions (gate DPL checked). */
export const FAULT_SOFTWARE = 1;
/** INT1 (ICEBP): a privileged software exception. */
export const FAULT_PRIVILEGED_SOFTWARE = 2;

/**
 * An exception raised by an instruction. `trap` marks events reported after the
 * instruction completes (INT3, INTO, INT1, single-step): the saved RIP is the next
 * instruction. Not an Error: no stack is captured, so raising one is cheap.
 */
export class CpuFault {
  constructor(
    readonly vector: number,
    readonly errorCode: number | null = null,
    readonly trap = false,
    readonly source = FAULT_HARDWARE,
    /** Event data for FRED (#DB: the DR6-style bits). */
    readonly data = 0,
  ) {}
}

/** Thrown by a handler to end the run (HLT, an unsupported instruction...). */
export class RunStop {
  constructor(readonly reason: "hlt" | "unsupported" | "triple-fault" | "hypercall") {}
}
