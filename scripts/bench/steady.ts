/**
 * CPU a record over a run's steady part: processes' CPU (from /proc) sampled together with the
 * run's progress, and read between two shares of the records done (10% and 90%, the window the
 * drain rates use). Start-up costs a process once, not a record — its JIT compiling the hot code,
 * its first collections, a group joining — so over a short drain they would read as CPU a record;
 * the whole-run figure is reported beside this one.
 *
 * @example
 * ```ts
 * import { cpuPerRecord } from "./steady.ts";
 * // 0.2 s of CPU at 100 records done, 1.0 s at 900: 1,000 µs a record between 10% and 90%.
 * cpuPerRecord([{ done: 0, cpu: 0 }, { done: 100, cpu: 0.2 }, { done: 900, cpu: 1.0 }], 1000);
 * ```
 * @module
 */

const clockTicks = 100; // USER_HZ on Linux

/** utime + stime of a process in seconds, from /proc/<pid>/stat (fields 14 and 15). */
export function cpuOf(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined; // exited
  }
}

/** Records done and the processes' CPU seconds so far, taken at the same moment. */
export interface Sample {
  done: number;
  cpu: number;
}

/** The CPU at the moment `done` records were done, interpolated between the samples around it. */
function cpuAt(samples: readonly Sample[], done: number): number {
  for (let i = 1; i < samples.length; i++) {
    const [a, b] = [samples[i - 1], samples[i]];
    if (b.done < done || b.done === a.done) continue;
    if (a.done > done) return NaN; // sampled too late to see it
    return a.cpu + ((b.cpu - a.cpu) * (done - a.done)) / (b.done - a.done);
  }
  return NaN;
}

/**
 * µs of CPU a record while the run went from `from` to `to` of its `total` records; NaN when the
 * samples do not span that window (a run too short for the sampling period).
 */
export function cpuPerRecord(
  samples: readonly Sample[],
  total: number,
  from = 0.1,
  to = 0.9,
): number {
  const [lo, hi] = [from * total, to * total];
  return ((cpuAt(samples, hi) - cpuAt(samples, lo)) / (hi - lo)) * 1e6;
}

/**
 * Samples the CPU of `pids` (processes added as they start) with `progress()` every `periodMs`
 * until stopped; a process that exited counts with its last CPU seen.
 */
export class SteadyWindow {
  readonly pids: number[] = [];
  readonly #samples: Sample[] = [];
  readonly #last = new Map<number, number>();
  #stopping = false;
  readonly #loop: Promise<void>;

  constructor(progress: () => Promise<number>, periodMs = 100) {
    this.#loop = this.#sample(progress, periodMs);
  }

  async #sample(progress: () => Promise<number>, periodMs: number) {
    while (!this.#stopping) {
      await this.#take(progress);
      await new Promise((r) => setTimeout(r, periodMs));
    }
    // After the processes ended: the last records done may have come after the last sample.
    await this.#take(progress);
  }

  async #take(progress: () => Promise<number>) {
    const done = await progress().catch(() => NaN);
    let cpu = 0;
    for (const pid of this.pids) {
      const now = cpuOf(pid);
      if (now !== undefined) this.#last.set(pid, now);
      cpu += this.#last.get(pid) ?? 0;
    }
    if (Number.isFinite(done)) this.#samples.push({ done, cpu });
  }

  /** Stops sampling; µs CPU a record between 10% and 90% of `total` records. */
  async stop(total: number): Promise<number> {
    this.#stopping = true;
    await this.#loop;
    return cpuPerRecord(this.#samples, total);
  }
}
