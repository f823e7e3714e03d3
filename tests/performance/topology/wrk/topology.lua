-- wrk script of make perf's suite 12-topology (tests/performance/topology/wrk/). Run as
--   wrk -t 2 -c CONNECTIONS -d SECONDS -s topology.lua http://HOST:PORT/api/v1/users -- name=value …
-- Options (after wrk's "--"):
--   op=get|list|post  GET /users/{id} of a random live seeded user; GET /users?limit=25 (the
--                     first page); POST /users of a new user
--   token=…           the API token (Authorization: Bearer …)
--   live=N per=N      the seeded live users: the k-th live one (1 ≤ k ≤ live, uniformly
--                     random) is seeded user k + (k - 1) // per, as in suite 11's scripts
--   seed=N            random seed; thread t seeds with seed * 1000 + t
--   prefix=… tag=…    POST usernames: <prefix>_<tag>.<thread>.<n>, unique per run
-- done() prints a "wrk-summary …" line (flushed at once, so the suite can read the CPU
-- counters before the rest), then every latency wrk recorded ("wrk-histogram µs count").

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_no", #threads)
end

local build

local function get_user()
   local k = math.random(1, live)
   return "GET " .. wrk.path .. string.format("/00000000-0000-7000-8000-%012x", k + math.floor((k - 1) / per)) .. head .. "\r\n"
end

local function list_page()
   return "GET " .. wrk.path .. "?limit=25" .. head .. "\r\n"
end

local function register()
   local name = string.format("%s_%s.%d.%d", prefix, tag, thread_no, sent)
   local body = string.format('{"username":"%s","email":"%s@example.com","full_name":"Perf Load"}', name, name)
   return "POST " .. wrk.path .. head .. "Content-Type: application/json\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
end

function init(args)
   local opt = {}
   for i = 1, #args do
      local k, v = string.match(args[i], "^([%w_]+)=(.*)$")
      if k then opt[k] = v end
   end
   live, per = tonumber(opt.live), tonumber(opt.per)
   prefix, tag = opt.prefix, opt.tag
   math.randomseed(tonumber(opt.seed or "1") * 1000 + thread_no)
   sent = 0 -- requests this thread built (wrk builds one more than it sends to check the script)
   head = " HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\nAuthorization: Bearer " .. opt.token .. "\r\n"
   if opt.op == "get" then build = get_user
   elseif opt.op == "list" then build = list_page
   elseif opt.op == "post" then build = register
   else error("op must be get, list or post, not " .. tostring(opt.op)) end
end

function request()
   sent = sent + 1
   return build()
end

function done(summary, latency, requests)
   local sent = 0
   for _, t in ipairs(threads) do sent = sent + (t:get("sent") or 0) end
   local e = summary.errors
   io.write(string.format("wrk-summary duration_us=%d requests=%d bytes=%d sent=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.duration, summary.requests, summary.bytes, sent, e.connect, e.read, e.write, e.status, e.timeout))
   io.stdout:flush()
   if summary.requests == 0 then return end
   for i = 1, #latency do
      local v, c = latency(i)
      io.write(string.format("wrk-histogram %d %d\n", v, c))
   end
end
