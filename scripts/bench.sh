#!/usr/bin/env bash
# Runs the benchmarks against the optimised build.
#
#   scripts/bench.sh BUILD_DIR short|full
#
# 1. the engine in-process (bench_engine);
# 2. Chute side by side with beanstalkd, PostgreSQL and Redis (bench/loadgen),
#    each broker started here on 127.0.0.1 with a temp data dir and stopped
#    afterwards, at two durability levels:
#      sync    every acknowledged write is fsynced: chute --durability full,
#              beanstalkd -f0, redis appendfsync always, postgres
#              synchronous_commit on;
#      relaxed survives a crash of the broker process, a power loss may drop
#              the last writes: chute --durability normal, beanstalkd with its
#              default fsync interval (50 ms), redis appendfsync everysec,
#              postgres synchronous_commit off;
# 3. the C client's job worker end to end (bench/bench_worker);
# 3b. process instances end to end (loadgen process, chute durability full):
#    the getting-started order process of ../shared/bpmn-corpus and a model
#    with an exclusive and a parallel gateway, each instance created with
#    CreateProcessInstanceWithResult and its jobs done by C job workers;
# 3c. timer accuracy (loadgen timers, chute durability full): rounds of 10 000
#    instances of start -> PT1S timer -> end created as fast as possible, each
#    timer's lateness read back from the engine (GetProcessInstance: the timer
#    event's endedAt - startedAt - 1 s);
# 4. one hostile gRPC connection, the HPACK indexed-header bomb, against a
#    control client's CreateJob latency and chuted's CPU (bench/bench_bomb).
#
# BENCH_ONLY=processes (e.g. `BENCH_ONLY=processes make bench`) runs only
# 3b and prints its lines, leaving bench/results.md alone; BENCH_ONLY=timers
# does the same with 3c.
#
# Prints `bench: <name> <value> <unit>` lines, then a summary table with
# ratios, and writes the results to bench/results.md. Data goes to
# BUILD_DIR/bench-data (a real disk, so fsync costs what it costs), removed
# afterwards. The peers come from Debian: scripts/deps.sh bench.
set -euo pipefail
build=${1:-build}
mode=${2:-short}
root=$(cd "$(dirname "$0")/.." && pwd)
case "$mode" in short|full) ;; *) echo "bench: mode must be short or full" >&2; exit 2 ;; esac
build=$(cd "$build" && pwd)
data="$build/bench-data"
rm -rf "$data"
mkdir -p "$data"
chmod 755 "$data"
out="$data/figures.txt"
results_md="$root/bench/results.md"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
t_start=$(date +%s)

"$root/scripts/deps.sh" bench

# ---- sizes ---------------------------------------------------------------
if [ "$mode" = short ]; then
  BURN_N=20000; REPS=3; SLOW_REPS=1; LIFE_N=20000; PROC_N=10000; TIMER_REPS=3
  RATE_SECS=2; SEARCH_SECS=1; DEPTH_N=1000000; IDLE_SECS=5; WORKER_N=10000; WRK_SECS=3
  BOMB_SECS=5; BOMB_IDLE=2; BOMB_FLAT_SECS=3
else
  BURN_N=100000; REPS=5; SLOW_REPS=3; LIFE_N=100000; PROC_N=50000; TIMER_REPS=5
  RATE_SECS=10; SEARCH_SECS=3; DEPTH_N=10000000; IDLE_SECS=30; WORKER_N=100000; WRK_SECS=10
  BOMB_SECS=10; BOMB_IDLE=3; BOMB_FLAT_SECS=10
fi
IDLE_CONNS=1000

loadgen="$build/bench/loadgen"
chuted="$build/src/server/chuted"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
for f in "$loadgen" "$chuted" "$build/bench/bench_worker" "$build/bench/bench_bomb" \
         "$pgbin/pg_ctl"; do
  [ -x "$f" ] || { echo "bench: $f is missing (build first; scripts/deps.sh bench)" >&2; exit 1; }
