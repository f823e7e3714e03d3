-- POST /users: Repository.Register, one transaction of two GORM Creates. The app sends
--   BEGIN
--   INSERT INTO "users" ("id","username","email","full_name","version","created_at","updated_at","deleted_at") VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
--   INSERT INTO "user_events" ("user_id","action","changes","at") VALUES ($1,$2,$3,$4) RETURNING "id"
--   COMMIT
-- The id is made here by gen_random_uuid() (the app makes a UUIDv7) and read back with
-- RETURNING for the event; usernames are unique by a random number after the run's prefix.
\set r random(1, 9223372036854775806)
BEGIN;
INSERT INTO "users" ("id","username","email","full_name","version","created_at","updated_at","deleted_at") VALUES (gen_random_uuid(), :prefix || '_' || :r, :prefix || '_' || :r || '@example.com', 'Perf Load', 1, now(), now(), NULL) RETURNING "id" AS new_id \gset
INSERT INTO "user_events" ("user_id","action","changes","at") VALUES (:new_id, 'created', jsonb_build_object('username', :prefix || '_' || :r, 'email', :prefix || '_' || :r || '@example.com', 'full_name', 'Perf Load'), now()) RETURNING "id";
COMMIT;
