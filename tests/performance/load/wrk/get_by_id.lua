
-- GET /users/{id}: a random live seeded user, as get_by_id.sql reads them.
function request()
   sent = sent + 1
   return http_get(string.format("%s/00000000-0000-7000-8000-%012x", wrk.path, live_user()))
end
