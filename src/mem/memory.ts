// Guest-physical RAM: 4 KiB pages on typed arrays, allocated on first write, with
// copy-on-write snapshots and dirty-page tracking.
//
// Every page starts as the shared ZERO_PAGE. A write goes through prepareWrite()
// the first time it touches a page in the current "fast epoch"; that is where a page
// is allocated or copied (copy-on-write), where the undo log for snapshots is kept,
// where dirty pages are recorded and where write-watched pages (pages holding decoded
// code) report the write. After that, writes go straight to the page until the next
// snapshot, restore or dirty-log clear, so the steady-state cost of a write is one
// typed-array compare.
//
// Snapshot cost is O(1); restore cost is O(pages written since the snapshot).

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const PAGE_MASK = PAGE_SIZE - 1;

/** The page every never-written guest page reads as. Never written. */
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

export interface MemorySnapshot {
  readonly id: number;
  /** Undo-log length when the snapshot was taken. */
  readonly mark: number;
}

export class GuestMemory {
  readonly bytes: number;
  readonly npages: number;
  /** Current contents by page frame number. Read freely; write only after prepareWrite(). */
  readonly pages: Uint8Array[];
  /**
   * wfast[ppn] === fastEpoch: the page may be written in place without calling
   * prepareWrite (owned by the current state, not watched, already in the dirty log).
   */
  readonly wfast: Uint32Array;
  fastEpoch = 1;
  /** Called when a write-watched page is about to be written; the watch is then dropped. */
  onWatchedWrite: ((ppn: number) => void) | null = null;

  private readonly owner: Uint32Array;
  private cowEpoch = 1;
  private readonly watched: Uint8Array;
  private readonly undoPpn: number[] = [];
  private readonly undoPage: Uint8Array[] = [];
  private readonly snapshots: MemorySnapshot[] = [];
  private nextSnapshotId = 1;
  private readonly dirtyBits: Uint8Array;
  private dirtyList: number[] = [];
  /** Pages that hold real storage (not the zero page): a measure of memory actually used. */
  allocatedPages = 0;

  constructor(bytes: number) {
    if (!Number.isInteger(bytes) || bytes <= 0 || bytes % PAGE_SIZE !== 0) {
      throw new RangeError(`guest RAM size ${bytes} is not a positive multiple of ${PAGE_SIZE}`);
    }
    this.bytes = bytes;
    this.npages = bytes / PAGE_SIZE;
    this.pages = new Array<Uint8Array>(this.npages).fill(ZERO_PAGE);
    this.wfast = new Uint32Array(this.npages);
    this.owner = new Uint32Array(this.npages);
    this.watched = new Uint8Array(this.npages);
    this.dirtyBits = new Uint8Array(this.npages);
  }

  /** Make page `ppn` writable in place and return it. */
  prepareWrite(ppn: number): Uint8Array {
    if (this.watched[ppn] !== 0) {
      this.watched[ppn] = 0;
      if (this.onWatchedWrite !== null) this.onWatchedWrite(ppn);
    }
    if (this.owner[ppn] !== this.cowEpoch) {
      const old = this.pages[ppn]!;
      if (this.snapshots.length > 0) {
        this.undoPpn.push(ppn);
        this.undoPage.push(old);
      }
      if (old === ZERO_PAGE) this.allocatedPages++;
      this.pages[ppn] = old === ZERO_PAGE ? new Uint8Array(PAGE_SIZE) : old.slice();
      this.owner[ppn] = this.cowEpoch;
    }
    if (this.dirtyBits[ppn] === 0) {
      this.dirtyBits[ppn] = 1;
      this.dirtyList.push(ppn);
    }
    this.wfast[ppn] = this.fastEpoch;
    return this.pages[ppn]!;
  }

  /** Ask to be told (once) before page `ppn` is next written. */
  watch(ppn: number): void {
    this.watched[ppn] = 1;
    this.wfast[ppn] = 0;
  }

  isWatched(ppn: number): boolean {
    return this.watched[ppn] !== 0;
  }

  // ---- byte-level access for loaders, the hypervisor model and the harness (not the hot path) ----

  read8(pa: number): number {
    return this.pages[pa >>> PAGE_SHIFT]![pa & PAGE_MASK]!;
  }

  write8(pa: number, v: number): void {
    const ppn = pa >>> PAGE_SHIFT;
    const pg = this.wfast[ppn] === this.fastEpoch ? this.pages[ppn]! : this.prepareWrite(ppn);
    pg[pa & PAGE_MASK] = v;
  }

