-- GET /users/{id}: Repository.Get, a statement compiled once from the GORM schema (db.ByID),
-- sent through pgx outside a transaction. The app sends
--   SELECT "id", "username", "email", "full_name", "version", "created_at", "updated_at", "deleted_at", "generation" FROM "users" WHERE "id" = $1 AND "deleted_at" IS NULL
-- Only seeded live users are read: :live is their number, and the k-th of them is seeded
-- user k + (k - 1) / :per (one in DeletedEvery is deleted; per = DeletedEvery - 1).
\set k random(1, :live)
\set n :k + (:k - 1) / :per
SELECT "id", "username", "email", "full_name", "version", "created_at", "updated_at", "deleted_at", "generation" FROM "users" WHERE "id" = {{ID}} AND "deleted_at" IS NULL;
