/**
 * Opens the producer KAFKA_PRODUCER names, behind one {@link RecordProducer} interface: idempotent
 * and acks=all either way, so a retried send never duplicates a record in the log.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "../../runtime/config.ts";
 * import { createLogger } from "../../runtime/log.ts";
 * import { createKafka, kafkaOptions } from "./connection.ts";
 * const connection = resolveOptions(kafkaOptions, { env: Deno.env.toObject(), flags: {} });
 * const producer = await openProducer(createKafka(connection, createLogger("example")), connection);
 * await producer.send("market.ticks", [{ key: "AAPL", value: "{...}" }]);
 * ```
 * @module
 */
import type { Kafka } from "kafkajs";
import type { KafkaConnection, RecordProducer } from "./client.ts";
import { finalOrRetriable } from "./connection.ts";
import type { Logger } from "../../runtime/log.ts";

/**
 * The producer of the library KAFKA_PRODUCER names; errors no retry can fix come out final. The
 * library is loaded only when chosen (a library never used costs a worker memory all the same).
 */
export async function openProducer(
  kafka: Kafka,
  conn: KafkaConnection,
  log?: Logger,
): Promise<RecordProducer> {
  if (conn.kafkaProducer === "kafkajs") {
    const { openKafkajsProducer } = await import("./kafkajs_producer.ts");
    return await openKafkajsProducer(kafka);
  }
  const { openPlatformaticProducer } = await import("./platformatic_producer.ts");
  const producer = await finalOrRetriable(openPlatformaticProducer(conn, log));
  return {
    send: (topic, records) => finalOrRetriable(producer.send(topic, records)),
    close: () => producer.close(),
  };
}

/**
 * A producer opened on its first send, or by `open()`; a failed open is tried again by the next
 * call. The trigger's producer writes only dead letters and changelogs: a worker that keeps no
 * state and meets no bad record (the sink) then never loads a producer library (≈ 40 MiB).
 */
export function producerOnDemand(
  open: () => Promise<RecordProducer>,
): RecordProducer & { open(): Promise<void> } {
  let opening: Promise<RecordProducer> | undefined;
  const opened = () =>
    opening ??= open().catch((error) => {
      opening = undefined;
      throw error;
    });
  return {
    open: async () => void await opened(),
    send: async (topic, records) => await (await opened()).send(topic, records),
    close: async () => await (await opening?.catch(() => undefined))?.close(),
  };
}
