-- GET /users?email=…: Repository.List filtered by email, case-insensitively (the app lowers
-- the value itself, ASCII only). The app sends
--   SELECT * FROM "users" WHERE lower(email) = $1 AND "users"."deleted_at" IS NULL ORDER BY created_at ASC, id ASC LIMIT $2   ($2 = 26)
-- Seeded live users only, chosen as in get_by_id.sql; their emails are User%08d@Example.com.
\set k random(1, :live)
\set n :k + (:k - 1) / :per
SELECT * FROM "users" WHERE lower(email) = ('user' || lpad((:n)::text, 8, '0') || '@example.com') AND "users"."deleted_at" IS NULL ORDER BY created_at ASC, id ASC LIMIT :limit;
