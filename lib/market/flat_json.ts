/**
 * A flat JSON object of known fields, read straight from its bytes: the shape of every tick and
 * source bar on the wire (bars with indicators keep JSON.parse: their 17-digit numbers would take
 * the slow path here). It skips making the payload's text and lets numbers that are exact in one step
 * skip a string too. Anything else — an unknown or repeated field, a nested value, an escape, a
 * byte outside ASCII, or bad JSON — is `undefined`: the caller parses it the general way, which
 * also finds the error. So for every payload it reads, the result equals `JSON.parse`'s.
 *
 * @example
 * ```ts
 * const bytes = new TextEncoder().encode('{"symbol":"AAPL","price":185.2}');
 * readFlatObject(bytes, ["symbol", "price", "size"]); // { symbol: "AAPL", price: 185.2 }
 * readFlatObject(bytes, ["symbol"]); // undefined: "price" is not a known field
 * ```
 * @module
 */

// Powers of ten a double holds exactly: a significand below 2^53 divided by one of them is
// rounded once, which is the correctly rounded value JSON.parse gives (Clinger's fast path).
const EXACT_POWERS = Array.from({ length: 23 }, (_, i) => 10 ** i);
const MAX_EXACT_DIGITS = 15;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const ZERO = 0x30;
const NINE = 0x39;

export const isDigit = (c: number) => c >= ZERO && c <= NINE;
const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** The ASCII text of `bytes[from, to)`. */
export const text = (bytes: Uint8Array, from: number, to: number) =>
  String.fromCharCode.apply(null, bytes.subarray(from, to) as unknown as number[]);

/** The text of `bytes[from, to)`: `known` itself when the bytes are its text (no new string). */
export const textOr = (known: string | null, bytes: Uint8Array, from: number, to: number) =>
  known !== null && sameText(known, bytes, from, to) ? known : text(bytes, from, to);

/** The bytes of ASCII `text`. */
export const asciiBytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

/** Whether `bytes` from `at` begin with all of `expected`. */
export function sameBytes(expected: Uint8Array, bytes: Uint8Array, at: number): boolean {
  for (let m = 0; m < expected.length; m++) if (expected[m] !== bytes[at + m]) return false;
  return true;
}

// readFlatObject's token positions, for up to 31 fields.
const objectOrder = new Int8Array(31).fill(-1);
const objectFrom = new Int32Array(31);
const objectTo = new Int32Array(31);

/** The object, or undefined when it is not a flat object of `fields` in plain ASCII JSON. */
export function readFlatObject(
  bytes: Uint8Array,
  fields: readonly string[],
): Record<string, string | number | boolean | null> | undefined {
  const seen = scanFlat(bytes, fields, objectOrder, objectFrom, objectTo);
  if (seen < 0) return undefined;
  const out: Record<string, string | number | boolean | null> = {};
  // Members in the payload's order, as JSON.parse makes them.
  for (let position = 0, left = seen; left !== 0; position++, left &= left - 1) {
    const k = objectOrder[position];
    const from = objectFrom[k], to = objectTo[k];
    const c = bytes[from];
    out[fields[k]] = c === QUOTE ? text(bytes, from + 1, to - 1) : c === 0x74 // t
      ? true
      : c === 0x66 // f
      ? false
      : c === 0x6e // n
      ? null
      : numberAt(bytes, from, to);
  }
  return out;
}

/**
 * Where each field's value is in a flat object that has every one of `fields` once and nothing
 * else: for field k, `bytes[from[k], to[k])` is its JSON token (a string with its quotes, a number
 * or a literal). `order` holds, per position, the field found there last time: producers keep one
 * order, so each name is checked in one comparison. False for anything else — another field, a
 * missing or repeated one, an escape, a nested value, bad JSON — which the caller leaves to its
 * general way.
 */
export function flatTokens(
  bytes: Uint8Array,
  fields: readonly string[],
  order: Int8Array,
  from: Int32Array,
  to: Int32Array,
): boolean {
  return scanFlat(bytes, fields, order, from, to) === (1 << fields.length) - 1;
}

/**
 * Scans a flat object of some of `fields` (each at most once; up to 31) in plain ASCII JSON:
 * the bit mask of the fields present, their tokens in `from`/`to` and the field at each position
 * in `order` (read first as the guess for that position); -1 when it is anything else.
 */