done
# The process benchmark deploys the getting-started order process from the
# shared corpus, as it is: without it the run would miss its figures.
order_bpmn="$root/../shared/bpmn-corpus/order-process.bpmn"
[ -r "$order_bpmn" ] || { echo "bench: $order_bpmn is missing: the process benchmark deploys the order process from there" >&2; exit 1; }
order_bpmn=$(cd "$(dirname "$order_bpmn")" && pwd)/order-process.bpmn
# 1 000 idle clients need a few descriptors each: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- broker lifecycle ------------------------------------------------------
# Every broker started here is stopped on any exit (the trap), so a failed
# run leaves no process and no data behind.
pids=()
pgdirs=()
cleanup() {
  local rc=$?
  for d in "${pgdirs[@]}"; do
    [ -f "$d/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" -D "$d" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$data"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A port nobody listens on (a small race with other programs is accepted).
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "bench: no free port" >&2; return 1
}

# wait_for CMD... : retry for up to 30 s.
wait_for() {
  for _ in $(seq 1 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench: timed out waiting for: $*" >&2; return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_broker CONFIG DIR: starts the broker of CONFIG on a free port with its
# data in DIR (kept when DIR exists: a restart); sets ADDR and PID.
start_broker() {
  local cfg=$1 dir=$2 port
  mkdir -p "$dir"
  case "$cfg" in
    chute_sync|chute_relaxed)
      local dur=full; [ "$cfg" = chute_relaxed ] && dur=normal
      local listen=127.0.0.1:0; [ -n "${PORT:-}" ] && listen=127.0.0.1:$PORT
      : >"$dir/chuted.log"
      "$chuted" --data-dir "$dir" --grpc-listen "$listen" --http-listen off \
        --durability "$dur" 2>>"$dir/chuted.log" &
      PID=$!; pids+=("$PID")
      wait_for grep -q 'gRPC listening on' "$dir/chuted.log"
      ADDR=$(sed -n 's/.*gRPC listening on \([0-9.:]*\).*/\1/p' "$dir/chuted.log" | tail -1)
      ;;
    beanstalkd_sync|beanstalkd_relaxed)
      port=${PORT:-$(free_port)}
      local f=(); [ "$cfg" = beanstalkd_sync ] && f=(-f0)
      beanstalkd -l 127.0.0.1 -p "$port" -b "$dir" "${f[@]}" 2>>"$dir/beanstalkd.log" &
      PID=$!; pids+=("$PID")
      wait_for port_open "$port"
      ADDR=127.0.0.1:$port
      ;;
    redis_sync|redis_relaxed)
      port=${PORT:-$(free_port)}
      local fs=always; [ "$cfg" = redis_relaxed ] && fs=everysec
      redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' \
        --appendonly yes --appendfsync "$fs" --daemonize no --logfile "$dir/redis.log" &
      PID=$!; pids+=("$PID")
      wait_for redis-cli -p "$port" ping
      ADDR=127.0.0.1:$port
      ;;
    pg_sync|pg_relaxed)
      port=${PORT:-$(free_port)}
      local sc=on; [ "$cfg" = pg_relaxed ] && sc=off
      if [ ! -f "$dir/PG_VERSION" ]; then
        [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
        as_pg "$pgbin/initdb" -D "$dir" -A trust -U postgres >"$data/initdb.log" 2>&1
        pgdirs+=("$dir")
      fi
      # After a kill -9 the old backends may still hold the shared memory
      # for a moment: try a few times, show the log if it never starts.
      local try
      for try in 1 2 3 4 5; do
        as_pg "$pgbin/pg_ctl" -D "$dir" -l "$dir/pg.log" -w -t 300 -o "-c listen_addresses=127.0.0.1 \
          -p $port -k $dir -c synchronous_commit=$sc -c max_connections=1100 \
          -c shared_buffers=256MB" start >/dev/null && break
        [ $try = 5 ] && { tail -20 "$dir/pg.log" >&2; return 1; }
        sleep 2
      done
      PID=$(head -1 "$dir/postmaster.pid")
      ADDR=127.0.0.1:$port
      ;;
  esac
}

