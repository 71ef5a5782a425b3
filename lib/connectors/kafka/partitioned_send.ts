/**
 * Sending placed records one request per partition, side by side, request-sized chunk by chunk —
 * what both producers do, because both clients retry a failed request whole, to one broker.
 * After a broker dies its partitions get different new leaders, and each partition's retries must
 * find its own: kafkajs, given several partitions, keeps the answers of the brokers that did
 * answer and on its retry sends nothing more to them — a partition whose new leader is such a
 * broker is never sent (the three-node cluster test lost 7–13 ticks that way); @platformatic/kafka
 * sends the retry whole to its first partition's leader.
 *
 * @example
 * ```ts
 * import { sendPerPartition } from "./partitioned_send.ts";
 * const placed = [{ record: { key: "AAPL", value: "{}" }, partition: 2 }];
 * await sendPerPartition(placed, [placed.length], async (list) => {
 *   console.log(`partition ${list[0].partition}: ${list.length} records`);
 * });
 * ```
 * @module
 */
import type { OutgoingRecord } from "./client.ts";

/** A record and the partition it goes to. */
export interface Placed {
  record: OutgoingRecord;
  partition: number;
}

/**
 * Sends `placed` in chunks of `chunkLengths` records, each chunk as one `send` per partition at
 * once. A failure throws the first error with `unsent`: the records of the partitions that failed
 * and of the chunks not tried (what other partitions acknowledged is written, not to be repeated).
 */
export async function sendPerPartition<P extends Placed>(
  placed: P[],
  chunkLengths: Iterable<number>,
  send: (partition: P[]) => Promise<unknown>,
): Promise<void> {
  let done = 0;
  for (const length of chunkLengths) {
    const byPartition = new Map<number, P[]>();
    for (const p of placed.slice(done, done + length)) {
      const list = byPartition.get(p.partition);
      if (list) list.push(p);
      else byPartition.set(p.partition, [p]);
    }
    const lists = [...byPartition.values()];
    const results = await Promise.allSettled(lists.map(send));
    const failed = lists.filter((_, i) => results[i].status === "rejected");
    if (failed.length > 0) {
      const error = (results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason;
      const unsent = [...failed.flat(), ...placed.slice(done + length)].map((p) => p.record);
      throw Object.assign(error as Error, { unsent });
    }
    done += length;
  }
}
