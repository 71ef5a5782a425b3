/**
 * Native Kafka: a KRaft broker from the Maven Central jars, with a plaintext listener, a TLS +
 * SCRAM-SHA-512 listener (self-signed certificate, generated password), and the project's topics
 * created with their leaders.
 *
 * @module
 */
import { createKafka, ensureTopics, kafkaOptions } from "../../lib/connectors/kafka/mod.ts";
import { topics } from "../../lib/market/mod.ts";
import { resolveOptions } from "../../lib/runtime/config.ts";
import {
  env,
  exists,
  fetchJars,
  generatedSecret,
  killPidFile,
  log,
  native,
  portOpen,
  root,
  type Service,
  sh,
  spawnDetached,
  waitFor,
} from "./service.ts";

/** One node of the native cluster: its number, ports and data directory. */
export interface KafkaNode {
  id: number;
  port: number;
  controllerPort: number;
  saslSslPort: number;
  dir: string;
}

/**
 * The nodes `KAFKA_NODES` asks for (1, everyday; 3, a replicated cluster). Node 1 uses
 * KAFKA_PORT, KAFKA_CONTROLLER_PORT and KAFKA_SASL_SSL_PORT and `.native/kafka`; node n uses the
 * same names suffixed `_n` and `.native/kafka-n`. KAFKA_NATIVE_DIR (environment only) moves the
 * nodes' directories, so a second cluster on other ports can run beside the everyday one, as the
 * cluster fault tests do; the jars stay in `.native/kafka/libs`.
 */
export function kafkaNodes(e: Record<string, string> = env): KafkaNode[] {
  const count = Number(e.KAFKA_NODES ?? "1");
  const moved = e.KAFKA_NATIVE_DIR ?? Deno.env.get("KAFKA_NATIVE_DIR");
  const base = moved ? (moved.startsWith("/") ? moved : `${root}/${moved}`) : `${native}/kafka`;
  if (count !== 1 && count !== 3) throw new Error(`KAFKA_NODES must be 1 or 3, not ${count}`);
  return Array.from({ length: count }, (_, i) => {
    const suffix = i === 0 ? "" : `_${i + 1}`;
    const port = (name: string) => {
      const value = Number(e[`${name}${suffix}`]);
      if (!value) throw new Error(`compose/.env has no ${name}${suffix} for Kafka node ${i + 1}`);
      return value;
    };
    return {
      id: i + 1,
      port: port("KAFKA_PORT"),
      controllerPort: port("KAFKA_CONTROLLER_PORT"),
      saslSslPort: port("KAFKA_SASL_SSL_PORT"),
      dir: i === 0 ? base : `${base}-${i + 1}`,
    };
  });
}

/** KAFKA_BROKERS for the native cluster: every node's plaintext listener. */
export function kafkaBrokers(e: Record<string, string> = env): string {
  return kafkaNodes(e).map((n) => `127.0.0.1:${n.port}`).join(",");
}

/** Replication of the topics the project creates: from `.env` on a cluster, 1 on one node. */
export function kafkaReplication(e: Record<string, string> = env) {
  const nodes = kafkaNodes(e).length;
  if (nodes === 1) return { factor: 1, minInsync: 1 };
  return {
    factor: Number(e.KAFKA_CLUSTER_REPLICATION ?? 3),
    minInsync: Number(e.KAFKA_CLUSTER_MIN_INSYNC_REPLICAS ?? 2),
  };
}

const nodes = kafkaNodes();
const libs = `${native}/kafka/libs`;
const portsOpen = async () =>
  (await Promise.all(nodes.map((n) => portOpen(n.port)))).every(Boolean);

