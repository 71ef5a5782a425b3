/**
 * A flat JSON object with one or two of its fields mutated: a field's value swapped for one of
 * `values` (JSON texts), or, one time in ten, the field left out — payloads near valid ones, for
 * holding a fast reader to the general one it stands in for.
 */
export function mutateFields(json: string, values: readonly string[], rnd: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const names = Object.keys(JSON.parse(json));
  let text = json;
  for (let m = 1 + Math.floor(rnd() * 2); m > 0; m--) {
    const name = pick(names);
    const from = `"${name}":${JSON.stringify(JSON.parse(text)[name])}`;
    text = rnd() < 0.1
      ? text.replace(`${from},`, "")
      : text.replace(from, `"${name}":${pick(values)}`);
  }
  return text;
}