  /** Little-endian 32-bit read at a physical address (may cross pages). */
  read32(pa: number): number {
    const off = pa & PAGE_MASK;
    if (off <= PAGE_SIZE - 4) {
      const pg = this.pages[pa >>> PAGE_SHIFT]!;
      return pg[off]! | (pg[off + 1]! << 8) | (pg[off + 2]! << 16) | (pg[off + 3]! << 24);
    }
    return this.read8(pa) | (this.read8(pa + 1) << 8) | (this.read8(pa + 2) << 16) | (this.read8(pa + 3) << 24);
  }

  write32(pa: number, v: number): void {
    for (let i = 0; i < 4; i++) this.write8(pa + i, (v >>> (8 * i)) & 0xff);
  }

  readBytes(pa: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; ) {
      const p = pa + i;
      const off = p & PAGE_MASK;
      const n = Math.min(len - i, PAGE_SIZE - off);
      out.set(this.pages[p >>> PAGE_SHIFT]!.subarray(off, off + n), i);
      i += n;
    }
    return out;
  }

  writeBytes(pa: number, data: ArrayLike<number>): void {
    for (let i = 0; i < data.length; ) {
      const p = pa + i;
      const ppn = p >>> PAGE_SHIFT;
      const off = p & PAGE_MASK;
      const n = Math.min(data.length - i, PAGE_SIZE - off);
      const pg = this.wfast[ppn] === this.fastEpoch ? this.pages[ppn]! : this.prepareWrite(ppn);
      if (data instanceof Uint8Array) pg.set(data.subarray(i, i + n), off);
      else for (let j = 0; j < n; j++) pg[off + j] = data[i + j]! & 0xff;
      i += n;
    }
  }

  // ---- snapshots ----

  /** Take a snapshot of all of RAM. O(1): pages are shared until written. */
  snapshot(): MemorySnapshot {
    const s: MemorySnapshot = { id: this.nextSnapshotId++, mark: this.undoPpn.length };
    this.snapshots.push(s);
    this.newEpoch();
    return s;
  }

  /**
   * Return RAM to the contents it had when `s` was taken. Snapshots taken after `s`
   * are discarded; `s` stays valid. Cost: the pages written since `s`.
   */
  restore(s: MemorySnapshot): void {
    const at = this.snapshots.indexOf(s);
    if (at < 0) throw new Error(`memory snapshot ${s.id} is not live`);
    this.snapshots.length = at + 1;
    for (let i = this.undoPpn.length - 1; i >= s.mark; i--) {
      const ppn = this.undoPpn[i]!;
      const old = this.undoPage[i]!;
      if (this.watched[ppn] !== 0) {
        this.watched[ppn] = 0;
        if (this.onWatchedWrite !== null) this.onWatchedWrite(ppn);
      }
      if (this.pages[ppn] !== ZERO_PAGE && old === ZERO_PAGE) this.allocatedPages--;
      this.pages[ppn] = old;
      this.owner[ppn] = 0; // shared with the snapshot again: copy before the next write
    }
    this.undoPpn.length = s.mark;
    this.undoPage.length = s.mark;
    this.newEpoch();
  }

  /** Drop a snapshot (and every later one); their pages are no longer kept. */
  release(s: MemorySnapshot): void {
    const at = this.snapshots.indexOf(s);
    if (at < 0) return;
    this.snapshots.length = at;
    if (at === 0) {
      this.undoPpn.length = 0;
      this.undoPage.length = 0;
    }
  }

  /** Pages written since `s` was taken, ascending. */
  writtenSince(s: MemorySnapshot): number[] {
    const seen = new Set<number>();
    for (let i = s.mark; i < this.undoPpn.length; i++) seen.add(this.undoPpn[i]!);
    return [...seen].sort((a, b) => a - b);
  }

  // ---- dirty-page log ----

  /** Pages written since the last clearDirty() (or creation), ascending. */
  dirtyPages(): number[] {
    return [...this.dirtyList].sort((a, b) => a - b);
  }

  clearDirty(): void {
    for (const ppn of this.dirtyList) this.dirtyBits[ppn] = 0;
    this.dirtyList = [];
    this.fastEpoch++;
  }

  private newEpoch(): void {
    this.cowEpoch++;
    this.fastEpoch++;
  }
}
