package db

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// LSN is a position in PostgreSQL's write-ahead log (pg_lsn): 0 means none.
type LSN uint64

// ParseLSN reads the text form PostgreSQL prints, "16/B374D848".
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok || hi == "" || lo == "" || len(hi) > 8 || len(lo) > 8 {
		return 0, fmt.Errorf("db: %q is not a WAL position (like 16/B374D848)", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("db: %q is not a WAL position (like 16/B374D848)", s)
	}
	return LSN(h<<32 | l), nil
}

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xFFFFFFFF) }

// Commits collects the WAL position after the writes of one request, for its consistency
// token. Safe for concurrent use.
type Commits struct{ at atomic.Uint64 }

// LSN is the position after the request's last committed write; 0 when it wrote nothing.
func (c *Commits) LSN() LSN { return LSN(c.at.Load()) }

func (c *Commits) add(l LSN) {
	for {
		old := c.at.Load()
		if uint64(l) <= old || c.at.CompareAndSwap(old, uint64(l)) {
			return
		}
	}
}

type commitsKey struct{}

// RecordCommits returns ctx under which each transaction the Runner commits records the WAL
// position after it in the returned Commits (one extra query per transaction).
func RecordCommits(ctx context.Context) (context.Context, *Commits) {
	c := &Commits{}
	return context.WithValue(ctx, commitsKey{}, c), c
}

type replicaReadKey struct{}

// ReadFromReplica returns ctx under which the Runner's reads may be served by a replica that
// is within the staleness bound and has replayed at least after (0: any position).
func ReadFromReplica(ctx context.Context, after LSN) context.Context {
	return context.WithValue(ctx, replicaReadKey{}, after)
}

// replicaRead reports whether ctx allows a replica, and the position it must have replayed.
func replicaRead(ctx context.Context) (after LSN, ok bool) {
	after, ok = ctx.Value(replicaReadKey{}).(LSN)
	return after, ok
}
