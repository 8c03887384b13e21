import { fixedCode, HANDLERS } from "../dist/harness/gen/pv64.js";
import { disassemble } from "../dist/harness/disasm.js";
const f = fixedCode();
const start = HANDLERS - 0x80000 + 0x80 * 2;
let at = start;
for (let n = 0; n < 30; n++) { const d = disassemble(f.subarray(at), 8, 0x80000 + at); console.log((0x80000+at).toString(16), d.text); at += d.length; if (d.text.startsWith("jmp rdx")) break; }
