#!/usr/bin/env bash
# 26 malformed or unsupported BPMN models deployed to a real chuted
# (multipart POST /v2/deployments): each is refused with 400 and a message
# that names the resource and the element (or the document's fault), and
# chuted keeps serving after every one, then deploys a valid model.
#
#   tests/daemon/deploy_refusals_test.sh <path-to-chuted>
set -euo pipefail
chuted=${1:?usage: deploy_refusals_test.sh <chuted>}
dir=$(mktemp -d "${TMPDIR:-/tmp}/chute-refusals.XXXXXX")
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
corpus=$(cd "$(dirname "$0")/../../../shared/bpmn-corpus" 2>/dev/null && pwd || true)
[ -n "$corpus" ] && [ -f "$corpus/plot-destination.dmn" ] || {
  echo "deploy_refusals_test: ../shared/bpmn-corpus is missing" >&2; echo "0 passed, 1 failed"; exit 1; }

N='xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'
S='<bpmn:startEvent id="s"/>'
P() { echo "<bpmn:definitions $N id=\"d\"><bpmn:process id=\"p\" isExecutable=\"true\">$1</bpmn:process></bpmn:definitions>"; }
J() { echo "<bpmn:serviceTask id=\"$1\"><bpmn:extensionElements><zeebe:taskDefinition $2/></bpmn:extensionElements></bpmn:serviceTask>"; }
# case NAME CONTENT EXPECTED-FRAGMENT
cases=()
add() { printf '%s' "$2" >"$dir/$1.bpmn"; cases+=("$1|$3"); }
add doctype '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>' 'DOCTYPE and entity declarations are not allowed'
add not-xml 'this is not xml' 'is not well-formed XML'
add truncated "<bpmn:definitions $N><bpmn:process id=\"p\"" 'is not well-formed XML'
add wrong-root '<html><body/></html>' 'is not a BPMN 2.0 model'
add no-process "<bpmn:definitions $N id=\"d\"/>" 'Must contain at least one executable process'
add no-start "$(P '<bpmn:endEvent id="OnlyEnd"/>')" 'Must have at least one start event'
add two-starts "$(P '<bpmn:startEvent id="StartA"/><bpmn:startEvent id="StartB"/>')" 'Multiple none start events are not allowed'
add dangling-flow "$(P "$S<bpmn:sequenceFlow id=\"FlowToNowhere\" sourceRef=\"s\" targetRef=\"missing\"/>")" "Element: FlowToNowhere"
add no-type "$(P "$S<bpmn:serviceTask id=\"TaskNoType\"/>")" "Element: TaskNoType"
add empty-type "$(P "$S$(J TaskEmptyType 'type=""')")" "TaskEmptyType > extensionElements > taskDefinition"
add dup-ids "$(P "$S<bpmn:endEvent id=\"s\"/>")" "ids must be unique"
add signal-throw "$(P "$S<bpmn:intermediateThrowEvent id=\"SignalStep\"><bpmn:signalEventDefinition/></bpmn:intermediateThrowEvent>")" "Element: SignalStep"
add timer "$(P "$S<bpmn:intermediateCatchEvent id=\"WaitTimer\"><bpmn:timerEventDefinition/></bpmn:intermediateCatchEvent>")" "Element: WaitTimer"
add subprocess "$(P "$S<bpmn:subProcess id=\"Inner\"/>")" "Element: Inner"
add call "$(P "$S<bpmn:callActivity id=\"CallOther\"/>")" "Element: CallOther"
add boundary "$(P "$S$(J T 'type="x"')<bpmn:boundaryEvent id=\"OnError\" attachedToRef=\"T\"><bpmn:errorEventDefinition/></bpmn:boundaryEvent>")" "Element: OnError"
add multi "$(P "$S<bpmn:serviceTask id=\"ManyTimes\"><bpmn:multiInstanceLoopCharacteristics/><bpmn:extensionElements><zeebe:taskDefinition type=\"x\"/></bpmn:extensionElements></bpmn:serviceTask>")" "Must have an input collection"
add receive "$(P "$S<bpmn:receiveTask id=\"WaitMessage\"/>")" "Element: WaitMessage"
add event-gateway "$(P "$S<bpmn:eventBasedGateway id=\"Race\"/>")" "Element: Race"
add bad-feel "$(P "$S$(J BadExpr 'type="=1 +"')")" "failed to parse expression '1 +'"
add unknown-function "$(P "$S$(J UnknownFn 'type="=uuid()"')")" "the unknown function 'uuid'"
add no-condition "$(P "$S<bpmn:sequenceFlow id=\"f0\" sourceRef=\"s\" targetRef=\"G\"/><bpmn:exclusiveGateway id=\"G\"/><bpmn:sequenceFlow id=\"NoCondA\" sourceRef=\"G\" targetRef=\"e1\"/><bpmn:sequenceFlow id=\"NoCondB\" sourceRef=\"G\" targetRef=\"e2\"/><bpmn:endEvent id=\"e1\"/><bpmn:endEvent id=\"e2\"/>")" "Must have a condition or be default flow"
add default-elsewhere "$(P "$S<bpmn:exclusiveGateway id=\"GD\" default=\"f9\"/><bpmn:sequenceFlow id=\"f9\" sourceRef=\"s\" targetRef=\"GD\"/>")" "Default flow must start at gateway"
add dmn '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="x"><decision id="BrokenDecision"><context/></decision></definitions>' "BrokenDecision"
add message-end "$(P "$S<bpmn:endEvent id=\"SendAtEnd\"><bpmn:messageEventDefinition/></bpmn:endEvent>")" "Element: SendAtEnd"
add bad-retries "$(P "$S$(J BadRetries 'type="x" retries="many"')")" "Attribute 'retries'"

"$chuted" --data-dir "$dir/data" --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 2>"$dir/log" &
pid=$!
for _ in $(seq 200); do grep -q '^chuted: ready' "$dir/log" && break; sleep 0.05; done
http=$(sed -n 's/^chuted: HTTP listening on \(.*\)$/\1/p' "$dir/log")
[ -n "$http" ] || { cat "$dir/log" >&2; exit 1; }
passed=0 failed=0
for c in "${cases[@]}"; do
  name=${c%%|*} want=${c#*|}
  status=$(curl -s -o "$dir/out" -w '%{http_code}' -F "resources=@$dir/$name.bpmn" "http://$http/v2/deployments")
  detail=$(jq -r .detail "$dir/out" 2>/dev/null || true)
  if [ "$status" = 400 ] && grep -qF "Expected to deploy new resources, but encountered the following errors:" <<<"$detail" &&
     grep -qF "'$name.bpmn'" <<<"$detail" && grep -qF "$want" <<<"$detail" &&
     [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$http/healthz")" = 200 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $name: $status $detail (wanted: $want)" >&2
  fi
done
status=$(curl -s -o "$dir/out" -w '%{http_code}' -F "resources=@$corpus/order-process.bpmn" "http://$http/v2/deployments")
if [ "$status" = 200 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: a valid deploy after the refusals: $status" >&2; fi
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
echo "deploy_refusals_test: ${#cases[@]} refused models"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
