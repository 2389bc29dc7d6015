#!/usr/bin/env bash
# Run a throwaway Virtuoso (Debian's virtuoso-opensource) on loopback for etclod's tests.
#   scripts/virtuoso.sh install              install the package where it is missing
#   scripts/virtuoso.sh start DIR SQL HTTP   start one in DIR with its own ports; wait until it answers
#   scripts/virtuoso.sh stop DIR             stop the one in DIR
# VIRTUOSO_BUFFERS (default 20000 pages of 8 kB) and VIRTUOSO_MAX_SECONDS (the server's own
# query time limit, default 30) size it; the benchmarks give it more memory.
set -euo pipefail
command="${1:-}"
case "$command" in
  install)
    if ! command -v virtuoso-t >/dev/null 2>&1; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null && apt-get install -y -qq virtuoso-opensource-7-bin >/dev/null
    fi
    command -v virtuoso-t
    ;;
  start)
    dir="$2"; sql="$3"; http="$4"
    mkdir -p "$dir"
    cat > "$dir/virtuoso.ini" <<INI
[Database]
DatabaseFile = $dir/etclod.db
ErrorLogFile = $dir/etclod.log
LockFile = $dir/etclod.lck
TransactionFile = $dir/etclod.trx
xa_persistent_file = $dir/etclod.pxa
Striping = 0
TempStorage = TempDatabase
[TempDatabase]
DatabaseFile = $dir/etclod-temp.db
TransactionFile = $dir/etclod-temp.trx
Striping = 0
[Parameters]
ServerPort = 127.0.0.1:$sql
DisableUnixSocket = 1
MaxClientConnections = 10
CheckpointInterval = 60
NumberOfBuffers = ${VIRTUOSO_BUFFERS:-20000}
MaxDirtyBuffers = $(( ${VIRTUOSO_BUFFERS:-20000} * 3 / 4 ))
DirsAllowed = ., $dir
[HTTPServer]
ServerPort = 127.0.0.1:$http
ServerRoot = $dir
MaxClientConnections = 10
ServerThreads = 10
[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = ${VIRTUOSO_MAX_SECONDS:-30}
MaxQueryCostEstimationTime = 0
INI
    virtuoso-t -f +configfile "$dir/virtuoso.ini" > "$dir/stdout.log" 2>&1 &
    echo $! > "$dir/pid"
    for _ in $(seq 1 120); do
      if curl -sf -o /dev/null "http://127.0.0.1:$http/sparql?query=ASK%7B%7D"; then
        echo "virtuoso on 127.0.0.1:$http (sql $sql), pid $(cat "$dir/pid")"; exit 0
      fi
      sleep 0.5
    done
    echo "virtuoso did not come up; see $dir/etclod.log" >&2; exit 1
    ;;
  stop)
    dir="$2"
    if [ -f "$dir/pid" ]; then kill "$(cat "$dir/pid")" 2>/dev/null || true; rm -f "$dir/pid"; fi
    ;;
  *) echo "usage: $0 install | start DIR SQL_PORT HTTP_PORT | stop DIR" >&2; exit 2 ;;
esac
