
-- GET /users?email=…: a random live seeded user's email in mixed case (User%08d@Example.com,
-- the '@' escaped), chosen as lookup_email.sql chooses it.
function request()
   sent = sent + 1
   return http_get(string.format("%s?email=User%08d%%40Example.com", wrk.path, live_user()))
end
