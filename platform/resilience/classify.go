// Package resilience decides how the service reacts to database failures. Classify is the only
// place in the code base that knows SQLSTATEs and pgx's error shapes; everything else asks it.
package resilience

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Class says what kind of failure an error is, and so whether retrying can help.
type Class int

const (
	// ClassNone: no error.
	ClassNone Class = iota
	// ClassOther: an unexpected error (a bug, a schema mismatch); never retried, answered 500.
	ClassOther
	// ClassClient: the request is at fault (not found, unique/foreign-key/check violation,
	// bad value); never retried, never counted against the database.
	ClassClient
	// ClassContention: the database is healthy but two transactions collided
	// (40001 serialization failure, 40P01 deadlock, 55P03 lock not available); retrying the
	// whole transaction is correct.
	ClassContention
	// ClassUnavailable: the database cannot be reached or refuses new work: connecting failed
	// (refused, reset, too many connections, starting up or shutting down). The breaker
	// counts it.
	ClassUnavailable
	// ClassTimeout: a statement or our own deadline ran out (57014, context deadline).
	ClassTimeout
	// ClassCallerGone: the request's context was cancelled; stop, never retry, never count.
	ClassCallerGone
	// ClassOutcomeUnknown: the connection failed while COMMIT was in flight; the write may
	// have committed. Never retried blindly; not counted by the breaker either: lost
	// connections on a healthy server (terminated backends, a flaky proxy) must not hold
	// back every request, and a server that is really down fails the next connect anyway.
	ClassOutcomeUnknown
	// ClassConnectionLost: an established connection broke under a statement (its backend
	// was terminated, its socket reset or closed). The server may well be fine — a failover,
	// a restarted proxy or an admin's pg_terminate_backend sweep ends many connections at
	// once — and a new connection would likely work, so the attempt is retried (a write
	// only before COMMIT) but the breaker does not count it and it takes nothing from the
	// retry budget: if the server is really gone, the retry's connect fails, and that
	// counts.
	ClassConnectionLost
)

// ErrOutcomeUnknown marks an error of ClassOutcomeUnknown; wrap the driver error with it.
var ErrOutcomeUnknown = errors.New("connection lost during COMMIT: outcome unknown")

func (c Class) String() string {
	switch c {
	case ClassNone:
		return "none"
	case ClassClient:
		return "client"
	case ClassContention:
		return "contention"
	case ClassUnavailable:
		return "unavailable"
	case ClassTimeout:
		return "timeout"
	case ClassCallerGone:
		return "caller_gone"
	case ClassOutcomeUnknown:
		return "outcome_unknown"
	case ClassConnectionLost:
		return "connection_lost"
	default:
		return "other"
	}
}

// SQLSTATEs by class. See https://www.postgresql.org/docs/current/errcodes-appendix.html.
var sqlStateClass = map[string]Class{
	"40001": ClassContention,     // serialization_failure
	"40P01": ClassContention,     // deadlock_detected
	"55P03": ClassContention,     // lock_not_available
	"57P01": ClassConnectionLost, // admin_shutdown (backend terminated)
	"57P02": ClassConnectionLost, // crash_shutdown (another backend crashed)
	"57P05": ClassConnectionLost, // idle_session_timeout
	"57P03": ClassUnavailable,    // cannot_connect_now (starting up / shutting down)
	"53300": ClassUnavailable,    // too_many_connections
	// read_only_sql_transaction: the server is not (or no longer) the primary, as after a
	// failover that left a pooled connection on a demoted server, or one behind a pooler
	// that now points at a standby. The primary is unavailable on that connection, which
	// is closed (db's onPgError), so a retry connects afresh; not the client's fault.
	"25006": ClassUnavailable,
	"57014": ClassTimeout, // query_canceled (statement_timeout)
	"23505": ClassClient,  // unique_violation
	"23503": ClassClient,  // foreign_key_violation
	"23514": ClassClient,  // check_violation
	"23502": ClassClient,  // not_null_violation
	"22001": ClassClient,  // string_data_right_truncation
	"22P02": ClassClient,  // invalid_text_representation
	"22003": ClassClient,  // numeric_value_out_of_range
	"22007": ClassClient,  // invalid_datetime_format
	"22008": ClassClient,  // datetime_field_overflow
	"22021": ClassClient,  // character_not_in_repertoire (invalid UTF-8, NUL)
	"22P05": ClassClient,  // untranslatable_character
}

// badValueCodes are the data exceptions caused by a value the request supplied; others in
// class 22 (division by zero, …) come from our own SQL and are bugs.
var badValueCodes = map[string]bool{
	"22001": true, "22P02": true, "22003": true, "22007": true, "22008": true, "22021": true, "22P05": true,
}

// Classify sorts err into a Class. It unwraps with errors.As/errors.Is only, so the caller must
// hand it the error of the statement that failed (GORM flattens a second error into text).
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	if errors.Is(err, ErrOutcomeUnknown) {
		return ClassOutcomeUnknown
	}
	if errors.Is(err, context.Canceled) {
		return ClassCallerGone
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ClassClient
	}
	// Failing to connect, whatever the reason (refused, reset during startup, 53300 too
	// many connections, 57P03 shutting down), means the database cannot be reached.
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
			return ClassTimeout
		}
		return ClassUnavailable
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if c, ok := sqlStateClass[pgErr.Code]; ok {
			return c
		}
		if sqlStateClassOf(pgErr.Code) == "08" { // connection_exception
			return ClassUnavailable
		}
		return ClassOther
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return ClassTimeout
	}
	if isRefused(err) {
		return ClassUnavailable
	}
	if isConnectionLoss(err) {
		return ClassConnectionLost
	}
	return ClassOther
}

// BadValue reports whether the database rejected a value the request supplied (invalid
// encoding, out of range, too long…): the request was wrong, not the server.
func BadValue(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && badValueCodes[pgErr.Code]
}

func sqlStateClassOf(code string) string {
	if len(code) != 5 {
		return ""
	}
	return code[:2]
}

// isRefused recognises a failure to open a connection that reached us without pgx's
// ConnectError around it.
func isRefused(err error) bool {
	var opErr *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &opErr) && opErr.Op == "dial")
}

// isConnectionLoss recognises the shapes a broken established connection takes in pgx: never
// a class-08 SQLSTATE, but EOFs, resets, broken pipes and "conn closed" (database/sql's
// ErrBadConn when it gave up replacing one).
func isConnectionLoss(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr):
		return true
	}
	return false
}
