// Memory: XEN_DOMCTL_max_mem and XENMEM_populate_physmap (the toolstack's
// xc_domain_populate_physmap_exact()), spec domctl.md 5 and 6.1.

import { Trace, type Domain, type Outcome } from "./domain.js";

const UINT_MAX = 0xffffffff;
/** MEMOP_EXTENT_SHIFT (xen/include/xen/hypercall.h): nr_extents must fit a continuation. */
const MEMOP_MAX_EXTENTS = UINT_MAX >>> 6;

/** Xen common/domctl.c XEN_DOMCTL_max_mem: sets max_pages only, allocates nothing. */
export function maxMem(d: Domain, kb: number): Outcome {
  const t = new Trace();
  d.max_pages = Math.min(Math.floor(kb / 4), UINT_MAX);
  t.decide({ branch: "max_pages", why: `max_pages = min(max_memkb >> 2, UINT_MAX) = ${d.max_pages}` });
  return t.ok();
}

const EXACT = { fn: "xc_domain_populate_physmap_exact()", file: "tools/libs/ctrl/xc_domain.c" } as const;

/**
 * Xen common/memory.c do_memory_op(XENMEM_populate_physmap) returns the number of extents
 * done; xc_domain_populate_physmap_exact() turns a short count into errno EBUSY.
 * `d` null: rcu_lock_domain_by_any_id() found no domain, so Xen did 0 extents.
 */
export function populatePhysmap(d: Domain | null, pages: number): Outcome {
  const t = new Trace();
  if (pages === 0) {
    t.decide({ branch: "nothing", why: "0 extents asked, 0 done" });
    return t.ok();
  }
  if (pages > MEMOP_MAX_EXTENTS) {
    return t.fail("EBUSY", { ...EXACT, cond: "done != nr_extents", why: "nr_extents > (UINT_MAX >> MEMOP_EXTENT_SHIFT): do_memory_op() returns 0 extents done" });
  }
  if (d === null) {
    return t.fail("EBUSY", { ...EXACT, cond: "done != nr_extents", why: "no such domain: do_memory_op() returns 0 extents done (rcu_lock_domain_by_any_id() == NULL)" });
  }
  // common/page_alloc.c assign_pages(): refuses past max_pages; populate_physmap() stops there.
  const room = Math.max(0, d.max_pages - d.tot_pages);
  const done = Math.min(pages, room);
  d.tot_pages += done;
  t.out = { done };
  if (done < pages) {
    return t.fail("EBUSY", { ...EXACT, cond: "done != nr_extents", why: `assign_pages() refuses past max_pages (${d.max_pages}): ${done} of ${pages} extents done` });
  }
  t.decide({ branch: "populated", why: `${done} pages assigned, tot_pages ${d.tot_pages}` });
  return t.ok();
}
