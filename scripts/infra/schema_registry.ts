/**
 * Native schema registry: Apicurio Registry (Apache-2.0), its ready-built distribution from Maven
 * Central unpacked with the Maven dependency plugin, on Java 17, serving the Confluent-compatible
 * API at `/apis/ccompat/v7` on 127.0.0.1:SCHEMA_REGISTRY_PORT. Its state is in a database of its
 * own (SCHEMA_REGISTRY_DB) in the native PostgreSQL, so subjects and ids survive restarts; 3.x is
 * the line whose distribution carries the PostgreSQL driver (2.6's is built with H2 only). The
 * registry's own default compatibility is NONE; `prepare` sets it to SCHEMA_COMPATIBILITY (workers
 * also set it on the subjects they register).
 *
 * @module
 */
import {
  env,
  exists,
  httpOk,
  killPidFile,
  native,
  type Service,
  sh,
  spawnDetached,
  waitFor,
} from "./service.ts";
import { ensureDatabase, postgres, postgresPasswordFile } from "./postgres.ts";

const dir = `${native}/schema-registry`;
const port = Number(env.SCHEMA_REGISTRY_PORT);
const version = env.APICURIO_VERSION;
export const schemaRegistryUrl = `http://127.0.0.1:${port}/apis/ccompat/v7`;

/** Unpacks `io.apicurio:apicurio-registry-app:<version>:tar.gz:all` once per version. */
async function fetchDistribution(): Promise<string> {
  const app = `${dir}/app`;
  const jar = `${app}/apicurio-registry-app-${version}-runner.jar`;
  const stamp = `${app}/.version`;
  if (await exists(stamp) && (await Deno.readTextFile(stamp)).trim() === version) return jar;
  console.log(`fetching Apicurio Registry ${version} from Maven Central ...`);
  await Deno.remove(app, { recursive: true }).catch(() => {});
  // `unpack` of the one artifact: resolving its dependencies would reach for other repositories.
  await sh("mvn", [
    "-q",
    "-B",
    "dependency:unpack",
    `-Dartifact=io.apicurio:apicurio-registry-app:${version}:tar.gz:all`,
    `-DoutputDirectory=${app}`,
  ], { cwd: dir });
  // Maven without a project leaves a directory named after an unresolved property.
  await Deno.remove(`${dir}/\${project.basedir}`, { recursive: true }).catch(() => {});
  await Deno.writeTextFile(stamp, version);
  return jar;
}

export const schemaRegistry: Service = {
  name: "schema-registry",
  port,
  url: schemaRegistryUrl,
  dependsOn: [postgres],
  healthy: () => httpOk(`${schemaRegistryUrl}/subjects`),
  async start() {
    await Deno.mkdir(dir, { recursive: true });
    await ensureDatabase(env.SCHEMA_REGISTRY_DB);
    const jar = await fetchDistribution();
    await spawnDetached(
      dir,
      "java",
      [
        `-Xmx${env.SCHEMA_REGISTRY_HEAP}`,
        "-Dquarkus.http.host=127.0.0.1",
        `-Dquarkus.http.port=${port}`,
        // A restarted PostgreSQL leaves dead connections in the pool: test each before use.
        "-Dquarkus.datasource.postgresql.jdbc.validate-on-borrow=true",
        // Its default keeps 20 connections open; a registry's traffic needs a few.
        "-Dapicurio.datasource.jdbc.initial-size=2",
        "-Dapicurio.datasource.jdbc.min-size=2",
        "-Dapicurio.datasource.jdbc.max-size=10",
        "-jar",
        jar,
      ],
      dir,
      {
        APICURIO_STORAGE_KIND: "sql",
        APICURIO_STORAGE_SQL_KIND: "postgresql",
        APICURIO_DATASOURCE_URL:
          `jdbc:postgresql://127.0.0.1:${env.POSTGRES_PORT}/${env.SCHEMA_REGISTRY_DB}`,
        APICURIO_DATASOURCE_USERNAME: env.POSTGRES_USER,
        APICURIO_DATASOURCE_PASSWORD: (await Deno.readTextFile(postgresPasswordFile)).trim(),
      },
    );
    await waitFor("schema-registry", schemaRegistry.healthy, 90, `${dir}/out.log`);
  },
  stop: () => killPidFile(dir),
  // Its schemas are in PostgreSQL (reset with it); this is what it keeps on disk besides.
  data: () => Promise.resolve([`${dir}/data`]),
  async prepare() {
    const res = await fetch(`${schemaRegistryUrl}/config`, {
      method: "PUT",
      headers: { "content-type": "application/vnd.schemaregistry.v1+json" },
      body: JSON.stringify({ compatibility: env.SCHEMA_COMPATIBILITY }),
    });
    if (!res.ok) throw new Error(`schema registry: setting compatibility: ${await res.text()}`);
    await res.body?.cancel();
  },
};
