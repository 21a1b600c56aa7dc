#!/usr/bin/env bash
# Start a throwaway PostgreSQL for the tests (Debian's postgresql package) and print its URL.
# Usage: scripts/pg-test-server.sh start DIR PORT | stop DIR
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
cmd=$1 dir=$2
case "$cmd" in
  start)
    port=$3
    rm -rf "$dir" && mkdir -p "$dir" && chown postgres "$dir"
    runuser -u postgres -- "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=500" start >/dev/null
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null || true
    ;;
esac
