package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"usersvc/platform/actor"
	"usersvc/platform/db"
)

// delivery is the River job that carries one event to one subscriber.
type delivery struct {
	Subscriber string `json:"subscriber"`
	Event      Event  `json:"event"`
}

// Kind names the job in River's tables.
func (delivery) Kind() string { return "event" }

// deliverer is the River worker of deliveries.
type deliverer struct {
	river.WorkerDefaults[delivery]
	bus *Bus
}

// Work runs the subscriber's handler in a transaction that also writes the receipt and
// completes the job: all three commit together, or the attempt fails and is retried. A
// receipt already there means an earlier delivery's effect committed: nothing is done again.
func (w *deliverer) Work(ctx context.Context, job *river.Job[delivery]) error {
	d := job.Args
	handle, ok := w.bus.handler(d.Subscriber, d.Event.Type)
	if !ok {
		// The subscriber no longer handles this type (a module was changed or removed):
		// retrying cannot help, and the job stays listable as cancelled.
		return river.JobCancel(fmt.Errorf("events: %s does not handle %s", d.Subscriber, d.Event.Type))
	}
	return w.bus.db.Transact(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`INSERT INTO event_receipts (subscriber, event_id, handled_at) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, d.Subscriber, d.Event.ID, w.bus.now())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 1 {
			if err := handle(actor.With(db.WithTx(ctx, tx), d.Event.Actor), d.Event); err != nil {
				return fmt.Errorf("events: %s handling %s %s: %w", d.Subscriber, d.Event.Type, d.Event.ID, err)
			}
		}
		sqlTx, err := sqlTxOf(tx)
		if err != nil {
			return err
		}
		_, err = river.JobCompleteTx[*riverdatabasesql.Driver](ctx, sqlTx, job)
		return err
	})
}

// backoff is River's retry policy for deliveries: initial after the first failure, doubling,
// at most max.
type backoff struct{ initial, max time.Duration }

// NextRetry implements river.ClientRetryPolicy.
func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	wait := b.initial
	for i := 1; i < job.Attempt && wait < b.max; i++ {
		wait *= 2
	}
	return time.Now().Add(min(wait, b.max))
}

// marshal encodes a payload; a json.RawMessage passes as it is.
func marshal(payload any) (json.RawMessage, error) {
	if raw, ok := payload.(json.RawMessage); ok {
		return raw, nil
	}
	return json.Marshal(payload)
}
