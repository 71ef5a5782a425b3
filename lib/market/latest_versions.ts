/**
 * The newest version of each bar in a batch: a bar is republished while it is open, and one
 * statement may upsert a row only once. Done with a hash table of positions kept between calls
 * rather than a Map of thousands of ids a batch, whose growing tables were a tenth of what the
 * sink allocated (and a batch's garbage outlives young collections while the stores answer).
 *
 * @example
 * ```ts
 * const batch = [{ id: "A|1m|t0", v: 1 }, { id: "B|1m|t0", v: 1 }, { id: "A|1m|t0", v: 2 }];
 * latestVersions(batch, (b) => b.id); // [B v1, A v2]: each id's last, in the batch's order
 * ```
 * @module
 */

// Slots hold a position + 1 (0: empty); sized to at least twice the batch, a power of two.
let slots = new Int32Array(1024);
let superseded = new Uint8Array(512);

/** Each id's last item, in the order of those items; `items` itself when no id repeats. */
export function latestVersions<T>(items: readonly T[], idOf: (item: T) => string): readonly T[] {
  const n = items.length;
  if (slots.length < 2 * n) {
    let size = slots.length;
    while (size < 2 * n) size *= 2;
    slots = new Int32Array(size);
    superseded = new Uint8Array(size);
  } else slots.fill(0);
  superseded.fill(0, 0, n);
  const mask = slots.length - 1;
  let dropped = 0;
  for (let i = 0; i < n; i++) {
    const id = idOf(items[i]);
    let slot = hash(id) & mask;
    for (;;) {
      const held = slots[slot];
      if (held === 0) {
        slots[slot] = i + 1;
        break;
      }
      if (idOf(items[held - 1]) === id) {
        superseded[held - 1] = 1;
        slots[slot] = i + 1;
        dropped++;
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
  if (dropped === 0) return items;
  const out = new Array<T>(n - dropped);
  for (let i = 0, k = 0; i < n; i++) if (superseded[i] === 0) out[k++] = items[i];
  return out;
}

/** FNV-1a of the text's code units. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
