// Guest memory: pages on first touch, copy-on-write snapshots, dirty tracking, watches.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GuestMemory, PAGE_SIZE } from "../../src/mem/memory.js";

const MiB = 1024 * 1024;

/** Byte-for-byte equality (vitest's deep equality is slow on large typed arrays). */
function same(a: Uint8Array, b: Uint8Array | undefined): boolean {
  return b !== undefined && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

describe("GuestMemory", () => {
  it("costs nothing until touched: 4 GiB of RAM allocates no page until written", () => {
    const m = new GuestMemory(4096 * MiB);
    expect(m.allocatedPages).toBe(0);
    expect(m.read32(0x12345678)).toBe(0);
    expect(m.allocatedPages).toBe(0);
    m.write8(0xfffffff, 1);
    expect(m.allocatedPages).toBe(1);
  });

  it("rejects sizes that are not whole pages", () => {
    expect(() => new GuestMemory(4097)).toThrow(RangeError);
    expect(() => new GuestMemory(0)).toThrow(RangeError);
  });

  it("reads back what was written, across page boundaries", () => {
    const m = new GuestMemory(MiB);
    m.writeBytes(PAGE_SIZE - 3, [1, 2, 3, 4, 5, 6]);
    expect(Array.from(m.readBytes(PAGE_SIZE - 3, 6))).toEqual([1, 2, 3, 4, 5, 6]);
    m.write32(2 * PAGE_SIZE - 2, 0xdeadbeef);
    expect(m.read32(2 * PAGE_SIZE - 2) >>> 0).toBe(0xdeadbeef);
  });

  it("property: restore returns every byte to its value at the snapshot", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 64 * PAGE_SIZE - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 64 * PAGE_SIZE - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }),
        (before, after) => {
          const m = new GuestMemory(64 * PAGE_SIZE);
          for (const [a, v] of before) m.write8(a, v);
          const image = m.readBytes(0, 64 * PAGE_SIZE);
          const s = m.snapshot();
          for (const [a, v] of after) m.write8(a, v);
          m.restore(s);
          expect(same(m.readBytes(0, 64 * PAGE_SIZE), image)).toBe(true);
          // The snapshot stays valid: write again, restore again.
          for (const [a, v] of after) m.write8(a, v ^ 0xff);
          m.restore(s);
          expect(same(m.readBytes(0, 64 * PAGE_SIZE), image)).toBe(true);
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });

  it("property: nested snapshots restore to each level", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.tuple(fc.nat(8 * PAGE_SIZE - 1), fc.nat(255)), { maxLength: 10 }), { minLength: 1, maxLength: 5 }), (levels) => {
        const m = new GuestMemory(8 * PAGE_SIZE);
        const snaps = [];
        const images = [];
        for (const writes of levels) {
          images.push(m.readBytes(0, 8 * PAGE_SIZE));
          snaps.push(m.snapshot());
          for (const [a, v] of writes) m.write8(a, v);
        }
        for (let k = snaps.length - 1; k >= 0; k--) {
          m.restore(snaps[k]!);
          expect(same(m.readBytes(0, 8 * PAGE_SIZE), images[k])).toBe(true);
        }
      }),
      { seed: 7, numRuns: 100 },
    );
  });

  it("a snapshot shares pages: taking one copies nothing, and restore touches only written pages", () => {
    const m = new GuestMemory(256 * MiB);
    for (let p = 0; p < 100; p++) m.write8(p * PAGE_SIZE, p);
    const pagesBefore = m.allocatedPages;
    const s = m.snapshot();
    expect(m.allocatedPages).toBe(pagesBefore);
    m.write8(5 * PAGE_SIZE + 1, 0xaa); // copies page 5 only
    m.write8(300 * PAGE_SIZE, 0xbb); // a fresh page
    expect(m.writtenSince(s)).toEqual([5, 300]);
    m.restore(s);
    expect(m.read8(5 * PAGE_SIZE + 1)).toBe(0);
    expect(m.read8(5 * PAGE_SIZE)).toBe(5);
    expect(m.read8(300 * PAGE_SIZE)).toBe(0);
    expect(m.allocatedPages).toBe(pagesBefore);
  });

  it("writes after a snapshot never change the snapshot's pages", () => {
    const m = new GuestMemory(MiB);
    m.write8(10, 1);
    const s1 = m.snapshot();
    m.write8(10, 2);
    const s2 = m.snapshot();
    m.write8(10, 3);
    m.restore(s2);
    expect(m.read8(10)).toBe(2);
    m.write8(10, 4);
    m.restore(s1);
    expect(m.read8(10)).toBe(1);
  });

  it("tracks dirty pages until cleared", () => {
    const m = new GuestMemory(MiB);
    m.write8(3 * PAGE_SIZE, 1);
    m.write8(1 * PAGE_SIZE, 1);
    m.write8(3 * PAGE_SIZE + 7, 1);
    expect(m.dirtyPages()).toEqual([1, 3]);
    m.clearDirty();
    expect(m.dirtyPages()).toEqual([]);
    m.write8(3 * PAGE_SIZE, 2);
    expect(m.dirtyPages()).toEqual([3]);
  });

  it("reports the first write to a watched page, once", () => {
    const m = new GuestMemory(MiB);
    const seen: number[] = [];
    m.onWatchedWrite = (ppn) => seen.push(ppn);
    m.write8(2 * PAGE_SIZE, 1);
    m.watch(2);
    m.write8(2 * PAGE_SIZE + 1, 1);
    m.write8(2 * PAGE_SIZE + 2, 1);
    expect(seen).toEqual([2]);
    m.watch(2);
    const s = m.snapshot();
    m.restore(s); // nothing written: no report
    expect(seen).toEqual([2]);
    m.write8(2 * PAGE_SIZE, 9);
    expect(seen).toEqual([2, 2]);
  });
});
