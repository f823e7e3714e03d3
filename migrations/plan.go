// Package migrations applies and rolls back the schema. Modules contribute gormigrate
// migrations (each module's live under migrations/<module>/, one small file per migration);
// Plan merges them into the one ordered list, and Runner applies it with what gormigrate
// lacks: a lock, a transaction per migration, applied_at bookkeeping and a status listing.
package migrations

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/go-gormigrate/gormigrate/v2"
)

// idPattern: a UTC timestamp to the minute, then a name, e.g. 202611250001_create_users.
// The timestamp orders migrations across modules.
var idPattern = regexp.MustCompile(`^[0-9]{12}_[a-z0-9_]+$`)

// Plan merges the modules' migrations into one list ordered by ID, and rejects a malformed or
// duplicated ID or a migration without a Rollback.
func Plan(lists ...[]*gormigrate.Migration) ([]*gormigrate.Migration, error) {
	var all []*gormigrate.Migration
	seen := map[string]bool{}
	for _, list := range lists {
		for _, m := range list {
			switch {
			case !idPattern.MatchString(m.ID):
				return nil, fmt.Errorf("migrations: id %q does not match YYYYMMDDhhmm_name", m.ID)
			case seen[m.ID]:
				return nil, fmt.Errorf("migrations: id %q is defined twice", m.ID)
			case m.Migrate == nil || m.Rollback == nil:
				return nil, fmt.Errorf("migrations: %s needs both Migrate and Rollback", m.ID)
			}
			seen[m.ID] = true
			all = append(all, m)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all, nil
}
