/**
 * A request body of JSON — texts, documents already as bytes, strings to quote — as one Buffer of
 * exactly its length: a document read from the wire as bytes goes to a store without becoming
 * text, and the body is not encoded again on its way to the socket.
 *
 * The body is described once by a function that {@link jsonBytes} calls twice, first to measure
 * and then to write, so a body of thousands of documents allocates nothing a document: no array
 * of pieces, no action text a document, no view a write (Deno's `Buffer.write` makes one a call).
 *
 * @example
 * ```ts
 * const doc = new TextEncoder().encode('{"close":1}');
 * jsonBytes((w) => {
 *   w.text("[");
 *   w.piece(doc);
 *   w.text(",");
 *   w.piece('{"close":2}');
 *   w.text("]");
 * }).toString(); // '[{"close":1},{"close":2}]'
 * ```
 * @module
 */
import { Buffer } from "node:buffer";

/** A piece of JSON: text (written as UTF-8) or bytes. */
export type JsonPiece = string | Uint8Array;

/** A JSON value as a piece: text or bytes as they are, anything else serialized. */
export function jsonPiece(value: JsonPiece | object): JsonPiece {
  return typeof value === "string" || value instanceof Uint8Array ? value : JSON.stringify(value);
}

/** What a body's description writes, in order. */
export interface JsonWriter {
  /** JSON text or bytes, as they are. */
  piece(piece: JsonPiece): void;
  /** JSON text, as it is (a piece known to be text). */
  text(text: string): void;
  /** `value` as a JSON string, quoted and escaped. */
  quoted(value: string): void;
}

// Texts up to this length are copied char by char when they are ASCII; longer ones, and any
// with another character, go through Buffer.write.
const SHORT = 256;

/** Whether `text` is short printable ASCII that JSON writes as it is (no quote, no backslash). */
function plain(text: string, quoting: boolean): boolean {
  if (text.length > SHORT) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x7f || (quoting && (c < 0x20 || c === 0x22 || c === 0x5c))) return false;
  }
  return true;
}

class Measure implements JsonWriter {
  length = 0;
  piece(piece: JsonPiece) {
    if (typeof piece === "string") this.text(piece);
    else this.length += piece.length;
  }
  text(text: string) {
    this.length += plain(text, false) ? text.length : Buffer.byteLength(text);
  }
  quoted(value: string) {
    this.length += plain(value, true) ? value.length + 2 : Buffer.byteLength(JSON.stringify(value));
  }
}

class Write implements JsonWriter {
  at = 0;
  constructor(readonly out: Buffer) {}
  piece(piece: JsonPiece) {
    if (typeof piece === "string") this.text(piece);
    else {
      this.out.set(piece, this.at);
      this.at += piece.length;
    }
  }
  text(text: string) {
    if (plain(text, false)) this.#ascii(text);
    else this.at += this.out.write(text, this.at);
  }
  quoted(value: string) {
    if (!plain(value, true)) {
      this.at += this.out.write(JSON.stringify(value), this.at);
      return;
    }
    this.out[this.at++] = 0x22;
    this.#ascii(value);
    this.out[this.at++] = 0x22;
  }
  #ascii(text: string) {
    const out = this.out;
    let at = this.at;
    for (let i = 0; i < text.length; i++) out[at++] = text.charCodeAt(i);
    this.at = at;
  }
}

/** The body `describe` writes, in one Buffer (`describe` is called twice and must write the same). */
export function jsonBytes(describe: (w: JsonWriter) => void): Buffer {
  const measure = new Measure();
  describe(measure);
  const write = new Write(Buffer.allocUnsafe(measure.length));
  describe(write);
  if (write.at !== measure.length) {
    throw new Error(`a JSON body wrote ${write.at} bytes where it measured ${measure.length}`);
  }
  return write.out;
}
