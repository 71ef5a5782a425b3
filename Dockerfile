# The worker image, replacing python:3.10-slim: one image for every worker; the compose service
# (or `docker run … deno run <permissions> workers/<name>.ts`) chooses the worker and its
# narrow permissions. Build from the repository root: docker build -t marketdata-worker .
ARG DENO_VERSION=2.9.6
FROM denoland/deno:debian-${DENO_VERSION}

WORKDIR /app
# Dependencies in their own layer: rebuilt only when deno.json or the lockfile change.
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY lib/ lib/
COPY workers/ workers/
COPY web/ web/
# The Avro value schemas (RECORD_FORMAT=avro).
COPY schemas/ schemas/
RUN deno cache workers/*.ts && chown -R deno:deno /app

USER deno
ENV HTTP_HOST=0.0.0.0
# The heap grows to 2.5× what survives a full collection, not up to V8's 4×: transform peaks
# ≈ 90 MiB lower at the same CPU a tick (README, Performance: memory).
ENV DENO_V8_FLAGS=--heap-growing-percent=150
ARG WORKER=transform
ENV WORKER=${WORKER}
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch(`http://127.0.0.1:${Deno.env.get('HTTP_PORT') ?? '9102'}/healthz`); Deno.exit(r.ok ? 0 : 1)"]
# Default: the worker named by the WORKER build arg. Compose sets `entrypoint: deno` and gives
# each service its own narrower --allow-net host list.
ENTRYPOINT []
CMD exec deno run --allow-net --allow-env --allow-read=/app,/run/secrets --allow-sys=osRelease "workers/${WORKER}.ts"
