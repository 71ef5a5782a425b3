/**
 * A request body of JSON pieces — texts, or documents already as bytes — as one Buffer of exactly
 * its length: a document read from the wire as bytes goes to a store without becoming text, and
 * the body is not encoded again on its way to the socket.
 *
 * @example
 * ```ts
 * const doc = new TextEncoder().encode('{"close":1}');
 * jsonBytes(["[", doc, ",", '{"close":2}', "]"]).toString(); // '[{"close":1},{"close":2}]'
 * ```
 * @module
 */
import { Buffer } from "node:buffer";

/** A piece of JSON: text (written as UTF-8) or bytes. */
export type JsonPiece = string | Uint8Array;

/** The pieces one after another, in one Buffer. */
export function jsonBytes(pieces: readonly JsonPiece[]): Buffer {
  let length = 0;
  for (const p of pieces) length += typeof p === "string" ? Buffer.byteLength(p) : p.length;
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for (const p of pieces) {
    if (typeof p === "string") at += out.write(p, at);
    else {
      out.set(p, at);
      at += p.length;
    }
  }
  return out;
}
