/**
 * The @platformatic/kafka connection settings both its producer and its consumer use: brokers,
 * timeouts, TLS and SASL from the same options as kafkajs.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "../../runtime/config.ts";
 * import { kafkaOptions } from "./connection.ts";
 * const settings = platformaticConnection(
 *   resolveOptions(kafkaOptions, { env: Deno.env.toObject(), flags: {} }),
 *   "producer",
 * );
 * ```
 * @module
 */
import type { SASLOptions } from "@platformatic/kafka";
import { brokerList, type KafkaConnection } from "./client.ts";

const mechanisms = {
  plain: "PLAIN",
  "scram-sha-256": "SCRAM-SHA-256",
  "scram-sha-512": "SCRAM-SHA-512",
} as const;

/** Connection settings both clients share: brokers, timeouts, TLS and SASL. */
export function platformaticConnection(conn: KafkaConnection, role: string) {
  return {
    clientId: `${conn.kafkaClientId || "platformatic"}-${role}`,
    bootstrapBrokers: brokerList(conn),
    connectTimeout: 5_000,
    timeout: 30_000,
    retries: 8,
    retryDelay: 300,
    tls: conn.kafkaSsl
      ? (conn.kafkaSslCaFile ? { ca: [Deno.readTextFileSync(conn.kafkaSslCaFile)] } : {})
      : undefined,
    sasl: conn.kafkaSaslMechanism === "none" ? undefined : {
      mechanism: mechanisms[conn.kafkaSaslMechanism],
      username: conn.kafkaSaslUsername,
      password: conn.kafkaSaslPassword,
    } as SASLOptions,
  };
}
