#!/usr/bin/env bash
# Instances that wait while chuted is SIGKILLed, then go on after a restart on
# the same data dir (and the same ports), over the REST API with curl:
#   - a PT2S timer that became due during a 3 s outage fires at once after the
#     restart, and once: the job after it is created exactly once;
#   - a message published with a time to live before the kill correlates
#     after the restart to an instance created after it, and to one instance
#     of its process only (checked again across a second kill); a message
#     published with no time to live is not kept;
#   - an instance waiting at a message catch event correlates after the
#     restart;
#   - a call activity whose child waits at a job: completing the child's job
#     after the restart completes the call activity and the parent;
#   - nothing fires twice: the element instances of every instance and the
#     jobs of every type are counted after the restart and again after a
#     second SIGKILL and restart.
# Every wait is bounded; the whole run takes about 6 s.
#
#   tests/daemon/restart_test.sh <path-to-chuted>
set -euo pipefail
chuted=${1:?usage: restart_test.sh <chuted>}
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "restart_test: $tool is not installed" >&2; exit 1; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/chute-restart.XXXXXX")
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# A failure is a line in $dir/failures, so that one inside $(...) counts too.
passed=0
: >"$dir/failures"
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*" | tee -a "$dir/failures" >&2; }
check() { # check WHAT GOT WANT
  if [ "$2" = "$3" ]; then ok; else fail "$1: got '$2', expected '$3'"; fi
}
now_ms() { date +%s%3N; }
iso_ms() { date -d "$1" +%s%3N; } # 2026-01-02T03:04:05.678Z -> epoch ms

# ---- chuted -------------------------------------------------------------------
grpc_listen=127.0.0.1:0 http_listen=127.0.0.1:0
runs=0
# start: starts chuted on $dir/data (the ports of the first run again after
# it) and waits until it is ready; sets pid, base and ready_ms.
start() {
  runs=$((runs + 1))
  local log=$dir/chuted.$runs.log
  "$chuted" --data-dir "$dir/data" --grpc-listen "$grpc_listen" --http-listen "$http_listen" \
    2>"$log" &
  pid=$!
  for _ in $(seq 400); do
    grep -q '^chuted: ready' "$log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.025
  done
  ready_ms=$(now_ms)
  grep -q '^chuted: ready' "$log" || { cat "$log" >&2; echo "restart_test: chuted did not start" >&2; exit 1; }
  http_listen=$(sed -n 's/^chuted: HTTP listening on \(.*\)$/\1/p' "$log")
  grpc_listen=$(sed -n 's/^chuted: gRPC listening on \(.*\)$/\1/p' "$log")
  base=http://$http_listen
}
# sigkill: kills chuted with SIGKILL, at once, while instances wait.
sigkill() {
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}

