#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the tests (installing it first if needed) and
# print its SQLAlchemy URL. Idempotent: a server already running from .pg/ is reused, on its
# port. The port is MIANSHEN_PG_PORT, else 54329 if free, else any free port.
# `bash scripts/pg.sh stop` stops it (scripts/test.sh does, when the tests end).
set -euo pipefail
cd "$(dirname "$0")/.."
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
if [ "${1:-}" = "stop" ]; then
  if [ -f "$DATA/postmaster.pid" ]; then run_pg "$bindir/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true; fi
  exit 0
fi
free_port() {
  python3 - "$1" <<'PY'
import socket, sys
want = int(sys.argv[1])
for port in (want, 0):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        print(s.getsockname()[1])
        break
    except OSError:
        continue
    finally:
        s.close()
PY
}
mkdir -p "$SOCK"
[ "$(id -u)" = 0 ] && chown postgres "$SOCK"
if [ ! -f "$DATA/PG_VERSION" ]; then
  run_pg "$bindir/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
if run_pg "$bindir/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  PORT=$(sed -n 4p "$DATA/postmaster.pid")  # the running server's port
else
  PORT=${MIANSHEN_PG_PORT:-$(free_port 54329)}
  if ! run_pg "$bindir/pg_ctl" -D "$DATA" -l "$SOCK/server.log" -w \
      -o "-p $PORT -k $SOCK -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null; then
    echo "测试用 PostgreSQL 未能在端口 $PORT 启动；日志：$SOCK/server.log（可用 MIANSHEN_PG_PORT 指定其他端口）" >&2
    tail -n 5 "$SOCK/server.log" >&2 || true
    exit 1
  fi
fi
run_pg "$bindir/psql" -h "$SOCK" -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='mianshen_test'" \
  | grep -q 1 || run_pg "$bindir/createdb" -h "$SOCK" -p "$PORT" -U postgres mianshen_test
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/mianshen_test"