function scanFlat(
  bytes: Uint8Array,
  fields: readonly string[],
  order: Int8Array,
  from: Int32Array,
  to: Int32Array,
): number {
  const n = bytes.length;
  let seen = 0;
  let i = 0;
  while (i < n && isSpace(bytes[i])) i++;
  if (bytes[i++] !== 0x7b) return -1; // {
  while (i < n && isSpace(bytes[i])) i++;
  if (bytes[i] === 0x7d) i++; // {}
  else {
    for (let position = 0;; position++) {
      // A field name: one of `fields`, once.
      if (bytes[i++] !== QUOTE || position >= order.length) return -1;
      const nameEnd = plainStringEnd(bytes, i);
      if (nameEnd < 0) return -1;
      let k = order[position];
      if (k < 0 || k >= fields.length || !sameText(fields[k], bytes, i, nameEnd)) {
        k = fieldIndex(fields, bytes, i, nameEnd);
        if (k < 0 || k > 30) return -1;
        order[position] = k;
      }
      if ((seen & (1 << k)) !== 0) return -1;
      seen |= 1 << k;
      i = nameEnd + 1;
      while (i < n && isSpace(bytes[i])) i++;
      if (bytes[i++] !== 0x3a) return -1; // :
      while (i < n && isSpace(bytes[i])) i++;

      // Its value: a string, a number or a literal.
      const c = bytes[i];
      let end: number;
      if (c === QUOTE) {
        end = plainStringEnd(bytes, i + 1);
        if (end < 0) return -1;
        end++;
      } else if (c === 0x2d || isDigit(c)) {
        end = numberEnd(bytes, i);
        if (end < 0) return -1;
      } else if (literal(bytes, i, "null") || literal(bytes, i, "true")) end = i + 4;
      else if (literal(bytes, i, "false")) end = i + 5;
      else return -1;
      from[k] = i;
      to[k] = end;
      i = end;

      while (i < n && isSpace(bytes[i])) i++;
      const next = bytes[i++];
      if (next === 0x7d) break; // }
      if (next !== 0x2c) return -1; // ,
      while (i < n && isSpace(bytes[i])) i++;
    }
  }
  while (i < n && isSpace(bytes[i])) i++;
  return i === n ? seen : -1;
}

/** Where a string without escapes or non-ASCII ends (its closing quote), or -1. */
function plainStringEnd(bytes: Uint8Array, from: number): number {
  for (let i = from; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === QUOTE) return i;
    if (c === BACKSLASH || c < 0x20 || c > 0x7e) return -1;
  }
  return -1;
}

/** The index in `fields` of the name `bytes[from, to)`, or -1. */
export function fieldIndex(fields: readonly string[], bytes: Uint8Array, from: number, to: number) {
  const length = to - from;
  for (let k = 0; k < fields.length; k++) {
    const name = fields[k];
    if (name.length !== length) continue;
    let m = 0;
    while (m < length && name.charCodeAt(m) === bytes[from + m]) m++;
    if (m === length) return k;
  }
  return -1;
}

/** Whether `bytes[start, end)` is `name`. */
export function sameText(name: string, bytes: Uint8Array, start: number, end: number): boolean {
  if (name.length !== end - start) return false;
  for (let m = 0; m < name.length; m++) if (name.charCodeAt(m) !== bytes[start + m]) return false;
  return true;
}

/** Whether `word` is at `at`. */
export function literal(bytes: Uint8Array, at: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if (bytes[at + k] !== word.charCodeAt(k)) return false;
  return true;
}

/** Where a number in JSON's grammar starting at `from` ends, or -1 when it is not one. */
function numberEnd(bytes: Uint8Array, from: number): number {
  let i = from;
  if (bytes[i] === 0x2d) i++; // -
  if (bytes[i] === ZERO) i++;
  else if (isDigit(bytes[i])) { while (isDigit(bytes[i])) i++; }
  else return -1;
  if (bytes[i] === 0x2e) { // .
    i++;
    if (!isDigit(bytes[i])) return -1;
    while (isDigit(bytes[i])) i++;
  }
  if (bytes[i] === 0x65 || bytes[i] === 0x45) { // e E
    i++;
    if (bytes[i] === 0x2b || bytes[i] === 0x2d) i++;
    if (!isDigit(bytes[i])) return -1;
    while (isDigit(bytes[i])) i++;
  }
  return i;
}

/** The value of a valid JSON number: in one exact division when it can, else through its text. */
export function numberAt(bytes: Uint8Array, from: number, to: number): number {
  const negative = bytes[from] === 0x2d;
  let significand = 0;
  let digits = 0;
  let decimals = 0;
  let fraction = false;
  for (let i = negative ? from + 1 : from; i < to; i++) {
    const c = bytes[i];
    if (c === 0x2e) fraction = true;
    else if (isDigit(c)) {
      significand = significand * 10 + (c - ZERO);
      if (significand !== 0) digits++;
      if (fraction) decimals++;
    } else return Number(text(bytes, from, to)); // an exponent
  }
  if (digits > MAX_EXACT_DIGITS || decimals >= EXACT_POWERS.length) {
    return Number(text(bytes, from, to));
  }
  const value = decimals === 0 ? significand : significand / EXACT_POWERS[decimals];
  return negative ? -value : value;
}
