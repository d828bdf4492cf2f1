#!/usr/bin/env bash
# Turns the `bench:` lines of one run into the summary table (stdout) and
# bench/results.md. Called by scripts/bench.sh.
#
#   bench/summary.sh FIGURES MODE COMMAND STARTED ELAPSED_S RESULTS_MD
set -euo pipefail
figs=$1 mode=$2 cmd=$3 started=$4 elapsed=$5 md=$6

# metric|label|unit|better (hi: more is better, lo: less is better)|classes
metrics='burn_w1|burn-down, 1 worker connection|jobs/s|hi|sync relaxed
burn_w8|burn-down, 8 worker connections|jobs/s|hi|sync relaxed
burn_w1_create|creation in batches of 1 000 (before the burn-down)|jobs/s|hi|sync relaxed
lifecycle_c1|create + take + complete, 1 connection|jobs/s|hi|sync relaxed
lifecycle_c8|create + take + complete, 8 connections|jobs/s|hi|sync relaxed
lat_p50_1k|open loop 1 000 jobs/s: p50 create->handler|us|lo|sync relaxed
lat_p99_1k|open loop 1 000 jobs/s: p99|us|lo|sync relaxed
lat_p999_1k|open loop 1 000 jobs/s: p99.9|us|lo|sync relaxed
lat_max_1k|open loop 1 000 jobs/s: max|us|lo|sync relaxed
lat_p50_10k|open loop 10 000 jobs/s: p50|us|lo|sync relaxed
lat_p99_10k|open loop 10 000 jobs/s: p99|us|lo|sync relaxed
lat_p999_10k|open loop 10 000 jobs/s: p99.9|us|lo|sync relaxed
lat_max_10k|open loop 10 000 jobs/s: max|us|lo|sync relaxed
maxrate_p99_10ms|highest rate with p99 < 10 ms|jobs/s|hi|sync relaxed
depth_fill|depth: fill rate|jobs/s|hi|relaxed
depth_bytes_per_job|depth: broker memory per queued job beyond its payload|B|lo|relaxed
depth_activate_p50|depth: activation latency p50 (1 job)|us|lo|relaxed
depth_activate_p99|depth: activation latency p99 (1 job)|us|lo|relaxed
depth_restart|depth: kill -9, restart, first job taken|ms|lo|relaxed
idle_cpu|idle: 1 000 long-polling workers, broker CPU|%cpu|lo|relaxed'

peers="beanstalkd redis pg"

val() { # CONFIG METRIC -> value or empty
  awk -v n="bench: $1_$2" 'index($0, n " ") == 1 { v = $(NF-1) } END { if (v != "") print v }' "$figs"
}

ratio() { # CHUTE PEER DIR -> chute's advantage, "2.3x" (above 1: chute is better)
  awk -v c="$1" -v p="$2" -v d="$3" 'BEGIN {
    if (c == "" || p == "" || c == "inf" || p == "inf") { print "-"; exit }
    if (d == "hi") r = (p > 0) ? c / p : 0; else r = (c > 0) ? p / c : 0
    if (r == 0) { print "-"; exit }
    printf "%.2fx\n", r }'
}

fmt() { [ -n "$1" ] && echo "$1" || echo "-"; }

table() { # CLASS
  local class=$1
  echo "| figure | unit | chute | beanstalkd | redis | postgres | vs beanstalkd | vs redis | vs postgres |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  while IFS='|' read -r m label unit dir classes; do
    case " $classes " in *" $class "*) ;; *) continue ;; esac
    local c b r p pn=""
    c=$(val "chute_$class" "$m"); b=$(val "beanstalkd_$class" "$m")
    r=$(val "redis_$class" "$m"); p=$(val "pg_$class" "$m")
    if [ "$m" = depth_bytes_per_job ] && [ -z "$p" ]; then
      p=$(val "pg_$class" depth_disk_bytes_per_job); [ -n "$p" ] && pn=" (disk)"
    fi
    [ -z "$c$b$r$p" ] && continue
    local rp; rp=$(ratio "$c" "$p" "$dir"); [ -n "$pn" ] && rp="-"
    echo "| $label | $unit | $(fmt "$c") | $(fmt "$b") | $(fmt "$r") | $(fmt "$p")$pn |" \
         "$(ratio "$c" "$b" "$dir") | $(ratio "$c" "$r" "$dir") | $rp |"
  done <<<"$metrics"
}

