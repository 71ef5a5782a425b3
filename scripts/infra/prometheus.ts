/**
 * Native Prometheus from Debian's package, scraping the workers with the same rules as compose.
 *
 * @module
 */
import {
  env,
  exists,
  httpOk,
  killPidFile,
  native,
  root,
  type Service,
  spawnDetached,
  waitFor,
} from "./service.ts";

export const prometheus: Service = {
  name: "prometheus",
  port: Number(env.PROMETHEUS_PORT),
  url: `http://127.0.0.1:${env.PROMETHEUS_PORT}`,
  healthy: () => httpOk(`http://127.0.0.1:${env.PROMETHEUS_PORT}/-/ready`),
  async start() {
    const dir = `${native}/prometheus`;
    await Deno.mkdir(`${dir}/data`, { recursive: true });
    if (!(await exists("/usr/bin/prometheus"))) {
      throw new Error("prometheus is not installed: apt-get install prometheus");
    }
    await spawnDetached(dir, "/usr/bin/prometheus", [
      `--config.file=${root}/compose/prometheus/prometheus.native.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${env.PROMETHEUS_PORT}`,
      "--web.enable-lifecycle",
    ], `${root}/compose/prometheus`);
    await waitFor("prometheus", prometheus.healthy, 60, `${dir}/out.log`);
  },
  stop: () => killPidFile(`${native}/prometheus`),
  data: () => Promise.resolve([`${native}/prometheus/data`]),
};
