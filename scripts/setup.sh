#!/usr/bin/env bash
# What ./denow runs before every command (Debian/Ubuntu, as root or with sudo); it installs only
# what is missing, and with --quiet prints nothing when nothing was missing:
#   - Deno, pinned, from the npm package `deno` into .tools/ (no curl | sh installer needed);
#   - the npm dependencies pinned in deno.json / deno.lock;
#   - Java 17 and Maven (native Kafka and Elasticsearch jars come from Maven Central);
#   - PostgreSQL 15, Prometheus (with promtool) and docker-compose (to validate the compose file)
#     from Debian's packages, and Chromium for the chart page's browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=false
[ "${1:-}" = "--quiet" ] && quiet=true

env_value() { grep "^$1=" compose/.env | cut -d= -f2- | sed "s/[[:space:]]*#.*//; s/[[:space:]]*$//"; }
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
# The npm dependencies, when node_modules is missing or older than the lockfile.
if [ ! -d node_modules ] || [ deno.lock -nt node_modules ] || [ deno.json -nt node_modules ]; then
  .tools/node_modules/.bin/deno install --frozen --quiet
  touch node_modules
fi
$quiet || echo "ready: $(.tools/node_modules/.bin/deno --version | head -1)"
