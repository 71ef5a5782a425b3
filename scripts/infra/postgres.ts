/**
 * Native PostgreSQL from Debian's packages: a cluster of its own under `.native/` (or a reachable
 * directory), password from a generated secret, TLS with a self-signed certificate.
 *
 * @module
 */
import {
  asUser,
  env,
  exists,
  generatedSecret,
  isRoot,
  native,
  pgUser,
  type Service,
  serviceDir,
  sh,
  waitFor,
} from "./service.ts";

async function pgBin(tool: string): Promise<string> {
  for (const dir of [`/usr/lib/postgresql/${env.POSTGRES_VERSION}/bin`]) {
    if (await exists(`${dir}/${tool}`)) return `${dir}/${tool}`;
  }
  throw new Error(
    `PostgreSQL ${env.POSTGRES_VERSION} is not installed: apt-get install postgresql-${env.POSTGRES_VERSION}`,
  );
}

/** The native PostgreSQL password: generated once, kept in `.native/secrets/` (never logged). */
export const postgresPasswordFile = `${native}/secrets/postgres_password`;

/** Creates a database of the native cluster unless it exists (over the server's own socket). */
export async function ensureDatabase(name: string) {
  const dir = await serviceDir("postgres");
  const viaSocket = ["-h", `${dir}/run`, "-p", env.POSTGRES_PORT, "-U", env.POSTGRES_USER];
  const found = await sh(await pgBin("psql"), [
    ...viaSocket,
    "-d",
    "postgres",
    "-tAc",
    `select 1 from pg_database where datname = '${name}'`,
  ]);
  if (found.trim() !== "1") await sh(await pgBin("createdb"), [...viaSocket, name]);
}

export const postgres: Service = {
  name: "postgres",
  port: Number(env.POSTGRES_PORT),
  url: `postgres://${env.POSTGRES_USER}@127.0.0.1:${env.POSTGRES_PORT}/${env.POSTGRES_DB}`,
  healthy: async () => {
    try {
      await sh(await pgBin("pg_isready"), ["-h", "127.0.0.1", "-p", env.POSTGRES_PORT]);
      return true;
    } catch {
      return false;
    }
  },
  async start() {
    const dir = await serviceDir("postgres");
    const data = `${dir}/data`;
    await Deno.mkdir(`${dir}/run`, { recursive: true });
    await Deno.mkdir(`${native}/secrets`, { recursive: true, mode: 0o700 });
    await generatedSecret(postgresPasswordFile);
    // TLS as well as plain connections, with a self-signed certificate clients may pin
    // (POSTGRES_SSL=true, POSTGRES_SSL_CA_FILE=.native/postgres/tls/server.crt).
    if (!(await exists(`${dir}/tls/server.crt`))) {
      await Deno.mkdir(`${dir}/tls`, { recursive: true });
      await sh("openssl", [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout",
        `${dir}/tls/server.key`,
        "-out",
        `${dir}/tls/server.crt`,
      ]);
      await Deno.chmod(`${dir}/tls/server.key`, 0o600);
    }
    if (isRoot) await sh("chown", ["-R", pgUser, dir]);
    if (!(await exists(`${data}/PG_VERSION`))) {
      const pwfile = `${dir}/run/pwfile`;
      await Deno.copyFile(postgresPasswordFile, pwfile);
      if (isRoot) await sh("chown", [pgUser, pwfile]);
      const [cmd, args] = asUser(pgUser, await pgBin("initdb"), [
        "-D",
        data,
        "-U",
        env.POSTGRES_USER,
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        `--pwfile=${pwfile}`,
        "-E",
        "UTF8",
        "--locale=C",
      ]);
      try {
        await sh(cmd, args);
      } finally {
        await Deno.remove(pwfile).catch(() => {});
      }
    }
    const [cmd, args] = asUser(pgUser, await pgBin("pg_ctl"), [
      "-D",
      data,
      "-l",
      `${dir}/out.log`,
      "-w",
      "-t",
      "60",
      "-o",
      `-p ${env.POSTGRES_PORT} -k ${dir}/run -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 ` +
      `-c ssl=on -c ssl_cert_file=${dir}/tls/server.crt -c ssl_key_file=${dir}/tls/server.key`,
      "start",
    ]);
    await sh(cmd, args);
    await waitFor("postgres", postgres.healthy, 60, `${dir}/out.log`);
    await ensureDatabase(env.POSTGRES_DB);
  },
  // The whole cluster (every database, the registry's too): `up` makes it again with initdb.
  data: async () => [`${await serviceDir("postgres")}/data`],
  async stop() {
    const data = `${await serviceDir("postgres")}/data`;
    if (!(await exists(`${data}/postmaster.pid`))) return;
    const [cmd, args] = asUser(pgUser, await pgBin("pg_ctl"), ["-D", data, "-m", "fast", "stop"]);
    await sh(cmd, args).catch((e) => console.error(e.message));
  },
};
