import assert from "node:assert/strict";
import { jsonBytes } from "../../lib/connectors/json_bytes.ts";
import { seededRandom } from "../../lib/market/synthetic.ts";

Deno.test("json bytes: texts, bytes and quoted strings written as their UTF-8, any mix", () => {
  const rnd = seededRandom(31);
  const alphabet = ["a", "Z", "0", "|", " ", '"', "\\", "\n", "\u0001", "é", "€", "😀", "\u007f"];
  const randomText = () => {
    const length = [0, 1, 5, 40, 255, 256, 257, 1000][Math.floor(rnd() * 8)];
    let text = "";
    const plain = rnd() < 0.5;
    for (let i = 0; i < length; i++) {
      text += plain ? String.fromCharCode(0x20 + Math.floor(rnd() * 0x5f)) : alphabet[
        Math.floor(rnd() * alphabet.length)
      ];
    }
    return text;
  };
  const encoder = new TextEncoder();
  for (let round = 0; round < 500; round++) {
    const parts = Array.from({ length: Math.floor(rnd() * 20) }, () => {
      const kind = Math.floor(rnd() * 4);
      return { kind, text: randomText() };
    });
    const body = jsonBytes((w) => {
      for (const { kind, text } of parts) {
        if (kind === 0) w.text(text);
        else if (kind === 1) w.piece(text);
        else if (kind === 2) w.piece(encoder.encode(text));
        else w.quoted(text);
      }
    });
    const expected = parts.map(({ kind, text }) => kind === 3 ? JSON.stringify(text) : text)
      .join("");
    assert.deepEqual(new Uint8Array(body), encoder.encode(expected), `round ${round}`);
  }
});

Deno.test("json bytes: a description that writes other than it measured is an error", () => {
  let calls = 0;
  assert.throws(
    () => jsonBytes((w) => w.text(calls++ === 0 ? "[]" : "[1]")),
    /wrote|measured|range|offset/,
  );
});
