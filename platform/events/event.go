// Package events lets modules tell each other what happened, durably, the way Spring
// Modulith's event publication registry does, on River (a PostgreSQL job queue):
//
//   - Publish stores an event in the transaction of the change it announces: one River job
//     per subscriber, inserted in that very transaction. A rolled-back change publishes
//     nothing; a committed one cannot lose its event, whatever happens to the process next.
//   - After commit, River workers on any instance deliver each job: at least once, retried
//     with backoff, a job at a time per subscriber, on whichever instance fetches it first.
//   - A delivery runs the subscriber's handler in a transaction that also writes a receipt
//     (subscriber, event id) and completes the job, so its effect happens once: a delivery
//     that comes again finds the receipt and does nothing.
//   - After MaxAttempts failures an event is a dead letter for that subscriber (River's
//     "discarded"), without holding back any other; `server events list|retry` shows and
//     retries them, /metrics counts them.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Event is one thing that happened in a module.
type Event struct {
	ID      uuid.UUID       `json:"id"`
	Type    string          `json:"type"` // "<module>.<what happened>", e.g. "user.deleted"
	At      time.Time       `json:"at"`
	Payload json.RawMessage `json:"payload"`
	// Actor made the change the event announces; a subscriber's changes are recorded as
	// made by it too ("" in events published before actors were recorded: actor.System).
	Actor string `json:"actor,omitempty"`
}

// Decode unmarshals the event's payload into v.
func (e Event) Decode(v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("events: %s %s: payload: %w", e.Type, e.ID, err)
	}
	return nil
}

// Handler handles one event for a subscriber. ctx carries the delivery's transaction
// (db.WithTx): the module's own Transactor joins it, so the handler's writes, its receipt
// and the job's completion commit together or not at all. An error fails the attempt: it is
// retried later, until the event is a dead letter.
type Handler func(ctx context.Context, ev Event) error

// Subscription is a module's handler for one type of event.
type Subscription struct {
	Subscriber string // the handling module, e.g. "teams"
	Type       string
	Handle     Handler
}

// Publisher publishes events in the transaction of the change they announce. Modules get
// one from app/.
type Publisher interface {
	// Publish stores an event of type typ for each payload (marshalled to JSON) in tx, which
	// must be the transaction of the change; they reach the subscribers once tx commits.
	Publish(ctx context.Context, tx *gorm.DB, typ string, payloads ...any) error
}