# api METHOD PATH [BODY]: the response body on stdout; a status of 400 or
# above is a failure of the test (printed, and the body is still returned).
api() {
  local args=(-s -X "$1" -o "$dir/body" -w '%{http_code}' --max-time 10)
  [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  local status
  status=$(curl "${args[@]}" "$base$2" || echo curl-error)
  case "$status" in 2??) ;; *) fail "$1 $2 ${3:-}: $status $(cat "$dir/body" 2>/dev/null)" ;; esac
  cat "$dir/body"
}
create() { # create PROCESS VARS -> processInstanceKey
  api POST /v2/process-instances "{\"processDefinitionId\":\"$1\",\"variables\":$2}" |
    jq -r .processInstanceKey
}
publish() { # publish NAME CORRELATION-KEY TTL-MS
  api POST /v2/messages/publication \
    "{\"name\":\"$1\",\"correlationKey\":\"$2\",\"timeToLive\":$3}" >/dev/null
}
state() { api GET "/v2/process-instances/$1" | jq -r .state; }
elements() { # elements PI: its element instances, one JSON object a line
  api POST /v2/element-instances/search \
    "{\"filter\":{\"processInstanceKey\":\"$1\"},\"page\":{\"limit\":100}}" | jq -c '.items[]'
}
# count PI ELEMENT-ID: how many element instances of ELEMENT-ID instance PI has had.
count() { elements "$1" | jq -s --arg id "$2" '[.[] | select(.elementId == $id)] | length'; }
# summary PI: "id:STATE" of each element instance, in activation order.
summary() { elements "$1" | jq -r '"\(.elementId):\(.state)"' | paste -sd' ' -; }
jobs_of() { # jobs_of TYPE: the keys of its jobs, one a line
  api GET "/v1/jobs?type=$1&size=100" | jq -r '.jobs[].key'
}
njobs() { jobs_of "$1" | grep -c . || true; }
# wait_job TYPE BOUND-MS: waits until TYPE has a job, up to BOUND-MS; prints
# the ms it took, or "none".
wait_job() {
  local t0 n
  t0=$(now_ms)
  while :; do
    n=$(njobs "$1")
    [ "$n" -gt 0 ] && { echo $(($(now_ms) - t0)); return; }
    [ $(($(now_ms) - t0)) -ge "$2" ] && { echo none; return; }
    sleep 0.02
  done
}
# work TYPE [VARS]: activates the jobs of TYPE and completes each; prints how many.
work() {
  local keys k n=0 vars=${2:-'{}'}
  keys=$(api POST /v2/jobs/activation "{\"type\":\"$1\",\"worker\":\"restart-test\",\"timeout\":60000,\"maxJobsToActivate\":10,\"requestTimeout\":-1}" |
    jq -r '.jobs[].jobKey')
  for k in $keys; do
    api POST "/v2/jobs/$k/completion" "{\"variables\":$vars}" >/dev/null
    n=$((n + 1))
  done
  echo "$n"
}
# wait_state PI STATE BOUND-MS: waits until instance PI is in STATE.
wait_state() {
  local t0 s
  t0=$(now_ms)
  while :; do
    s=$(state "$1")
    [ "$s" = "$2" ] && return 0
    [ $(($(now_ms) - t0)) -ge "$3" ] && { fail "instance $1 is $s after $3 ms, expected $2"; return 1; }
    sleep 0.02
  done
}

# ---- the models -----------------------------------------------------------------
N='xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'
task() { echo "<bpmn:serviceTask id=\"$1\"><bpmn:extensionElements><zeebe:taskDefinition type=\"$2\"/></bpmn:extensionElements></bpmn:serviceTask>"; }
flows() { # flows A B C ...: sequence flows A->B->C
  local i=0 prev=
  for el in "$@"; do
    [ -n "$prev" ] && echo "<bpmn:sequenceFlow id=\"f$i\" sourceRef=\"$prev\" targetRef=\"$el\"/>"
    prev=$el i=$((i + 1))
  done
}
model() { # model FILE PROCESS-ID BODY [DEFINITIONS-EXTRA]
  printf '%s' "<bpmn:definitions $N id=\"d-$2\">${4:-}<bpmn:process id=\"$2\" isExecutable=\"true\"><bpmn:startEvent id=\"s\"/>$3<bpmn:endEvent id=\"e\"/></bpmn:process></bpmn:definitions>" >"$dir/$1"
}
# A PT2S timer, then a job.
model timer.bpmn rst-timer \
  "<bpmn:intermediateCatchEvent id=\"wait\"><bpmn:timerEventDefinition><bpmn:timeDuration>PT2S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>$(task t rst-after-timer)$(flows s wait t e)"
# A message catch event for rst-paid by orderId, then a job.
model message.bpmn rst-message \
  "<bpmn:intermediateCatchEvent id=\"wait\"><bpmn:messageEventDefinition messageRef=\"m\"/></bpmn:intermediateCatchEvent>$(task t rst-after-message)$(flows s wait t e)" \
  '<bpmn:message id="m" name="rst-paid"><bpmn:extensionElements><zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>'
