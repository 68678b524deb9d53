#!/usr/bin/env bash
# End-to-end benchmark of `aitrail collect` (issue 29: ≥ 50k OTLP log
# records/s into Kafka on 2 cores, protobuf, batches of 512) against tansu
# with memory storage on a free loopback port, beside `aitrail produce` of
# the same events in the same run.
#
#   benches/e2e/collect.sh [RECORDS] [CONCURRENCY]   # default 1,000,000 and 8
#   COLLECT_RATE=1000 benches/e2e/collect.sh 3720000 4  # a soak: 62 minutes
#
# With COLLECT_RATE the records are paced to that many a second, and the
# collector's RSS and CPU are written every minute to $work/samples.csv
# (minute, rss_mib, cpu_seconds) and printed.
#
# `otlp_load` (benches/src/bin) builds RECORDS Claude Code–shaped records
# in memory and posts them as OTLP/HTTP protobuf requests of 512 records
# from CONCURRENCY clients; each request is answered once Kafka has
# acknowledged its events. It prints records/s and the requests' p50/p99
# latency; the collector's peak RSS is read from /proc. Then the events the
# collector produced are read back (each record must have landed exactly
# once) and `aitrail produce` sends the same events, as JSONL, to a second
# topic: the reference collector's rate on the same broker.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aitrail-target}"
records="${1:-1000000}"
concurrency="${2:-8}"
work="${AITRAIL_BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"
tansu="${TANSU:-$(command -v tansu || echo "$HOME/.cargo/bin/tansu")}"
[ -x "$tansu" ] || { echo "tansu not found: cargo install --locked tansu --features dynostore" >&2; exit 2; }
[ -n "${AITRAIL_BIN:-}" ] || cargo build --release --locked -p aitrail -p aitrail-benches >&2
bin="${AITRAIL_BIN:-$CARGO_TARGET_DIR/release/aitrail}"
load="$CARGO_TARGET_DIR/release/otlp_load"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
brokers="127.0.0.1:$(free_port)"
http="127.0.0.1:$(free_port)"
grpc="127.0.0.1:$(free_port)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

echo "== tansu on $brokers, memory storage" >&2
"$tansu" broker --storage-engine memory://tansu/ \
  --listener-url "tcp://$brokers" --advertised-listener-url "tcp://$brokers" \
  > "$work/tansu.log" 2>&1 &
pids+=($!)
python3 - "$brokers" <<'PY'
import sys, time
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
deadline = time.time() + 60
pending = {"ai-audit.events": 4, "ai-audit.events.dlq": 1, "produce.events": 4}
while pending:
    if time.time() > deadline:
        sys.exit("tansu did not create the topics in time")
    try:
        for topic, future in admin.create_topics([NewTopic(t, n, 1) for t, n in pending.items()], operation_timeout=5).items():
            try:
                future.result()
                pending.pop(topic)
            except Exception as error:
                if "already exists" in str(error).lower():
                    pending.pop(topic)
    except Exception:
        pass
    if pending:
        time.sleep(0.2)
PY

token=bench-collector-token
sha=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
cat > "$work/aitrail.toml" <<TOML
[kafka]
"bootstrap.servers" = "$brokers"
[collect]
listen = "$http"
grpc_listen = "$grpc"
default_org = "acme"
[[collect.tokens]]
name = "bench"
sha256 = "$sha"
TOML
AITRAIL_IDENTITY_KEY=bench-key RUST_LOG=warn "$bin" collect --config "$work/aitrail.toml" \
  > "$work/collect.log" 2>&1 &
collect_pid=$!
pids+=($collect_pid)
until curl -sf "http://$http/readyz" > /dev/null; do sleep 0.2; done

echo "== otlp_load: $records records, batches of 512, $concurrency clients" >&2
pace=()
if [ -n "${COLLECT_RATE:-}" ]; then
  pace=(--rate "$COLLECT_RATE")
  (
    echo "minute,rss_mib,cpu_seconds" > "$work/samples.csv"
    ticks=$(getconf CLK_TCK)
    minute=0
    while kill -0 "$collect_pid" 2>/dev/null; do
      sleep 60
      minute=$((minute + 1))
      rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$collect_pid/status" 2>/dev/null) || break
      cpu=$(awk -v t="$ticks" '{print ($14 + $15) / t}' "/proc/$collect_pid/stat" 2>/dev/null) || break
      echo "$minute,$rss,$cpu" | tee -a "$work/samples.csv" >&2
    done
  ) &
  pids+=($!)
fi
"$load" --endpoint "http://$http" --token "$token" --records "$records" --concurrency "$concurrency" \
  "${pace[@]}" | tee "$work/load.json"
rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$collect_pid/status")
echo "collect peak RSS: $rss MiB" >&2

echo "== reading back what the collector produced" >&2
python3 - "$brokers" "$records" "$work/produced.jsonl" <<'PY'
import json, sys, time
from confluent_kafka import Consumer
brokers, expected, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
consumer = Consumer({"bootstrap.servers": brokers, "group.id": f"bench-{time.time()}",
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
consumer.subscribe(["ai-audit.events"])
ids, read, deadline = set(), 0, time.time() + 300 + expected / 10000
with open(out, "wb") as file:
    while len(ids) < expected and time.time() < deadline:
        for message in consumer.consume(10000, 1.0):
            if message.error():
                continue
            read += 1
            ids.add(json.loads(message.value())["event_id"])
            file.write(message.value() + b"\n")
print(f"read {read} messages, {len(ids)} distinct event ids, {expected} records sent", file=sys.stderr)
if len(ids) != expected:
    sys.exit("not every record landed")
PY

echo "== aitrail produce of the same events to the same broker" >&2
start=$(date +%s.%N)
"$bin" produce --brokers "$brokers" --topic produce.events "$work/produced.jsonl" > /dev/null
end=$(date +%s.%N)
python3 -c "import sys; n=int(sys.argv[1]); s=float(sys.argv[3])-float(sys.argv[2]); print(f'aitrail produce: {n} events in {s:.2f} s = {n/s:,.0f} events/s')" \
  "$(wc -l < "$work/produced.jsonl")" "$start" "$end"
