-- wrk script of make perf's suite 12-topology (tests/performance/topology/wrk/): the
-- operation part, run after suite 11's common part (tests/performance/load/wrk/common.lua,
-- which reads the options, builds the requests' head and prints the results in done()). Run as
--   wrk -t 2 -c CONNECTIONS -d SECONDS -s topology.lua http://HOST:PORT/api/v1/users -- name=value … histogram=1
-- Options besides common.lua's:
--   op=get|list|post  GET /users/{id} of a random live seeded user; GET /users?limit=25 (the
--                     first page); POST /users of a new user

local build

local function get_user()
   return http_get(string.format("%s/00000000-0000-7000-8000-%012x", wrk.path, live_user()))
end

local function list_page()
   return http_get(wrk.path .. "?limit=25")
end

local function register()
   local name = string.format("%s_%s.%d.%d", prefix, tag, thread_no, sent)
   return http_post(wrk.path, string.format('{"username":"%s","email":"%s@example.com","full_name":"Perf Load"}', name, name))
end

function prepare(opt)
   if opt.op == "get" then build = get_user
   elseif opt.op == "list" then build = list_page
   elseif opt.op == "post" then build = register
   else error("op must be get, list or post, not " .. tostring(opt.op)) end
end

function request()
   sent = sent + 1
   return build()
end