# A call activity whose child waits at a job.
model child.bpmn rst-child "$(task t rst-child-work)$(flows s t e)"
model parent.bpmn rst-parent \
  "<bpmn:callActivity id=\"call\"><bpmn:extensionElements><zeebe:calledElement processId=\"rst-child\"/></bpmn:extensionElements></bpmn:callActivity>$(task after rst-after-call)$(flows s call after e)"

# ---- before the kill ----------------------------------------------------------------
start
out=$(curl -s --max-time 10 -F "resources=@$dir/timer.bpmn" -F "resources=@$dir/message.bpmn" \
  -F "resources=@$dir/child.bpmn" -F "resources=@$dir/parent.bpmn" "$base/v2/deployments")
check "deployed processes" "$(jq '.deployments | length' <<<"$out")" 4
# Waits at its subscription through the outage.
w1=$(create rst-message '{"orderId":"w-1"}')
# Buffered for 60 s before any subscription exists; one not kept at all.
publish rst-paid b-1 60000
publish rst-paid z-1 0
# The child waits at its job.
parent=$(create rst-parent '{}')
child=$(api POST /v2/process-instances/search '{"filter":{"processDefinitionId":"rst-child"}}' |
  jq -r '.items[0].processInstanceKey')
check "the child's parent" "$(api GET "/v2/process-instances/$child" | jq -r .parentProcessInstanceKey)" "$parent"
check "the child's job before the kill" "$(njobs rst-child-work)" 1
check "the waiting instance before the kill" "$(summary "$w1")" "rst-message:ACTIVE s:COMPLETED wait:ACTIVE"
# The timer, due in 2 s; chuted is killed right after the create was answered.
timer=$(create rst-timer '{}')
created_ms=$(now_ms)
sigkill
killed_ms=$(now_ms)
sleep 3

# ---- after the restart ---------------------------------------------------------------
start
echo "restart_test: killed $((killed_ms - created_ms)) ms after the timer's instance was created; restarted after $((ready_ms - killed_ms)) ms"
# The timer was due during the outage: it fires at once.
took=$(wait_job rst-after-timer 3000)
echo "restart_test: the job after the timer appeared $took ms after chuted was ready again"
if [ "$took" = none ] || [ "$took" -gt 1000 ]; then fail "the overdue timer did not fire within 1 s of the restart ($took)"; else ok; fi
fired=$(elements "$timer" | jq -r 'select(.elementId == "wait") | .endDate')
fired_ms=$(iso_ms "$fired")
started=$(elements "$timer" | jq -r 'select(.elementId == "wait") | .startDate')
echo "restart_test: the timer was armed at $started, due 2 s later, fired at $fired (engine clock)"
if [ "$fired_ms" -ge "$killed_ms" ]; then ok; else fail "the timer fired at $fired, before the kill"; fi
# The message instance waiting through the outage correlates now.
publish rst-paid w-1 0
check "the waiting instance after its message" "$(summary "$w1")" \
  "rst-message:ACTIVE s:COMPLETED wait:COMPLETED t:ACTIVE"
# The buffered message reaches an instance created after the restart; the one
# published without a time to live does not.
b1=$(create rst-message '{"orderId":"b-1"}')
check "an instance meeting the buffered message" "$(summary "$b1")" \
  "rst-message:ACTIVE s:COMPLETED wait:COMPLETED t:ACTIVE"
z1=$(create rst-message '{"orderId":"z-1"}')
check "an instance after a message with no time to live" "$(summary "$z1")" \
  "rst-message:ACTIVE s:COMPLETED wait:ACTIVE"
