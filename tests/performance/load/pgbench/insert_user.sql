-- POST /users: Repository.Register, one transaction of two GORM Creates. The app sends
--   BEGIN
--   INSERT INTO "users" ("id","username","email","full_name","version","created_at","updated_at","deleted_at") VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
--   INSERT INTO "user_events" ("user_id","action","changes","at") VALUES ($1,$2,$3,$4) RETURNING "id"
--   COMMIT
-- The id is made here, time-ordered like the app's UUIDv7 (milliseconds since the epoch first,
-- so new ids land at the right end of users_pkey as the app's do; a random id would scatter
-- them over the index and make pgbench slower than the app's SQL), and read back with
-- RETURNING for the event; usernames are unique by a random number after the run's prefix.
\set r random(1, 9223372036854775806)
BEGIN;
INSERT INTO "users" ("id","username","email","full_name","version","created_at","updated_at","deleted_at") VALUES ((lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' || substr(lpad(to_hex((:r)::bigint), 16, '0'), 1, 3) || '8' || substr(lpad(to_hex((:r)::bigint), 16, '0'), 4, 13) || '00')::uuid, :prefix || '_' || :r, :prefix || '_' || :r || '@example.com', 'Perf Load', 1, now(), now(), NULL) RETURNING "id" AS new_id \gset
INSERT INTO "user_events" ("user_id","action","changes","at") VALUES (:new_id, 'created', jsonb_build_object('username', :prefix || '_' || :r, 'email', :prefix || '_' || :r || '@example.com', 'full_name', 'Perf Load'), now()) RETURNING "id";
COMMIT;
