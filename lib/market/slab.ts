/**
 * Byte arrays cut from shared slabs: a record's bytes made here are a view of a 64 KiB block, one
 * allocation for a few hundred records instead of one each (an array of a few hundred bytes is
 * allocated outside V8's heap and tracked one by one). A block lives while any view of it does.
 * The blocks are Node Buffers, so a view is one too: Kafka clients take it as it is, where a plain
 * Uint8Array would be wrapped in a Buffer again, one more object a record.
 *
 * @example
 * ```ts
 * const slab = new Slab();
 * const bytes = slab.take(80); // a Uint8Array of 80 bytes, to be filled
 * ```
 * @module
 */
import { Buffer } from "node:buffer";

export class Slab {
  #block: Uint8Array;
  #used = 0;

  constructor(readonly blockBytes = 64 * 1024) {
    this.#block = Buffer.allocUnsafeSlow(blockBytes);
  }

  /** `length` bytes no other view shares. */
  take(length: number): Uint8Array {
    if (this.#used + length > this.#block.length) {
      this.#block = Buffer.allocUnsafeSlow(Math.max(this.blockBytes, length));
      this.#used = 0;
    }
    const out = this.#block.subarray(this.#used, this.#used + length);
    this.#used += length;
    return out;
  }
}
