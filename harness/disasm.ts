// Disassembly for humans (reports, `exec` results) through iced-x86.

import { iced } from "./gen/iced.js";

export interface Disassembly {
  /** Instruction length in bytes, 0 when the bytes do not decode. */
  length: number;
  /** Intel-syntax text, or "(bad)". */
  text: string;
}

/** Disassemble the first instruction of `bytes` for a code size of 2, 4 or 8 bytes. */
export function disassemble(bytes: Uint8Array, codeSize: number, rip = 0, vendor: "intel" | "amd" = "intel"): Disassembly {
  const bitness = codeSize * 8;
  const decoder = new iced.Decoder(bitness, bytes, vendor === "amd" ? iced.DecoderOptions.AMD : iced.DecoderOptions.None);
  const formatter = new iced.Formatter(iced.FormatterSyntax.Intel);
  try {
    decoder.ip = BigInt.asUintN(64, BigInt(rip));
    const instr = decoder.decode();
    try {
      if (instr.isInvalid) return { length: 0, text: "(bad)" };
      return { length: instr.length, text: formatter.format(instr) };
    } finally {
      instr.free();
    }
  } finally {
    decoder.free();
    formatter.free();
  }
}
