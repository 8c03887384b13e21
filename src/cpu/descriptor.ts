// Segment descriptors (SDM Vol. 3A 3.4.5): packing for the built-in tables and unpacking
// into the hidden part of a segment register (base, limit, VMX-style attributes).

import { ATTR_G } from "./state.js";

export interface Descriptor {
  base: number;
  /** Limit in bytes - 1, after granularity scaling. */
  limit: number;
  /** VMX access-rights layout: type, S, DPL, P, AVL, L, D/B, G. */
  attr: number;
}

/** The two dwords of an 8-byte descriptor for base, raw 20-bit limit and attributes. */
export function packDescriptor(base: number, rawLimit: number, attr: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (rawLimit & 0xffff);
  const hi =
    ((base >>> 16) & 0xff) |
    ((attr & 0xff) << 8) |
    (rawLimit & 0xf0000) |
    (((attr >>> 12) & 0xf) << 20) |
    (base & 0xff000000);
  return [lo | 0, hi | 0];
}

/** Unpack the dwords of an 8-byte descriptor (the hidden part a selector load fills). */
export function unpackDescriptor(lo: number, hi: number): Descriptor {
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  const attr = ((hi >>> 8) & 0xff) | (((hi >>> 20) & 0xf) << 12);
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if ((attr & ATTR_G) !== 0) limit = ((limit << 12) | 0xfff) >>> 0;
  return { base, limit, attr };
}
