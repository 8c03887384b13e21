// Event channels, 2-level ABI (xen/common/event_channel.c, xen/common/event_2l.c):
// EVTCHNOP_alloc_unbound, bind_virq, bind_ipi, send, close, unmask, and the pending / mask
// bitmaps and selector in shared_info / vcpu_info in the LATCHED layout: bit p of
// evtchn_pending / evtchn_mask (at 0x800 / 0xA00 native, 0x800 / 0x880 compat), selector bit
// p / BITS_PER_EVTCHN_WORD (64 native, 32 compat) in evtchn_pending_sel (vcpu_info +8 u64
// native, +4 u32 compat); 4096 ports native, 1024 compat. Nothing is converted when the
// layout flips: a bit set under one layout is read through the other (spec §2).
// Under KVM the VMM (QEMU xen_evtchn.c) keeps the same bitmaps with xen_is_long_mode(): the
// same rules, driven by KVM's latch.

import { argU32, readArg, writeArg, type Call } from "./call.js";
import { neg } from "./errno.js";
import { getU16, getU32, putU32 } from "./guest.js";
import { DOMID, DOMID_SELF, type XenHvm } from "./hvm.js";
import { offsetOf } from "./layout.js";
import { shinfoAbi } from "./shared_info.js";

export const EVTCHNOP_bind_interdomain = 0;
export const EVTCHNOP_bind_virq = 1;
export const EVTCHNOP_close = 3;
export const EVTCHNOP_send = 4;
export const EVTCHNOP_alloc_unbound = 6;
export const EVTCHNOP_bind_ipi = 7;
export const EVTCHNOP_unmask = 9;

/** public/xen.h: NR_VIRQS and the per-vCPU VIRQs (VIRQ_TIMER, VIRQ_DEBUG, VIRQ_XENOPROF, VIRQ_XENPMU). */
export const NR_VIRQS = 24;
export const VIRQ_TIMER = 0;
const VIRQ_PER_VCPU = new Set([0, 1, 7, 13]);

export type Evtchn =
  | { state: "unbound"; remoteDom: number }
  | { state: "virq"; virq: number; vcpu: number }
  | { state: "ipi"; vcpu: number };

export class EvtchnState {
  /** Allocated ports (port 0 is ECS_RESERVED and never listed). */
  readonly ports = new Map<number, Evtchn>();
  /** v->virq_to_evtchn for vcpu 0. */
  readonly virqToPort = new Map<number, number>();
}

/** max_evtchns(d) for the 2-level ABI: BITS_PER_EVTCHN_WORD(d)^2. */
export function maxEvtchns(hv: XenHvm): number {
  return hv.has32bitShinfo ? 1024 : 4096;
}

function bitAt(hv: XenHvm, field: "evtchn_pending" | "evtchn_mask", port: number): { off: number; bit: number } {
  return { off: offsetOf(shinfoAbi(hv.has32bitShinfo), "shared_info", field) + (port >>> 3), bit: 1 << (port & 7) };
}

function testAndSet(hv: XenHvm, field: "evtchn_pending" | "evtchn_mask", port: number): boolean {
  const { off, bit } = bitAt(hv, field, port);
  const v = hv.shinfo.read8(off);
  hv.shinfo.write8(off, v | bit);
  return (v & bit) !== 0;
}

function testAndClear(hv: XenHvm, field: "evtchn_pending" | "evtchn_mask", port: number): boolean {
  const { off, bit } = bitAt(hv, field, port);
  const v = hv.shinfo.read8(off);
  hv.shinfo.write8(off, v & ~bit);
  return (v & bit) !== 0;
}

function test(hv: XenHvm, field: "evtchn_pending" | "evtchn_mask", port: number): boolean {
  const { off, bit } = bitAt(hv, field, port);
  return (hv.shinfo.read8(off) & bit) !== 0;
}

/** guest_test_and_set_bit(port / BITS_PER_EVTCHN_WORD(d), &vcpu_info(v, evtchn_pending_sel)). */
function testAndSetSelector(hv: XenHvm, port: number): boolean {
  const sel = hv.pendingSel();
  const word = Math.floor(port / sel.bits);
  const off = sel.off + (word >>> 3);
  const bit = 1 << (word & 7);
  const v = hv.vcpuInfoRead8(off);
  hv.vcpuInfoWrite8(off, v | bit);
  return (v & bit) !== 0;
}

/** evtchn_2l_set_pending(). */
export function setPending(hv: XenHvm, port: number): void {
  if (testAndSet(hv, "evtchn_pending", port)) return;
  if (!test(hv, "evtchn_mask", port) && !testAndSetSelector(hv, port)) hv.markEventsPending();
}

/** evtchn_2l_is_pending(). */
export function isPending(hv: XenHvm, port: number): boolean {
  return port < maxEvtchns(hv) && test(hv, "evtchn_pending", port);
}

/** send_guest_vcpu_virq(): the port bound to `virq` on vcpu 0, if any, is set pending. */
export function sendVirq(hv: XenHvm, virq: number): void {
  const port = hv.evtchn.virqToPort.get(virq);
  if (port !== undefined && port < maxEvtchns(hv)) setPending(hv, port);
}