export const kafka: Service = {
  name: "kafka",
  port: Number(env.KAFKA_PORT),
  url: nodes.length === 1
    ? `127.0.0.1:${env.KAFKA_PORT}`
    : `${kafkaBrokers()} (${nodes.length} nodes)`,
  healthy: portsOpen,
  async start() {
    await Deno.mkdir(nodes[0].dir, { recursive: true });
    await fetchJars("kafka", "kafka.version", env.KAFKA_VERSION, libs);
    await checkNodeCount();
    const tls = await kafkaTls(`${native}/kafka`);
    const clusterId = await clusterIdentity();
    // The nodes start side by side: a KRaft quorum forms once a majority of them is up.
    await Promise.all(nodes.map(async (node) => {
      if (await portOpen(node.port)) return;
      await startNode(node, tls, clusterId);
    }));
    await waitFor("kafka", portsOpen, 90, `${nodes[0].dir}/out.log`);
    await addScramUser(`${libs}/*`);
  },
  stop: async () => {
    // Every node a pid file was left for, whatever KAFKA_NODES says now.
    for (const { dir } of kafkaNodes({ ...env, KAFKA_NODES: "3" }).reverse()) {
      if (await exists(`${dir}/pid`)) await killPidFile(dir);
    }
  },
  // Each node's log directory and its quorum size; `up` formats them again, with the same id.
  data: () =>
    Promise.resolve(
      kafkaNodes({ ...env, KAFKA_NODES: "3" }).flatMap((
        { dir },
      ) => [`${dir}/data`, `${dir}/nodes`]),
    ),
  prepare: ensureProjectTopics,
};

/**
 * A data directory formatted for one quorum cannot join another: switching KAFKA_NODES needs a
 * fresh Kafka. Refused with a message rather than started into a broken quorum.
 */
async function checkNodeCount() {
  const file = `${nodes[0].dir}/nodes`;
  const formatted = await exists(`${nodes[0].dir}/data/meta.properties`);
  const before = (await exists(file))
    ? (await Deno.readTextFile(file)).trim()
    : formatted
    ? "1"
    : "";
  if (before && before !== String(nodes.length)) {
    throw new Error(
      `${nodes[0].dir} was made for ${before} node(s), KAFKA_NODES is ${nodes.length}: ` +
        `run \`deno task infra down kafka\` and remove ${nodes[0].dir}* to start afresh`,
    );
  }
  await Deno.writeTextFile(file, String(nodes.length));
}

/** The cluster id every node is formatted with (made once). */
async function clusterIdentity(): Promise<string> {
  const file = `${nodes[0].dir}/cluster.id`;
  if (await exists(file)) return (await Deno.readTextFile(file)).trim();
  const id = (await sh("java", ["-cp", `${libs}/*`, "kafka.tools.StorageTool", "random-uuid"]))
    .trim().split("\n").pop()!.trim();
  await Deno.writeTextFile(file, id);
  return id;
}

async function startNode(node: KafkaNode, tls: { keystore: string; password: string }, id: string) {
  const { dir } = node;
  await Deno.mkdir(dir, { recursive: true });
  const replication = kafkaReplication();
  const voters = nodes.map((n) => `${n.id}@127.0.0.1:${n.controllerPort}`).join(",");
  await Deno.writeTextFile(
    `${dir}/server.properties`,
    [
      "process.roles=broker,controller",
      `node.id=${node.id}`,
      `controller.quorum.voters=${voters}`,
      `listeners=PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controllerPort},SASL_SSL://127.0.0.1:${node.saslSslPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${node.port},SASL_SSL://127.0.0.1:${node.saslSslPort}`,
      "controller.listener.names=CONTROLLER",
      "inter.broker.listener.name=PLAINTEXT",
      "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
      // A second listener with SASL/SCRAM-SHA-512 over TLS, as a secured deployment runs.
      "sasl.enabled.mechanisms=SCRAM-SHA-512",
      "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
      `ssl.keystore.location=${tls.keystore}`,
      `ssl.keystore.password=${tls.password}`,
      "ssl.keystore.type=PKCS12",
      `log.dirs=${dir}/data`,
      `num.partitions=${env.TOPIC_PARTITIONS}`,
      // Topics created without a replication factor (workers pass none) get the cluster's.
      `default.replication.factor=${replication.factor}`,
      `min.insync.replicas=${replication.minInsync}`,
      `offsets.topic.replication.factor=${replication.factor}`,
      "offsets.topic.num.partitions=6",
      `transaction.state.log.replication.factor=${replication.factor}`,
      `transaction.state.log.min.isr=${replication.minInsync}`,
      "group.initial.rebalance.delay.ms=0",
      "auto.create.topics.enable=true",
      "log.retention.hours=-1",
      "",
    ].join("\n"),
  );
  await Deno.writeTextFile(
    `${dir}/log4j.properties`,
    [
      "log4j.rootLogger=WARN, stdout",
      "log4j.appender.stdout=org.apache.log4j.ConsoleAppender",
      "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout",
      "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n",
      "log4j.logger.kafka.server.KafkaRaftServer=INFO",
      "",
    ].join("\n"),
  );
  const cp = `${libs}/*`;
  if (!(await exists(`${dir}/data/meta.properties`))) {
    await sh("java", [
      `-Dlog4j.configuration=file:${dir}/log4j.properties`,
      "-cp",
      cp,
      "kafka.tools.StorageTool",
      "format",
      "-t",
      id,
      "-c",
      `${dir}/server.properties`,
    ]);
  }
  await spawnDetached(dir, "java", [
    `-Xms${env.KAFKA_HEAP}`,
    `-Xmx${env.KAFKA_HEAP}`,
    `-Dlog4j.configuration=file:${dir}/log4j.properties`,
    "-cp",
    cp,
    "kafka.Kafka",
    `${dir}/server.properties`,
  ]);
}

