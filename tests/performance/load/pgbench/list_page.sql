-- GET /users?limit=25: Repository.List, the first keyset page sorted by created_at (one
-- row more than the page, to know whether a next page exists). The app sends
--   SELECT * FROM "users" WHERE "users"."deleted_at" IS NULL ORDER BY created_at ASC, id ASC LIMIT $1   ($1 = 26)
SELECT * FROM "users" WHERE "users"."deleted_at" IS NULL ORDER BY created_at ASC, id ASC LIMIT :limit;
