#!/usr/bin/env bash
# One-time set-up of a fresh machine (Debian/Ubuntu, as root or with sudo):
#   - Deno, pinned, from the npm package `deno` into .tools/ (no curl | sh installer needed);
#   - the npm dependencies pinned in deno.json / deno.lock;
#   - Java 17 and Maven (native Kafka and Elasticsearch jars come from Maven Central);
#   - PostgreSQL 15, Prometheus (with promtool) and docker-compose (to validate the compose file)
#     from Debian's packages, and Chromium for the chart page's browser test.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

env_value() { grep "^$1=" compose/.env | cut -d= -f2; }
DENO_VERSION=$(env_value DENO_VERSION)
PG_VERSION=$(env_value POSTGRES_VERSION)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

packages=()
[ -x "/usr/lib/postgresql/${PG_VERSION}/bin/initdb" ] || packages+=("postgresql-${PG_VERSION}")
command -v prometheus >/dev/null || packages+=(prometheus)
command -v promtool >/dev/null || packages+=(prometheus)
command -v docker-compose >/dev/null || packages+=(docker-compose)
command -v java >/dev/null || packages+=(openjdk-17-jre-headless)
command -v javac >/dev/null || packages+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || packages+=(maven)
command -v npm >/dev/null || packages+=(npm)
[ -x /usr/bin/chromium ] || packages+=(chromium)   # the chart page's browser test
command -v openssl >/dev/null || packages+=(openssl)  # the native PostgreSQL's TLS certificate
command -v python3 >/dev/null || packages+=(python3 python3-venv)  # the bench's Python peers
if [ ${#packages[@]} -gt 0 ]; then
  echo "installing from Debian: ${packages[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
fi
# Debian starts nothing without systemd; `deno task infra` runs its own PostgreSQL and Prometheus.

if [ "$(.tools/node_modules/.bin/deno --version 2>/dev/null | head -1 | cut -d' ' -f2)" != "$DENO_VERSION" ]; then
  echo "installing deno ${DENO_VERSION} from npm into .tools/"
  npm install --prefix .tools --no-fund --no-audit --loglevel=error "deno@${DENO_VERSION}" >/dev/null
fi
.tools/node_modules/.bin/deno install --frozen >/dev/null
echo "ready: $(.tools/node_modules/.bin/deno --version | head -1); add .tools/node_modules/.bin to PATH:"
echo "  export PATH=\"$PWD/.tools/node_modules/.bin:\$PATH\""
