package users_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type stats struct {
	Active        int64 `json:"active"`
	Deleted       int64 `json:"deleted"`
	CreatedPerDay []struct {
		Date  string `json:"date"`
		Count int64  `json:"count"`
	} `json:"created_per_day"`
}

func getStats(t *testing.T) stats {
	t.Helper()
	resp := srv.Do(t, http.MethodGet, "/api/v1/users/stats", nil)
	require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
	var s stats
	resp.JSON(t, &s)
	return s
}

func TestStatsCountsUsersAndRegistrationsPerDay(t *testing.T) {
	before := getStats(t)
	a := register(t, "sta")
	register(t, "stb")
	del(t, a.ID)
	// A user registered 40 days ago counts as deleted/active but not in the 30-day window;
	// one from 3 days ago lands on its day.
	old := register(t, "stold")
	recent := register(t, "strec")
	require.NoError(t, srv.DB.Exec("UPDATE users SET created_at = now() - interval '40 days' WHERE id = ?", old.ID).Error)
	require.NoError(t, srv.DB.Exec("UPDATE users SET created_at = now() - interval '3 days' WHERE id = ?", recent.ID).Error)
	after := getStats(t)

	assert.Equal(t, before.Active+3, after.Active)
	assert.Equal(t, before.Deleted+1, after.Deleted)
	require.Len(t, after.CreatedPerDay, 30)
	today := time.Now().UTC().Format("2006-01-02")
	threeDaysAgo := time.Now().UTC().AddDate(0, 0, -3).Format("2006-01-02")
	assert.Equal(t, today, after.CreatedPerDay[29].Date, "the window ends today (UTC)")
	assert.Equal(t, time.Now().UTC().AddDate(0, 0, -29).Format("2006-01-02"), after.CreatedPerDay[0].Date)
	counts := map[string]int64{}
	for _, d := range after.CreatedPerDay {
		counts[d.Date] += d.Count
	}
	for _, d := range before.CreatedPerDay {
		counts[d.Date] -= d.Count
	}
	assert.EqualValues(t, 2, counts[today], "two of today's registrations remain dated today")
	assert.EqualValues(t, 1, counts[threeDaysAgo])
}
