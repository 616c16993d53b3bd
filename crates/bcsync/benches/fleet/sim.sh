#!/usr/bin/env bash
# Fleet simulation (docs/BENCHMARKS.md, "Fleet"): STORES stores in one sandbox process, each
# with the demo seed and the storefront simulator at RATE actions/s; RECEIVERS `listen
# --nats` processes sharing one port; WORKERS `bcsync worker --nats` processes; MINUTES of
# traffic. Then the simulators stop, the workers catch up, every store is extracted again
# from scratch into a check schema, and its tables must equal the fleet's.
#
#   cargo build --release --bin bcsync && crates/bcsync/benches/fleet/sim.sh
#   STORES=50 WORKERS=1 MINUTES=3 crates/bcsync/benches/fleet/sim.sh
#
# Needs PostgreSQL (PG, default the test server) and NATS with JetStream (NATS).
set -euo pipefail
cd "$(dirname "$0")/../../../.."

STORES=${STORES:-200}
WORKERS=${WORKERS:-3}
RECEIVERS=${RECEIVERS:-2}
MINUTES=${MINUTES:-10}
RATE=${RATE:-0.2}
MAX_STORES=${MAX_STORES:-4}
EXTRACT_EVERY=${EXTRACT_EVERY:-5m}
BIN=${BIN:-$PWD/target/release/bcsync}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test}
NATS=${NATS:-nats://127.0.0.1:4222}
SB_PORT=${SB_PORT:-18700}
RX_PORT=${RX_PORT:-18780}

run=sim$$
schema=bcsync_${run}
state="$PG?schema=$schema"
work=$(mktemp -d)
export BCSYNC_WEBHOOK_SECRET="sim-secret-$run"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
psqlq() { psql "$PG" -qtAX -c "$1"; }
now() { date +%s.%N; }

echo "== $STORES stores, $WORKERS workers, $RECEIVERS receivers, $MINUTES min, $RATE actions/s per store"
# Standard plan, real 30 s windows; each store's extraction is the webhook streams.
"$BIN" sandbox --stores "$STORES" --seed demo --simulate "$RATE" --port "$SB_PORT" \
  --stores-file "$work/stores.jsonl" > "$work/sandbox.log" 2>&1 &
sb=$!; pids+=("$sb")
for _ in $(seq 1 120); do [ -s "$work/stores.jsonl" ] && break; sleep 0.5; done
base=$(head -n1 "$work/stores.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["base_url"])')
printf '[extract]\nstreams = ["customers", "products", "orders"]\n' > "$work/store.toml"

echo "== registering the stores and their hooks"
mkdir -p "$work/tokens"
i=0
while IFS= read -r line; do
  hash=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["store_hash"])' "$line")
  token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$line")
  printf '%s' "$token" > "$work/tokens/$hash"
  "$BIN" stores add "$hash" --state "$state" --token-file "$work/tokens/$hash" \
    --base-url "$base" --schema "${run}_s$i" --store-config "$work/store.toml" \
    --extract-every "$EXTRACT_EVERY" --events --plan standard \
    --hooks-url "http://127.0.0.1:$RX_PORT/webhooks" 2>> "$work/register.log"
  i=$((i + 1))
done < "$work/stores.jsonl"

rpids=()
for r in $(seq 1 "$RECEIVERS"); do
  BCSYNC_STATE="$state" "$BIN" listen --nats "$NATS" --fleet "$run" --bind "127.0.0.1:$RX_PORT" \
    --reuse-port > "$work/receiver$r.log" 2>&1 &
  pids+=("$!"); rpids+=("$!")
done
wpids=()
for w in $(seq 1 "$WORKERS"); do
  "$BIN" worker --state "$state" --nats "$NATS" --fleet "$run" --max-stores "$MAX_STORES" \
    --id "w$w" > "$work/worker$w.log" 2>&1 &
  pids+=("$!"); wpids+=("$!")
done

# CPU: the workers' own ticks plus their reaped job processes' (cutime, cstime).
ticks() {
  local t=0
  for p in "${wpids[@]}"; do
    t=$((t + $(awk '{print $14+$15+$16+$17}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
# Resident kB of a process; 0 once it is gone (a zombie has no VmRSS line).
vmrss() { awk '/VmRSS/{v=$2} END{print v+0}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Memory: each worker and its running job processes, summed.
rss_kb() {
  local k=0 p c
  for p in "${wpids[@]}"; do
    k=$((k + $(vmrss "$p")))
    for c in $(ps -o pid= --ppid "$p"); do
      k=$((k + $(vmrss "$c")))
    done
  done
  echo "$k"
}
# The other processes' CPU: the sandbox, the receivers, and the whole machine (/proc/stat:
# user+nice+system+irq+softirq), so PostgreSQL's and NATS's share is what remains.
own_ticks() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rx_ticks() { local t=0 p; for p in "${rpids[@]}"; do t=$((t + $(own_ticks "$p"))); done; echo "$t"; }
machine_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
t0=$(now); c0=$(ticks); peak=0; peak_conns=0
s0=$(own_ticks "$sb"); r0=$(rx_ticks); m0=$(machine_ticks)
end=$(( $(date +%s) + MINUTES * 60 ))
while [ "$(date +%s)" -lt "$end" ]; do
  r=$(rss_kb); [ "$r" -gt "$peak" ] && peak=$r
  c=$(psqlq "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'bcsync%'" 2>/dev/null || echo 0)
  [ "$c" -gt "$peak_conns" ] && peak_conns=$c
  sleep 5
done
t1=$(now); c1=$(ticks)
s1=$(own_ticks "$sb"); r1=$(rx_ticks); m1=$(machine_ticks)
hz=$(getconf CLK_TCK)
first_loads=$(psqlq "SELECT count(*) FROM \"$schema\".fleet_jobs WHERE kind='extract' AND last_status='ok'")
# When the last store's first extraction ended, from the workers' start.
first_load_secs=$(psqlq "SELECT round(extract(epoch FROM max(f) - to_timestamp($t0))::numeric, 0) FROM
  (SELECT min(finished_at) AS f FROM \"$schema\".fleet_job_runs WHERE kind = 'extract' AND status = 'ok'
   GROUP BY store_hash) x")

echo "== stopping the simulators; the workers apply what is left"
while IFS= read -r line; do
  hash=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["store_hash"])' "$line")
  curl -sf -o /dev/null -X DELETE "$base/_sandbox/stores/$hash/simulate" || true
done < "$work/stores.jsonl"
# Deliveries still in flight (the sandbox's retries, JetStream, inboxes), then no events
# job due or running.
settle() {
  for _ in $(seq 1 600); do
    left=$(psqlq "SELECT count(*) FROM \"$schema\".fleet_jobs WHERE kind = 'events'
                  AND (next_due <= clock_timestamp() OR running_worker IS NOT NULL)")
    lag=$("$BIN" status --fleet --state "$state" --nats "$NATS" --fleet-name "$run" --json \
      | python3 -c 'import json,sys; print(json.load(sys.stdin).get("jetstream_backlog") or 0)' 2>/dev/null || echo 0)
    [ "$left" = 0 ] && [ "$lag" = 0 ] && break
    sleep 1
  done
}
sleep 10; settle
t_settled=$(now)

echo "== a fresh full extraction of every store (4 at a time)"
check_one() {
  local i=$1 line hash token
  line=$(sed -n "$((i + 1))p" "$work/stores.jsonl")
  hash=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["store_hash"])' "$line")
  token=$(cat "$work/tokens/$hash")
  BIGCOMMERCE_ACCESS_TOKEN="$token" BIGCOMMERCE_STORE_HASH="$hash" BIGCOMMERCE_BASE_URL="$base" \
    DATABASE_URL="$PG?schema=${run}_c$i" BCSYNC_STATE="$work/check-$i.db" \
    "$BIN" --config "$work/store.toml" extract --to postgres --no-progress > /dev/null 2>&1
}
export -f check_one; export work run PG base BIN
# A failed check extraction leaves its schema short: the comparison reports that store.
seq 0 $((STORES - 1)) | xargs -P 4 -I{} bash -c 'check_one {}' || echo "some check extractions failed" >&2

# Tables (of 3 per store) that differ from the check extraction: (id, date_modified) both ways.
compare() {
  local bad=0 i t d
  for i in $(seq 0 $((STORES - 1))); do
    for t in customers products orders; do
      d=$(psqlq "SELECT count(*) FROM (
            (SELECT id, _raw->>'date_modified' FROM \"${run}_s$i\".$t WHERE _deleted_at IS NULL
             EXCEPT SELECT id, _raw->>'date_modified' FROM \"${run}_c$i\".$t WHERE _deleted_at IS NULL)
            UNION ALL
            (SELECT id, _raw->>'date_modified' FROM \"${run}_c$i\".$t WHERE _deleted_at IS NULL
             EXCEPT SELECT id, _raw->>'date_modified' FROM \"${run}_s$i\".$t WHERE _deleted_at IS NULL)) x" 2>/dev/null || echo missing)
      if [ "$d" != 0 ]; then echo "store $i: $t differs in $d rows" >&2; bad=$((bad + 1)); fi
    done
  done
  echo "$bad"
}
echo "== comparing: what the events and scheduled extractions left"
mismatch_events=$(compare)

echo "== one more extraction of every store (the gap poll), then comparing again"
mark=$(psqlq "SELECT clock_timestamp()")
psqlq "UPDATE \"$schema\".fleet_jobs SET next_due = clock_timestamp() WHERE kind = 'extract'" >/dev/null
for _ in $(seq 1 900); do
  left=$(psqlq "SELECT count(*) FROM \"$schema\".fleet_jobs WHERE (kind = 'extract' AND (last_finished IS NULL OR last_finished < '$mark'))
                OR (next_due <= clock_timestamp()) OR running_worker IS NOT NULL")
  [ "$left" = 0 ] && break
  sleep 1
done
t2=$(now)
"$BIN" status --fleet --state "$state" --nats "$NATS" --fleet-name "$run" > "$work/status.txt"
head -n 8 "$work/status.txt"
mismatch=$(compare)
records=0; events=0; written=0
for i in $(seq 0 $((STORES - 1))); do
  for t in customers products orders; do
    records=$((records + $(psqlq "SELECT count(*) FROM \"${run}_s$i\".$t")))
    written=$((written + $(psqlq "SELECT count(*) FROM \"${run}_s$i\".$t
      WHERE _extracted_at BETWEEN to_timestamp($t0) AND to_timestamp($t1)")))
  done
  events=$((events + $(psqlq "SELECT count(*) FROM \"${run}_s$i\"._bcsync_inbox" 2>/dev/null || echo 0)))
done

lags=$(for s in $(seq 0 $((STORES - 1))); do
  psqlq "SELECT extract(epoch FROM applied_at::timestamptz) - created_at FROM \"${run}_s$s\"._bcsync_inbox WHERE applied_at IS NOT NULL" 2>/dev/null || true
done | sort -g)
n=$(echo "$lags" | grep -c . || true)
p() { echo "$lags" | awk -v q="$1" -v n="$n" 'NR==int(n*q+0.999999){print; exit}'; }
secs=$(python3 -c "print(f'{$t1-$t0:.0f}')")
cpu=$(python3 -c "print(f'{($c1-$c0)/$hz:.0f}')")
echo
echo "stores $STORES, workers $WORKERS (up to $MAX_STORES stores each), receivers $RECEIVERS, traffic $secs s, events settled $(python3 -c "print(f'{$t_settled-$t1:.0f}')") s after it, final extractions $(python3 -c "print(f'{$t2-$t_settled:.0f}')") s"
echo "extractions done during traffic: $(psqlq "SELECT count(*) FROM \"$schema\".fleet_job_runs WHERE kind='extract' AND status='ok' AND finished_at <= to_timestamp($t1)")"
echo "events jobs: $(psqlq "SELECT count(*) FROM \"$schema\".fleet_job_runs WHERE kind='events' AND status='ok'")"
echo "records in the warehouse: $records; written during the traffic (a row's last write): $written, $(python3 -c "print(f'{$written/($t1-$t0):.0f}')") records/s"
echo "webhook events stored: $events ($(python3 -c "print(f'{$events/($t1-$t0):.2f}')") events/s); event-to-applied lag p50 $(p 0.5) s, p99 $(p 0.99) s, max $(p 1.0) s"
echo "worker CPU (workers + their jobs): $cpu s in $secs s = $(python3 -c "print(f'{($c1-$c0)/$hz/($t1-$t0):.2f}')") cores; peak RSS (workers + running jobs) $((peak / 1024)) MB"
cores() { python3 -c "print(f'{($2-$1)/$hz/($t1-$t0):.2f}')"; }
echo "CPU over the traffic, in cores: machine $(cores "$m0" "$m1"), sandbox $(cores "$s0" "$s1"), receivers $(cores "$r0" "$r1"), workers and their jobs $(cores "$c0" "$c1"); PostgreSQL, NATS and the rest: the difference"
echo "PostgreSQL connections held by bcsync, sampled every 5 s: peak $peak_conns"
echo "tables differing from a full extraction once events settled: $mismatch_events of $((STORES * 3)); after one more extraction: $mismatch"
echo "first loads finished during traffic: $first_loads of $STORES, the last ${first_load_secs} s after the workers started"
for s in $(seq 0 $((STORES - 1))); do
  psqlq "DROP SCHEMA IF EXISTS \"${run}_s$s\" CASCADE; DROP SCHEMA IF EXISTS \"${run}_c$s\" CASCADE" >/dev/null 2>&1 || true
done
psqlq "DROP SCHEMA IF EXISTS \"$schema\" CASCADE" >/dev/null
[ "$mismatch" = 0 ]
