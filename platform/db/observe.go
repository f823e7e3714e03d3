package db

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// observersName names the GORM plugin that holds the statement observers; Open installs it,
// so ObserveStatements never writes GORM's plugin map while statements are running.
const observersName = "usersvc:statement-observers"

// observers sees the statements that do not go through GORM's callbacks (ByID's), as
// callbacks registered on GORM see the rest.
type observers struct {
	mu     sync.RWMutex
	fns    map[int]func(sql string, vars []any)
	next   int
	active atomic.Int32 // len(fns): statements skip the lock while nobody observes
}

func (*observers) Name() string              { return observersName }
func (*observers) Initialize(*gorm.DB) error { return nil }

// sent is what a statement sent past GORM's callbacks does afterwards: it goes through tx's
// logger as GORM's own do (slow-query and debug logs), and to the observers when there are any.
func sent(tx *gorm.DB, begin time.Time, sql string, vars []any, rows int64, err error) {
	tx.Logger.Trace(tx.Statement.Context, begin, func() (string, int64) { return tx.Dialector.Explain(sql, vars...), rows }, err)
	o, ok := tx.Config.Plugins[observersName].(*observers)
	if !ok || o.active.Load() == 0 {
		return
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, fn := range o.fns {
		fn(sql, vars)
	}
}

// ObserveStatements makes fn see, with their arguments, the statements sent on gdb (opened by
// Open) past GORM's callbacks, until stop is called; a callback registered on GORM's query and
// row processors sees every other. For the tests and tools that check the SQL the service
// sends.
func ObserveStatements(gdb *gorm.DB, fn func(sql string, vars []any)) (stop func(), err error) {
	o, ok := gdb.Config.Plugins[observersName].(*observers)
	if !ok {
		return nil, fmt.Errorf("db: observe statements: the pool was not opened by db.Open")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.next++
	id := o.next
	o.fns[id] = fn
	o.active.Store(int32(len(o.fns)))
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		delete(o.fns, id)
		o.active.Store(int32(len(o.fns)))
	}, nil
}