# stop_broker CONFIG DIR [kill]: a clean stop, or kill -9 with "kill".
stop_broker() {
  local cfg=$1 dir=$2 how=${3:-term}
  case "$cfg" in
    pg_*)
      if [ "$how" = kill ]; then kill -9 "$PID"; sleep 0.5
        # the backends notice their postmaster is gone and exit
        for _ in $(seq 1 100); do pgrep -P "$PID" >/dev/null || break; sleep 0.1; done
        rm -f "$dir/postmaster.pid"
      else as_pg "$pgbin/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null; fi
      ;;
    *)
      if [ "$how" = kill ]; then kill -9 "$PID"; else kill "$PID"; fi
      for _ in $(seq 1 300); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$PID" 2>/dev/null || true
      wait "$PID" 2>/dev/null || true
      ;;
  esac
}

peer_of() { # the backend name loadgen knows for a config
  case "$1" in chute_*) echo chute ;; beanstalkd_*) echo beanstalkd ;; redis_*) echo redis ;;
               pg_*) echo postgres ;; esac
}

# A load generator that fails (or crashes) loses its figures, not the run:
# the failure is printed and listed at the end of bench/results.md.
failures="$data/failures.txt"
lg() {
  "$loadgen" "$@" | tee -a "$out" || {
    local rc=$?
    echo "bench: FAILED (exit $rc): loadgen $*" | tee -a "$failures" >&2
  }
}

# Section headers carry the time since the start, so a slow part shows.
mark() { echo "$* [t+$(( $(date +%s) - t_start )) s]"; }

configs=(chute_sync beanstalkd_sync redis_sync pg_sync chute_relaxed beanstalkd_relaxed redis_relaxed pg_relaxed)

# ---- 2b. process instances ---------------------------------------------------------
# A fresh chuted (durability full) per model. Each round creates PROC_N
# instances, at most 256 CreateProcessInstanceWithResult calls open at once
# over 2 connections; one C job worker per job type (16 handler threads,
# streaming) completes every job. Rounds are bounded by secs=. A function,
# so that BENCH_ONLY=processes can run this part alone (below).
bench_processes() {
  mark "== process instances: create with result + C job workers, chute durability full"
  local model dir src
  for model in order gateways; do
    dir="$data/process-$model"; PORT=
    start_broker chute_sync "$dir"
    if [ "$model" = order ]; then src=(bpmn="$order_bpmn" id=process1); else src=(model=gateways); fi
    lg chute "$ADDR" process name="process_${model}" "${src[@]}" n=$PROC_N reps=$REPS \
      inflight=256 conns=2 conc=16 jobs_active=64 stream=1 secs=60
    stop_broker chute_sync "$dir"
    rm -rf "$dir"
  done
}

# ---- 2c. timer accuracy ------------------------------------------------------------
# A fresh chuted (durability full). Each round creates 10 000 instances of
# start -> PT1S timer catch event -> end as fast as it can (CreateProcessInstance,
# 512 calls open over 2 connections), waits, then reads every instance back
# (Chute's GetProcessInstance) and takes its timer event's lateness, endedAt -
# (startedAt + 1 s), both stamps from the engine's clock in ms. p50/p99/p99.9
# are medians of the rounds; p99_worst and max the worst round's.
bench_timers() {
  mark "== timer accuracy: 10 000 PT1S timers created at once, chute durability full"
  local dir="$data/timers"; PORT=
  start_broker chute_sync "$dir"
  lg chute "$ADDR" timers name=timer n=10000 delay=1000 reps=$TIMER_REPS inflight=512 conns=2 secs=60
  stop_broker chute_sync "$dir"
  rm -rf "$dir"
}

