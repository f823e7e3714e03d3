package db_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"gorm.io/gorm"

	"usersvc/platform/db"
	"usersvc/tests/testdb"
)

// gdb is a pool on a database created for this run (dbURL); each test makes the tables it
// needs.
var (
	gdb   *gorm.DB
	dbURL string
)

func TestMain(m *testing.M) {
	var drop func() error
	var err error
	dbURL, drop, err = testdb.Create("platform_db")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gdb, err = db.Open(context.Background(), testConfig(dbURL), slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = drop()
		os.Exit(1)
	}
	code := m.Run()
	_ = db.Close(gdb)
	if err := drop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func testConfig(url string) db.Config {
	return db.Config{
		URL: url, ApplicationName: "platform_db_test", StatementTimeout: 3 * time.Second,
		MaxOpenConns: 4, MaxIdleConns: 4, ConnMaxLifetime: time.Minute, ConnMaxIdleTime: time.Minute,
		ConnectTimeout: 5 * time.Second,
	}
}
