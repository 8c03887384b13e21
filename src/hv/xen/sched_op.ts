// do_sched_op() (xen/common/sched/core.c): SCHEDOP_yield, SCHEDOP_block, SCHEDOP_poll. One
// vCPU: yield picks the same vCPU again (no context switch, no runstate change). block
// enables event delivery (evtchn_upcall_mask = 0) and returns at once if an upcall is
// pending (vcpu_block()); otherwise the vCPU is blocked until the single-shot timer, or,
// with no wake-up source (a real guest would sleep for ever), until the end of the time
// slice: a deterministic choice of the model. poll (do_poll()): nr_ports > 128 -EINVAL, a
// port >= max_evtchns -EINVAL, a pending port returns 0 at once, else blocked until the
// timeout (0: as block).

import { argU32, readArg, type Call } from "./call.js";
import { neg } from "./errno.js";
import { isPending, maxEvtchns } from "./event_channel.js";
import { copyFromGuest, getU32, getU64, linearOf, u64Number } from "./guest.js";
import { offsetOf } from "./layout.js";

export const SCHEDOP_yield = 0;
export const SCHEDOP_block = 1;
export const SCHEDOP_poll = 3;

function wakeTime(c: Call): number {
  return c.hv.singleshot ?? c.hv.sliceEndNs();
}

export function doSchedOp(c: Call): number {
  const hv = c.hv;
  switch (argU32(c, 0)) {
    case SCHEDOP_yield:
      return 0;
    case SCHEDOP_block: {
      // vcpu_block_enable_events(): local_event_delivery_enable(), then vcpu_block().
      hv.vcpuInfoWrite8(1, 0);
      if ((hv.vcpuInfoRead8(0) & 1) !== 0) return 0;
      hv.blockUntil(wakeTime(c));
      return 0;
    }
    case SCHEDOP_poll: {
      const a = readArg(c, 1, "sched_poll");
      if (a === null) return neg("EFAULT");
      const portsOff = offsetOf(c.abi, "sched_poll", "ports");
      const handle = getU64(a, portsOff);
      const ptr = c.abi === "x86_64" ? linearOf(handle.lo, handle.hi) : handle.lo;
      const nr = getU32(a, offsetOf(c.abi, "sched_poll", "nr_ports"));
      const timeout = u64Number(getU64(a, offsetOf(c.abi, "sched_poll", "timeout")));
      if (nr > 128) return neg("EINVAL");
      for (let i = 0; i < nr; i++) {
        const b = copyFromGuest(c.cpu, ptr + 4 * i, 4);
        if (b === null) return neg("EFAULT");
        const port = getU32(b, 0);
        if (port >= maxEvtchns(hv)) return neg("EINVAL");
        if (isPending(hv, port)) return 0;
      }
      hv.blockUntil(timeout > 0 && !Number.isNaN(timeout) ? Math.min(timeout, wakeTime(c)) : wakeTime(c));
      return 0;
    }
    default:
      return neg("ENOSYS");
  }
}
