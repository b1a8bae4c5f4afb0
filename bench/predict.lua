-- wrk script used by bench/serve.sh for every target (Sentinel, the peer, nginx).
--
-- Posts real transactions: one JSON body per line of $BODIES, taken in turn (each thread starts at
-- its own offset), so the service never sees one repeated body. Requests are formatted once, in
-- init(), so wrk spends its CPU on the load and not on Lua.
--
-- Environment:
--   BODIES         file of request bodies, one per line (required)
--   PREDICT_PATH   path to post to (default /predict; the peer's batch route is /predict/batch)
--   DRAIN_AFTER_MS after this many ms of its run, a thread sends nothing more (request() returns an
--                  empty request, so each connection goes quiet once its last answer is in): when wrk
--                  stops, no scoring request is in flight, and the count of answered predictions
--                  below is exact. The quiet tail adds no latency samples. (Unset: no drain.)
--   TRACK_VERSION  count the answers whose body says "version":"<this>" (hot-reload run)
--
-- It prints one JSON line that bench/serve.sh reads: wrk's own summary and latency percentiles (µs)
-- plus predict_2xx / predict_non2xx (answers by status), tracked (answers carrying TRACK_VERSION),
-- and window_ms (the time during which requests were sent: divide the answers by it for requests/s,
-- as wrk's own duration includes the quiet tail).
--
-- response() is defined only with TRACK_VERSION: wrk then hands every answer's headers and body to
-- Lua, which cost the load generator enough CPU on this 2-core box to take 5-10 % of the server's
-- answers in back-to-back pairs. Without it, the status counts are wrk's own: non-2xx is its count
-- of answers with a status of 400 or more (none of the servers here answers 1xx or 3xx), 2xx the
-- other completed answers.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *ts);
]]
local timespec = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local bodies_path = os.getenv("BODIES") or error("set BODIES to a file of request bodies, one per line")
local predict_path = os.getenv("PREDICT_PATH") or "/predict"
local drain_after_ms = tonumber(os.getenv("DRAIN_AFTER_MS") or "")
local track = os.getenv("TRACK_VERSION")
local track_text = track and ('"version":"' .. track .. '"') or nil

-- The main Lua state (setup and done) keeps the threads, to read their counters at the end.
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  threads[#threads + 1] = thread
end

-- Per-thread state. Globals, so that done() can read them with thread:get().
predict_2xx = 0
predict_non2xx = 0
tracked = 0
window_ms = 0

local requests = {}
local next_index = 1
local deadline
local started
local draining = false

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  for line in io.lines(bodies_path) do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("POST", predict_path, headers, line)
    end
  end
  if #requests == 0 then error("no bodies in " .. bodies_path) end
  -- Threads start at different rows (the rows are cycled through in file order).
  next_index = ((thread_index or 0) * 7919) % #requests + 1
  started = now_ms()
  if drain_after_ms then deadline = started + drain_after_ms end
end

function request()
  if deadline and not draining and now_ms() >= deadline then
    draining = true
    window_ms = now_ms() - started
  end
  if draining then return "" end
  local r = requests[next_index]
  next_index = next_index + 1
  if next_index > #requests then next_index = 1 end
  return r
end

if track_text then
  function response(status, headers, body)
    if status >= 200 and status <= 299 then
      predict_2xx = predict_2xx + 1
      if body:find(track_text, 1, true) then tracked = tracked + 1 end
    else
      predict_non2xx = predict_non2xx + 1
    end
  end
end

function done(summary, latency, requests_stats)
  local sums = { predict_2xx = 0, predict_non2xx = 0, tracked = 0 }
  local window = 0
  for _, thread in ipairs(threads) do
    for name, _ in pairs(sums) do
      sums[name] = sums[name] + (thread:get(name) or 0)
    end
    window = math.max(window, thread:get("window_ms") or 0)
  end
  if window == 0 then window = summary.duration / 1000 end
  local errors = summary.errors
  if not track_text then
    sums.predict_non2xx = errors.status
    sums.predict_2xx = summary.requests - errors.status
  end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"window_ms":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"status_errors":%d,"predict_2xx":%d,"predict_non2xx":%d,"tracked":%d}\n',
    summary.requests, summary.duration, window, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean, errors.connect,
    errors.read, errors.write, errors.timeout, errors.status, sums.predict_2xx, sums.predict_non2xx,
    sums.tracked))
end
