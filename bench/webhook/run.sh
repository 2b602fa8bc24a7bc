#!/usr/bin/env bash
# Webhook acknowledgement under load: `iamgate serve` (release, SQLite store, worker running)
# against bare axum on the same machine, both driven by wrk with the same signed deliveries.
# Every request is a new delivery (fresh X-GitHub-Delivery) of a real `pull_request` payload for
# one of PRS pull requests; iamgate verifies it, stores it and its job durably (fsync'd WAL
# commit, group-committed) before answering 2xx. After the run, the deliveries in the store are
# counted and compared with wrk's request count.
#
# usage: bench/webhook/run.sh            (env: DURATION=30s CONNS=32 THREADS=2 PRS=200)
# needs: wrk (Debian: apt-get install wrk), python3
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-30s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
PRS=${PRS:-200}
PORT=${PORT:-18181}
REF_PORT=${REF_PORT:-18182}

command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked --bin iamgate --example bare_axum >&2

tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
cat > "$tmp/server.toml" <<TOML
[server]
listen = "127.0.0.1:$PORT"
[store]
url = "sqlite://$tmp/iamgate.db"
[github]
app_id = 1
private_key_path = "$PWD/tests/fixtures/keys/test-app.private-key.pem"
webhook_secret = "$secret"
# Nothing listens here: the worker's jobs fail fast and back off, as when GitHub is down.
api_url = "http://127.0.0.1:9"
TOML
python3 bench/webhook/gen_wrk.py --secret "$secret" --prs "$PRS" > "$tmp/deliveries.lua"

wait_ready() {
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server at $1 did not come up" >&2; exit 1
}

echo "== machine: $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "== iamgate serve (SQLite, durable ack), ${THREADS} wrk threads, ${CONNS} connections, ${DURATION}"
RUST_LOG=warn target/release/iamgate serve --config "$tmp/server.toml" 2> "$tmp/server.log" &
server=$!
wait_ready "http://127.0.0.1:$PORT/readyz"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$tmp/deliveries.lua" "http://127.0.0.1:$PORT" | tee "$tmp/wrk.txt"
kill -TERM "$server"; wait "$server" || true
stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from deliveries').fetchone()[0])" "$tmp/iamgate.db")
requests=$(awk '/requests in/ {print $1}' "$tmp/wrk.txt")
echo "== deliveries stored: $stored (wrk completed requests: $requests; wrk may cut a few in flight at the end)"
grep -i 'error\|panic' "$tmp/server.log" | grep -v 'forge\|127.0.0.1:9\|connect' | head -5 || true

echo "== reference: bare axum, same wrk settings"
target/release/examples/bare_axum "127.0.0.1:$REF_PORT" 2>/dev/null &
ref=$!
sleep 0.5
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$tmp/deliveries.lua" "http://127.0.0.1:$REF_PORT"
kill "$ref"
