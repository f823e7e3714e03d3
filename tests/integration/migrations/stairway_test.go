package migrations_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Stairway: for each migration in order, up to it, down one, up again. Each Down must undo
// exactly what its Up did, and each Up must rebuild exactly the same schema, so a rollback
// followed by a redeploy is safe at every step.
func TestStairway(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := newDatabase(t, "stairway")
	conn := connect(t, url)
	r := newApp(t, url).Migrator()

	for _, m := range appPlan(t) {
		beforeUp := snapshotCatalog(t, conn)

		applied, err := r.Up(ctx, m.ID)
		require.NoError(t, err, "up to %s", m.ID)
		require.Equal(t, []string{m.ID}, applied, "up to %s", m.ID)
		afterUp := snapshotCatalog(t, conn)
		require.NotEqual(t, withoutBookkeeping(beforeUp), withoutBookkeeping(afterUp), "%s changed nothing", m.ID)

		rolledBack, err := r.Down(ctx, "", false)
		require.NoError(t, err, "down from %s", m.ID)
		require.Equal(t, []string{m.ID}, rolledBack, "down from %s", m.ID)
		// The first Up also created the bookkeeping tables, which stay.
		assert.Equal(t, withoutBookkeeping(beforeUp), withoutBookkeeping(snapshotCatalog(t, conn)),
			"down from %s must restore the schema before it", m.ID)

		applied, err = r.Up(ctx, m.ID)
		require.NoError(t, err, "up again to %s", m.ID)
		require.Equal(t, []string{m.ID}, applied, "up again to %s", m.ID)
		assert.Equal(t, afterUp, snapshotCatalog(t, conn), "up again to %s must build the same schema", m.ID)
	}
	pending, err := r.Pending(ctx)
	require.NoError(t, err)
	assert.Zero(t, pending)
}
