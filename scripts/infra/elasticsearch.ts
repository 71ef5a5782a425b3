/**
 * Native Elasticsearch 8: the server jars from Maven Central started by a small Java main
 * (`EsNode.java`), as an unprivileged user when run as root.
 *
 * @module
 */
import {
  asUser,
  env,
  esUser,
  fetchJars,
  httpOk,
  isRoot,
  killPidFile,
  root,
  type Service,
  serviceDir,
  sh,
  spawnDetached,
  waitFor,
} from "./service.ts";

const esTestRunnerJars =
  /^(randomizedtesting|junit|lucene-test-framework|mockito|byte-buddy|objenesis|hamcrest|mocksocket)/;

export const elasticsearch: Service = {
  name: "elasticsearch",
  port: Number(env.ELASTICSEARCH_PORT),
  url: `http://127.0.0.1:${env.ELASTICSEARCH_PORT}`,
  healthy: () =>
    httpOk(
      `http://127.0.0.1:${env.ELASTICSEARCH_PORT}/_cluster/health?wait_for_status=yellow&timeout=1s`,
    ),
  async start() {
    const dir = await serviceDir("elasticsearch");
    const libs = `${dir}/libs`;
    const home = `${dir}/home`;
    await Deno.mkdir(`${home}/config`, { recursive: true });
    await fetchJars("elasticsearch", "es.version", env.ELASTICSEARCH_VERSION, `${dir}/all-libs`);
    await Deno.remove(libs, { recursive: true }).catch(() => {});
    await Deno.mkdir(libs, { recursive: true });
    for await (const entry of Deno.readDir(`${dir}/all-libs`)) {
      if (entry.name.endsWith(".jar") && !esTestRunnerJars.test(entry.name)) {
        await Deno.copyFile(`${dir}/all-libs/${entry.name}`, `${libs}/${entry.name}`);
      }
    }
    await Deno.copyFile(`${root}/scripts/infra/elasticsearch/EsNode.java`, `${dir}/EsNode.java`);
    if (isRoot) {
      await sh("sh", [
        "-c",
        `id ${esUser} >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin ${esUser}`,
      ]);
      await sh("chown", ["-R", esUser, home]);
      await sh("chmod", ["-R", "a+rX", dir]);
      await sh("chmod", ["a+rwx", dir]);
    }
    const extra = (Deno.env.get("ES_EXTRA_SETTINGS") ?? "").split(",").filter(Boolean)
      .map((kv) => `-Des.setting.${kv}`);
    const [cmd, args] = asUser(esUser, "java", [
      `-Xms${env.ELASTICSEARCH_HEAP}`,
      `-Xmx${env.ELASTICSEARCH_HEAP}`,
      ...extra,
      "-cp",
      `${libs}/*`,
      `${dir}/EsNode.java`,
      home,
      env.ELASTICSEARCH_PORT,
      env.ELASTICSEARCH_TRANSPORT_PORT,
    ]);
    await spawnDetached(dir, cmd, args);
    await waitFor("elasticsearch", elasticsearch.healthy, 120, `${dir}/out.log`);
  },
  stop: async () => killPidFile(await serviceDir("elasticsearch")),
  data: async () => [`${await serviceDir("elasticsearch")}/home/data`],
};
