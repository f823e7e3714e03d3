package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Delivery is one event on its way to one subscriber, as `server events list` shows it.
type Delivery struct {
	JobID       int64     `json:"job_id"`
	Subscriber  string    `json:"subscriber"`
	Type        string    `json:"type"`
	EventID     uuid.UUID `json:"event_id"`
	State       string    `json:"state"` // River's: available, running, retryable, scheduled, completed, discarded, cancelled
	Attempts    int       `json:"attempts"`
	MaxAttempts int       `json:"max_attempts"`
	LastError   string    `json:"last_error,omitempty"`
	PublishedAt time.Time `json:"published_at"`
	NextAt      time.Time `json:"next_attempt_at"`
}

// The selections List offers.
const (
	ListPending = "pending" // waiting: new, running, or to be retried
	ListDead    = "dead"    // dead letters
	ListAll     = "all"
)

var listStates = map[string][]rivertype.JobState{
	ListPending: {rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateRetryable,
		rivertype.JobStateScheduled, rivertype.JobStatePending},
	ListDead: {rivertype.JobStateDiscarded},
	ListAll:  nil,
}

// List returns up to limit deliveries in selection (ListPending, ListDead, ListAll), oldest
// first.
func (b *Bus) List(ctx context.Context, selection string, limit int) ([]Delivery, error) {
	states, ok := listStates[selection]
	if !ok {
		return nil, fmt.Errorf("events: list: unknown selection %q (pending, dead or all)", selection)
	}
	params := river.NewJobListParams().Kinds((delivery{}).Kind()).First(limit)
	if states != nil {
		params = params.States(states...)
	}
	res, err := b.client.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("events: list: %w", err)
	}
	out := make([]Delivery, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		var d delivery
		if err := json.Unmarshal(j.EncodedArgs, &d); err != nil {
			return nil, fmt.Errorf("events: list: job %d: %w", j.ID, err)
		}
		row := Delivery{JobID: j.ID, Subscriber: d.Subscriber, Type: d.Event.Type, EventID: d.Event.ID,
			State: string(j.State), Attempts: j.Attempt, MaxAttempts: j.MaxAttempts, PublishedAt: j.CreatedAt, NextAt: j.ScheduledAt}
		if n := len(j.Errors); n > 0 {
			row.LastError = j.Errors[n-1].Error
		}
		out = append(out, row)
	}
	return out, nil
}

// Retry makes deliveries (dead letters, or pending ones now) run again at once; one whose
// event was handled already finds its receipt and does nothing.
func (b *Bus) Retry(ctx context.Context, jobIDs ...int64) error {
	for _, id := range jobIDs {
		if _, err := b.client.JobRetry(ctx, id); err != nil {
			return fmt.Errorf("events: retry %d: %w", id, err)
		}
	}
	return nil
}

// subscriberOf reads the subscriber of a delivery job.
func subscriberOf(j *rivertype.JobRow) string {
	var d delivery
	if json.Unmarshal(j.EncodedArgs, &d) != nil {
		return "unknown"
	}
	return d.Subscriber
}
