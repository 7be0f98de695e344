package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"tellonce/sql/sqltest"
)

// historyDoc is the answer of GET /v1/stats/queues/history.
type historyDoc struct {
	Items []struct {
		Queue  string `json:"queue"`
		Points []struct {
			At      time.Time `json:"at"`
			Waiting int       `json:"waiting"`
		} `json:"points"`
	} `json:"items"`
}

// TestQueueHistorySurvivesARestart: the samples one server took are saved
// (at the latest when it stops) and are in the history of the next server
// on the same database.
func TestQueueHistorySurvivesARestart(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		dsn := sqltest.DSN(t, backend)
		const queue = "gov110.general"
		const path = "/v1/stats/queues/history?queue=" + queue
		first, stop := serveOn(t, dsn)
		var before historyDoc
		first.call(t, "GET", path, first.admin(t), nil, http.StatusOK, &before) // samples this minute
		if len(before.Items) != 1 || len(before.Items[0].Points) == 0 {
			t.Fatalf("GET %s = %+v; want a sample of %s", path, before, queue)
		}
		stop()

		// The sample is in the database. Mark it, so that the next server
		// shows it whether or not it starts in the same minute (when it
		// would take a sample of its own otherwise).
		at := before.Items[0].Points[0].At.UTC()
		db := openDB(t, dsn)
		res, err := db.ExecContext(context.Background(),
			db.Rebind(`UPDATE queue_samples SET waiting = 77 WHERE queue_id = ? AND at = ?`), queue, at)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			t.Fatalf("queue_samples has %d rows for %s at %v (%v); want the first server's sample", n, queue, at, err)
		}

		second, _ := serveOn(t, dsn)
		var after historyDoc
		second.call(t, "GET", path, second.admin(t), nil, http.StatusOK, &after)
		if len(after.Items) != 1 || len(after.Items[0].Points) == 0 {
			t.Fatalf("after the restart GET %s = %+v; want samples of %s", path, after, queue)
		}
		if p := after.Items[0].Points[0]; !p.At.Equal(at) || p.Waiting != 77 {
			t.Errorf("after the restart the history starts with %+v; want the saved sample at %v (waiting 77)", p, at)
		}
	})
}
