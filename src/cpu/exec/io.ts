// Port I/O: IN OUT INS OUTS through a small port interface (unclaimed ports read all
// ones and ignore writes), with the I/O permission check of protected mode: CPL > IOPL
// consults the TSS I/O bitmap (SDM Vol. 1 19.5).

import type { Cpu } from "../cpu.js";
import type { Handler, Insn } from "../decode/insn.js";
import { P_REP, P_REPNE } from "../decode/insn.js";
import { CpuFault, GP } from "../exceptions.js";
import { DF, IOPL } from "../flags.js";
import { isProtected } from "../segment.js";
import { ES, RCX, RDI, RDX, RSI, TR } from "../state.js";

/** Devices on the I/O port space. */
export interface PortBus {
  read(port: number, size: number): number;
  write(port: number, size: number, value: number): void;
}

/** No device answers: reads are all ones, writes vanish. */
export const OPEN_BUS: PortBus = {
  read: (_port, size) => (size === 4 ? -1 : size === 2 ? 0xffff : 0xff),
  write: () => {},
};

/** The I/O permission bitmap check when CPL > IOPL (64-bit and 32-bit TSS; none in a 16-bit TSS). */
function checkPorts(cpu: Cpu, port: number, size: number): void {
  if (!isProtected(cpu) || cpu.cpl <= (cpu.flagsOther & IOPL) >>> 12) return;
  const type = cpu.segAttr[TR]! & 0xf;
  if (type !== 0xb && type !== 0x9) throw new CpuFault(GP, 0);
  const limit = cpu.segLimit[TR]!;
  if (limit < 0x67) throw new CpuFault(GP, 0);
  const base = cpu.segBase(TR);
  const mapBase = cpu.sysRead32(base + 0x64) >>> 16;
  const byte = mapBase + (port >>> 3);
  if (byte + 1 > limit) throw new CpuFault(GP, 0);
  const bits = cpu.sysRead32(base + byte) & 0xffff;
  const mask = ((1 << size) - 1) << (port & 7);
  if ((bits & mask) !== 0) throw new CpuFault(GP, 0);
}

function ioSize(i: Insn): number {
  return i.osize === 1 ? 1 : i.osize === 2 ? 2 : 4;
}

/** IN AL/eAX, Ib|DX (i.op 0: immediate port, 1: DX). */
export const inPort: Handler = (cpu, i) => {
  const size = ioSize(i);
  const port = i.op === 0 ? i.imm & 0xff : cpu.lo[RDX]! & 0xffff;
  checkPorts(cpu, port, size);
  cpu.setReg(size, 0, cpu.ports.read(port, size), 0);
};

/** OUT Ib|DX, AL/eAX. */
export const outPort: Handler = (cpu, i) => {
  const size = ioSize(i);
  const port = i.op === 0 ? i.imm & 0xff : cpu.lo[RDX]! & 0xffff;
  checkPorts(cpu, port, size);
  cpu.ports.write(port, size, cpu.getReg(size, 0));
};

/** INS / OUTS (i.op 0 / 1) with REP, rDI/rSI at the address size, DF. */
export const stringIo: Handler = (cpu, i) => {
  const size = ioSize(i);
  const port = cpu.lo[RDX]! & 0xffff;
  checkPorts(cpu, port, size);
  const asize = i.asize;
  const delta = (cpu.flagsOther & DF) !== 0 ? -size : size;
  const rep = (i.prefix & (P_REP | P_REPNE)) !== 0;
  const reg = i.op === 0 ? RDI : RSI;
  const seg = i.op === 0 ? ES : i.seg;
  const count = () => (asize === 8 ? cpu.hi[RCX]! * 4294967296 + (cpu.lo[RCX]! >>> 0) : asize === 4 ? cpu.lo[RCX]! >>> 0 : cpu.lo[RCX]! & 0xffff);
  const step = (r: number, d: number) => {
    if (asize === 8) {
      const s = (cpu.lo[r]! >>> 0) + d;
      cpu.hi[r] = (cpu.hi[r]! + Math.floor(s / 4294967296)) | 0;
      cpu.lo[r] = s | 0;
    } else {
      cpu.setReg(asize, r, cpu.lo[r]! + d, 0);
    }
  };
  let first = true;
  while (!rep || count() !== 0) {
    const lo = cpu.lo[reg]!;
    const off = asize === 8 ? lo : asize === 4 ? lo : lo & 0xffff;
    const lin = cpu.segAddr(seg, off, asize === 8 ? cpu.hi[reg]! : 0, size, i.op === 0);
    if (i.op === 0) {
      cpu.probeWrite(lin, size);
      cpu.wr(lin, size, cpu.ports.read(port, size), 0);
    } else {
      cpu.ports.write(port, size, cpu.rd(lin, size));
    }
    step(reg, delta);
    if (!rep) return;
    if (!first) cpu.steps++;
    first = false;
    step(RCX, -1);
    if (count() !== 0 && cpu.steps + 1 >= cpu.stepLimit) {
      cpu.rip = cpu.insnRip;
      return;
    }
  }
};
