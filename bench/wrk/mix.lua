-- wrk script: a mix of requests, round robin from a random start per thread, and a check of
-- every response (a status other than 200 or a top-level "errors" key counts as an error).
--   wrk ... -s mix.lua URL -- MIX_FILE
-- MIX_FILE has one request a line: `<bearer token or ->\t<JSON body>`.
-- Prints one line `BENCH_RESULT {json}` like post.lua, with graphql_errors and user_errors.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  prepared = {}
  errors = 0
  user_errors = 0
  for line in io.lines(args[1]) do
    local token, body = line:match("^([^\t]*)\t(.*)$")
    local headers = { ["Content-Type"] = "application/json" }
    if token ~= "-" then
      headers["Authorization"] = "Bearer " .. token
    end
    table.insert(prepared, wrk.format("POST", nil, headers, body))
  end
  math.randomseed(id * 7919)
  index = math.random(#prepared)
end

function request()
  index = index % #prepared + 1
  return prepared[index]
end

function response(status, headers, body)
  if status ~= 200 or body:find('"errors":', 1, true) then
    errors = errors + 1
  elseif body:find('"userErrors":[{', 1, true) then
    user_errors = user_errors + 1
  end
end

function done(summary, latency, requests)
  local graphql_errors, rejected = 0, 0
  for _, thread in ipairs(threads) do
    graphql_errors = graphql_errors + thread:get("errors")
    rejected = rejected + thread:get("user_errors")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"socket_errors": %d, "status_errors": %d, "timeouts": %d, "graphql_errors": %d, '
      .. '"user_errors": %d, "mean_us": %.1f, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write, e.status, e.timeout, graphql_errors, rejected,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
