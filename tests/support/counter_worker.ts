/**
 * A worker with keyed state, for the runtime's state tests: counts records per key and writes
 * `key:count` for each record to OUT_TOPIC. With exact state the counts of a key run 1, 2, … n
 * whatever crashes or partition moves happened; CRASH_AFTER_SEND=N exits hard after the N-th
 * slice's outputs were acknowledged, before the runtime writes state or commits.
 */
import { int } from "../../lib/runtime/config.ts";
import { kafkaOutput, kafkaTopic, topicOption } from "../../lib/connectors/kafka/mod.ts";
import { keyedState } from "../../lib/runtime/keyed_state.ts";
import { defineWorker, run } from "../../lib/runtime/mod.ts";

let slices = 0;

export const counter = defineWorker({
  name: "counter",
  description: "counts records per key (runtime state tests)",
  trigger: kafkaTopic(topicOption("IN_TOPIC", "input", "counter.in"), {
    group: "counter",
    deadLetters: topicOption("DLQ_TOPIC", "dead-letter topic", "counter.dlq"),
    batchSize: 25,
  }),
  outputs: { out: kafkaOutput(topicOption("OUT_TOPIC", "output", "counter.out")) },
  state: keyedState<number>(topicOption("COUNTER_STATE_TOPIC", "changelog", "counter.changelog")),
  options: {
    crashAfterSend: int("CRASH_AFTER_SEND", "exit hard after this many slices (0: never)", 0, {
      min: 0,
    }),
  },
  httpPort: 9198,
  decode: (record) => record.key ?? "",
  async handle(batch, { options, outputs, state }) {
    const out = batch.map((m) => {
      const n = (state.get(m.value) ?? 0) + 1;
      state.set(m.value, n);
      return { key: m.value, value: `${m.value}:${n}` };
    });
    await outputs.out.send(out);
    if (options.crashAfterSend && ++slices >= options.crashAfterSend) Deno.exit(137);
  },
});

if (import.meta.main) await run(counter);
