-- wrk script: POST /predict with real transactions (one JSON body per line of $BODIES, taken in
-- turn, so the service never sees one repeated body), count non-2xx answers, and print a JSON
-- summary line that bench/serve.sh reads.
local bodies = {}
local counter = 0
local non2xx = 0

local path = os.getenv("BODIES")
for line in io.lines(path) do
  bodies[#bodies + 1] = line
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  counter = counter + 1
  return wrk.format(nil, "/predict", nil, bodies[(counter % #bodies) + 1])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"status_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, errors.connect, errors.read,
    errors.write, errors.timeout, errors.status))
end
