-- wrk script: the REST job lifecycle, one job at a time per connection:
-- POST /v1/jobs (create) -> POST /v2/jobs/activation -> POST /v2/jobs/{key}/completion.
-- Run with as many threads as connections (-t N -c N): each thread's Lua state
-- then drives exactly one connection, so requests and responses alternate.
-- Each thread uses its own job type, so threads never take each other's jobs.

local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  jobtype = "rest-bench-" .. id
  step = 1
  key = nil
  completed = 0
  errors = 0
  create = wrk.format("POST", "/v1/jobs", {["Content-Type"] = "application/json"},
    '{"type":"' .. jobtype .. '","variables":{"orderId":"A-1042","amount":129.5,"items":3}}')
  activate = wrk.format("POST", "/v2/jobs/activation", {["Content-Type"] = "application/json"},
    '{"type":"' .. jobtype .. '","worker":"wrk","timeout":60000,"maxJobsToActivate":1,"requestTimeout":-1}')
end

function request()
  if step == 1 then
    return create
  elseif step == 2 then
    return activate
  else
    return wrk.format("POST", "/v2/jobs/" .. key .. "/completion",
      {["Content-Type"] = "application/json"}, '{"variables":{"charged":true}}')
  end
end

function response(status, headers, body)
  if step == 1 then
    if status == 200 or status == 201 then step = 2 else errors = errors + 1 end
  elseif step == 2 then
    key = body and string.match(body, '"jobKey":"(%d+)"')
    if key then step = 3 else errors = errors + 1 end
  else
    if status == 204 then completed = completed + 1 else errors = errors + 1 end
    step = 1
  end
end

function done(summary, latency, requests)
  local total, errs = 0, 0
  for _, t in ipairs(threads) do
    total = total + t:get("completed")
    errs = errs + t:get("errors")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("wrk-lifecycle: completed=%d errors=%d seconds=%.2f jobs_per_s=%.0f\n",
    total, errs, seconds, total / seconds))
end