# The child's job, done after the restart, completes the call activity.
check "the child's job after the restart" "$(njobs rst-child-work)" 1
check "child jobs completed" "$(work rst-child-work '{"fromChild":1}')" 1
wait_state "$child" COMPLETED 2000 && ok
check "the parent after its child" "$(summary "$parent")" \
  "rst-parent:ACTIVE s:COMPLETED call:COMPLETED after:ACTIVE"
# The timer's job, done: its instance completes.
check "timer jobs completed" "$(work rst-after-timer)" 1
wait_state "$timer" COMPLETED 2000 && ok

# ---- a second kill and restart: nothing fires again -------------------------------
sigkill
start
# A second instance with the buffered message's key: the message went to an
# instance of this process already (before this restart), so it waits.
b2=$(create rst-message '{"orderId":"b-1"}')
check "a second instance for the buffered message" "$(summary "$b2")" \
  "rst-message:ACTIVE s:COMPLETED wait:ACTIVE"
check "message jobs completed" "$(work rst-after-message)" 2
check "call jobs completed" "$(work rst-after-call)" 1
for k in "$w1" "$b1" "$parent"; do wait_state "$k" COMPLETED 2000 && ok; done
# Let any timer or message that would fire twice have its chance.
sleep 0.5
# Exactly one element instance per element, each completed, per instance.
check "the timer instance's elements" "$(summary "$timer")" \
  "rst-timer:COMPLETED s:COMPLETED wait:COMPLETED t:COMPLETED e:COMPLETED"
check "the timer fired once" "$(count "$timer" wait)" 1
check "the timer's job was created once" "$(count "$timer" t)" 1
check "the first message instance's elements" "$(summary "$w1")" \
  "rst-message:COMPLETED s:COMPLETED wait:COMPLETED t:COMPLETED e:COMPLETED"
check "the buffered message instance's elements" "$(summary "$b1")" \
  "rst-message:COMPLETED s:COMPLETED wait:COMPLETED t:COMPLETED e:COMPLETED"
check "the parent's elements" "$(summary "$parent")" \
  "rst-parent:COMPLETED s:COMPLETED call:COMPLETED after:COMPLETED e:COMPLETED"
check "the child's elements" "$(summary "$child")" \
  "rst-child:COMPLETED s:COMPLETED t:COMPLETED e:COMPLETED"
check "child instances" "$(api POST /v2/process-instances/search '{"filter":{"processDefinitionId":"rst-child"}}' | jq .page.totalItems)" 1
check "timer instances" "$(api POST /v2/process-instances/search '{"filter":{"processDefinitionId":"rst-timer"}}' | jq .page.totalItems)" 1
check "the child's job variables reached the parent" \
  "$(api POST /v2/variables/search "{\"filter\":{\"processInstanceKey\":\"$parent\",\"name\":\"fromChild\"}}" | jq -r '.items[0].value')" 1
for t in rst-after-timer rst-after-message rst-after-call rst-child-work; do
  check "jobs of $t left" "$(njobs "$t")" 0
done
# Still waiting: z-1 and the second b-1, with no job.
check "z-1 still waits" "$(summary "$z1")" "rst-message:ACTIVE s:COMPLETED wait:ACTIVE"
check "b-1 again still waits" "$(summary "$b2")" "rst-message:ACTIVE s:COMPLETED wait:ACTIVE"
# The last run ends with SIGTERM: a clean exit (under ASan, no leak either
# from what recovery rebuilt), and no sanitizer report in any run.
kill -TERM "$pid"
rc=0
for _ in $(seq 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.025; done
kill -0 "$pid" 2>/dev/null && { fail "chuted did not stop within 10 s of SIGTERM"; kill -KILL "$pid"; }
wait "$pid" || rc=$?
pid=
check "chuted's exit status after SIGTERM" "$rc" 0
check "sanitizer reports" "$(cat "$dir"/chuted.*.log | grep -c -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'runtime error:' || true)" 0
echo "restart_test: 3 runs of chuted, 2 SIGKILLs"
failed=$(wc -l <"$dir/failures")
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
