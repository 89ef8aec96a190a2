#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the tests (installing it first if needed) and
# print its SQLAlchemy URL. Idempotent: a server already running from .pg/ is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${MIANSHEN_PG_PORT:-54329}
DATA="$PWD/.pg/data"
SOCK="$PWD/.pg"
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "installing PostgreSQL (Debian package)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
run_pg() {  # initdb and postgres refuse to run as root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
mkdir -p "$SOCK"
[ "$(id -u)" = 0 ] && chown postgres "$SOCK"
if [ ! -f "$DATA/PG_VERSION" ]; then
  run_pg "$bindir/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
if ! run_pg "$bindir/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  run_pg "$bindir/pg_ctl" -D "$DATA" -l "$SOCK/server.log" -w \
    -o "-p $PORT -k $SOCK -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
fi
run_pg "$bindir/psql" -h "$SOCK" -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='mianshen_test'" \
  | grep -q 1 || run_pg "$bindir/createdb" -h "$SOCK" -p "$PORT" -U postgres mianshen_test
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/mianshen_test"
