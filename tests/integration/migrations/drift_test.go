package migrations_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/app"
)

// The migrated schema matches the GORM models: one database is built by the migrations,
// another by AutoMigrate of every model (app.Models: the platform's and each module's), and their tables, columns, indexes and
// constraints must agree. The models are what the code reads and writes through, so a
// difference means the code believes in a schema the database does not have.
func TestMigratedSchemaMatchesModels(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	migratedURL := newDatabase(t, "drift_migrated")
	_, err := newApp(t, migratedURL).Migrator().Up(ctx, "")
	require.NoError(t, err)

	modeledURL := newDatabase(t, "drift_modeled")
	gdb := openGorm(t, modeledURL)
	require.NoError(t, gdb.WithContext(ctx).AutoMigrate(app.Models(app.Modules(app.Deps{}))...), "AutoMigrate of every model")

	migrated, modeled := connect(t, migratedURL), connect(t, modeledURL)
	for _, q := range []struct{ what, sql string }{
		{"tables", driftTables},
		{"columns", driftColumns},
		{"indexes", driftIndexes},
		{"constraints", driftConstraints},
	} {
		want := queryStrings(t, migrated, q.sql)
		require.NotEmpty(t, want, q.what)
		assert.Equal(t, want, queryStrings(t, modeled, q.sql),
			"%s: the migrations (expected) and the gorm tags of the models (actual) disagree", q.what)
	}
}

// Both databases keep everything in the public schema, so the definitions below (which name
// it, e.g. "ON public.users") need no normalizing; no OID or database name appears in them.
// Left out, because they exist only in the migrated database: the bookkeeping tables,
// River's tables (its schema is River's frozen SQL, not modelled), and views (a module's
// published views are part of its contract, not of its models).
const driftScope = `table_schema = 'public' AND table_name NOT LIKE '%migrations%' AND table_name NOT LIKE 'river%'
	AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE')`

const driftTables = `SELECT table_name || ' ' || table_type FROM information_schema.tables
	WHERE ` + driftScope + ` ORDER BY 1`

// Column defaults and identity are compared too: GORM expresses both (default:…, and
// generated:identity always in gorm.io/driver/postgres ≥ 1.6).
const driftColumns = `SELECT concat_ws(' ', table_name, column_name, udt_name, 'nullable=' || is_nullable,
		'collation=' || coalesce(collation_name, '-'), 'maxlen=' || coalesce(character_maximum_length::text, '-'),
		'default=' || coalesce(column_default, '-'),
		'identity=' || is_identity || coalesce(' ' || identity_generation, ''), 'generated=' || is_generated)
	FROM information_schema.columns
	WHERE ` + driftScope + ` ORDER BY table_name, column_name`

const driftIndexes = `SELECT indexname || ': ' || indexdef FROM pg_indexes
	WHERE schemaname = 'public' AND tablename NOT LIKE '%migrations%' AND tablename NOT LIKE 'river%' ORDER BY 1`

// Constraints by name and definition, except foreign keys, which are compared by table and
// definition only: GORM always names them fk_<table>_<field> (no tag sets the name), while
// the migration lets PostgreSQL name it <table>_<column>_fkey.
const driftConstraints = `SELECT t.relname || ' ' ||
		CASE WHEN con.contype = 'f' THEN '(foreign key)' ELSE con.conname END || ' ' || pg_get_constraintdef(con.oid)
	FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid
	WHERE con.connamespace = 'public'::regnamespace AND t.relname NOT LIKE '%migrations%'
		AND t.relname NOT LIKE 'river%' ORDER BY 1`
