package transcripts

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"tellonce/sql/sqltest"
)

// The PostgreSQL batch statement is prepared once per connection, and
// PostgreSQL keeps the generic plan it made for it, however the tables
// grow afterwards. The common statement (no legs copied from contact rows)
// must therefore read no table at all: with the copy's join in it, a plan
// made while contacts was empty hashed the whole table in every batch.
// Each shape must also number its parameters without a gap, or
// PostgreSQL cannot type the missing one.
func TestBatchStatementsGenericPlans(t *testing.T) {
	b := sqltest.Open(t, "postgres")
	ctx := context.Background()
	conn, err := b.DB.Connx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	scan := regexp.MustCompile(`(Seq|Index|Index Only|Bitmap Heap|Tid) Scan on (\w+)`)
	for i, shape := range []batchShape{{}, {audit: true}, {copyLegs: true}, {audit: true, copyLegs: true}} {
		q := pgBatch(shape, "")
		n := strings.Count(q, "::json)")
		name := "batch_" + strconv.Itoa(i)
		if _, err := conn.ExecContext(ctx, `PREPARE `+name+` AS `+q); err != nil {
			t.Fatalf("%+v: prepare: %v", shape, err)
		}
		args := strings.TrimSuffix(strings.Repeat(`'[]', `, n), ", ")
		var plan []string
		if err := conn.SelectContext(ctx, &plan, `EXPLAIN EXECUTE `+name+`(`+args+`)`); err != nil {
			t.Fatalf("%+v: explain: %v", shape, err)
		}
		var scanned []string
		for _, line := range plan {
			if m := scan.FindStringSubmatch(line); m != nil {
				scanned = append(scanned, m[2])
			}
		}
		switch {
		case !shape.copyLegs && len(scanned) > 0:
			t.Errorf("%+v: the generic plan scans %v; want no table read:\n%s", shape, scanned, strings.Join(plan, "\n"))
		case shape.copyLegs && !slices.Contains(scanned, "contacts"):
			t.Errorf("%+v: the generic plan scans %v; want contacts read for the legs it copies", shape, scanned)
		}
	}
}
