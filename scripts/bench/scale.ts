/**
 * Scale-out and start-up: 1 and 2 transform replicas in one group over 6 partitions, on ticks of
 * enough symbols that the partitions are about even (with 20, one partition holds 40%), with CPU
 * a tick for each; the sink draining what one replica published (a drain ten times the
 * sequential run's, so warm-up is a small part of it); and how long a transform takes from start
 * to ready.
 *
 * @module
 */
import { taskArgs, waitReady } from "../../tests/support/workers.ts";
import {
  committedOf,
  createTopic,
  deno,
  type Figures,
  fresh,
  freshPipeline,
  lagOf,
  nextPort,
  positions,
  psql,
  repeat,
  root,
  say,
  settings,
  stat,
  synthetic,
  worker,
} from "./harness.ts";
import { cpuOf, SteadyWindow } from "./steady.ts";

/** Replicas ×1 and ×2: steady ticks/s and CPU a tick (all replicas' CPU over all ticks). */
export async function scaleOut(): Promise<Figures> {
  const { ticks } = settings;
  say(`transform scale-out (${settings.scaleSymbols} symbols) ...`);
  const topic = fresh("scale-ticks");
  await createTopic(topic);
  await worker("ingest", synthetic(ticks, settings.scaleSymbols), {
    TICKS_TOPIC: topic,
    KAFKA_PRODUCER: settings.producer,
  });
  const highs = await positions.read(topic, fresh("group"));
  const biggest = Math.max(...[...highs.values()].map((p) => Number(p.high))) / ticks;

  const cpu: Record<number, number[]> = { 1: [], 2: [] };
  // The same over the window the rate is read in (10% to 90% committed): each replica's start-up
  // and the group's joining are once a process, not a tick.
  const steadyCpu: Record<number, number[]> = { 1: [], 2: [] };
  // What the broker took of the machine while the replicas ran (its JVM's CPU over the run's wall
  // time and all cores): the replicas share the two cores with it.
  const brokerPid = Number(Deno.readTextFileSync(`${root}.native/kafka/pid`).trim());
  const cores = navigator.hardwareConcurrency;
  const brokerShare: Record<number, number[]> = { 1: [], 2: [] };
  const barsTopics: string[] = [];
  const replicas = async (n: number): Promise<number> => {
    const e = {
      KAFKA_PRODUCER: settings.producer,
      TICKS_TOPIC: topic,
      BARS_TOPIC: fresh("bars"),
      TRANSFORM_STATE_TOPIC: fresh("state"),
      CONSUMER_GROUP: fresh("group"),
      DLQ_TOPIC: fresh("dlq"),
    };
    // The rate between 10% and 90% committed: start-up and the group's joining are left out.
    let done = false;
    const brokerBefore = cpuOf(brokerPid) ?? NaN;
    const started = performance.now();
    const window = new SteadyWindow(() => committedOf(e.CONSUMER_GROUP, topic));
    const all = Promise.all(
      Array.from({ length: n }, () => worker("transform", ["--once"], e, window)),
    ).finally(() => (done = true));
    const marks: number[] = [];
    while (!done && marks.length < 2) {
      const consumed = ticks - await lagOf(e.CONSUMER_GROUP, topic).catch(() => ticks);
      if (consumed >= ticks * (marks.length === 0 ? 0.1 : 0.9)) marks.push(performance.now());
      await new Promise((r) => setTimeout(r, 100));
    }
    const runs = await all;
    if (n === 1) barsTopics.push(e.BARS_TOPIC);
    const wall = (performance.now() - started) / 1000;
    brokerShare[n].push((((cpuOf(brokerPid) ?? NaN) - brokerBefore) / (wall * cores)) * 100);
    const cpuSeconds = runs.reduce((sum, r) => sum + (r.stopped.cpuSeconds ?? r.cpuSeconds), 0);
    cpu[n].push((cpuSeconds / ticks) * 1e6);
    steadyCpu[n].push(await window.stop(ticks));
    return marks.length === 2 ? (0.8 * ticks) / ((marks[1] - marks[0]) / 1000) : NaN;
  };
  const steady = "ticks/s between 10% and 90% committed";
  const transform1 = await repeat("transform x1", steady, () => replicas(1));
  const transform2 = await repeat("transform x2", steady, () => replicas(2));
  // Each run drains a ×1 run's bars into a fresh database and index.
  const sinkCpu: number[] = [];
  const sinkSteadyCpu: number[] = [];
  const sinkLong = await repeat("sink, long drain", "bars stored/s (drain)", async () => {
    const e: Record<string, string> = {
      ...await freshPipeline(),
      BARS_TOPIC: barsTopics[sinkCpu.length],
    };
    const window = new SteadyWindow(() => committedOf(e.CONSUMER_GROUP, e.BARS_TOPIC));
    const sk = await worker("sink", ["--once"], e, window);
    sinkCpu.push(((sk.stopped.cpuSeconds ?? sk.cpuSeconds) / sk.stopped.recordsIn) * 1e6);
    sinkSteadyCpu.push(await window.stop(sk.stopped.recordsIn));
    const stored = Number(await psql("select count(*) from bars", e.POSTGRES_URL));
    return stored / (sk.stopped.runSeconds ?? sk.seconds);
  });
  return {
    scalePartitionShare: stat([biggest * 100], "% of ticks in the biggest partition"),
    transform1,
    transform2,
    cpuTransform1: stat(cpu[1], "µs CPU a tick, one replica (its run window)"),
    cpuTransform2: stat(cpu[2], "µs CPU a tick, two replicas together"),
    cpuTransform1Steady: stat(steadyCpu[1], "µs CPU a tick, one replica, 10%–90% committed"),
    cpuTransform2Steady: stat(
      steadyCpu[2],
      "µs CPU a tick, two replicas together, 10%–90% committed",
    ),
    sinkLong,
    cpuSinkLong: stat(sinkCpu, "µs CPU a bar version consumed, sink's long drain (200 symbols)"),
    cpuSinkLongSteady: stat(
      sinkSteadyCpu,
      "µs CPU a bar version, sink's long drain, 10%–90% committed",
    ),
    brokerShare1: stat(
      brokerShare[1],
      `% of the ${cores} cores the Kafka broker took, one replica`,
    ),
    brokerShare2: stat(
      brokerShare[2],
      `% of the ${cores} cores the Kafka broker took, two replicas`,
    ),
  };
}

/** Milliseconds from starting a transform to its /readyz answering 200. */
export async function startToReady(ticksTopic: string): Promise<Figures> {
  const startToReady = await repeat("transform start→ready", "ms", async () => {
    const port = nextPort();
    const started = performance.now();
    const child = new Deno.Command(deno, {
      args: taskArgs("transform"),
      cwd: root,
      env: {
        HTTP_PORT: String(port),
        LOG_LEVEL: "warn",
        CONSUMER_GROUP: fresh("group"),
        TICKS_TOPIC: ticksTopic,
        BARS_TOPIC: fresh("bars"),
        TRANSFORM_STATE_TOPIC: fresh("state"),
      },
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitReady(port, 25);
      return performance.now() - started;
    } finally {
      child.kill("SIGTERM");
      await child.status;
    }
  });
  return { startToReady };
}
