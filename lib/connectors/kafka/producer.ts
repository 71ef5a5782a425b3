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
import { openKafkajsProducer } from "./kafkajs_producer.ts";
import { openPlatformaticProducer } from "./platformatic_producer.ts";

/** The producer of the library KAFKA_PRODUCER names; errors no retry can fix come out final. */
export async function openProducer(kafka: Kafka, conn: KafkaConnection): Promise<RecordProducer> {
  if (conn.kafkaProducer === "kafkajs") return await openKafkajsProducer(kafka);
  const producer = await finalOrRetriable(openPlatformaticProducer(conn));
  return {
    send: (topic, records) => finalOrRetriable(producer.send(topic, records)),
    close: () => producer.close(),
  };
}