# BENCH_ONLY=processes or timers: only those figures, printed; bench/results.md
# is left as it is (it holds a whole run).
case "${BENCH_ONLY:-}" in
  processes|timers)
    "bench_${BENCH_ONLY}"
    [ -s "$failures" ] && exit 1
    exit 0
    ;;
esac

# ---- 1. engine -----------------------------------------------------------
mark "== engine, in-process (no network); generator and engine share the 2 cores"
mkdir -p "$data/engine"
"$build/bench/bench_engine" "$data/engine" "$mode" | tee -a "$out"
# The engine's own heap per queued job, SQLite's bounded page cache excluded.
"$build/bench/bench_engine" "$data/engine" memory 1000000 | tee -a "$out"
rm -rf "$data/engine"

# ---- 1b. REST lifecycle over HTTP/1.1 keep-alive (wrk) ----------------------
mark "== REST create + activate + complete with wrk, one job at a time per connection"
for d in full normal; do
  "$root/bench/wrk/run.sh" "$chuted" "$WRK_SECS" "$d" | tee -a "$out"
done

# ---- 2. throughput and latency, every broker -------------------------------
mark "== burn-down, lifecycle, open-loop latency: chute vs peers (payload 128 B, 127.0.0.1)"
for cfg in "${configs[@]}"; do
  be=$(peer_of "$cfg"); dir="$data/$cfg"; PORT=
  reps=$REPS
  bn=$BURN_N; ln=$LIFE_N
  # beanstalkd -f0 syncs every command: ~30x slower, so fewer and smaller runs.
  if [ "$cfg" = beanstalkd_sync ]; then reps=$SLOW_REPS; bn=$(( BURN_N / 4 )); ln=$(( LIFE_N / 4 )); fi
  mark "-- $cfg"
  start_broker "$cfg" "$dir"
  lg "$be" "$ADDR" burn name="${cfg}_burn_w1" n=$bn workers=1 batch=1000 reps=$reps
  lg "$be" "$ADDR" burn name="${cfg}_burn_w8" n=$bn workers=8 batch=1000 reps=$reps
  lg "$be" "$ADDR" lifecycle name="${cfg}_lifecycle_c1" n=$ln conns=1 batch=1000 reps=$reps
  lg "$be" "$ADDR" lifecycle name="${cfg}_lifecycle_c8" n=$ln conns=8 batch=1000 reps=$reps
  lg "$be" "$ADDR" rate name="${cfg}_lat" rates=1000,10000 secs=$RATE_SECS workers=2
  lg "$be" "$ADDR" search name="${cfg}_maxrate_p99_10ms" start=500 max=256000 \
    secs=$SEARCH_SECS workers=2
  if [ "$cfg" = chute_sync ]; then
    mark "-- the C client's job worker, chute durability full"
    "$build/bench/bench_worker" "$ADDR" "$WORKER_N" | tee -a "$out"
  fi
  stop_broker "$cfg" "$dir"
  rm -rf "$dir"
done

bench_processes
bench_timers