/** get_free_port(): the lowest free port >= 1, or -ENOSPC. */
function getFreePort(hv: XenHvm): number {
  for (let p = 1; p < maxEvtchns(hv); p++) if (!hv.evtchn.ports.has(p)) return p;
  return neg("ENOSPC");
}

/** port_is_valid() and allocated. */
function channel(hv: XenHvm, port: number): { port: number; ch: ReturnType<Map<number, Evtchn>["get"]> } {
  return { port, ch: port < maxEvtchns(hv) ? hv.evtchn.ports.get(port) : undefined };
}

/** do_event_channel_op(cmd, arg): the native handler serves 32- and 64-bit callers alike. */
export function doEventChannelOp(c: Call): number {
  const hv = c.hv;
  const cmd = argU32(c, 0);
  switch (cmd) {
    case EVTCHNOP_alloc_unbound: {
      const a = readArg(c, 1, "evtchn_alloc_unbound");
      if (a === null) return neg("EFAULT");
      const dom = getU16(a, offsetOf(c.abi, "evtchn_alloc_unbound", "dom"));
      if (dom !== DOMID_SELF && dom !== DOMID) return neg("ESRCH");
      const port = getFreePort(hv);
      if (port < 0) return port;
      const remote = getU16(a, offsetOf(c.abi, "evtchn_alloc_unbound", "remote_dom"));
      hv.evtchn.ports.set(port, { state: "unbound", remoteDom: remote === DOMID_SELF ? DOMID : remote });
      putU32(a, offsetOf(c.abi, "evtchn_alloc_unbound", "port"), port);
      return writeArg(c, 1, a) ? 0 : neg("EFAULT");
    }
    case EVTCHNOP_bind_virq: {
      const a = readArg(c, 1, "evtchn_bind_virq");
      if (a === null) return neg("EFAULT");
      const virq = getU32(a, offsetOf(c.abi, "evtchn_bind_virq", "virq"));
      const vcpu = getU32(a, offsetOf(c.abi, "evtchn_bind_virq", "vcpu"));
      // evtchn_bind_virq(): range, global VIRQs only on vCPU 0, the vCPU exists, not bound yet.
      if (virq >= NR_VIRQS) return neg("EINVAL");
      if (!VIRQ_PER_VCPU.has(virq) && vcpu !== 0) return neg("EINVAL");
      if (vcpu !== 0) return neg("ENOENT");
      if (hv.evtchn.virqToPort.has(virq)) return neg("EEXIST");
      const port = getFreePort(hv);
      if (port < 0) return port;
      hv.evtchn.ports.set(port, { state: "virq", virq, vcpu });
      hv.evtchn.virqToPort.set(virq, port);
      putU32(a, offsetOf(c.abi, "evtchn_bind_virq", "port"), port);
      return writeArg(c, 1, a) ? 0 : neg("EFAULT");
    }
    case EVTCHNOP_bind_ipi: {
      const a = readArg(c, 1, "evtchn_bind_ipi");
      if (a === null) return neg("EFAULT");
      const vcpu = getU32(a, offsetOf(c.abi, "evtchn_bind_ipi", "vcpu"));
      if (vcpu !== 0) return neg("ENOENT");
      const port = getFreePort(hv);
      if (port < 0) return port;
      hv.evtchn.ports.set(port, { state: "ipi", vcpu });
      putU32(a, offsetOf(c.abi, "evtchn_bind_ipi", "port"), port);
      return writeArg(c, 1, a) ? 0 : neg("EFAULT");
    }
    case EVTCHNOP_send: {
      const a = readArg(c, 1, "evtchn_send");
      if (a === null) return neg("EFAULT");
      const { port, ch } = channel(hv, getU32(a, 0));
      // evtchn_send(): IPI -> set pending on its vCPU; unbound -> silently dropped; else -EINVAL.
      if (ch === undefined) return neg("EINVAL");
      if (ch.state === "ipi") setPending(hv, port);
      else if (ch.state !== "unbound") return neg("EINVAL");
      return 0;
    }
    case EVTCHNOP_close: {
      const a = readArg(c, 1, "evtchn_close");
      if (a === null) return neg("EFAULT");
      const { port, ch } = channel(hv, getU32(a, 0));
      if (ch === undefined) return neg("EINVAL");
      if (ch.state === "virq") hv.evtchn.virqToPort.delete(ch.virq);
      hv.evtchn.ports.delete(port);
      // evtchn_free(): the pending bit is cleared so a re-bind starts clean.
      testAndClear(hv, "evtchn_pending", port);
      return 0;
    }
    case EVTCHNOP_unmask: {
      const a = readArg(c, 1, "evtchn_unmask");
      if (a === null) return neg("EFAULT");
      const port = getU32(a, 0);
      if (port >= maxEvtchns(hv)) return neg("EINVAL");
      // evtchn_2l_unmask()
      if (testAndClear(hv, "evtchn_mask", port) && test(hv, "evtchn_pending", port) && !testAndSetSelector(hv, port)) {
        hv.markEventsPending();
      }
      return 0;
    }
    default:
      return neg("ENOSYS");
  }
}
