/**
 * Native infrastructure without Docker: Kafka (KRaft), Elasticsearch and the schema registry
 * (Apicurio) from Maven Central, PostgreSQL and Prometheus from Debian's packages, all on 127.0.0.1 with data under
 * `.native/`. Ports and versions come from `compose/.env`, the file Compose reads too.
 *
 *   deno task infra up [service...]     start (idempotent), wait until healthy
 *   deno task infra down [service...]   stop what `up` started
 *   deno task infra reset [service...]  stop, and delete their data (topics, indices, databases)
 *   deno task infra status              what answers where
 *
 * @module
 */
import { elasticsearch } from "./infra/elasticsearch.ts";
import { kafka } from "./infra/kafka.ts";
import { postgres } from "./infra/postgres.ts";
import { prometheus } from "./infra/prometheus.ts";
import { schemaRegistry } from "./infra/schema_registry.ts";
import { native, type Service } from "./infra/service.ts";

export { kafkaScram } from "./infra/kafka.ts";
export { postgresPasswordFile } from "./infra/postgres.ts";

export const services: Service[] = [kafka, elasticsearch, postgres, prometheus, schemaRegistry];

async function up(selected: Service[]) {
  // Side by side: the JVMs take the longest; only a declared dependency makes one wait.
  const starting = new Map<Service, Promise<void>>();
  const bringUp = (s: Service): Promise<void> => {
    let done = starting.get(s);
    if (!done) {
      done = (async () => {
        await Promise.all((s.dependsOn ?? []).map(bringUp));
        if (await s.healthy()) {
          console.log(`${s.name.padEnd(14)} already running   ${s.url}`);
        } else {
          const started = Date.now();
          await s.start();
          console.log(
            `${s.name.padEnd(14)} started in ${
              ((Date.now() - started) / 1000).toFixed(1)
            }s ${s.url}`,
          );
        }
        await s.prepare?.();
      })();
      starting.set(s, done);
    }
    return done;
  };
  const results = await Promise.allSettled(selected.map(bringUp));
  const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
  for (const f of failed) console.error(String(f.reason?.message ?? f.reason));
  if (failed.length > 0) Deno.exit(1);
  console.log(`data and logs under ${native}/<service>/`);
}

/**
 * Stops the services and deletes their data: every test and bench run leaves topics, indices and
 * databases behind, and nothing else removes them (tens of GB over weeks of runs).
 */
async function reset(selected: Service[]) {
  for (const s of [...selected].reverse()) {
    await s.stop();
    let bytes = 0;
    for (const path of await s.data()) {
      bytes += await sizeOf(path);
      await Deno.remove(path, { recursive: true }).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }
    console.log(
      `${s.name.padEnd(14)} stopped, ${(bytes / 2 ** 20).toFixed(0)} MiB of data removed`,
    );
  }
  console.log("`deno task infra up` (or `deno task up`) starts them again, empty");
}

/** Bytes under `path` (0 when it is not there). */
async function sizeOf(path: string): Promise<number> {
  const stat = await Deno.lstat(path).catch(() => null);
  if (!stat) return 0;
  if (!stat.isDirectory) return stat.size;
  let total = 0;
  for await (const entry of Deno.readDir(path)) total += await sizeOf(`${path}/${entry.name}`);
  return total;
}

async function status(selected: Service[]) {
  let allUp = true;
  for (const s of selected) {
    const ok = await s.healthy();
    allUp &&= ok;
    console.log(`${s.name.padEnd(14)} ${ok ? "up  " : "down"} ${s.url}`);
  }
  return allUp;
}

if (import.meta.main) {
  const [command = "status", ...names] = Deno.args;
  const selected = names.length ? services.filter((s) => names.includes(s.name)) : services;
  const unknown = names.filter((n) => !services.some((s) => s.name === n));
  if (unknown.length) {
    console.error(
      `unknown service ${unknown.join(", ")}; known: ${services.map((s) => s.name).join(", ")}`,
    );
    Deno.exit(2);
  }
  if (command === "up") await up(selected);
  else if (command === "down") {
    for (const s of [...selected].reverse()) {
      await s.stop();
      console.log(`${s.name.padEnd(14)} stopped`);
    }
  } else if (command === "reset") await reset(selected);
  else if (command === "status") Deno.exit((await status(selected)) ? 0 : 1);
  else {
    console.error(
      "usage: deno task infra up|down|reset|status [kafka|elasticsearch|postgres|prometheus|schema-registry ...]",
    );
    Deno.exit(2);
  }
}