goal() { # TEXT OK(0/1) MEASURED
  if [ "$2" = 1 ]; then echo "- met: $1 ($3)"; else echo "- **not met**: $1 ($3)"; fi
}

ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && b != "" && a != "inf" && a + 0 >= b + 0) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a != "inf" && a + 0 < b + 0) }'; }
times() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print ""; else if (b + 0 == 0) print (a + 0 > 0 ? 1e9 : 0); else print a / b }'; }

goals() {
  for class in sync relaxed; do
    for m in burn_w8 maxrate_p99_10ms; do
      local c b p x y
      c=$(val "chute_$class" $m); b=$(val "beanstalkd_$class" $m); p=$(val "pg_$class" $m)
      x=$(times "$c" "$b"); y=$(times "$c" "$p")
      ge "$x" 2 && ok=1 || ok=0
      goal "$m ($class) at least 2x beanstalkd" $ok "chute $(fmt "$c"), beanstalkd $(fmt "$b"): $(printf '%.2f' "${x:-0}")x"
      ge "$y" 5 && ok=1 || ok=0
      goal "$m ($class) at least 5x postgres SKIP LOCKED" $ok "chute $(fmt "$c"), postgres $(fmt "$p"): $(printf '%.2f' "${y:-0}")x"
    done
  done
  local v
  v=$(val grpc_stream_latency p99_10k); v=${v:-$(val chute_sync lat_p99_10k)}
  lt "$v" 1000 && ok=1 || ok=0
  goal "creation-to-handler p99 under 1 ms at 10 000 jobs/s with streaming (durability full)" $ok "$(fmt "$v") us"
  v=$(val chute_relaxed lat_p99_10k)
  lt "$v" 1000 && ok=1 || ok=0
  goal "the same with durability normal" $ok "$(fmt "$v") us"
  v=$(val chute_relaxed depth_bytes_per_job)
  lt "$v" 200 && ok=1 || ok=0
  goal "under 200 B of broker memory per queued job beyond its payload" $ok "$(fmt "$v") B"
  v=$(val chute_relaxed idle_cpu)
  lt "$v" 1 && ok=1 || ok=0
  goal "idle CPU under 1 % with 1 000 long-polling workers" $ok "$(fmt "$v") %"
  local i d
  i=$(val bomb control_create_p50_idle); d=$(val bomb control_create_p50_during)
  v=$(times "$d" "$i")
  lt "$v" 2 && ok=1 || ok=0
  goal "CreateJob p50 while one connection runs the HPACK bomb within 2x of idle" $ok \
    "idle $(fmt "$i") ms, during $(fmt "$d") ms, chuted $(fmt "$(val bomb chuted_cpu_pct)") % CPU"
}

# Process instances (scripts/bench.sh section 2b), when the run has them.
processes() {
  local o g
  o=$(val process_order rate); g=$(val process_gateways rate)
  [ -z "$o$g" ] && return 0
  echo "## Process instances (chute durability full)"
  echo
  echo "Each instance is created with CreateProcessInstanceWithResult (at most 256 calls open, over 2"
  echo "connections) and answered when it completed; one C job worker per job type (16 handler"
  echo "threads, job streams) completes every job with one variable. Rate: instances completed per"
  echo "second, median of the rounds; latency: from sending the create to its result, median of the"
  echo "rounds' percentiles. Load generator, workers and broker share the cores."
  echo
  echo "| model | instances/s | p50 | p99 | max |"
  echo "|---|---:|---:|---:|---:|"
  local m label
  for m in order gateways; do
    case $m in
      order) label="getting-started order process (3 service tasks)" ;;
      gateways) label="exclusive choice + parallel fork/join (3-4 service tasks)" ;;
    esac
    [ -z "$(val process_$m rate)" ] && continue
    echo "| $label | $(fmt "$(val process_$m rate)") | $(fmt "$(val process_$m p50)") ms |" \
         "$(fmt "$(val process_$m p99)") ms | $(fmt "$(val process_$m max)") ms |"
  done
  echo
  ge "$o" 10000 && ok=1 || ok=0
  goal "10 000 order-process instances/s on this machine" $ok "$(fmt "$o") instances/s"
  echo
}

