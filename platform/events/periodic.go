package events

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"
)

// periodicRun is the River job of one run of a Periodic.
type periodicRun struct {
	Name string `json:"name"`
}

// Kind names the job in River's tables.
func (periodicRun) Kind() string { return "periodic" }

// periodicWorker runs Periodic jobs by name.
type periodicWorker struct {
	river.WorkerDefaults[periodicRun]
	jobs []Periodic
}

// Work runs the named job; a failure is retried like any job.
func (w *periodicWorker) Work(ctx context.Context, job *river.Job[periodicRun]) error {
	for _, p := range w.jobs {
		if p.Name == job.Args.Name {
			return p.Run(ctx)
		}
	}
	return river.JobCancel(fmt.Errorf("events: no periodic job %q", job.Args.Name))
}

// periodicJobs are River's periodic jobs for ps: only the elected leader enqueues them, so
// each runs on one instance.
func periodicJobs(ps []Periodic) []*river.PeriodicJob {
	jobs := make([]*river.PeriodicJob, len(ps))
	for i, p := range ps {
		name := p.Name
		jobs[i] = river.NewPeriodicJob(river.PeriodicInterval(p.Interval),
			func() (river.JobArgs, *river.InsertOpts) {
				return periodicRun{Name: name}, &river.InsertOpts{Queue: queue, MaxAttempts: 3}
			}, &river.PeriodicJobOpts{ID: name, RunOnStart: true})
	}
	return jobs
}

// receiptCleanup deletes receipts past Config.ReceiptRetention: by then no delivery of their
// event can come again (River rescues a delivery whose instance died after RescueAfter).
func (b *Bus) receiptCleanup() Periodic {
	interval := max(b.cfg.ReceiptRetention/24, time.Minute)
	return Periodic{Name: "event_receipts_cleanup", Interval: interval, Run: func(ctx context.Context) error {
		return b.db.Transact(ctx, func(tx *gorm.DB) error {
			return tx.Exec(`DELETE FROM event_receipts WHERE handled_at < ?`, b.now().Add(-b.cfg.ReceiptRetention)).Error
		})
	}}
}
