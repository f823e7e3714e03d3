package bench

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"usersvc/modules/users"
)

// impl is one side of a GORM-vs-pgx comparison: the same operations, each returning what a
// benchmark checks (rows returned, or the user touched).
type impl struct {
	name       string
	register   func(ctx context.Context, r users.Registration) (uuid.UUID, error)
	get        func(ctx context.Context, id uuid.UUID) (uuid.UUID, error)
	setName    func(ctx context.Context, id uuid.UUID, fullName string) (int, error) // the new version
	delete     func(ctx context.Context, id uuid.UUID) error
	restore    func(ctx context.Context, id uuid.UUID) (uuid.UUID, error)
	byUsername func(ctx context.Context, username string, limit int) (int, error)
	byEmail    func(ctx context.Context, email string, limit int) (int, error)
	prefix     func(ctx context.Context, prefix string, limit int) (int, error)
	firstPage  func(ctx context.Context, limit int) (int, error)
}

// impls are GORM (the users repository, with its Runner layers: what handlers call) and the
// raw pgx baseline.
func (f *fixture) impls() []impl {
	repo, px := f.repo, f.pgx
	list := func(ctx context.Context, q users.ListQuery) (int, error) {
		q.State, q.Sort = users.StateActive, users.SortCreated
		p, err := repo.List(ctx, q)
		return len(p.Items), err
	}
	gorm := impl{
		name: "gorm",
		register: func(ctx context.Context, r users.Registration) (uuid.UUID, error) {
			u, err := repo.Register(ctx, r)
			if err != nil {
				return uuid.Nil, err
			}
			return u.ID, nil
		},
		get: func(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
			u, err := repo.Get(ctx, id, false)
			if err != nil {
				return uuid.Nil, err
			}
			return u.ID, nil
		},
		setName: func(ctx context.Context, id uuid.UUID, fullName string) (int, error) {
			u, err := repo.Update(ctx, id, 0, users.Patch{FullName: &fullName})
			if err != nil {
				return 0, err
			}
			return u.Version, nil
		},
		delete: func(ctx context.Context, id uuid.UUID) error { return repo.Delete(ctx, id) },
		restore: func(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
			u, err := repo.Restore(ctx, id)
			if err != nil {
				return uuid.Nil, err
			}
			return u.ID, nil
		},
		byUsername: func(ctx context.Context, s string, limit int) (int, error) {
			return list(ctx, users.ListQuery{Username: s, Limit: limit})
		},
		byEmail: func(ctx context.Context, s string, limit int) (int, error) {
			return list(ctx, users.ListQuery{Email: s, Limit: limit})
		},
		prefix: func(ctx context.Context, s string, limit int) (int, error) {
			return list(ctx, users.ListQuery{Q: s, Limit: limit})
		},
		firstPage: func(ctx context.Context, limit int) (int, error) { return list(ctx, users.ListQuery{Limit: limit}) },
	}
	pgx := impl{
		name: "pgx",
		register: func(ctx context.Context, r users.Registration) (uuid.UUID, error) {
			u, err := px.Register(ctx, r)
			return u.ID, err
		},
		get: func(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
			u, err := px.Get(ctx, id, false)
			return u.ID, err
		},
		setName: func(ctx context.Context, id uuid.UUID, fullName string) (int, error) {
			u, err := px.Update(ctx, id, fullName)
			return u.Version, err
		},
		delete: px.Delete,
		restore: func(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
			u, err := px.Restore(ctx, id)
			return u.ID, err
		},
		byUsername: func(ctx context.Context, s string, limit int) (int, error) {
			p, err := px.GetByUsername(ctx, s, limit)
			return len(p.Items), err
		},
		byEmail: func(ctx context.Context, s string, limit int) (int, error) {
			p, err := px.GetByEmail(ctx, s, limit)
			return len(p.Items), err
		},
		prefix: func(ctx context.Context, s string, limit int) (int, error) {
			p, err := px.PrefixSearch(ctx, s, limit)
			return len(p.Items), err
		},
		firstPage: func(ctx context.Context, limit int) (int, error) {
			p, err := px.ListPage(ctx, nil, limit)
			return len(p.Items), err
		},
	}
	return []impl{gorm, pgx}
}

// sameID checks that an operation returned the user it was asked for.
func sameID(got, want uuid.UUID, err error) error {
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("got user %s, want %s", got, want)
	}
	return nil
}

// rowsBetween checks that a read returned between lo and hi rows.
func rowsBetween(n int, err error, lo, hi int) error {
	if err != nil {
		return err
	}
	if n < lo || n > hi {
		return fmt.Errorf("%d rows came back, want %d to %d", n, lo, hi)
	}
	return nil
}
