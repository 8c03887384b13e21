// Delta debugging (Zeller and Hildebrandt's ddmin) over a list: the smallest sublist the
// test still accepts, found by trying chunks and their complements at growing
// granularity, then each single element's removal. Used for a program's items and for a
// toolstack sequence's ops.

/** A sublist of `xs` that `test` accepts (`xs` itself when nothing smaller is). */
export function ddmin<T>(xs: readonly T[], test: (candidate: T[]) => boolean): T[] {
  let items = xs.slice();
  let n = 2;
  while (items.length >= 2) {
    const chunk = Math.ceil(items.length / n);
    let reduced = false;
    for (let start = 0; start < items.length && !reduced; start += chunk) {
      const subset = items.slice(start, start + chunk);
      if (subset.length < items.length && test(subset)) {
        items = subset;
        n = 2;
        reduced = true;
      }
    }
    for (let start = 0; start < items.length && !reduced; start += chunk) {
      const complement = [...items.slice(0, start), ...items.slice(start + chunk)];
      if (complement.length > 0 && test(complement)) {
        items = complement;
        n = Math.max(n - 1, 2);
        reduced = true;
      }
    }
    if (!reduced) {
      if (n >= items.length) break;
      n = Math.min(items.length, n * 2);
    }
  }
  // A single element may itself be removable when it is not the last one.
  for (let k = items.length - 1; k >= 0 && items.length > 1; k--) {
    const without = [...items.slice(0, k), ...items.slice(k + 1)];
    if (test(without)) items = without;
  }
  return items;
}
