-- POST /users: Repository.Register, one transaction holding one statement that inserts the
-- user and its "created" audit row (db.InsertBoth). The app sends
--   BEGIN
--   WITH first AS (INSERT INTO "users" ("id","username","email","full_name","version","created_at","updated_at","deleted_at","generation","email_key") VALUES ($1,…,$10))
--     INSERT INTO "user_events" ("user_id","action","changes","at","actor") VALUES ($11,$12,$13,$14,$15) RETURNING "id"
--   COMMIT
-- The id is made here, time-ordered like the app's UUIDv7 (milliseconds since the epoch first,
-- so new ids land at the right end of users_pkey as the app's do; a random id would scatter
-- them over the index and make pgbench slower than the app's SQL). pgbench cannot hold it in a
-- variable, so the event takes it from the CTE's RETURNING where the app binds it again;
-- usernames are unique by a random number after the run's prefix.
\set r random(1, 9223372036854775806)
BEGIN;
WITH first AS (INSERT INTO "users" ("id","username","email","full_name","version","created_at","updated_at","deleted_at","generation","email_key") VALUES ((lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' || substr(lpad(to_hex((:r)::bigint), 16, '0'), 1, 3) || '8' || substr(lpad(to_hex((:r)::bigint), 16, '0'), 4, 13) || '00')::uuid, :prefix || '_' || :r, :prefix || '_' || :r || '@example.com', 'Perf Load', 1, now(), now(), NULL, 1, lower(:prefix || '_' || :r || '@example.com')) RETURNING "id") INSERT INTO "user_events" ("user_id","action","changes","at","actor") SELECT "id", 'created', jsonb_build_object('username', :prefix || '_' || :r, 'email', :prefix || '_' || :r || '@example.com', 'full_name', 'Perf Load'), now(), 'perf' FROM first RETURNING "id";
COMMIT;
