
-- POST /users: a new user under the suite's prefix (deleted when the suite ends), unique by
-- run tag, thread and the thread's count.
function request()
   sent = sent + 1
   local name = string.format("%s_%s.%d.%d", prefix, tag, thread_no, sent)
   return http_post(wrk.path, string.format('{"username":"%s","email":"%s@example.com","full_name":"Perf Load"}', name, name))
end
