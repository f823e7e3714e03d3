-- GET /users/{id}: Repository.Get, a GORM Take outside a transaction. The app sends
--   SELECT * FROM "users" WHERE id = $1 AND "users"."deleted_at" IS NULL LIMIT $2   ($2 = 1)
-- Only seeded live users are read: :live is their number, and the k-th of them is seeded
-- user k + (k - 1) / :per (one in DeletedEvery is deleted; per = DeletedEvery - 1).
\set k random(1, :live)
\set n :k + (:k - 1) / :per
SELECT * FROM "users" WHERE id = {{ID}} AND "users"."deleted_at" IS NULL LIMIT :take;
