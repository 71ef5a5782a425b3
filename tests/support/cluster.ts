/**
 * A three-node KRaft cluster of its own for the cluster fault tests, beside the everyday broker:
 * started by `deno task infra up kafka` with other ports and `KAFKA_NATIVE_DIR`, each node a
 * broker and a controller (replication 3, min ISR 2 from `compose/.env`). Nodes are killed and
 * restarted through their pid files, as an operator would.
 */
import kafkajs from "../../lib/connectors/kafka/kafkajs.ts";
import type { Kafka } from "kafkajs";
import { infra, root } from "./servers.ts";

/** Ports far from the everyday ones (and from the tests' HTTP ports). */
export const clusterEnv: Record<string, string> = {
  KAFKA_NODES: "3",
  KAFKA_NATIVE_DIR: ".native/cluster/kafka",
  KAFKA_PORT: "19092",
  KAFKA_CONTROLLER_PORT: "19093",
  KAFKA_SASL_SSL_PORT: "19094",
  KAFKA_PORT_2: "19192",
  KAFKA_CONTROLLER_PORT_2: "19193",
  KAFKA_SASL_SSL_PORT_2: "19194",
  KAFKA_PORT_3: "19292",
  KAFKA_CONTROLLER_PORT_3: "19293",
  KAFKA_SASL_SSL_PORT_3: "19294",
};
export const nodeIds = [1, 2, 3] as const;
export const clusterBrokers = "127.0.0.1:19092,127.0.0.1:19192,127.0.0.1:19292";
const dirOf = (id: number) => `${root}.native/cluster/kafka${id === 1 ? "" : `-${id}`}`;

/** Starts a fresh cluster (data of an earlier run removed): about 10 s. */
export async function freshCluster(): Promise<void> {
  await infra("down", "kafka", clusterEnv);
  await Deno.remove(`${root}.native/cluster`, { recursive: true }).catch(() => {});
  await infra("up", "kafka", clusterEnv);
}

export const stopCluster = () => infra("down", "kafka", clusterEnv);

/** Starts whichever nodes are down and waits until all three listen. */
export const startMissingNodes = () => infra("up", "kafka", clusterEnv);

/** A kafkajs client for the cluster: short timeouts, so probes during a failover come back. */
export function clusterKafka(probe = false): Kafka {
  return new kafkajs.Kafka({
    clientId: probe ? "cluster-probe" : "cluster-tests",
    brokers: clusterBrokers.split(","),
    logCreator: () => () => {},
    connectionTimeout: probe ? 1000 : 3000,
    requestTimeout: probe ? 2000 : 30_000,
    retry: probe ? { retries: 0 } : { retries: 10 },
  });
}

async function nodePid(id: number): Promise<number> {
  return Number((await Deno.readTextFile(`${dirOf(id)}/pid`)).trim());
}

const alive = (pid: number) => {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
};

/** Sends `signal` to node `id` and waits until its process is gone. */
export async function stopNode(id: number, signal: "SIGKILL" | "SIGTERM"): Promise<number> {
  const pid = await nodePid(id);
  const at = Date.now();
  Deno.kill(pid, signal);
  while (alive(pid)) {
    if (Date.now() - at > 120_000) throw new Error(`node ${id} (pid ${pid}) did not stop`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - at;
}

/** The node leading `topic`'s partition with the most records now (the busiest). */
export async function busiestLeader(kafka: Kafka, topic: string) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const busiest = offsets.reduce((a, b) => (Number(b.high) > Number(a.high) ? b : a));
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const leader = topics[0].partitions.find((p) => p.partitionId === busiest.partition)!.leader;
    return { partition: busiest.partition, records: Number(busiest.high), leader };
  } finally {
    await admin.disconnect();
  }
}

/** The active KRaft controller (the quorum's leader), from Kafka's own quorum tool. */
export async function activeController(): Promise<number> {
  const out = await new Deno.Command("java", {
    args: [
      "-cp",
      `${root}.native/kafka/libs/*`,
      "org.apache.kafka.tools.MetadataQuorumCommand",
      "--bootstrap-server",
      clusterBrokers,
      "describe",
      "--status",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const id = /LeaderId:\s+(\d+)/.exec(text)?.[1];
  if (!id) throw new Error(`no quorum leader in:\n${text}`);
  return Number(id);
}

/** Waits until every partition of `topics` has all its replicas in sync again. */
export async function waitInSync(kafka: Kafka, topics: string[], timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  let behind = "";
  while (Date.now() < deadline) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const meta = await admin.fetchTopicMetadata({ topics });
      const lagging = meta.topics.flatMap((t) =>
        t.partitions.filter((p) => p.isr.length < p.replicas.length).map((p) =>
          `${t.name}[${p.partitionId}] isr ${p.isr}`
        )
      );
      if (lagging.length === 0) return;
      behind = lagging.join(", ");
    } catch (error) {
      behind = String(error);
    } finally {
      await admin.disconnect().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`replicas still out of sync after ${timeoutMs / 1000}s: ${behind}`);
}

/**
 * Samples progress every `everyMs` — the sum of the ticks topic's high-water marks (what the
 * producer wrote) and of each group's committed offsets — and reports the longest time each went
 * without moving: the stall a fault caused, seen from outside the workers.
 */
export function progressProbe(
  ticks: string,
  groups: { name: string; group: string; topic: string }[],
  everyMs = 250,
) {
  const kafka = clusterKafka(true);
  const admin = kafka.admin();
  const series = new Map<string, { at: number; value: number }[]>();
  let running = true;
  const sum = (xs: { offset?: string; high?: string }[]) =>
    xs.reduce((s, x) => s + Math.max(0, Number(x.high ?? x.offset)), 0);
  const note = (name: string, value: number) => {
    const s = series.get(name) ?? [];
    if (s.length === 0 || s.at(-1)!.value !== value) s.push({ at: Date.now(), value });
    series.set(name, s);
  };
  const loop = (async () => {
    await admin.connect().catch(() => {});
    while (running) {
      try {
        note("producer", sum(await admin.fetchTopicOffsets(ticks)));
      } catch { /* a probe during the failover: counts as no progress */ }
      for (const g of groups) {
        try {
          const [r] = await admin.fetchOffsets({ groupId: g.group, topics: [g.topic] });
          note(g.name, sum(r.partitions));
        } catch { /* as above */ }
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
    await admin.disconnect().catch(() => {});
  })();
  return {
    /** Longest gap between two advances of each series within [from, to]. */
    async stop(from: number, to: number): Promise<Record<string, number>> {
      running = false;
      await loop;
      const out: Record<string, number> = {};
      for (const name of ["producer", ...groups.map((g) => g.name)]) {
        // From the fault on: the wait for the first advance after it counts too.
        const moves = [
          from,
          ...(series.get(name) ?? []).map((p) => p.at).filter((t) => t > from && t <= to),
        ];
        let longest = 0;
        for (let i = 1; i < moves.length; i++) longest = Math.max(longest, moves[i] - moves[i - 1]);
        out[name] = longest / 1000;
      }
      return out;
    },
  };
}
