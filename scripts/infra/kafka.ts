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
  type Service,
  sh,
  spawnDetached,
  waitFor,
} from "./service.ts";

export const kafka: Service = {
  name: "kafka",
  port: Number(env.KAFKA_PORT),
  url: `127.0.0.1:${env.KAFKA_PORT}`,
  healthy: () => portOpen(Number(env.KAFKA_PORT)),
  async start() {
    const dir = `${native}/kafka`;
    const libs = `${dir}/libs`;
    await Deno.mkdir(dir, { recursive: true });
    await fetchJars("kafka", "kafka.version", env.KAFKA_VERSION, libs);
    const port = env.KAFKA_PORT, controller = env.KAFKA_CONTROLLER_PORT;
    const secure = env.KAFKA_SASL_SSL_PORT;
    const tls = await kafkaTls(dir);
    await Deno.writeTextFile(
      `${dir}/server.properties`,
      [
        "process.roles=broker,controller",
        "node.id=1",
        `controller.quorum.voters=1@127.0.0.1:${controller}`,
        `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller},SASL_SSL://127.0.0.1:${secure}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${port},SASL_SSL://127.0.0.1:${secure}`,
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
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=6",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
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
      const id = (await sh("java", ["-cp", cp, "kafka.tools.StorageTool", "random-uuid"]))
        .trim().split("\n").pop()!.trim();
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
    await waitFor("kafka", kafka.healthy, 90, `${dir}/out.log`);
    await addScramUser(cp);
  },
  stop: () => killPidFile(`${native}/kafka`),
  prepare: ensureProjectTopics,
};

/**
 * The project's topics, as compose's `kafka-init` creates them: partitions from `.env`, and
 * every partition with a leader before any worker subscribes.
 */
async function ensureProjectTopics() {
  const connection = resolveOptions(kafkaOptions, { env: {}, flags: {} });
  const client = createKafka(
    { ...connection, kafkaBrokers: `127.0.0.1:${env.KAFKA_PORT}` },
    log,
  );
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
    `-Dlog4j.configuration=file:${native}/kafka/log4j.properties`,
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
