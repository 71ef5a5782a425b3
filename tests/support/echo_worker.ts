/**
 * A minimal worker for the runtime's own tests: copies IN_TOPIC to OUT_TOPIC. A record
 * `{"poison":true}` is a RecordError; SLOW_MS makes each batch take that long; HANG_AFTER_OUTPUT
 * makes the handler never return after writing (a crash before the commit, once killed).
 */
import { bool, int } from "../../lib/runtime/config.ts";
import { kafkaOutput, kafkaTopic, topicOption } from "../../lib/connectors/kafka/mod.ts";
import { RecordError } from "../../lib/runtime/record_error.ts";
import { sleep } from "../../lib/runtime/retry.ts";
import { defineWorker, run } from "../../lib/runtime/mod.ts";

export const echo = defineWorker({
  name: "echo",
  description: "copies records from one topic to another (runtime tests)",
  trigger: kafkaTopic(topicOption("IN_TOPIC", "input", "echo.in"), {
    group: "echo",
    deadLetters: topicOption("DLQ_TOPIC", "dead-letter topic", "echo.dlq"),
    batchSize: 10,
  }),
  outputs: { out: kafkaOutput(topicOption("OUT_TOPIC", "output", "echo.out")) },
  options: {
    slowMs: int("SLOW_MS", "sleep per batch", 0, { min: 0 }),
    hangAfterOutput: bool("HANG_AFTER_OUTPUT", "never finish a batch after writing it", false),
  },
  httpPort: 9199,
  decode(record) {
    const text = new TextDecoder().decode(record.value ?? new Uint8Array());
    if (text.includes('"poison":true')) throw new RecordError("poison record", "poison", "poison");
    return text;
  },
  async handle(batch, { options, outputs }) {
    if (options.slowMs) await sleep(options.slowMs);
    await outputs.out.send(batch.map((m) => ({ key: m.record.key ?? "", value: m.value })));
    if (options.hangAfterOutput) await new Promise(() => {});
  },
});

if (import.meta.main) await run(echo);