# Timer accuracy (scripts/bench.sh section 2c), when the run has it.
timers() {
  local p50 p99
  p50=$(val timer lateness_p50); p99=$(val timer lateness_p99)
  [ -z "$p50$p99" ] && return 0
  echo "## Timer accuracy (chute durability full)"
  echo
  echo "Rounds of 10 000 instances of start -> PT1S timer catch event -> end, created as fast as"
  echo "possible (CreateProcessInstance, 512 calls open over 2 connections; creation rate below),"
  echo "then read back with GetProcessInstance. Lateness per instance = endedAt - (startedAt + 1 s)"
  echo "of the timer event's element instance: when the engine fired the timer, against when it"
  echo "armed it plus its duration, both from the engine's clock in whole ms, before the firing's"
  echo "commit. p50, p99, p99.9: medians of the rounds; worst p99 and max: over all rounds."
  echo
  echo "| creation | p50 | p99 | p99.9 | worst round's p99 | max |"
  echo "|---:|---:|---:|---:|---:|---:|"
  echo "| $(fmt "$(val timer create_rate)") instances/s | $(fmt "$p50") ms | $(fmt "$p99") ms |" \
       "$(fmt "$(val timer lateness_p999)") ms | $(fmt "$(val timer lateness_p99_worst)") ms |" \
       "$(fmt "$(val timer lateness_max)") ms |"
  echo
  lt "$p99" 20 && ok=1 || ok=0
  goal "timer lateness p99 under 20 ms with 10 000 timers due within a fraction of a second" $ok "$(fmt "$p99") ms"
  echo
}

machine() {
  echo "- $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr); load generator and broker share the cores."
  echo "- Brokers: chute $(git -C "$(dirname "$0")/.." describe --always --dirty 2>/dev/null || echo '?'),"\
       "beanstalkd $(beanstalkd -v 2>&1 | awk '{print $2}'), redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'),"\
       "postgres $(ls /usr/lib/postgresql | sort -V | tail -1) (Debian packages)."
}

report() {
  echo "# Chute benchmark results"
  echo
  echo "Command: \`$cmd\`, mode **$mode**, started $started, took ${elapsed} s."
  echo
  machine
  echo "- Payload: 128 B JSON object per job (intended send time, sequence, padding). Batches: 1 000"
  echo "  jobs per create and per take (Chute: CreateJobs / ActivateJobs maxJobs 1000 + asynchronous"
  echo "  CompleteJob; beanstalkd: 1 000 pipelined put / reserve-with-timeout 0 / delete; Redis: LPUSH"
  echo "  of 1 000, 1 000 pipelined LMOVE and LREM; PostgreSQL: one INSERT of 1 000 rows + NOTIFY, an"
  echo "  UPDATE ... SKIP LOCKED LIMIT 1000 lease, one DELETE per batch). Open loop: 2 consumer"
  echo "  connections (Chute: job streams; the others take up to 100 per round trip, waiting with"
  echo "  reserve / BLMOVE / LISTEN when empty), producers batch whatever is due; latency from the"
  echo "  intended send time to handler start (no coordinated omission)."
  echo "- Durability, compared pairwise: **sync** = every acknowledged write fsynced (chute"
  echo "  \`--durability full\`, beanstalkd \`-f0\`, redis \`appendfsync always\`, postgres"
  echo "  \`synchronous_commit=on\`); **relaxed** = survives a broker crash, not a power loss (chute"
  echo "  \`normal\`, beanstalkd default \`-f50\`, redis \`everysec\`, postgres \`synchronous_commit=off\`)."
  echo "- Ratios are Chute's advantage measured in the same run: above 1x Chute is better (more"
  echo "  jobs/s, or less latency / memory / CPU). Throughput figures are medians of the repetitions"
  echo "  (fewer for beanstalkd -f0, whose fsync per command makes each run slow)."
  echo
  echo "## Durability sync"
  echo
  table sync
  echo
  echo "## Durability relaxed (also depth and idle)"
  echo
  table relaxed
  echo
  echo "Depth: $( [ "$mode" = short ] && echo '1 000 000' || echo '10 000 000') jobs queued; memory is VmRSS growth"
  echo "minus the 128 B payload (PostgreSQL: table + index size on disk instead, its memory is a fixed"
  echo "buffer pool). Restart: kill -9, start, until the first job is taken."
  echo
  echo "## Goals (issue 6)"
  echo
  goals
  echo
  processes
  timers
  echo "## Chute alone"
  echo
  echo "| figure | value |"
  echo "|---|---:|"
  grep '^bench: ' "$figs" | grep -vE '^bench: (chute|beanstalkd|redis|pg)_' \
    | awk '{ printf "| %s | %s %s |\n", $2, $3, $4 }'
  echo
  echo "## Every figure of the run"
  echo
  echo '```'
  cat "$figs"
  echo '```'
}

report >"$md.tmp"
mv "$md.tmp" "$md"
# The terminal gets the tables and the goals.
sed -n '/^## Durability sync/,/^## Every figure/p' "$md" | sed '$d'
