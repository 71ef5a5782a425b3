import assert from "node:assert/strict";
import { cpuPerRecord, type Sample } from "../../scripts/bench/steady.ts";

/** Samples of a run that spends `startCpu` seconds before its first record, then `micros` a record. */
function run(total: number, startCpu: number, micros: number, step: number): Sample[] {
  const samples: Sample[] = [{ done: 0, cpu: 0 }, { done: 0, cpu: startCpu }];
  for (let done = step; done < total + step; done += step) {
    const d = Math.min(done, total);
    samples.push({ done: d, cpu: startCpu + (d * micros) / 1e6 });
  }
  return samples;
}

Deno.test("steady CPU a record: the start-up's CPU is left out, uneven sampling interpolated", () => {
  for (const [total, start, micros, step] of [[1000, 0.3, 12, 7], [48_577, 0.25, 15.5, 2_500]]) {
    const samples = run(total, start, micros, step);
    assert.ok(Math.abs(cpuPerRecord(samples, total) - micros) < 1e-6, `${total} records`);
    // The whole run, start-up included, reads higher: what this figure is kept apart from.
    assert.ok((samples.at(-1)!.cpu / total) * 1e6 > micros + 1);
  }
});

Deno.test("steady CPU a record: the window's own rate, not the run's average", () => {
  // 2 µs a record for the first 10%, 10 µs in between, 50 µs for the last 10%.
  const samples: Sample[] = [{ done: 0, cpu: 0 }, { done: 100, cpu: 0.0002 }];
  samples.push({ done: 900, cpu: 0.0002 + 0.008 }, { done: 1000, cpu: 0.0082 + 0.005 });
  assert.ok(Math.abs(cpuPerRecord(samples, 1000) - 10) < 1e-9);
  assert.ok(Math.abs(cpuPerRecord(samples, 1000, 0, 1) - 13.2) < 1e-9);
});

Deno.test("steady CPU a record: NaN when the samples do not span the window", () => {
  assert.ok(Number.isNaN(cpuPerRecord([], 100)));
  assert.ok(Number.isNaN(cpuPerRecord([{ done: 50, cpu: 1 }, { done: 100, cpu: 2 }], 100)));
  assert.ok(Number.isNaN(cpuPerRecord([{ done: 0, cpu: 0 }, { done: 50, cpu: 1 }], 100)));
});
