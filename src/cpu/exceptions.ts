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

/**
 * An exception raised by an instruction. `trap` marks events reported after the
 * instruction completes (INT3, INTO, INT n): the saved RIP is the next instruction.
 * Not an Error: no stack is captured, so raising one is cheap.
 */
export class CpuFault {
  constructor(
    readonly vector: number,
    readonly errorCode: number | null = null,
    readonly trap = false,
  ) {}
}

/** Thrown by a handler to end the run (HLT, an unsupported instruction...). */
export class RunStop {
  constructor(readonly reason: "hlt" | "unsupported") {}
}
