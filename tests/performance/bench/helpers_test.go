package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"usersvc/modules/users"
)

// A cursor built by cursorAt must open the page that starts depth rows deep, or
// BenchmarkDepth would measure some other page (or fail on a bad cursor) after a change of
// the cursor format or scope in store_list.go.
func TestBuiltCursorStartsAtItsDepth(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, depth := range []int{0, 1, 137, min(1000, f.live-depthPage)} {
		cursor, err := f.cursorAt(ctx, depth)
		require.NoError(t, err)
		page, err := f.repo.List(ctx, users.ListQuery{Limit: depthPage, Cursor: cursor, State: users.StateActive, Sort: users.SortCreated})
		require.NoError(t, err, "depth %d", depth)
		want, err := f.pgx.OffsetPage(ctx, depth, depthPage)
		require.NoError(t, err)
		require.Len(t, page.Items, depthPage)
		require.Equal(t, utc(want...), utc(page.Items...), "depth %d", depth)
	}
}

// fakeTB records a failure instead of stopping the test.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
}

// A write benchmark that wrote nothing (or less than b.N) fails instead of looking fast.
func TestBenchmarkThatWroteNothingFails(t *testing.T) {
	f := env(t)
	tb := &fakeTB{}
	mustHave(tb, "created users", f.usersUnder(t, f.newNames(t).prefix), 1)
	require.Contains(t, tb.failed, "found 0 rows, want 1")

	tb = &fakeTB{}
	mustHave(tb, "created users", 3, 3)
	require.Empty(t, tb.failed)
}
