package sql

import (
	"context"
	"fmt"
)

// MigrateTo applies the migrations up to and including version only, for
// tests of what a later migration does to rows written before it.
func (db *DB) MigrateTo(ctx context.Context, version int) error {
	ms, err := Migrations(db.Dialect)
	if err != nil {
		return err
	}
	if version < 0 || version > len(ms) {
		return fmt.Errorf("migrate to %d: there are %d migrations", version, len(ms))
	}
	if _, err := db.ExecContext(ctx, createVersionTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms[:version] {
		if _, err := db.applyOne(ctx, m); err != nil {
			return err
		}
	}
	return nil
}
