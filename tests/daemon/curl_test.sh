#!/usr/bin/env bash
# The HTTP API end to end with curl: every endpoint and every error against a
# real chuted (ephemeral ports, temp data dir), checking after each error that
# the daemon still serves; raw-socket cases for malformed HTTP, oversized
# headers and pipelining; then docs/openapi.yaml against what the server did:
# every documented path and method answered something other than 404/405, and
# every documented response status was seen in this run.
#
#   tests/daemon/curl_test.sh <path-to-chuted> <path-to-docs/openapi.yaml>
#
# Needs curl, jq and python3 with PyYAML (Debian: curl jq python3-yaml).
set -euo pipefail

chuted=${1:?usage: curl_test.sh <chuted> <openapi.yaml>}
openapi=${2:?usage: curl_test.sh <chuted> <openapi.yaml>}
# Debian's python3 has python3-yaml; another python3 earlier on PATH may not.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
for tool in curl jq "$PY"; do
  command -v "$tool" >/dev/null || { echo "curl_test: $tool is not installed" >&2; exit 1; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/chute-http-test.XXXXXX")
seen=$dir/seen
: >"$seen"
pid=
pids=() # every chuted started here
cleanup() {
  for p in ${pids[@]+"${pids[@]}"}; do
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  rm -rf "$dir"
}
trap cleanup EXIT

fails=0
checks=0
fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}

