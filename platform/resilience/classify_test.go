package resilience

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"gorm.io/gorm"
)

func TestClassify(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Code: code} }
	wrap := func(err error) error { return fmt.Errorf("users: create: %w", err) }
	cases := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, ClassNone},
		{"serialization failure", pg("40001"), ClassContention},
		{"deadlock", wrap(pg("40P01")), ClassContention},
		{"lock not available", pg("55P03"), ClassContention},
		{"backend terminated", wrap(pg("57P01")), ClassUnavailable},
		{"too many connections", pg("53300"), ClassUnavailable},
		{"connection exception class", pg("08006"), ClassUnavailable},
		{"statement timeout", pg("57014"), ClassTimeout},
		{"unique violation through gorm translation", fmt.Errorf("%w: %w", gorm.ErrDuplicatedKey, pg("23505")), ClassClient},
		{"record not found", wrap(gorm.ErrRecordNotFound), ClassClient},
		{"syntax error is a bug", pg("42601"), ClassOther},
		{"invalid byte sequence", pg("22021"), ClassClient},
		{"numeric out of range", wrap(pg("22003")), ClassClient},
		{"division by zero is a bug", pg("22012"), ClassOther},
		{"caller cancelled", wrap(context.Canceled), ClassCallerGone},
		{"deadline", wrap(context.DeadlineExceeded), ClassTimeout},
		{"unexpected EOF", wrap(io.ErrUnexpectedEOF), ClassUnavailable},
		{"conn closed", wrap(pgconn.ErrConnClosed), ClassUnavailable},
		{"bad conn", driver.ErrBadConn, ClassUnavailable},
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, ClassUnavailable},
		{"plain error", fmt.Errorf("boom"), ClassOther},
		{"lost commit", fmt.Errorf("%w: %w", ErrOutcomeUnknown, pgconn.ErrConnClosed), ClassOutcomeUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Classify(tc.err), "Classify(%v)", tc.err)
		})
	}
}
