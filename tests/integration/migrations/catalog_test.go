package migrations_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// catalogEntry is one object of the public schema as text, with the relation (or type) it
// belongs to, so a comparison can leave out whatever belongs to the bookkeeping tables.
type catalogEntry struct {
	Owner string
	Text  string
}

// catalogQueries describe, by name and definition only (never OIDs), everything a migration
// can create in the public schema: relations, columns, indexes, constraints, types (table row
// types and their array types included), functions and triggers.
var catalogQueries = []string{
	// Tables, views, sequences, composite types. A sequence belongs to the table whose column
	// owns it (serial or identity).
	`SELECT coalesce(owner.relname, c.relname),
		format('relation %s kind=%s persistence=%s', c.relname, c.relkind, c.relpersistence) ||
		CASE WHEN c.relkind IN ('v', 'm') THEN ' view=' || pg_get_viewdef(c.oid) ELSE '' END
	FROM pg_class c
	LEFT JOIN pg_depend d ON c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid
		AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
	LEFT JOIN pg_class owner ON owner.oid = d.refobjid
	WHERE c.relnamespace = 'public'::regnamespace AND c.relkind NOT IN ('i', 'I')`,

	// Columns, with their position among the live columns.
	`SELECT c.relname,
		format('column %s.%s #%s %s notnull=%s default=%s collation=%s identity=%s generated=%s',
			c.relname, a.attname, row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
			format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
			coll.collname, a.attidentity, a.attgenerated)
	FROM pg_attribute a
	JOIN pg_class c ON c.oid = a.attrelid
	LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	LEFT JOIN pg_collation coll ON coll.oid = a.attcollation
	WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
		AND a.attnum > 0 AND NOT a.attisdropped`,

	// Indexes.
	`SELECT t.relname, format('index %s valid=%s unique=%s', pg_get_indexdef(ix.indexrelid), ix.indisvalid, ix.indisunique)
	FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid
	WHERE t.relnamespace = 'public'::regnamespace`,

	// Constraints of tables and of domains.
	`SELECT coalesce(t.relname, ty.typname),
		format('constraint %s on %s type=%s deferrable=%s %s',
			con.conname, coalesce(t.relname, ty.typname), con.contype, con.condeferrable, pg_get_constraintdef(con.oid))
	FROM pg_constraint con
	LEFT JOIN pg_class t ON t.oid = con.conrelid
	LEFT JOIN pg_type ty ON ty.oid = con.contypid
	WHERE con.connamespace = 'public'::regnamespace`,

	// Types: enums, domains, composites and the row type of every table, with their arrays.
	`SELECT coalesce(r.relname, er.relname, e.typname, t.typname),
		format('type %s kind=%s', t.typname, t.typtype) ||
		coalesce(' enum=' || (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid), '') ||
		CASE WHEN t.typtype = 'd' THEN ' base=' || format_type(t.typbasetype, t.typtypmod) ELSE '' END
	FROM pg_type t
	LEFT JOIN pg_class r ON r.oid = t.typrelid
	LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
	LEFT JOIN pg_class er ON er.oid = e.typrelid
	WHERE t.typnamespace = 'public'::regnamespace`,

	// Functions and procedures, their body by digest.
	`SELECT p.proname,
		format('function %s(%s) returns %s kind=%s body=%s', p.proname, pg_get_function_identity_arguments(p.oid),
			pg_get_function_result(p.oid), p.prokind, md5(coalesce(p.prosrc, '')))
	FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace`,

	// Triggers other than the internal ones behind foreign keys.
	`SELECT c.relname, 'trigger ' || pg_get_triggerdef(tg.oid)
	FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
	WHERE NOT tg.tgisinternal AND c.relnamespace = 'public'::regnamespace`,
}

// snapshotCatalog describes the public schema, sorted, so two snapshots compare with Equal.
func snapshotCatalog(t *testing.T, conn *pgx.Conn) []catalogEntry {
	t.Helper()
	var out []catalogEntry
	for _, q := range catalogQueries {
		rows, err := conn.Query(t.Context(), q)
		require.NoError(t, err, q)
		entries, err := pgx.CollectRows(rows, pgx.RowToStructByPos[catalogEntry])
		require.NoError(t, err, q)
		out = append(out, entries...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Text != out[j].Text {
			return out[i].Text < out[j].Text
		}
		return out[i].Owner < out[j].Owner
	})
	return out
}

// withoutBookkeeping drops what belongs to the runner's own tables (schema_migrations and
// schema_migrations_history: their columns, indexes, constraints and row types).
func withoutBookkeeping(entries []catalogEntry) []catalogEntry {
	var out []catalogEntry
	for _, e := range entries {
		if !strings.Contains(e.Owner, "migrations") {
			out = append(out, e)
		}
	}
	return out
}

// hasEntry reports whether the snapshot holds an entry whose text starts with prefix.
func hasEntry(entries []catalogEntry, prefix string) bool {
	for _, e := range entries {
		if strings.HasPrefix(e.Text, prefix) {
			return true
		}
	}
	return false
}