# start_chuted NAME [ARGS...]: starts a chuted with its data in $dir/NAME and
# its log in $dir/NAME.log; sets pid, port, base and log to it.
start_chuted() {
  local name=$1
  shift
  log=$dir/$name.log
  mkdir -p "$dir/$name"
  "$chuted" --data-dir "$dir/$name" --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 "$@" \
    2>"$dir/$name.log" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    grep -q '^chuted: HTTP listening on 127.0.0.1:' "$dir/$name.log" && break
    sleep 0.05
  done
  port=$(sed -n 's/^chuted: HTTP listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/$name.log")
  [ -n "$port" ] || { cat "$dir/$name.log" >&2; echo "curl_test: chuted did not print its HTTP port" >&2; exit 1; }
  base=http://127.0.0.1:$port
  echo "curl_test: chuted $name pid $pid, HTTP on $port"
}

start_chuted data

# The daemon is alive and answers /healthz.
alive() {
  kill -0 "$pid" 2>/dev/null || { fail "chuted died after: $*"; tail -20 "$log" >&2; exit 1; }
  local s
  s=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base/healthz" || true)
  [ "$s" = 200 ] || fail "chuted does not serve /healthz after: $* (got $s)"
}

# expect STATUS METHOD TEMPLATE PATH [BODY]: runs the request, records it for
# the OpenAPI check, leaves the body in $out and the headers in $hdrs.
out=
hdrs=
expect() {
  local want=$1 method=$2 template=$3 path=$4
  local args=(-s -X "$method" -D "$dir/h" -o "$dir/b" -w '%{http_code}' --max-time 20)
  if [ $# -ge 5 ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$5")
  fi
  local got
  got=$(curl "${args[@]}" "$base$path" || echo "curl-error")
  out=$(cat "$dir/b" 2>/dev/null || true)
  hdrs=$(cat "$dir/h" 2>/dev/null || true)
  checks=$((checks + 1))
  echo "$method $template $got" >>"$seen"
  if [ "$got" != "$want" ]; then
    fail "$method $path: expected $want, got $got: $out"
  elif [ "$want" -ge 400 ]; then
    # Every error is problem+json with the status inside.
    grep -qi '^content-type: application/problem+json' <<<"$hdrs" ||
      fail "$method $path: $want without application/problem+json"
    [ "$(jq -r .status <<<"$out")" = "$want" ] || fail "$method $path: problem status is not $want: $out"
    for f in type title detail instance; do
      [ "$(jq -r "has(\"$f\")" <<<"$out")" = true ] || fail "$method $path: problem has no $f: $out"
    done
  fi
  if [ "$want" -ge 400 ]; then alive "$method $path"; fi
  return 0
}

json_is() { # json_is JQ-EXPR WANT WHAT
  local v
  v=$(jq -r "$1" <<<"$out")
  [ "$v" = "$2" ] || fail "$3: $1 is '$v', expected '$2' in $out"
}

T=curl-$$
# ---- operations ---------------------------------------------------------------
expect 200 GET /healthz /healthz
json_is .status UP healthz
expect 200 GET /readyz /readyz
json_is .status READY readyz
expect 200 GET /v2/topology /v2/topology
json_is '.brokers[0].partitions[0].partitionId' 1 topology
expect 200 GET /metrics /metrics
grep -q '^# TYPE chute_jobs gauge' <<<"$out" || fail "/metrics has no chute_jobs family"
expect 405 POST /metrics /metrics '{}'
grep -qi '^allow: GET' <<<"$hdrs" || fail "405 without Allow: $hdrs"
expect 404 GET /nope /nope
expect 404 GET /v2/jobs/1/nothing /v2/jobs/1/nothing

# ---- create, read, list, cancel (Chute's own) --------------------------------------
expect 201 POST /v1/jobs /v1/jobs "{\"type\":\"$T\",\"variables\":{\"n\":1},\"customHeaders\":{\"h\":\"v\"},\"retries\":2}"
k1=$(jq -r .key <<<"$out")
expect 201 POST /v1/jobs /v1/jobs "[{\"type\":\"$T\"},{\"type\":\"$T\",\"priority\":5},{\"type\":\"$T-b\"}]"
[ "$(jq -r '.keys | length' <<<"$out")" = 3 ] || fail "array create: $out"
k2=$(jq -r '.keys[0]' <<<"$out")
k3=$(jq -r '.keys[1]' <<<"$out")
k4=$(jq -r '.keys[2]' <<<"$out")
expect 201 POST /v1/jobs /v1/jobs '[]'
json_is '.keys | length' 0 'empty array create'
expect 400 POST /v1/jobs /v1/jobs '{"type":'
expect 400 POST /v1/jobs /v1/jobs '{"type":"x","variables":[1,2]}'
json_is .title INVALID_ARGUMENT 'non-object variables'
expect 400 POST /v1/jobs /v1/jobs '{"type":"x","customHeaders":{"a":1}}'
expect 400 POST /v1/jobs /v1/jobs "[{\"type\":\"$T\"},{\"type\":\"\"}]"
expect 400 POST /v1/jobs /v1/jobs '"just a string"'
expect 400 POST /v1/jobs /v1/jobs '{"type":"x","retries":"many"}'
# 413: the default limit is 4 MiB (= --max-message-size); refused from Content-Length.
head -c $((4 * 1024 * 1024 + 100)) /dev/zero | tr '\0' ' ' >"$dir/big"
expect 413 POST /v1/jobs /v1/jobs "@$dir/big"
# The array was all or nothing: no job of the failed batch exists.
expect 200 GET /v1/jobs "/v1/jobs?type=$T"
json_is '.jobs | length' 3 'jobs of the type after a failed batch'
json_is '.jobs[0].key' "$k3" 'newest first'
expect 200 GET /v1/jobs/{key} "/v1/jobs/$k1"
json_is .state ACTIVATABLE 'get job'
json_is .variables.n 1 'get job variables'
json_is .customHeaders.h v 'get job headers'
json_is .retries 2 'get job retries'
expect 404 GET /v1/jobs/{key} /v1/jobs/2251799813999999
expect 400 GET /v1/jobs/{key} /v1/jobs/abc
expect 405 PUT /v1/jobs/{key} "/v1/jobs/$k1" '{}'
expect 200 GET /v1/jobs "/v1/jobs?type=$T&state=ACTIVATABLE&page=1&size=2"
json_is '.jobs | length' 2 'page 1 of 2'
expect 200 GET /v1/jobs "/v1/jobs?type=$T&state=activatable&page=2&size=2"
json_is '.jobs | length' 1 'page 2 of 2'
expect 400 GET /v1/jobs '/v1/jobs?size=5000'
expect 400 GET /v1/jobs '/v1/jobs?state=SLEEPING'
expect 405 PUT /v1/jobs /v1/jobs '{}'
grep -qi '^allow: GET, HEAD, POST' <<<"$hdrs" || fail "405 Allow header: $hdrs"
expect 204 DELETE /v1/jobs/{key} "/v1/jobs/$k4"
expect 404 DELETE /v1/jobs/{key} "/v1/jobs/$k4"

# ---- activation (v2) -------------------------------------------------------------------
expect 200 POST /v2/jobs/activation /v2/jobs/activation \
  "{\"type\":\"$T\",\"worker\":\"curl\",\"timeout\":60000,\"maxJobsToActivate\":10,\"requestTimeout\":-1}"
json_is '.jobs | length' 3 'activation'
json_is '.jobs[0].jobKey' "$k3" 'priority first'
json_is '.jobs[0].tenantId' '<default>' 'tenantId'
json_is '.jobs[1].variables.n // .jobs[2].variables.n' 1 'variables object'
[ "$(jq -r '.jobs[0].jobKey | type' <<<"$out")" = string ] || fail "jobKey is not a string"
expect 400 POST /v2/jobs/activation /v2/jobs/activation '{"type":"x","timeout":0,"maxJobsToActivate":1}'
expect 400 POST /v2/jobs/activation /v2/jobs/activation '{"type":"","timeout":1000,"maxJobsToActivate":1}'
expect 400 POST /v2/jobs/activation /v2/jobs/activation '{"type":"x","timeout":1000,"maxJobsToActivate":1,"tenantIds":["acme"]}'
expect 400 POST /v2/jobs/activation /v2/jobs/activation 'not json'
expect 400 POST /v2/jobs/activation /v2/jobs/activation '[1]'
expect 405 GET /v2/jobs/activation /v2/jobs/activation
# A long poll that finds nothing answers [] after its requestTimeout.
t0=$(date +%s%N)
expect 200 POST /v2/jobs/activation /v2/jobs/activation \
  "{\"type\":\"$T-none\",\"worker\":\"curl\",\"timeout\":1000,\"maxJobsToActivate\":1,\"requestTimeout\":300}"
ms=$((($(date +%s%N) - t0) / 1000000))
json_is '.jobs | length' 0 'empty long poll'
[ "$ms" -ge 250 ] || fail "the long poll answered after $ms ms, before its 300 ms requestTimeout"
# A long poll is answered the moment a job arrives.
(sleep 0.3; curl -s -X POST "$base/v1/jobs" --data-binary "{\"type\":\"$T-lp\"}" >/dev/null) &
creator=$!
t0=$(date +%s%N)
expect 200 POST /v2/jobs/activation /v2/jobs/activation \
  "{\"type\":\"$T-lp\",\"worker\":\"curl\",\"timeout\":60000,\"maxJobsToActivate\":5,\"requestTimeout\":10000}"
ms=$((($(date +%s%N) - t0) / 1000000))
wait "$creator"
json_is '.jobs | length' 1 'long poll served by a new job'
[ "$ms" -lt 5000 ] || fail "the long poll took $ms ms to see a new job"
klp=$(jq -r '.jobs[0].jobKey' <<<"$out")

# ---- completion -----------------------------------------------------------------------
expect 204 POST /v2/jobs/{jobKey}/completion "/v2/jobs/$k1/completion" '{"variables":{"out":"done"}}'
expect 200 GET /v1/jobs/{key} "/v1/jobs/$k1"
json_is .state COMPLETED 'completed job is retained'
json_is .variables.out done 'result variables merged'
expect 404 POST /v2/jobs/{jobKey}/completion "/v2/jobs/$k1/completion" '{}'
json_is .title NOT_FOUND 'complete twice'
expect 400 POST /v2/jobs/{jobKey}/completion "/v2/jobs/$k2/completion" '{"variables":[1]}'
expect 400 POST /v2/jobs/{jobKey}/completion "/v2/jobs/$k2/completion" '{"variables":'
expect 400 POST /v2/jobs/{jobKey}/completion /v2/jobs/12x/completion '{}'
expect 405 GET /v2/jobs/{jobKey}/completion "/v2/jobs/$k2/completion"
# An empty body is an empty completion.
expect 204 POST /v2/jobs/{jobKey}/completion "/v2/jobs/$klp/completion"

# ---- failure ----------------------------------------------------------------------------
expect 204 POST /v2/jobs/{jobKey}/failure "/v2/jobs/$k2/failure" '{"retries":0,"errorMessage":"boom"}'
expect 200 GET /v1/jobs/{key} "/v1/jobs/$k2"
json_is .state INCIDENT 'fail with no retries'
json_is .errorMessage boom 'error message'
inc=$(jq -r .incidentKey <<<"$out")
expect 409 POST /v2/jobs/{jobKey}/failure "/v2/jobs/$k2/failure" '{"retries":1}'
json_is .title INVALID_STATE 'fail an incident job'
expect 409 POST /v2/jobs/{jobKey}/completion "/v2/jobs/$k2/completion" '{}'
expect 404 POST /v2/jobs/{jobKey}/failure /v2/jobs/2251799813999999/failure '{}'
expect 400 POST /v2/jobs/{jobKey}/failure "/v2/jobs/$k3/failure" '{"retries":"x"}'
expect 400 POST /v2/jobs/{jobKey}/failure "/v2/jobs/$k3/failure" '{"variables":"text"}'

# ---- incidents and resolution ------------------------------------------------------------
expect 200 GET /v1/incidents "/v1/incidents?type=$T"
json_is '.incidents | length' 1 'incidents'
json_is '.incidents[0].incidentKey' "$inc" 'incident key'
json_is '.incidents[0].type' JOB_NO_RETRIES 'incident type'
expect 400 GET /v1/incidents '/v1/incidents?limit=0'
expect 409 POST /v2/incidents/{incidentKey}/resolution "/v2/incidents/$inc/resolution"
json_is .title INVALID_STATE 'resolve with no retries'
expect 400 POST /v2/incidents/{incidentKey}/resolution /v2/incidents/-1/resolution
expect 404 POST /v2/incidents/{incidentKey}/resolution /v2/incidents/2251799813999999/resolution

# ---- update (PATCH) ------------------------------------------------------------------------
expect 204 PATCH /v2/jobs/{jobKey} "/v2/jobs/$k2" '{"changeset":{"retries":3}}'
expect 204 POST /v2/incidents/{incidentKey}/resolution "/v2/incidents/$inc/resolution"
expect 404 POST /v2/incidents/{incidentKey}/resolution "/v2/incidents/$inc/resolution"
expect 200 GET /v1/jobs/{key} "/v1/jobs/$k2"
json_is .state ACTIVATABLE 'resolved job'
json_is .retries 3 'updated retries'
expect 409 PATCH /v2/jobs/{jobKey} "/v2/jobs/$k2" '{"changeset":{"timeout":5000}}'
expect 400 PATCH /v2/jobs/{jobKey} "/v2/jobs/$k2" '{"changeset":{"retries":0}}'
expect 400 PATCH /v2/jobs/{jobKey} "/v2/jobs/$k2" '{"changeset":{}}'
expect 400 PATCH /v2/jobs/{jobKey} "/v2/jobs/$k2" '{"retries":2}'
expect 404 PATCH /v2/jobs/{jobKey} /v2/jobs/2251799813999999 '{"changeset":{"retries":2}}'
expect 405 DELETE /v2/jobs/{jobKey} "/v2/jobs/$k2"
# Activate, then move its lease with timeout (and retries in the same changeset).
expect 200 POST /v2/jobs/activation /v2/jobs/activation \
  "{\"type\":\"$T\",\"worker\":\"curl\",\"timeout\":60000,\"maxJobsToActivate\":1,\"requestTimeout\":-1}"
json_is '.jobs[0].jobKey' "$k2" 'reactivated'
d0=$(jq -r '.jobs[0].deadline' <<<"$out")
expect 204 PATCH /v2/jobs/{jobKey} "/v2/jobs/$k2" '{"changeset":{"timeout":600000,"retries":4}}'
expect 200 GET /v1/jobs/{key} "/v1/jobs/$k2"
[ "$(jq -r .deadline <<<"$out")" -gt "$d0" ] || fail "timeout did not move the deadline: $out"
json_is .retries 4 'retries with timeout'
# All or nothing: a changeset whose retries are rejected keeps the old lease.
d1=$(jq -r .deadline <<<"$out")
expect 400 PATCH /v2/jobs/{jobKey} "/v2/jobs/$k2" '{"changeset":{"timeout":1000,"retries":0}}'
expect 200 GET /v1/jobs/{key} "/v1/jobs/$k2"
d2=$(jq -r .deadline <<<"$out")
[ $((d1 - d2)) -lt 2000 ] && [ $((d2 - d1)) -lt 2000 ] || fail "a rejected changeset moved the lease: $d1 -> $d2"

# ---- error (v2) -------------------------------------------------------------------------
expect 204 POST /v2/jobs/{jobKey}/error "/v2/jobs/$k2/error" '{"errorCode":"E42","errorMessage":"bad"}'
expect 200 GET /v1/jobs/{key} "/v1/jobs/$k2"
json_is .state ERROR_THROWN 'thrown error'
json_is .errorCode E42 'error code'
json_is .incidentType UNHANDLED_ERROR_EVENT 'incident type of a thrown error'
expect 409 POST /v2/jobs/{jobKey}/error "/v2/jobs/$k2/error" '{"errorCode":"E43"}'
expect 404 POST /v2/jobs/{jobKey}/error /v2/jobs/2251799813999999/error '{"errorCode":"E"}'
expect 400 POST /v2/jobs/{jobKey}/error "/v2/jobs/$k3/error" '{"errorMessage":"no code"}'
expect 400 POST /v2/jobs/{jobKey}/error "/v2/jobs/$k3/error" '{"errorCode":"E","variables":5}'

# ---- durations past the maximum (overflowing deadlines) ------------------------------
expect 400 POST /v1/jobs /v1/jobs "{\"type\":\"$T-d\",\"delay\":9223372036854775807}"
grep -q 'delay of at most 315360000000 ms' <<<"$out" || fail "huge delay: $out"
expect 400 POST /v2/jobs/activation /v2/jobs/activation "{\"type\":\"$T\",\"maxJobsToActivate\":1,\"timeout\":9223372036854775807,\"requestTimeout\":-1}"
grep -q 'timeout of at most 315360000000 ms' <<<"$out" || fail "huge lease: $out"
expect 400 POST /v2/jobs/activation /v2/jobs/activation "{\"type\":\"$T\",\"maxJobsToActivate\":1,\"timeout\":1000,\"requestTimeout\":9223372036854775807}"
grep -q 'requestTimeout of at most 315360000000 ms' <<<"$out" || fail "huge long poll: $out"

# ---- deployments (multipart) and process definition XML -----------------------------------
corpus=$(cd "$(dirname "$0")/../../../shared/bpmn-corpus" 2>/dev/null && pwd || true)
[ -n "$corpus" ] && [ -f "$corpus/order-process.bpmn" ] || { echo "curl_test: ../shared/bpmn-corpus is missing" >&2; exit 1; }
deploy() { # deploy WANT FILE...: multipart POST /v2/deployments
  local want=$1; shift
  local args=(-s -D "$dir/h" -o "$dir/b" -w '%{http_code}' --max-time 20)
  for f in "$@"; do args+=(-F "resources=@$f"); done
  local got
  got=$(curl "${args[@]}" "$base/v2/deployments" || echo curl-error)
  out=$(cat "$dir/b"); hdrs=$(cat "$dir/h")
  checks=$((checks + 1))
  echo "POST /v2/deployments $got" >>"$seen"
  [ "$got" = "$want" ] || fail "POST /v2/deployments $*: expected $want, got $got: $out"
  alive "deploy $*"
}
deploy 200 "$corpus/order-process.bpmn"
json_is '.deployments[0].processDefinition.processDefinitionId' process1 'deploy'
json_is '.deployments[0].processDefinition.processDefinitionVersion' 1 'deploy version'
json_is '.deployments[0].processDefinition.resourceName' order-process.bpmn 'deploy resource name'
pdk=$(jq -r '.deployments[0].processDefinition.processDefinitionKey' <<<"$out")
deploy 200 "$corpus/order-process.bpmn"
json_is '.deployments[0].processDefinition.processDefinitionVersion' 1 'unchanged redeploy keeps its version'
json_is '.deployments[0].processDefinition.processDefinitionKey' "$pdk" 'unchanged redeploy keeps its key'
# A model with an element Chute does not run (an ad-hoc sub-process).
cat >"$dir/adhoc.bpmn" <<'XML'
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"><bpmn:process id="adhoc" isExecutable="true"><bpmn:startEvent id="s"/><bpmn:adHocSubProcess id="FreeFormWork"/></bpmn:process></bpmn:definitions>
XML
deploy 400 "$dir/adhoc.bpmn"
grep -q "Expected to deploy new resources, but encountered the following errors" <<<"$out" || fail "refused deploy: $out"
grep -q "FreeFormWork" <<<"$out" || fail "refused deploy names no element: $out"
deploy 400 "$corpus/order-process.bpmn" "$dir/adhoc.bpmn"
expect 404 GET /v2/process-definitions/{processDefinitionKey}/xml /v2/process-definitions/1/xml
expect 400 GET /v2/process-definitions/{processDefinitionKey}/xml /v2/process-definitions/abc/xml
expect 200 GET /v2/process-definitions/{processDefinitionKey}/xml "/v2/process-definitions/$pdk/xml"
cmp -s <(printf '%s' "$out") <(cat "$corpus/order-process.bpmn") || [ "$out" = "$(cat "$corpus/order-process.bpmn")" ] || fail "the XML served is not the file deployed"
expect 400 POST /v2/deployments /v2/deployments '{"resources":[]}'
grep -q 'multipart/form-data' <<<"$out" || fail "JSON deploy body: $out"

# ---- decisions: deployed with a process, evaluated ------------------------------------------
[ -f "$corpus/plot-destination.dmn" ] || { echo "curl_test: $corpus/plot-destination.dmn is missing" >&2; exit 1; }
deploy 200 "$corpus/rocket-launch.bpmn" "$corpus/plot-destination.dmn"
json_is '.deployments | length' 3 'process, decision and graph'
json_is '.deployments[0].processDefinition.processDefinitionId' rocket-launch 'deploy rocket'
json_is '.deployments[1].decisionDefinition.decisionDefinitionId' plot-destination 'deployed decision'
json_is '.deployments[1].decisionDefinition.name' 'Decision 1' 'deployed decision name'
json_is '.deployments[1].decisionDefinition.version' 1 'deployed decision version'
json_is '.deployments[1].decisionDefinition.decisionRequirementsId' plot-destination-decision 'deployed decision graph'
json_is '.deployments[2].decisionRequirements.decisionRequirementsName' 'Plot destination' 'deployed graph name'
json_is '.deployments[2].decisionRequirements.resourceName' plot-destination.dmn 'deployed graph resource'
json_is '.deployments[2].decisionRequirements.decisionRequirementsKey' "$(jq -r '.deployments[1].decisionDefinition.decisionRequirementsKey' <<<"$out")" 'one graph key'
ddk=$(jq -r '.deployments[1].decisionDefinition.decisionDefinitionKey' <<<"$out")
DE=/v2/decision-definitions/evaluation
expect 200 POST $DE $DE '{"decisionDefinitionId":"plot-destination","variables":{"fuelLevel":80}}'
json_is .output '"Mars"' 'evaluation by id'
json_is .decisionDefinitionKey "$ddk" 'evaluation by id: the key'
json_is .failedDecisionDefinitionId '' 'evaluation by id: no failure'
json_is '.evaluatedDecisions[0].matchedRules[0].ruleIndex' 2 'evaluation: the rule that matched'
json_is '.evaluatedDecisions[0].evaluatedInputs[0].inputValue' 80 'evaluation: the input'
[ "$(jq -r .decisionEvaluationKey <<<"$out")" = "$(jq -r .decisionInstanceKey <<<"$out")" ] || fail "evaluation keys differ: $out"
expect 200 POST $DE $DE "{\"decisionDefinitionKey\":\"$ddk\",\"variables\":{\"fuelLevel\":30}}"
json_is .output '"Earth"' 'evaluation by key'
expect 404 POST $DE $DE '{"decisionDefinitionId":"no-such-decision"}'
json_is .detail "Expected to evaluate decision 'no-such-decision', but no decision found for id 'no-such-decision'" 'unknown decision'
expect 400 POST $DE $DE "{\"decisionDefinitionId\":\"plot-destination\",\"decisionDefinitionKey\":\"$ddk\"}"
expect 400 POST $DE $DE '{"decisionDefinitionId":"plot-destination","variables":[1]}'
expect 400 POST $DE $DE '{}'

# ---- process instances ------------------------------------------------------------------------
# Three small models: one waits for a job ($P-pay), one waits for a job nobody
# takes ($P-hold), one runs straight to its end.
P=curl-$$
bpmn() { # bpmn ID JOBTYPE: a start, a service task of JOBTYPE (none when empty), an end
  local task='' flow="<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"e\"/>"
  if [ -n "$2" ]; then
    task="<serviceTask id=\"t\" name=\"Work\"><extensionElements><zeebe:taskDefinition type=\"$2\"/></extensionElements></serviceTask>"
    flow="<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"t\"/><sequenceFlow id=\"f2\" sourceRef=\"t\" targetRef=\"e\"/>"
  fi
  printf '%s' "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\"><process id=\"$1\" isExecutable=\"true\"><startEvent id=\"s\"/>$task$flow<endEvent id=\"e\"/></process></definitions>" >"$dir/$1.bpmn"
}
bpmn "$P-pay" "$P-pay"
bpmn "$P-hold" "$P-hold"
bpmn "$P-straight" ""
deploy 200 "$dir/$P-pay.bpmn" "$dir/$P-hold.bpmn" "$dir/$P-straight.bpmn"
pdk_pay=$(jq -r '.deployments[0].processDefinition.processDefinitionKey' <<<"$out")
# work TYPE VARS: activates every job of TYPE and completes them with VARS.
work() {
  local jobs k
  jobs=$(curl -s -X POST "$base/v2/jobs/activation" --data-binary \
    "{\"type\":\"$1\",\"worker\":\"curl\",\"timeout\":60000,\"maxJobsToActivate\":10,\"requestTimeout\":-1}")
  for k in $(jq -r '.jobs[].jobKey' <<<"$jobs"); do
    curl -s -X POST "$base/v2/jobs/$k/completion" --data-binary "{\"variables\":$2}" >/dev/null
  done
}
PI=/v2/process-instances
# Awaited, ended at once: the root variables come back.
expect 200 POST $PI $PI "{\"processDefinitionId\":\"$P-straight\",\"variables\":{\"x\":1,\"y\":2},\"awaitCompletion\":true,\"fetchVariables\":[\"x\"]}"
json_is .variables.x 1 'awaited straight instance'
json_is '.variables.y // "none"' none 'fetchVariables'
# Awaited until a worker completes its job.
(sleep 0.3; work "$P-pay" '{"paid":true}') &
worker=$!
expect 200 POST $PI $PI "{\"processDefinitionId\":\"$P-pay\",\"variables\":{\"a\":1},\"awaitCompletion\":true,\"requestTimeout\":10000}"
wait "$worker"
json_is .variables.paid true 'awaited until its job completed'
json_is .variables.a 1 'awaited root variables'
# Awaited past requestTimeout: 504, and the instance runs on.
expect 504 POST $PI $PI "{\"processDefinitionId\":\"$P-hold\",\"awaitCompletion\":true,\"requestTimeout\":300}"
json_is .title DEADLINE_EXCEEDED 'await timeout'
grep -q 'keeps running' <<<"$out" || fail "await timeout detail: $out"
# Awaited and cancelled meanwhile: 409.
(sleep 0.3
 k=$(curl -s -X POST "$base$PI/search" --data-binary "{\"filter\":{\"processDefinitionId\":\"$P-hold\",\"state\":\"ACTIVE\"}}" | jq -r '.items[0].processInstanceKey')
 curl -s -X POST "$base$PI/$k/cancellation" >/dev/null) &
canceller=$!
expect 409 POST $PI $PI "{\"processDefinitionId\":\"$P-hold\",\"awaitCompletion\":true,\"requestTimeout\":10000}"
wait "$canceller"
grep -q 'terminated' <<<"$out" || fail "awaited and cancelled: $out"
# Not awaited: the keys, as strings, and {} for variables.
expect 200 POST $PI $PI "{\"processDefinitionId\":\"$P-pay\",\"processDefinitionVersion\":-1,\"variables\":{\"a\":1}}"
json_is .processDefinitionId "$P-pay" 'create instance'
json_is .processDefinitionVersion 1 'create instance version'
json_is .processDefinitionKey "$pdk_pay" 'create instance definition key'
json_is .tenantId '<default>' 'create instance tenant'
json_is '.variables | length' 0 'create instance variables'
[ "$(jq -r '.processInstanceKey | type' <<<"$out")" = string ] || fail "processInstanceKey is not a string"
pi=$(jq -r .processInstanceKey <<<"$out")
expect 200 POST $PI $PI "{\"processDefinitionKey\":\"$pdk_pay\"}"
pi2=$(jq -r .processInstanceKey <<<"$out")
expect 400 POST $PI $PI '{}'
json_is .detail 'Expected at least a bpmnProcessId or a key greater than -1, but none given' 'no definition'
expect 400 POST $PI $PI "{\"processDefinitionId\":\"$P-pay\",\"variables\":[1]}"
expect 400 POST $PI $PI "{\"processDefinitionId\":\"$P-pay\",\"startInstructions\":[{\"elementId\":\"t\"}]}"
expect 400 POST $PI $PI "{\"processDefinitionId\":\"$P-pay\",\"tenantId\":\"acme\"}"
expect 400 POST $PI $PI 'not json'
expect 404 POST $PI $PI '{"processDefinitionId":"nope"}'
json_is .detail "Expected to find process definition with process ID 'nope', but none found" 'unknown process'
expect 405 GET $PI $PI
# Read it.
expect 200 GET $PI/{processInstanceKey} "$PI/$pi"
json_is .processInstanceKey "$pi" 'get instance'
json_is .state ACTIVE 'get instance state'
json_is .hasIncident false 'get instance incident'
json_is .processDefinitionId "$P-pay" 'get instance process'
grep -Eq '"startDate":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z"' <<<"$out" || fail "startDate: $out"
expect 404 GET $PI/{processInstanceKey} "$PI/2251799813999999"
expect 400 GET $PI/{processInstanceKey} "$PI/abc"
# Its variables, set and searched.
expect 204 PUT /v2/element-instances/{elementInstanceKey}/variables "/v2/element-instances/$pi/variables" '{"variables":{"b":"x"}}'
expect 400 PUT /v2/element-instances/{elementInstanceKey}/variables "/v2/element-instances/$pi/variables" '{"variables":[1]}'
expect 404 PUT /v2/element-instances/{elementInstanceKey}/variables /v2/element-instances/2251799813999999/variables '{"variables":{}}'
expect 200 POST /v2/variables/search /v2/variables/search "{\"filter\":{\"processInstanceKey\":\"$pi\"}}"
json_is .page.totalItems 2 'variables of the instance'
json_is '.items[] | select(.name=="b") | .value' '"x"' 'a value is its JSON text'
json_is '.items[0].scopeKey' "$pi" 'root scope'
expect 200 POST /v2/variables/search /v2/variables/search "{\"filter\":{\"processInstanceKey\":{\"\$eq\":\"$pi\"},\"name\":\"a\"}}"
json_is '.items[0].value' 1 'variable by name'
expect 400 POST /v2/variables/search /v2/variables/search '{"filter":{"name":"a"}}'
grep -q processInstanceKey <<<"$out" || fail "variables without an instance: $out"
# Its element instances.
expect 200 POST /v2/element-instances/search /v2/element-instances/search "{\"filter\":{\"processInstanceKey\":\"$pi\",\"type\":\"SERVICE_TASK\"}}"
json_is .page.totalItems 1 'the service task'
json_is '.items[0].elementId' t 'element id'
json_is '.items[0].elementName' Work 'element name'
json_is '.items[0].state' ACTIVE 'element state'
expect 400 POST /v2/element-instances/search /v2/element-instances/search '{}'
# Searching instances.
expect 200 POST $PI/search $PI/search "{\"filter\":{\"processDefinitionId\":\"$P-pay\",\"state\":\"ACTIVE\"},\"page\":{\"from\":0,\"limit\":1}}"
json_is .page.totalItems 2 'active instances of the process'
json_is '.items | length' 1 'a page of one'
json_is '.items[0].processInstanceKey' "$pi2" 'newest first'
expect 200 POST $PI/search $PI/search "{\"filter\":{\"processDefinitionId\":\"$P-straight\"}}"
json_is '.items[0].state' COMPLETED 'a completed instance is retained'
expect 400 POST $PI/search $PI/search '{"filter":{"startDate":"2024-01-01"}}'
expect 400 POST $PI/search $PI/search '{"page":{"limit":0}}'
# A failed job is an incident of its instance.
jobs=$(curl -s -X POST "$base/v2/jobs/activation" --data-binary \
  "{\"type\":\"$P-pay\",\"worker\":\"curl\",\"timeout\":60000,\"maxJobsToActivate\":10,\"requestTimeout\":-1}")
pj=$(jq -r ".jobs[] | select(.processInstanceKey==\"$pi\") | .jobKey" <<<"$jobs")
expect 204 POST /v2/jobs/{jobKey}/failure "/v2/jobs/$pj/failure" '{"retries":0,"errorMessage":"card declined"}'
expect 200 POST /v2/incidents/search /v2/incidents/search "{\"filter\":{\"processInstanceKey\":\"$pi\"}}"
json_is .page.totalItems 1 'incidents of the instance'
json_is '.items[0].errorType' JOB_NO_RETRIES 'incident type'
json_is '.items[0].errorMessage' 'card declined' 'incident message'
json_is '.items[0].jobKey' "$pj" 'incident job'
json_is '.items[0].state' ACTIVE 'incident state'
expect 200 POST /v2/incidents/search /v2/incidents/search "{\"filter\":{\"processInstanceKey\":\"$pi\",\"errorType\":\"JOB_NO_RETRIES\"}}"
json_is .page.totalItems 1 'incidents by type'
expect 400 POST /v2/incidents/search /v2/incidents/search '{"filter":{"state":"PENDING"}}'
expect 200 GET $PI/{processInstanceKey} "$PI/$pi"
json_is .hasIncident true 'instance with an incident'
# Cancel, then delete the definition.
expect 409 POST /v2/resources/{resourceKey}/deletion "/v2/resources/$pdk_pay/deletion"
expect 204 POST $PI/{processInstanceKey}/cancellation "$PI/$pi/cancellation"
expect 404 POST $PI/{processInstanceKey}/cancellation "$PI/$pi/cancellation"
expect 400 POST $PI/{processInstanceKey}/cancellation "$PI/abc/cancellation"
expect 204 POST $PI/{processInstanceKey}/cancellation "$PI/$pi2/cancellation" '{"operationReference":1}'
expect 200 GET $PI/{processInstanceKey} "$PI/$pi"
json_is .state TERMINATED 'cancelled instance'
grep -q '"endDate"' <<<"$out" || fail "an ended instance has no endDate: $out"
expect 200 POST /v2/resources/{resourceKey}/deletion "/v2/resources/$pdk_pay/deletion"
json_is .resourceKey "$pdk_pay" 'deleted resource'
expect 404 POST /v2/resources/{resourceKey}/deletion "/v2/resources/$pdk_pay/deletion"
expect 400 POST /v2/resources/{resourceKey}/deletion /v2/resources/abc/deletion
expect 404 POST $PI $PI "{\"processDefinitionId\":\"$P-pay\"}"
# ---- messages ----------------------------------------------------------------------------------
# A model whose instances wait at a message catch event for "$P-paid" with
# their orderId, then end.
printf '%s' "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\"><bpmn:message id=\"m\" name=\"$P-paid\"><bpmn:extensionElements><zeebe:subscription correlationKey=\"=orderId\"/></bpmn:extensionElements></bpmn:message><bpmn:process id=\"$P-wait\" isExecutable=\"true\"><bpmn:startEvent id=\"s\"/><bpmn:sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"wait\"/><bpmn:intermediateCatchEvent id=\"wait\"><bpmn:messageEventDefinition messageRef=\"m\"/></bpmn:intermediateCatchEvent><bpmn:sequenceFlow id=\"f2\" sourceRef=\"wait\" targetRef=\"e\"/><bpmn:endEvent id=\"e\"/></bpmn:process></bpmn:definitions>" >"$dir/$P-wait.bpmn"
deploy 200 "$dir/$P-wait.bpmn"
# waiting ORDER: creates an instance of $P-wait for ORDER; its key in $wpi.
waiting() {
  expect 200 POST $PI $PI "{\"processDefinitionId\":\"$P-wait\",\"variables\":{\"orderId\":\"$1\"}}"
  wpi=$(jq -r .processInstanceKey <<<"$out")
}
state_is() { # state_is KEY STATE WHAT
  expect 200 GET $PI/{processInstanceKey} "$PI/$1"
  json_is .state "$2" "$3"
}
MP=/v2/messages/publication
MC=/v2/messages/correlation
waiting o-1
state_is "$wpi" ACTIVE 'an instance waiting for its message'
expect 200 POST $MP $MP "{\"name\":\"$P-paid\",\"correlationKey\":\"o-1\",\"variables\":{\"amount\":5}}"
[ "$(jq -r '.messageKey | type' <<<"$out")" = string ] || fail "messageKey is not a string: $out"
json_is .tenantId '<default>' 'publication tenant'
json_is '.processInstanceKey // "none"' none 'a publication names no instance'
state_is "$wpi" COMPLETED 'the message reached its instance'
expect 200 POST /v2/variables/search /v2/variables/search "{\"filter\":{\"processInstanceKey\":\"$wpi\",\"name\":\"amount\"}}"
json_is '.items[0].value' 5 "the message's variables"
# Published first with a time to live and an id: an instance that waits later
# gets it; the same id again while it lives is 409 in Zeebe's words.
expect 200 POST $MP $MP "{\"name\":\"$P-paid\",\"correlationKey\":\"o-2\",\"timeToLive\":60000,\"messageId\":\"m-2\",\"tenantId\":\"<default>\"}"
expect 409 POST $MP $MP "{\"name\":\"$P-paid\",\"correlationKey\":\"o-2\",\"timeToLive\":60000,\"messageId\":\"m-2\"}"
json_is .title ALREADY_EXISTS 'duplicate message id'
json_is .detail "Command 'PUBLISH' rejected with code 'ALREADY_EXISTS': Expected to publish a new message with id 'm-2', but a message with that id was already published" 'duplicate message id'
waiting o-2
state_is "$wpi" COMPLETED 'a buffered message reached a later subscription'
# Without a time to live nothing is kept.
expect 200 POST $MP $MP "{\"name\":\"$P-paid\",\"correlationKey\":\"o-9\",\"timeToLive\":0}"
waiting o-9
state_is "$wpi" ACTIVE 'a message without a time to live is not kept'
expect 400 POST $MP $MP '{}'
json_is .detail 'Expected to publish a message with a name, but the name is blank' 'message without a name'
expect 400 POST $MP $MP "{\"name\":\"$P-paid\",\"timeToLive\":-1}"
expect 400 POST $MP $MP "{\"name\":\"$P-paid\",\"variables\":[1]}"
expect 400 POST $MP $MP "{\"name\":\"$P-paid\",\"tenantId\":\"acme\"}"
grep -q 'multi-tenancy is disabled' <<<"$out" || fail "publication tenant: $out"
expect 400 POST $MP $MP '{"name":7}'
json_is .detail 'Expected name to be a string, but got a number' 'message name type'
expect 400 POST $MP $MP 'not json'
expect 405 GET $MP $MP
# Correlation: the first instance reached, or 404 (and nothing kept).
expect 404 POST $MC $MC "{\"name\":\"$P-paid\",\"correlationKey\":\"o-3\"}"
json_is .title NOT_FOUND 'correlation without a subscription'
json_is .detail "Command 'CORRELATE' rejected with code 'NOT_FOUND': Expected to find subscription for message with name '$P-paid' and correlation key 'o-3', but none was found." 'correlation without a subscription'
waiting o-3
state_is "$wpi" ACTIVE 'a correlation is not kept'
expect 200 POST $MC $MC "{\"name\":\"$P-paid\",\"correlationKey\":\"o-3\",\"variables\":{\"via\":\"correlation\"}}"
json_is .processInstanceKey "$wpi" 'correlated instance'
json_is .tenantId '<default>' 'correlation tenant'
[ "$(jq -r '.messageKey | type' <<<"$out")" = string ] || fail "messageKey is not a string: $out"
state_is "$wpi" COMPLETED 'the correlation reached its instance'
expect 400 POST $MC $MC '{}'
expect 400 POST $MC $MC "{\"name\":\"$P-paid\",\"variables\":\"x\"}"
expect 400 POST $MC $MC "{\"name\":\"$P-paid\",\"tenantId\":\"acme\"}"

# ---- modification and migration ----------------------------------------------------------------
# two_tasks ID VERSION_NAME [THIRD]: a start, task a then task b (types ID-a,
# ID-b), and with THIRD a task c after b, then an end. The process's name
# differs per version, so that each deploy makes a new version.
two_tasks() {
  local third='' last=b
  if [ -n "${3:-}" ]; then
    third="<serviceTask id=\"c\"><extensionElements><zeebe:taskDefinition type=\"$1-c\"/></extensionElements></serviceTask><sequenceFlow id=\"f3\" sourceRef=\"b\" targetRef=\"c\"/>"
    last=c
  fi
  printf '%s' "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\"><process id=\"$1\" name=\"$2\" isExecutable=\"true\"><startEvent id=\"s\"/><sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"a\"/><serviceTask id=\"a\"><extensionElements><zeebe:taskDefinition type=\"$1-a\"/></extensionElements></serviceTask><sequenceFlow id=\"f2\" sourceRef=\"a\" targetRef=\"b\"/><serviceTask id=\"b\"><extensionElements><zeebe:taskDefinition type=\"$1-b\"/></extensionElements></serviceTask>$third<sequenceFlow id=\"fe\" sourceRef=\"$last\" targetRef=\"e\"/><endEvent id=\"e\"/></process></definitions>" >"$dir/$1.bpmn"
}
element_is() { # element_is INSTANCE ELEMENT STATE WHAT: the element's last instance is in STATE
  expect 200 POST /v2/element-instances/search /v2/element-instances/search "{\"filter\":{\"processInstanceKey\":\"$1\",\"elementId\":\"$2\"}}"
  json_is '.items[-1].state' "$3" "$4"
}
M=$P-mod
two_tasks "$M" v1
deploy 200 "$dir/$M.bpmn"
expect 200 POST $PI $PI "{\"processDefinitionId\":\"$M\",\"variables\":{\"x\":1}}"
mpi=$(jq -r .processInstanceKey <<<"$out")
expect 200 POST /v2/element-instances/search /v2/element-instances/search "{\"filter\":{\"processInstanceKey\":\"$mpi\",\"elementId\":\"a\"}}"
ea=$(jq -r '.items[0].elementInstanceKey' <<<"$out")
MOD=$PI/{processInstanceKey}/modification
# Skip a: terminate its element instance and put a token at b, with a variable.
expect 204 POST $MOD "$PI/$mpi/modification" "{\"terminateInstructions\":[{\"elementInstanceKey\":\"$ea\"}],\"activateInstructions\":[{\"elementId\":\"b\",\"ancestorElementInstanceKey\":\"-1\",\"variableInstructions\":[{\"variables\":{\"skipped\":true}}]}],\"operationReference\":5}"
[ -z "$out" ] || fail "a modification answers no body: $out"
element_is "$mpi" a TERMINATED 'the terminated task'
element_is "$mpi" b ACTIVE 'the activated task'
expect 200 POST /v2/variables/search /v2/variables/search "{\"filter\":{\"processInstanceKey\":\"$mpi\",\"name\":\"skipped\"}}"
json_is '.items[0].value' true 'the variable of the activate instruction'
# Nothing is changed by a modification that is refused.
expect 400 POST $MOD "$PI/$mpi/modification" '{"activateInstructions":[{"elementId":"nope"}]}'
grep -q "'nope'" <<<"$out" || fail "modification of an unknown element: $out"
expect 400 POST $MOD "$PI/$mpi/modification" '{"activateInstructions":[{"elementId":"a","variableInstructions":[{"variables":{},"scopeId":"b"}]}]}'
grep -q "got scopeId 'b'" <<<"$out" || fail "modification with a scopeId: $out"
expect 400 POST $MOD "$PI/$mpi/modification" '{"moveInstructions":[{"targetElementId":"a"}]}'
expect 400 POST $MOD "$PI/$mpi/modification" '{"activateInstructions":[{"elementId":"a","variableInstructions":[{"variables":[1]}]}]}'
expect 404 POST $MOD "$PI/$mpi/modification" '{"terminateInstructions":[{"elementInstanceKey":"2251799813999999"}]}'
expect 404 POST $MOD "$PI/2251799813999999/modification" '{}'
expect 400 POST $MOD "$PI/abc/modification" '{}'
expect 400 POST $MOD "$PI/$mpi/modification" 'not json'
element_is "$mpi" b ACTIVE 'b after refused modifications'
work "$M-b" '{}'
state_is "$mpi" COMPLETED 'the modified instance completes from b'
# Migrate an instance waiting at b to version 2 (the same task ids, then c).
expect 200 POST $PI $PI "{\"processDefinitionId\":\"$M\"}"
gpi=$(jq -r .processInstanceKey <<<"$out")
work "$M-a" '{}'
element_is "$gpi" b ACTIVE 'waiting at b before the migration'
two_tasks "$M" v2 with-c
deploy 200 "$dir/$M.bpmn"
json_is '.deployments[0].processDefinition.processDefinitionVersion' 2 'the second version'
v2=$(jq -r '.deployments[0].processDefinition.processDefinitionKey' <<<"$out")
MIG=$PI/{processInstanceKey}/migration
expect 400 POST $MIG "$PI/$gpi/migration" "{\"targetProcessDefinitionKey\":\"$v2\",\"mappingInstructions\":[{\"sourceElementId\":\"b\",\"targetElementId\":\"zz\"}]}"
grep -q "'zz'" <<<"$out" || fail "migration to an unknown element: $out"
expect 400 POST $MIG "$PI/$gpi/migration" "{\"targetProcessDefinitionKey\":\"$v2\",\"mappingInstructions\":[]}"
grep -q "no mapping" <<<"$out" || fail "migration without a mapping: $out"
expect 400 POST $MIG "$PI/$gpi/migration" '{"mappingInstructions":[]}'
json_is .detail "Expected to migrate process instance '$gpi' to the process definition of a targetProcessDefinitionKey, but none was given" 'migration without a target'
expect 404 POST $MIG "$PI/$gpi/migration" '{"targetProcessDefinitionKey":"2251799813999999","mappingInstructions":[]}'
expect 404 POST $MIG "$PI/2251799813999999/migration" "{\"targetProcessDefinitionKey\":\"$v2\",\"mappingInstructions\":[]}"
expect 400 POST $MIG "$PI/$gpi/migration" 'not json'
expect 204 POST $MIG "$PI/$gpi/migration" "{\"targetProcessDefinitionKey\":\"$v2\",\"mappingInstructions\":[{\"sourceElementId\":\"b\",\"targetElementId\":\"b\"}],\"operationReference\":6}"
expect 200 GET $PI/{processInstanceKey} "$PI/$gpi"
json_is .processDefinitionVersion 2 'the migrated instance'
json_is .processDefinitionKey "$v2" 'the migrated instance'
# Its job carries the new definition, and completing it goes on to c,
# which only version 2 has.
jobs=$(curl -s -X POST "$base/v2/jobs/activation" --data-binary \
  "{\"type\":\"$M-b\",\"worker\":\"curl\",\"timeout\":60000,\"maxJobsToActivate\":1,\"requestTimeout\":-1}")
[ "$(jq -r '.jobs[0].processDefinitionKey' <<<"$jobs")" = "$v2" ] || fail "the migrated job: $jobs"
[ "$(jq -r '.jobs[0].processDefinitionVersion' <<<"$jobs")" = 2 ] || fail "the migrated job: $jobs"
curl -s -X POST "$base/v2/jobs/$(jq -r '.jobs[0].jobKey' <<<"$jobs")/completion" >/dev/null
element_is "$gpi" c ACTIVE 'the migrated instance reached c'
expect 204 POST $PI/{processInstanceKey}/cancellation "$PI/$gpi/cancellation"
# ---- signals ----------------------------------------------------------------------------------
expect 501 POST /v2/signals/broadcast /v2/signals/broadcast '{"signalName":"order-cancelled","variables":{}}'
json_is .title NOT_IMPLEMENTED 'signals'
json_is .detail "Expected to broadcast signal 'order-cancelled', but signals are not supported by Chute yet: no signal start, catch or throw event runs (publish a message to wake a waiting instance instead)" 'signals'
expect 400 POST /v2/signals/broadcast /v2/signals/broadcast '{"signalName":1}'
expect 400 POST /v2/signals/broadcast /v2/signals/broadcast 'not json'

# ---- user tasks ------------------------------------------------------------------------------
# A native user task between start and end: its assignee from a variable,
# two candidate groups.
UT=/v2/user-tasks
cat >"$dir/$P-review.bpmn" <<XML
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d"><bpmn:process id="$P-review" isExecutable="true"><bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/><bpmn:userTask id="review" name="Review"><bpmn:extensionElements><zeebe:userTask/><zeebe:assignmentDefinition assignee="=reviewer" candidateGroups="ops,sales"/></bpmn:extensionElements></bpmn:userTask><bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="e"/><bpmn:endEvent id="e"/></bpmn:process></bpmn:definitions>
XML
deploy 200 "$dir/$P-review.bpmn"
expect 200 POST $PI $PI "{\"processDefinitionId\":\"$P-review\",\"variables\":{\"reviewer\":\"anna\"}}"
upi=$(jq -r .processInstanceKey <<<"$out")
expect 200 POST $PI $PI "{\"processDefinitionId\":\"$P-review\",\"variables\":{\"reviewer\":\"bob\"}}"
upi2=$(jq -r .processInstanceKey <<<"$out")
expect 200 POST $UT/search $UT/search "{\"filter\":{\"processInstanceKey\":\"$upi\"}}"
json_is .page.totalItems 1 'the task of the instance'
json_is '.items[0].state' CREATED 'task state'
json_is '.items[0].assignee' anna 'task assignee from the model'
json_is '.items[0].elementId' review 'task element'
json_is '.items[0].name' Review 'task name'
json_is '.items[0].candidateGroups | join(",")' 'ops,sales' 'task candidate groups'
json_is '.items[0].candidateUsers | length' 0 'task candidate users'
json_is '.items[0].processDefinitionId' "$P-review" 'task process'
json_is '.items[0].processInstanceKey' "$upi" 'task instance'
json_is '.items[0].priority' 50 'task priority'
json_is '.items[0].tenantId' '<default>' 'task tenant'
grep -Eq '"creationDate":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z"' <<<"$out" || fail "creationDate: $out"
ut=$(jq -r '.items[0].userTaskKey' <<<"$out")
json_is '.items[0].elementInstanceKey' "$ut" 'a task key is its element instance key'
[ "$(jq -r '.items[0].userTaskKey | type' <<<"$out")" = string ] || fail "userTaskKey is not a string"
expect 200 POST $UT/search $UT/search "{\"filter\":{\"processDefinitionId\":\"$P-review\",\"state\":\"CREATED\"},\"sort\":[{\"field\":\"creationDate\",\"order\":\"asc\"}]}"
json_is .page.totalItems 2 'tasks of the process'
json_is '.items[0].userTaskKey' "$ut" 'oldest first'
expect 200 POST $UT/search $UT/search "{\"filter\":{\"assignee\":\"bob\",\"elementId\":\"review\"}}"
json_is '.items[0].processInstanceKey' "$upi2" 'by assignee'
expect 200 POST $UT/search $UT/search "{\"filter\":{\"processDefinitionId\":\"$P-review\",\"state\":\"COMPLETED\"}}"
json_is .page.totalItems 0 'no completed task is kept'
expect 200 POST $UT/search $UT/search "{\"filter\":{\"processDefinitionId\":\"$P-review\"},\"page\":{\"from\":1,\"limit\":1}}"
json_is '.items | length' 1 'a page of one task'
json_is .page.totalItems 2 'the page counts them all'
expect 400 POST $UT/search $UT/search '{"filter":{"state":"OPEN"}}'
json_is .title INVALID_ARGUMENT 'unknown task state'
expect 400 POST $UT/search $UT/search '{"filter":{"dueDate":{"$gt":"2024-01-01T00:00:00Z"}}}'
grep -q "dueDate" <<<"$out" || fail "unsupported filter not named: $out"
expect 405 GET $UT/search $UT/search
expect 200 GET $UT/{userTaskKey} "$UT/$ut"
json_is .userTaskKey "$ut" 'get task'
json_is .assignee anna 'get task assignee'
expect 404 GET $UT/{userTaskKey} "$UT/2251799813999999"
json_is .title NOT_FOUND 'unknown task'
expect 400 GET $UT/{userTaskKey} "$UT/abc"
# Assignment: another assignee is replaced, unless allowOverride is false.
expect 409 POST $UT/{userTaskKey}/assignment "$UT/$ut/assignment" '{"assignee":"carl","allowOverride":false}'
json_is .title INVALID_STATE 'assignment conflict'
grep -q "anna" <<<"$out" || fail "the conflict does not name the assignee: $out"
expect 204 POST $UT/{userTaskKey}/assignment "$UT/$ut/assignment" '{"assignee":"carl","action":"assign"}'
expect 200 GET $UT/{userTaskKey} "$UT/$ut"
json_is .assignee carl 'reassigned'
expect 400 POST $UT/{userTaskKey}/assignment "$UT/$ut/assignment" '{}'
json_is .detail 'No assignee provided.' 'assignment without an assignee'
expect 400 POST $UT/{userTaskKey}/assignment "$UT/$ut/assignment" '{"assignee":"x","allowOverride":"no"}'
expect 404 POST $UT/{userTaskKey}/assignment "$UT/2251799813999999/assignment" '{"assignee":"x"}'
expect 204 DELETE $UT/{userTaskKey}/assignee "$UT/$ut/assignee"
expect 200 GET $UT/{userTaskKey} "$UT/$ut"
json_is '.assignee // "none"' none 'unassigned'
expect 200 POST $UT/search $UT/search '{"filter":{"assignee":{"$exists":false}}}'
json_is '.items[0].userTaskKey' "$ut" 'unassigned tasks'
json_is .page.totalItems 1 'one unassigned task'
expect 404 DELETE $UT/{userTaskKey}/assignee "$UT/2251799813999999/assignee"
expect 400 DELETE $UT/{userTaskKey}/assignee "$UT/abc/assignee"
expect 204 POST $UT/{userTaskKey}/assignment "$UT/$ut/assignment" '{"assignee":"dora","allowOverride":false}'
# Completion: the variables merge, the instance completes, the task is gone.
expect 400 POST $UT/{userTaskKey}/completion "$UT/$ut/completion" '{"variables":[1]}'
expect 204 POST $UT/{userTaskKey}/completion "$UT/$ut/completion" '{"variables":{"approved":true},"action":"complete"}'
expect 404 POST $UT/{userTaskKey}/completion "$UT/$ut/completion" '{}'
expect 404 GET $UT/{userTaskKey} "$UT/$ut"
expect 200 GET $PI/{processInstanceKey} "$PI/$upi"
json_is .state COMPLETED 'the instance after its task'
expect 200 POST /v2/variables/search /v2/variables/search "{\"filter\":{\"processInstanceKey\":\"$upi\",\"name\":\"approved\"}}"
json_is '.items[0].value' true 'the completion variables'
expect 400 POST $UT/{userTaskKey}/completion "$UT/abc/completion"
expect 204 POST $PI/{processInstanceKey}/cancellation "$PI/$upi2/cancellation"
expect 200 POST $UT/search $UT/search "{\"filter\":{\"processDefinitionId\":\"$P-review\"}}"
json_is .page.totalItems 0 'a cancelled instance leaves no task'

# ---- job types -----------------------------------------------------------------------------
expect 200 GET /v1/job-types /v1/job-types
[ "$(jq -r ".types[] | select(.type==\"$T\") | .completedTotal" <<<"$out")" = 1 ] || fail "job-types completedTotal: $out"
[ "$(jq -r ".types[] | select(.type==\"$T\") | .activated" <<<"$out")" = 1 ] || fail "job-types activated: $out"
[ "$(jq -r ".types[] | select(.type==\"$T\") | .incidents" <<<"$out")" = 1 ] || fail "job-types incidents: $out"

# ---- ZenBPM's job endpoints (/zenbpm/v1) --------------------------------------------------
# Errors there are ZenBPM's {code, message}, not problem+json.
zexpect() {
  local want=$1 method=$2 template=$3 path=$4
  local args=(-s -X "$method" -D "$dir/h" -o "$dir/b" -w '%{http_code}' --max-time 20)
  if [ $# -ge 5 ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$5")
  fi
  local got
  got=$(curl "${args[@]}" "$base$path" || echo "curl-error")
  out=$(cat "$dir/b" 2>/dev/null || true)
  hdrs=$(cat "$dir/h" 2>/dev/null || true)
  checks=$((checks + 1))
  echo "$method $template $got" >>"$seen"
  if [ "$got" != "$want" ]; then
    fail "$method $path: expected $want, got $got: $out"
  elif [ "$want" -ge 400 ]; then
    grep -qi '^content-type: application/json' <<<"$hdrs" ||
      fail "$method $path: $want is not application/json: $hdrs"
    [ "$(jq -r '.code | type' <<<"$out")" = string ] || fail "$method $path: no code: $out"
    [ "$(jq -r '.message | type' <<<"$out")" = string ] || fail "$method $path: no message: $out"
    [ "$(jq -r 'keys | length' <<<"$out")" = 2 ] || fail "$method $path: not just code and message: $out"
    alive "$method $path"
  fi
  return 0
}
Z=zen-$$
zkeys=()
for i in 1 2 3 4 5; do
  expect 201 POST /v1/jobs /v1/jobs "{\"type\":\"$Z\",\"variables\":{\"i\":$i}}"
  zkeys+=("$(jq -r .key <<<"$out")")
done
expect 201 POST /v1/jobs /v1/jobs "{\"type\":\"$Z-other\"}"
zother=$(jq -r .key <<<"$out")
# Paging per partition: page 1 and 2 of size 2 in creation order, totalCount all 5.
zexpect 200 GET /zenbpm/v1/jobs "/zenbpm/v1/jobs?jobType=$Z&state=active&page=1&size=2"
json_is '.partitions | length' 1 'zen list partitions'
json_is '.partitions[0].partition' 1 'zen list partition number'
json_is '.partitions[0].items | length' 2 'zen page 1'
json_is '.partitions[0].items[0].key | tostring' "${zkeys[0]}" 'zen page 1 first (oldest first)'
json_is '.partitions[0].items[0].state' active 'zen item state'
json_is '.partitions[0].items[0].type' "$Z" 'zen item type'
json_is '.partitions[0].items[0].variables.i' 1 'zen item variables'
json_is '.partitions[0].items[0].assignee' null 'zen item assignee'
json_is '.page' 1 'zen page'
json_is '.size' 2 'zen size'
json_is '.count' 2 'zen count'
json_is '.totalCount' 5 'zen totalCount'
zexpect 200 GET /zenbpm/v1/jobs "/zenbpm/v1/jobs?jobType=$Z&page=3&size=2"
json_is '.partitions[0].items | length' 1 'zen last page'
json_is '.partitions[0].items[0].key | tostring' "${zkeys[4]}" 'zen last page item'
zexpect 200 GET /zenbpm/v1/jobs "/zenbpm/v1/jobs?jobType=$Z&page=9&size=2"
json_is '.count' 0 'zen page past the end'
json_is '.totalCount' 5 'zen page past the end, total'
zexpect 200 GET /zenbpm/v1/jobs "/zenbpm/v1/jobs?jobType=$Z&sortBy=key&sortOrder=desc&size=1"
json_is '.partitions[0].items[0].key | tostring' "${zkeys[4]}" 'zen sorted desc'
zexpect 200 GET /zenbpm/v1/jobs "/zenbpm/v1/jobs?state=terminated"
json_is '.totalCount' 0 'zen terminated'
zexpect 400 GET /zenbpm/v1/jobs "/zenbpm/v1/jobs?state=running"
json_is .code INVALID_ARGUMENT 'zen bad state'
zexpect 400 GET /zenbpm/v1/jobs "/zenbpm/v1/jobs?size=0"
zexpect 400 GET /zenbpm/v1/jobs "/zenbpm/v1/jobs?sortBy=color"
zexpect 400 GET /zenbpm/v1/jobs "/zenbpm/v1/jobs?sortOrder=up"
zexpect 400 GET /zenbpm/v1/jobs "/zenbpm/v1/jobs?processInstanceKey=abc"
# One job; assign; the assignee filter.
zexpect 200 GET /zenbpm/v1/jobs/{jobKey} "/zenbpm/v1/jobs/${zkeys[0]}"
json_is '.key | tostring' "${zkeys[0]}" 'zen get'
json_is '.createdAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")' true 'zen createdAt is RFC 3339'
zexpect 404 GET /zenbpm/v1/jobs/{jobKey} /zenbpm/v1/jobs/42
json_is .code NOT_FOUND 'zen get unknown'
zexpect 400 GET /zenbpm/v1/jobs/{jobKey} /zenbpm/v1/jobs/nope
zexpect 204 POST /zenbpm/v1/jobs/{jobKey}/assign "/zenbpm/v1/jobs/${zkeys[1]}/assign" '{"assignee":"ann"}'
zexpect 200 GET /zenbpm/v1/jobs/{jobKey} "/zenbpm/v1/jobs/${zkeys[1]}"
json_is .assignee ann 'zen assignee'
zexpect 200 GET /zenbpm/v1/jobs "/zenbpm/v1/jobs?assignee=ann"
json_is '.totalCount' 1 'zen assignee filter'
json_is '.partitions[0].items[0].key | tostring' "${zkeys[1]}" 'zen assignee filter item'
zexpect 400 POST /zenbpm/v1/jobs/{jobKey}/assign "/zenbpm/v1/jobs/${zkeys[1]}/assign" '{}'
zexpect 400 POST /zenbpm/v1/jobs/{jobKey}/assign "/zenbpm/v1/jobs/${zkeys[1]}/assign" '{"assignee":7}'
zexpect 404 POST /zenbpm/v1/jobs/{jobKey}/assign /zenbpm/v1/jobs/42/assign '{"assignee":"ann"}'
# Complete with variables, a second completion, fail into an incident, fail with an error code.
zexpect 204 POST /zenbpm/v1/jobs/{jobKey}/complete "/zenbpm/v1/jobs/${zkeys[0]}/complete" '{"variables":{"done":true}}'
expect 200 GET /v1/jobs/{key} "/v1/jobs/${zkeys[0]}"
json_is .state COMPLETED 'zen completed'
json_is .variables.done true 'zen completion variables'
zexpect 404 POST /zenbpm/v1/jobs/{jobKey}/complete "/zenbpm/v1/jobs/${zkeys[0]}/complete" '{}'
zexpect 400 POST /zenbpm/v1/jobs/{jobKey}/complete "/zenbpm/v1/jobs/${zkeys[2]}/complete" '{"variables":[1]}'
zexpect 400 POST /zenbpm/v1/jobs/{jobKey}/complete "/zenbpm/v1/jobs/${zkeys[2]}/complete" '{"variables":'
zexpect 200 GET /zenbpm/v1/jobs "/zenbpm/v1/jobs?jobType=$Z&state=completed"
json_is '.totalCount' 1 'zen state=completed'
json_is '.partitions[0].items[0].state' completed 'zen completed item'
zexpect 204 POST /zenbpm/v1/jobs/{jobKey}/fail "/zenbpm/v1/jobs/${zkeys[2]}/fail" '{"message":"it broke"}'
expect 200 GET /v1/jobs/{key} "/v1/jobs/${zkeys[2]}"
json_is .state INCIDENT 'zen fail raises an incident'
json_is .errorMessage 'it broke' 'zen fail message'
zexpect 204 POST /zenbpm/v1/jobs/{jobKey}/fail "/zenbpm/v1/jobs/${zkeys[3]}/fail" '{"message":"no stock","errorCode":"NO_STOCK"}'
expect 200 GET /v1/jobs/{key} "/v1/jobs/${zkeys[3]}"
json_is .state ERROR_THROWN 'zen fail with an error code throws'
json_is .errorCode NO_STOCK 'zen thrown code'
zexpect 200 GET /zenbpm/v1/jobs "/zenbpm/v1/jobs?jobType=$Z&state=failed&sortBy=key"
json_is '.totalCount' 2 'zen state=failed'
json_is '.partitions[0].items[0].errorMessage' 'it broke' 'zen failed item'
zexpect 409 POST /zenbpm/v1/jobs/{jobKey}/fail "/zenbpm/v1/jobs/${zkeys[2]}/fail" '{"message":"again"}'
zexpect 409 POST /zenbpm/v1/jobs/{jobKey}/complete "/zenbpm/v1/jobs/${zkeys[2]}/complete" '{}'
zexpect 409 POST /zenbpm/v1/jobs/{jobKey}/assign "/zenbpm/v1/jobs/${zkeys[0]}/assign" '{"assignee":"bob"}'
zexpect 404 POST /zenbpm/v1/jobs/{jobKey}/fail /zenbpm/v1/jobs/42/fail '{}'
zexpect 400 POST /zenbpm/v1/jobs/{jobKey}/fail "/zenbpm/v1/jobs/${zkeys[4]}/fail" '{"message":5}'
# Errors outside the routes are ZenBPM-shaped too under /zenbpm.
zexpect 404 GET /zenbpm/v1/nothing /zenbpm/v1/nothing
zexpect 405 DELETE /zenbpm/v1/jobs/{jobKey} "/zenbpm/v1/jobs/${zkeys[4]}"
grep -qi '^allow: GET' <<<"$hdrs" || fail "zen 405 without Allow: $hdrs"
expect 204 DELETE /v1/jobs/{key} "/v1/jobs/$zother"

# ---- HTTP itself: raw sockets ----------------------------------------------------------------
raw() { # raw BYTES-AS-PRINTF-FORMAT: sends, prints what comes back within 3 s
  "$PY" - "$port" "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(3)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
except socket.timeout:
    pass
s.close()
sys.stdout.write(out.decode("latin-1"))
EOF
}
status_lines() { grep -a -o 'HTTP/1\.1 [0-9][0-9][0-9]' | awk '{print $2}' | tr '\n' ' '; }

r=$(raw 'GARBAGE\r\n\r\n')
[ "$(status_lines <<<"$r")" = "400 " ] || fail "malformed request line: $r"
grep -qi '^Connection: close' <<<"$r" || fail "400 does not close: $r"
alive 'malformed HTTP'
r=$(raw 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello')
[ "$(status_lines <<<"$r")" = "400 " ] || fail "duplicate Content-Length: $r"
alive 'duplicate content-length'
r=$(raw 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n')
[ "$(status_lines <<<"$r")" = "400 " ] || fail "header without colon: $r"
alive 'bad header'
big=$(head -c 20000 /dev/zero | tr '\0' a)
r=$(raw "GET /healthz HTTP/1.1\\r\\nX-Big: $big\\r\\n\\r\\n")
[ "$(status_lines <<<"$r")" = "431 " ] || fail "oversized header: $(head -c 200 <<<"$r")"
alive 'oversized header'
r=$(raw "GET /$big HTTP/1.1\\r\\n\\r\\n")
[ "$(status_lines <<<"$r")" = "414 " ] || fail "oversized request line: $(head -c 200 <<<"$r")"
alive 'oversized request line'
r=$(raw 'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')
[ "$(status_lines <<<"$r")" = "400 " ] || fail "bad chunk: $r"
alive 'bad chunk'
# Pipelining: three requests in one write, answered in order on one connection.
pb="{\"type\":\"$T-p\"}"
r=$(raw "GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nGET /nope HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nPOST /v1/jobs HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: ${#pb}\\r\\nConnection: close\\r\\n\\r\\n$pb")
[ "$(status_lines <<<"$r")" = "200 404 201 " ] || fail "pipelined answers out of order: $r"
# HEAD: headers, no body.
r=$(raw 'HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
[ "$(status_lines <<<"$r")" = "200 " ] && ! grep -q '"status"' <<<"$r" || fail "HEAD: $r"
# HTTP/1.0 closes unless keep-alive is asked for.
r=$(raw 'GET /healthz HTTP/1.0\r\n\r\n')
[ "$(status_lines <<<"$r")" = "200 " ] || fail "HTTP/1.0: $r"
# Keep-alive: curl reuses one connection for two requests.
v=$(curl -s -v "$base/healthz" "$base/readyz" 2>&1 >/dev/null)
grep -qi 're-using existing connection\|reusing existing connection' <<<"$v" || fail "no keep-alive: $v"

# ---- load limits: --max-jobs and --max-inflight ----------------------------------------------
# Each limit on a chuted of its own (the main one stays as it is); both answer
# 503 application/problem+json titled RESOURCE_EXHAUSTED, count the refusal
# in /metrics, lose nothing, and leave the daemon serving.
main_pid=$pid main_port=$port main_base=$base main_log=$log

# stop_chuted: SIGTERM the current chuted; it must exit 0 within 5 s.
stop_chuted() {
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then
    fail "chuted ($log) did not exit within 5 s of SIGTERM"
  else
    local rc=0
    wait "$pid" || rc=$?
    [ "$rc" = 0 ] || { fail "chuted ($log) exited $rc after SIGTERM"; tail -20 "$log" >&2; }
  fi
}

# metric SAMPLE: the value of one sample (name with labels) in $out, a /metrics body.
metric() { awk -v n="$1" '$1 == n { print $2 }' <<<"$out"; }

# --max-jobs 3: the fourth job, and any batch that does not fit, are refused whole.
start_chuted limit-jobs --max-jobs 3
L=$T-limit
for _ in 1 2 3; do expect 201 POST /v1/jobs /v1/jobs "{\"type\":\"$L\"}"; done
expect 503 POST /v1/jobs /v1/jobs "{\"type\":\"$L\"}"
json_is .title RESOURCE_EXHAUSTED 'create over --max-jobs'
json_is .detail 'Expected to create 1 job, but the broker holds 3 jobs and its limit is 3; complete or cancel jobs, or raise the limit' 'create over --max-jobs'
expect 503 POST /v1/jobs /v1/jobs "[{\"type\":\"$L\"},{\"type\":\"$L\"}]"
json_is .title RESOURCE_EXHAUSTED 'array create over --max-jobs'
expect 200 GET /v1/jobs "/v1/jobs?type=$L"
json_is .count 3 'jobs after refused creates'
# A worker still takes and settles jobs at the limit; each settled job makes
# room for one new job, so a batch of two still does not fit.
expect 200 POST /v2/jobs/activation /v2/jobs/activation \
  "{\"type\":\"$L\",\"worker\":\"curl\",\"timeout\":60000,\"maxJobsToActivate\":1,\"requestTimeout\":-1}"
kd=$(jq -r '.jobs[0].jobKey' <<<"$out")
expect 204 POST /v2/jobs/{jobKey}/completion "/v2/jobs/$kd/completion" '{}'
expect 503 POST /v1/jobs /v1/jobs "[{\"type\":\"$L\"},{\"type\":\"$L\"}]"
json_is .detail 'job 1 of the batch: Expected to create 2 jobs, but the broker holds 2 jobs and its limit is 3; complete or cancel jobs, or raise the limit' 'batch over --max-jobs'
expect 200 GET /v1/jobs "/v1/jobs?type=$L"
json_is .count 2 'a refused batch created nothing'
expect 201 POST /v1/jobs /v1/jobs "{\"type\":\"$L\"}"
expect 503 POST /v1/jobs /v1/jobs "{\"type\":\"$L\"}"
expect 200 GET /v1/jobs "/v1/jobs?type=$L"
json_is .count 3 'jobs at the limit'
expect 200 GET /metrics /metrics
v=$(metric 'chute_requests_rejected_total{reason="max_jobs"}')
[ "$v" = 4 ] || fail "max_jobs rejections in /metrics: '$v', expected 4"
v=$(metric 'chute_requests_rejected_total{reason="max_inflight"}')
[ "$v" = 0 ] || fail "max_inflight rejections in /metrics: '$v', expected 0"
v=$(metric 'chute_http_responses_total{code="503"}')
[ "$v" = 4 ] || fail "503 responses in /metrics: '$v', expected 4"
alive '--max-jobs'
stop_chuted

# --max-inflight 4: sixteen requests pipelined in one write on one keep-alive
# connection, so they reach chuted in one read, before one commit. The first
# four creates fill the list of commands waiting for the commit; every later
# command that brings work is refused at once, while the completion (a worker
# settling a job) and /healthz (no commit) are served.
start_chuted limit-inflight --max-inflight 4
B=$T-burst
expect 201 POST /v1/jobs /v1/jobs "{\"type\":\"$B-held\"}"
kh=$(jq -r .key <<<"$out")
expect 200 POST /v2/jobs/activation /v2/jobs/activation \
  "{\"type\":\"$B-held\",\"worker\":\"curl\",\"timeout\":60000,\"maxJobsToActivate\":1,\"requestTimeout\":-1}"
json_is '.jobs[0].jobKey' "$kh" 'the held job is activated'
burst=$dir/burst
{
  for _ in 1 2 3 4; do echo "POST /v1/jobs /v1/jobs {\"type\":\"$B\"}"; done
  echo "GET /v1/jobs/{key} /v1/jobs/$kh"
  echo "GET /v1/jobs /v1/jobs?type=$B"
  echo "DELETE /v1/jobs/{key} /v1/jobs/$kh"
  echo "PATCH /v2/jobs/{jobKey} /v2/jobs/$kh {\"changeset\":{\"retries\":5}}"
  echo "POST /v2/incidents/{incidentKey}/resolution /v2/incidents/$kh/resolution"
  echo "GET /v1/incidents /v1/incidents"
  echo "GET /v1/job-types /v1/job-types"
  echo "POST /v2/deployments /v2/deployments {}"
  echo "POST /v2/jobs/{jobKey}/completion /v2/jobs/$kh/completion {}"
  echo "POST /v1/jobs /v1/jobs {\"type\":\"$B\"}"
  echo "POST /v1/jobs /v1/jobs [{\"type\":\"$B\"},{\"type\":\"$B\"}]"
  echo "GET /healthz /healthz"
} >"$burst"
# One line per response: METHOD TEMPLATE STATUS CONTENT-TYPE TITLE DETAIL KEYS
# (spaces in the detail become '_'; KEYS: how many job keys a 201 carries).
# pipeline FILE: sends the requests of FILE (one a line: METHOD TEMPLATE PATH
# [BODY]) in one write on one connection; the connection takes at most 16
# (the transport's pipeline bound), so that all of them are read before one
# commit.
pipeline() {
  "$PY" - "$port" "$1" <<'PYEOF'
import json, socket, sys
reqs = [l.rstrip("\n").split(" ", 3) for l in open(sys.argv[2]) if l.strip()]
out = b""
for i, r in enumerate(reqs):
    method, path, body = r[0], r[2], (r[3] if len(r) > 3 else "")
    close = "Connection: close\r\n" if i == len(reqs) - 1 else ""
    out += (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{close}\r\n{body}").encode()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
s.sendall(out)  # one write, so chuted reads every request before it commits
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
s.close()
for r in reqs:
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdr = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    n = int(hdr.get("content-length", "0"))
    body, data = rest[:n], rest[n:]
    title = detail = "-"
    keys = 0
    ctype = hdr.get("content-type", "-").split(";")[0]
    if ctype == "application/problem+json":
        p = json.loads(body)
        title, detail = p["title"], p["detail"].replace(" ", "_")
    elif lines[0].split()[1] == "201":
        p = json.loads(body)
        keys = len(p["keys"]) if "keys" in p else 1
    print(r[0], r[1], lines[0].split()[1], ctype, title, detail, keys)
PYEOF
}
r=$(pipeline "$burst")
cut -d' ' -f1-3 <<<"$r" >>"$seen"
checks=$((checks + 16))
statuses=$(awk '{ printf "%s ", $3 }' <<<"$r")
[ "$statuses" = "201 201 201 201 503 503 503 503 503 503 503 503 204 503 503 200 " ] ||
  fail "pipelined burst with --max-inflight 4 answered $statuses: $r"
awk '$3 == 503 && ($4 != "application/problem+json" || $5 != "RESOURCE_EXHAUSTED" || $6 !~ /--max-inflight/) { bad = 1 } END { exit bad }' <<<"$r" ||
  fail "a 503 of the burst is not problem+json RESOURCE_EXHAUSTED naming --max-inflight: $r"
created=$(awk '{ n += $7 } END { print n + 0 }' <<<"$r")
refused=$(awk '$3 == 503' <<<"$r" | wc -l)
# Nothing refused happened: exactly the answered creates exist; the held job
# was completed, and its refused DELETE and PATCH changed nothing.
expect 200 GET /v1/jobs "/v1/jobs?type=$B"
json_is .count "$created" 'jobs after the burst'
expect 200 GET /v1/jobs/{key} "/v1/jobs/$kh"
json_is .state COMPLETED 'the held job after the burst'
json_is .retries 3 'the refused PATCH left the retries'
expect 200 GET /metrics /metrics
v=$(metric 'chute_requests_rejected_total{reason="max_inflight"}')
[ "$v" = "$refused" ] || fail "max_inflight rejections in /metrics: '$v', expected $refused"
v=$(metric 'chute_requests_rejected_total{reason="max_jobs"}')
[ "$v" = 0 ] || fail "max_jobs rejections in /metrics: '$v', expected 0"
# The process endpoints bring work or read for the commit too: refused alike.
{
  for _ in 1 2 3 4; do echo "POST /v1/jobs /v1/jobs {\"type\":\"$B\"}"; done
  echo "POST /v2/process-instances /v2/process-instances {}"
  echo "GET /v2/process-instances/{processInstanceKey} /v2/process-instances/1"
  echo "POST /v2/process-instances/{processInstanceKey}/cancellation /v2/process-instances/1/cancellation"
  echo "POST /v2/process-instances/search /v2/process-instances/search {}"
  echo "POST /v2/element-instances/search /v2/element-instances/search {}"
  echo "PUT /v2/element-instances/{elementInstanceKey}/variables /v2/element-instances/1/variables {}"
  echo "POST /v2/variables/search /v2/variables/search {}"
  echo "POST /v2/incidents/search /v2/incidents/search {}"
  echo "POST /v2/resources/{resourceKey}/deletion /v2/resources/1/deletion"
  echo "POST /v2/messages/publication /v2/messages/publication {\"name\":\"m\"}"
  echo "POST /v2/messages/correlation /v2/messages/correlation {\"name\":\"m\"}"
  echo "POST /v2/decision-definitions/evaluation /v2/decision-definitions/evaluation {\"decisionDefinitionId\":\"d\"}"
  echo "GET /healthz /healthz"
} >"$burst"
r=$(pipeline "$burst")
cut -d' ' -f1-3 <<<"$r" >>"$seen"
checks=$((checks + 17))
statuses=$(awk '{ printf "%s ", $3 }' <<<"$r")
[ "$statuses" = "201 201 201 201 503 503 503 503 503 503 503 503 503 503 503 503 200 " ] ||
  fail "pipelined process burst with --max-inflight 4 answered $statuses: $r"
awk '$3 == 503 && ($4 != "application/problem+json" || $5 != "RESOURCE_EXHAUSTED" || $6 !~ /--max-inflight/) { bad = 1 } END { exit bad }' <<<"$r" ||
  fail "a 503 of the process burst is not problem+json RESOURCE_EXHAUSTED naming --max-inflight: $r"
# And the user task endpoints.
{
  for _ in 1 2 3 4; do echo "POST /v1/jobs /v1/jobs {\"type\":\"$B\"}"; done
  echo "POST /v2/user-tasks/search /v2/user-tasks/search {}"
  echo "GET /v2/user-tasks/{userTaskKey} /v2/user-tasks/1"
  echo "POST /v2/user-tasks/{userTaskKey}/assignment /v2/user-tasks/1/assignment {\"assignee\":\"a\"}"
  echo "DELETE /v2/user-tasks/{userTaskKey}/assignee /v2/user-tasks/1/assignee"
  echo "POST /v2/user-tasks/{userTaskKey}/completion /v2/user-tasks/1/completion {}"
  echo "GET /healthz /healthz"
} >"$burst"
r=$(pipeline "$burst")
cut -d' ' -f1-3 <<<"$r" >>"$seen"
checks=$((checks + 10))
statuses=$(awk '{ printf "%s ", $3 }' <<<"$r")
[ "$statuses" = "201 201 201 201 503 503 503 503 503 200 " ] ||
  fail "pipelined user task burst with --max-inflight 4 answered $statuses: $r"
awk '$3 == 503 && ($4 != "application/problem+json" || $5 != "RESOURCE_EXHAUSTED" || $6 !~ /--max-inflight/) { bad = 1 } END { exit bad }' <<<"$r" ||
  fail "a 503 of the user task burst is not problem+json RESOURCE_EXHAUSTED naming --max-inflight: $r"
# And modification, migration and signals.
{
  for _ in 1 2 3 4; do echo "POST /v1/jobs /v1/jobs {\"type\":\"$B\"}"; done
  echo "POST /v2/process-instances/{processInstanceKey}/modification /v2/process-instances/1/modification {}"
  echo "POST /v2/process-instances/{processInstanceKey}/migration /v2/process-instances/1/migration {}"
  echo "POST /v2/signals/broadcast /v2/signals/broadcast {\"signalName\":\"s\"}"
  echo "GET /healthz /healthz"
} >"$burst"
r=$(pipeline "$burst")
cut -d' ' -f1-3 <<<"$r" >>"$seen"
checks=$((checks + 8))
statuses=$(awk '{ printf "%s ", $3 }' <<<"$r")
[ "$statuses" = "201 201 201 201 503 503 503 200 " ] ||
  fail "pipelined modification burst with --max-inflight 4 answered $statuses: $r"
awk '$3 == 503 && ($4 != "application/problem+json" || $5 != "RESOURCE_EXHAUSTED" || $6 !~ /--max-inflight/) { bad = 1 } END { exit bad }' <<<"$r" ||
  fail "a 503 of the modification burst is not problem+json RESOURCE_EXHAUSTED naming --max-inflight: $r"
alive '--max-inflight'
stop_chuted
pid=$main_pid port=$main_port base=$main_base log=$main_log

# ---- readiness when the store cannot be written ----------------------------------------------
# Removing the data directory leaves the database unlinked: not ready.
rm -rf "$dir/data"
expect 503 GET /readyz /readyz
json_is .title UNAVAILABLE 'readyz without a store'
alive 'readyz 503'

# ---- docs/openapi.yaml against this run --------------------------------------------------------
"$PY" - "$openapi" "$seen" <<'EOF' || fail "docs/openapi.yaml does not match the server"
import sys, yaml, collections
spec = yaml.safe_load(open(sys.argv[1]))
seen = collections.defaultdict(set)
for line in open(sys.argv[2]):
    m, t, s = line.split()
    seen[(m, t)].add(s)
# Statuses that cannot be provoked from outside in a healthy run, with why.
exempt = {
    ("POST", "/v2/jobs/activation", "503"): "out of memory only: activation is never refused for load",
}
bad = 0
documented = set()
for path, ops in spec["paths"].items():
    for method, op in ops.items():
        m = method.upper()
        documented.add((m, path))
        got = seen.get((m, path), set())
        if not got - {"404", "405"}:
            print(f"openapi: {m} {path} never answered anything but 404/405 (saw {sorted(got)})")
            bad += 1
        for status in op["responses"]:
            s = str(status)
            if s not in got and (m, path, s) not in exempt:
                print(f"openapi: {m} {path} documents {s}, which no test saw (saw {sorted(got)})")
                bad += 1
# Every endpoint the tests reached is documented.
for (m, t), statuses in seen.items():
    if (m, t) not in documented and statuses - {"404", "405"}:
        print(f"openapi: {m} {t} answered {sorted(statuses)} but is not documented")
        bad += 1
print(f"openapi: {len(documented)} operations checked, {bad} problems")
sys.exit(1 if bad else 0)
EOF

# ---- shutdown ---------------------------------------------------------------------------------
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$pid" 2>/dev/null; then
  fail "chuted did not exit within 5 s of SIGTERM"
else
  wait "$pid" && rc=0 || rc=$?
  [ "$rc" = 0 ] || { fail "chuted exited $rc after SIGTERM"; tail -20 "$log" >&2; }
fi
pid=

echo "curl_test: $checks requests checked, $fails failures"
[ "$fails" -eq 0 ]
