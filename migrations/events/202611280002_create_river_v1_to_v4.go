package events

import (
	"embed"
	"fmt"
	"slices"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// riverSQL is River v0.51.2's migrations 001–008 as rivermigrate gives them for the public
// schema (the "/* TEMPLATE: schema */" prefix removed), frozen: a River upgrade brings its
// new versions in a new migration of ours.
//
//go:embed river/*.sql
var riverSQL embed.FS

// riverVersions are River's migration files, by version.
var riverVersions = []string{
	"001_create_river_migration",
	"002_initial_schema",
	"003_river_job_tags_non_null",
	"004_pending_and_more",
	"005_migration_unique_client",
	"006_bulk_unique",
	"007_notification_outbox_sqlite_jsonb_and_sql_cleanup",
	"008_job_id_autoincrement",
}

// riverStep runs River's migrations from..to (1-based, inclusive) up, or down in reverse.
// Each version's file is one multi-statement string (with $body$ blocks), sent as is.
func riverStep(tx *gorm.DB, from, to int, direction string) error {
	versions := slices.Clone(riverVersions[from-1 : to])
	if direction == "down" {
		slices.Reverse(versions)
	}
	for _, v := range versions {
		sql, err := riverSQL.ReadFile("river/" + v + "." + direction + ".sql")
		if err != nil {
			return err
		}
		if err := exec(tx, string(sql)); err != nil {
			return fmt.Errorf("river %s %s: %w", v, direction, err)
		}
	}
	return nil
}

// createRiverV1ToV4 is frozen: River's versions 1–4. Version 4 adds an enum value that
// version 6 uses, which PostgreSQL allows only once the value is committed: hence two
// migrations, two transactions.
func createRiverV1ToV4() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID:       "202611280002_create_river_v1_to_v4",
		Migrate:  func(tx *gorm.DB) error { return riverStep(tx, 1, 4, "up") },
		Rollback: func(tx *gorm.DB) error { return riverStep(tx, 1, 4, "down") },
	}
}
