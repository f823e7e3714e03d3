
-- GET /users?limit=25: the first page, the same request every time (wrk sends it as is).
function prepare()
   wrk.path = wrk.path .. "?limit=25"
end