# ---- 3. depth and recovery ---------------------------------------------------
# Memory does not depend on the fsync policy: the relaxed configs fill faster.
# chuted's --max-jobs is off here: the figure is the depth, not the limit.
mark "== depth: $DEPTH_N queued jobs, restart after kill -9"
export CHUTE_MAX_JOBS=0
for cfg in chute_relaxed beanstalkd_relaxed redis_relaxed pg_relaxed; do
  be=$(peer_of "$cfg"); dir="$data/depth-$cfg"; PORT=
  mark "-- $cfg"
  start_broker "$cfg" "$dir"
  if [ "$be" = postgres ]; then
    lg "$be" "$ADDR" fill name="${cfg}_depth" n=$DEPTH_N
    port=${ADDR##*:}
    bytes=$(as_pg psql -h 127.0.0.1 -p "$port" -U postgres -Atc \
      "SELECT pg_total_relation_size('jobs')" postgres)
    echo "bench: ${cfg}_depth_disk_bytes_per_job $(( bytes / DEPTH_N - 128 )) B" | tee -a "$out"
  else
    lg "$be" "$ADDR" fill name="${cfg}_depth" n=$DEPTH_N pid="$PID"
  fi
  PORT=${ADDR##*:}
  t0=$(date +%s%N)
  stop_broker "$cfg" "$dir" kill
  start_broker "$cfg" "$dir"
  lg "$be" "$ADDR" probe name="${cfg}_depth" samples=200
  t1=$(date +%s%N)
  echo "bench: ${cfg}_depth_restart $(( (t1 - t0) / 1000000 )) ms" | tee -a "$out"
  if [ "$be" != postgres ]; then
    echo "bench: ${cfg}_depth_rss_after_restart_mb $(( $(grep VmRSS /proc/$PID/status | awk '{print $2}') / 1024 )) MiB" | tee -a "$out"
  fi
  stop_broker "$cfg" "$dir"
  PORT=
  rm -rf "$dir"
done
unset CHUTE_MAX_JOBS

# ---- 4. idle ---------------------------------------------------------------
mark "== idle: $IDLE_CONNS connected workers long polling an empty queue, ${IDLE_SECS} s"
for cfg in chute_relaxed beanstalkd_relaxed redis_relaxed pg_relaxed; do
  be=$(peer_of "$cfg"); dir="$data/idle-$cfg"; PORT=
  start_broker "$cfg" "$dir"
  lg "$be" "$ADDR" idle name="${cfg}_idle_cpu" conns=$IDLE_CONNS secs=$IDLE_SECS pid="$PID"
  stop_broker "$cfg" "$dir"
  rm -rf "$dir"
done

# ---- 5. one hostile connection ----------------------------------------------------
# bomb: the bomber writes 64 header blocks a second (1 MB/s, what took a whole
# core before the limits), one connection at a time, connecting again when
# chuted ends one; bomb_flat: the same as fast as chuted reads.
mark "== one hostile gRPC connection: HPACK indexed-header bomb vs a CreateJob client (chute durability full)"
dir="$data/bomb"; PORT=
start_broker chute_sync "$dir"
"$build/bench/bench_bomb" "$ADDR" "$PID" name=bomb secs=$BOMB_SECS idle=$BOMB_IDLE rate=64 \
  | tee -a "$out" || echo "bench: FAILED: bench_bomb rate=64" | tee -a "$failures" >&2
"$build/bench/bench_bomb" "$ADDR" "$PID" name=bomb_flat secs=$BOMB_FLAT_SECS idle=1 rate=0 \
  | tee -a "$out" || echo "bench: FAILED: bench_bomb rate=0" | tee -a "$failures" >&2
stop_broker chute_sync "$dir"
rm -rf "$dir"

# ---- the figures the gRPC gateway issue names ---------------------------------
alias_fig() { # NEW OLD
  local line; line=$(grep "^bench: $2 " "$out" | tail -1) || return 0
  echo "bench: $1 ${line#bench: $2 }" | tee -a "$out"
}
mark "== gRPC gateway figures (chute durability full)"
alias_fig grpc_lifecycle_conn1 chute_sync_lifecycle_c1
alias_fig grpc_lifecycle_conn8 chute_sync_lifecycle_c8
for q in p50 p99; do for r in 1k 10k; do
  alias_fig "grpc_stream_latency_${q}_${r}" "chute_sync_lat_${q}_${r}"
done; done

elapsed=$(( $(date +%s) - t_start ))
mark "== summary (generator and brokers share the $(nproc) cores; ${elapsed} s)"
target=bench; [ "$mode" = full ] && target=bench-full || true
cmd="make $target (scripts/bench.sh BUILD $mode)"
"$root/bench/summary.sh" "$out" "$mode" "$cmd" "$started" "$elapsed" "$results_md"
if [ -s "$failures" ]; then
  { echo; echo "## Runs that failed (their figures are missing above)"; echo
    sed 's/^bench: FAILED/-/' "$failures"; } >>"$results_md"
fi
echo "bench: results written to bench/results.md"
