-- wrk script of make perf's suite 11 (tests/performance/load/wrk/): this common part, then
-- the operation's part below it. Run as
--   wrk -t 2 -c CONNECTIONS -d SECONDS -s SCRIPT http://HOST:PORT/api/v1/users -- name=value …
-- Options (after wrk's "--"):
--   token=…         the API token (Authorization: Bearer …)
--   live=N per=N    the seeded live users, addressed as the pgbench scripts do: the k-th live
--                   one (1 ≤ k ≤ live, uniformly random) is seeded user k + (k - 1) // per
--   seed=N          random seed; thread t seeds with seed * 1000 + t
--   prefix=… tag=…  POST /users usernames: <prefix>_<tag>.<thread>.<n>, unique per run
--   histogram=1     after the summary, print every latency wrk recorded ("wrk-histogram µs count")
-- done() prints "wrk-summary …" and "wrk-latency …" lines for the suite to parse. An
-- operation's part may define prepare(opt), called at the end of init with the options.

local threads = {}

-- setup runs in wrk's main state, once per thread before its init: number the threads.
function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_no", #threads)
end

-- init runs in each thread's own state. args[0] is the URL, the options follow.
function init(args)
   local opt = {}
   for i = 1, #args do
      local k, v = string.match(args[i], "^([%w_]+)=(.*)$")
      if k then opt[k] = v end
   end
   live, per = tonumber(opt.live), tonumber(opt.per)
   prefix, tag = opt.prefix, opt.tag
   histogram = opt.histogram == "1"
   math.randomseed(tonumber(opt.seed or "1") * 1000 + thread_no)
   sent = 0 -- requests this thread built (wrk builds one more than it sends to check the script)
   wrk.headers["Authorization"] = "Bearer " .. opt.token
   -- Requests are built by hand: wrk.format copies the header table on every call.
   head = " HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\nAuthorization: Bearer " .. opt.token .. "\r\n"
   if prepare then prepare(opt) end
end

-- live_user is a random live seeded user's number, chosen as get_by_id.sql chooses it.
function live_user()
   local k = math.random(1, live)
   return k + math.floor((k - 1) / per)
end

function http_get(path)
   return "GET " .. path .. head .. "\r\n"
end

function http_post(path, body)
   return "POST " .. path .. head .. "Content-Type: application/json\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
end

function done(summary, latency, requests)
   local sent = 0
   for _, t in ipairs(threads) do sent = sent + (t:get("sent") or 0) end
   local e = summary.errors
   io.write(string.format("wrk-summary duration_us=%d requests=%d bytes=%d sent=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.duration, summary.requests, summary.bytes, sent, e.connect, e.read, e.write, e.status, e.timeout))
   io.stdout:flush() -- at once: suite 12 reads the CPU counters on this line, before the rest
   if summary.requests == 0 then return end
   io.write(string.format("wrk-latency min_us=%d p50_us=%d p75_us=%d p90_us=%d p99_us=%d max_us=%d\n",
      latency.min, latency:percentile(50), latency:percentile(75), latency:percentile(90), latency:percentile(99), latency.max))
   if threads[1]:get("histogram") then
      for i = 1, #latency do
         local v, c = latency(i)
         io.write(string.format("wrk-histogram %d %d\n", v, c))
      end
   end
end
