/**
 * Native schema registry: Apicurio Registry (Apache-2.0), its ready-built distribution from Maven
 * Central unpacked with the Maven dependency plugin, on Java 17, serving the Confluent-compatible
 * API at `/apis/ccompat/v7` on 127.0.0.1:SCHEMA_REGISTRY_PORT. Its storage is an H2 database in a
 * file under `.native/schema-registry/` (the distribution is built with H2 only, so PostgreSQL
 * cannot be its datasource): subjects and ids survive restarts. The registry's own default
 * compatibility is NONE; `prepare` sets it to SCHEMA_COMPATIBILITY (workers also set it on the
 * subjects they register).
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
  healthy: () => httpOk(`${schemaRegistryUrl}/subjects`),
  async start() {
    await Deno.mkdir(`${dir}/data`, { recursive: true });
    const jar = await fetchDistribution();
    await spawnDetached(dir, "java", [
      `-Xmx${env.SCHEMA_REGISTRY_HEAP}`,
      "-Dquarkus.http.host=127.0.0.1",
      `-Dquarkus.http.port=${port}`,
      `-Dquarkus.datasource.jdbc.url=jdbc:h2:file:${dir}/data/registry`,
      "-jar",
      jar,
    ]);
    await waitFor("schema-registry", schemaRegistry.healthy, 90, `${dir}/out.log`);
  },
  stop: () => killPidFile(dir),
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