/**
 * The project's topics, as compose's `kafka-init` creates them: partitions from `.env`, and
 * every partition with a leader before any worker subscribes.
 */
async function ensureProjectTopics() {
  const connection = resolveOptions(kafkaOptions, { env: {}, flags: {} });
  const client = createKafka({ ...connection, kafkaBrokers: kafkaBrokers() }, log);
  const partitions = Number(env.TOPIC_PARTITIONS);
  await ensureTopics(client, [
    { topic: env.TICKS_TOPIC, partitions },
    { topic: env.BARS_TOPIC, partitions },
    { topic: env.DLQ_TOPIC, partitions },
    // transform's per-symbol state: a changelog partitioned like its input.
    { topic: env.TRANSFORM_STATE_TOPIC ?? topics.transformState, partitions, compacted: true },
  ]);
}

/** The native Kafka's SCRAM user and password (generated once, kept in `.native/secrets/`). */
export const kafkaScram = { user: "market", passwordFile: `${native}/secrets/kafka_password` };

/**
 * A self-signed certificate for 127.0.0.1/localhost in a PKCS12 keystore (made once with the
 * JDK's keytool) and its PEM, which clients trust through KAFKA_SSL_CA_FILE.
 */
async function kafkaTls(dir: string) {
  const tlsDir = `${dir}/tls`;
  const keystore = `${tlsDir}/broker.p12`;
  const password = await generatedSecret(`${native}/secrets/kafka_keystore_password`);
  if (!(await exists(keystore))) {
    await Deno.mkdir(tlsDir, { recursive: true });
    await sh("keytool", [
      "-genkeypair",
      "-alias",
      "broker",
      "-keyalg",
      "RSA",
      "-keysize",
      "2048",
      "-dname",
      "CN=localhost",
      "-ext",
      "SAN=ip:127.0.0.1,dns:localhost",
      "-validity",
      "3650",
      "-storetype",
      "PKCS12",
      "-keystore",
      keystore,
      "-storepass",
      password,
    ]);
    await sh("keytool", [
      "-exportcert",
      "-rfc",
      "-alias",
      "broker",
      "-keystore",
      keystore,
      "-storepass",
      password,
      "-file",
      `${tlsDir}/ca.pem`,
    ]);
  }
  return { keystore, password, caFile: `${tlsDir}/ca.pem` };
}

/** Creates (or resets) the SCRAM-SHA-512 credentials of the native user; idempotent. */
async function addScramUser(cp: string) {
  const password = await generatedSecret(kafkaScram.passwordFile);
  await sh("java", [
    `-Dlog4j.configuration=file:${nodes[0].dir}/log4j.properties`,
    "-cp",
    cp,
    "kafka.admin.ConfigCommand",
    "--bootstrap-server",
    `127.0.0.1:${env.KAFKA_PORT}`,
    "--alter",
    "--add-config",
    `SCRAM-SHA-512=[iterations=4096,password=${password}]`,
    "--entity-type",
    "users",
    "--entity-name",
    kafkaScram.user,
  ]);
}

// The test framework's runner jars are left off the classpath: with randomizedtesting present,
// Elasticsearch's Randomness insists on a test context that a standalone node does not have.
