package lease

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jmoiron/sqlx"
)

// Run takes part in the election until ctx ends. While this node holds
// the lease it runs lead with a context that ends when the lease is lost
// (or ctx ends); lead must then stop acknowledging and return. On ctx's
// end a leader lets lead drain (still renewing), then releases the lease
// at once so that a standby takes over without waiting for it to expire.
//
// A term whose lead fails (its restore from the database, its journal)
// ends as a step-down: the lease is released for the other nodes, and
// this node stays a standby, trying to lead again after a pause that
// doubles with each term that fails in a row (failedTermPause). Only a
// node id taken by another process ends Run with an error.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context, t Term) error) error {
	if err := e.register(ctx); err != nil {
		return err
	}
	defer e.unregister()
	tick := time.NewTicker(e.cfg.Renew)
	defer tick.Stop()
	var pause time.Duration // after the last failed term
	var retryAt time.Time
	for {
		if err := e.heartbeat(ctx); err != nil {
			if errors.Is(err, errNodeTaken) {
				return err
			}
			e.log.Warn("lease: cannot reach the database", "err", err)
			e.setStatus(Status{Role: RoleStandby})
		} else if epoch, ok := e.tryAcquire(ctx, !time.Now().Before(retryAt)); ok {
			began := time.Now()
			failed, err := e.runTerm(ctx, epoch, lead)
			if err != nil {
				return err
			}
			if failed != nil {
				pause = e.failedTermPause(pause, time.Since(began))
				retryAt = time.Now().Add(pause)
				e.log.Error("lease: the term as leader failed; standing by", "epoch", epoch, "err", failed,
					"next_try_in", pause)
			} else {
				pause = 0
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// failedTermPause is how long a node whose term failed after lasting
// lasted waits before it tries to lead again: one lease at first, so that
// the other nodes look first, doubling while terms keep failing soon, up
// to eight leases; a term that had lasted longer than that starts again
// from one lease.
func (e *Elector) failedTermPause(prev, lasted time.Duration) time.Duration {
	longest := 8 * e.cfg.TTL
	if prev == 0 || lasted > longest {
		return e.cfg.TTL
	}
	return min(2*prev, longest)
}

// runTerm leads from epoch until the lease is lost or ctx ends. failed is
// lead's own error (the term ended, the node stands by); fatal ends Run.
func (e *Elector) runTerm(ctx context.Context, epoch int64, lead func(context.Context, Term) error) (failed, fatal error) {
	start := time.Now()
	e.metrics.takeovers.Inc()
	e.setStatus(Status{Role: RoleLeader, Leader: e.cfg.Address, Epoch: epoch})
	e.log.Info("lease: leading", "epoch", epoch, "node", e.cfg.NodeID)
	// The term outlives ctx: a SIGTERM drains the leader, renewing
	// meanwhile, before the lease is released.
	tctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	done := make(chan error, 1)
	go func() { done <- lead(tctx, Term{Epoch: epoch, e: e}) }()
	// Renewals run on their own goroutine, so that a renewal stuck on a
	// dead connection never delays the step-down deadline below.
	results := make(chan renewal, 1)
	rctx, stopRenewing := context.WithCancel(context.WithoutCancel(ctx))
	renewing := make(chan struct{})
	go func() {
		defer close(renewing)
		e.renewLoop(rctx, epoch, results)
	}()
	defer func() {
		stopRenewing()
		<-renewing
	}()
	// A leader steps down one renewal before its lease could run out,
	// counted from when its last successful renewal was sent.
	deadline := time.NewTimer(e.cfg.TTL - e.cfg.Renew)
	defer deadline.Stop()
	ctxDone := ctx.Done()
	stepDown := func(why string, args ...any) {
		if tctx.Err() == nil {
			e.log.Warn("lease: stepping down: "+why, append(args, "epoch", epoch)...)
			e.setStatus(Status{Role: RoleStandby})
			stop()
		}
	}
	for {
		select {
		case err := <-done:
			stop()
			e.setStatus(Status{Role: RoleStandby})
			if err != nil && (errors.Is(err, ErrDeposed) || errors.Is(err, context.Canceled)) {
				err = nil
			}
			if err != nil {
				e.metrics.failedTerms.Inc()
			}
			// A failed term hands the lease on at once too: whatever
			// failed here may work on another node.
			if ctx.Err() != nil || err != nil {
				e.release(epoch)
				e.log.Info("lease: released", "epoch", epoch)
			}
			if fatal != nil {
				return nil, fatal
			}
			if err != nil {
				return fmt.Errorf("leader (epoch %d): %w", epoch, err), nil
			}
			e.log.Info("lease: standing by", "epoch_led", epoch)
			return nil, nil
		case <-ctxDone:
			ctxDone = nil
			e.log.Info("lease: draining before release", "epoch", epoch)
			e.setStatus(Status{Role: RoleStandby})
			stop()
		case <-deadline.C:
			stepDown("could not renew in time", "since_start", time.Since(start).Round(time.Millisecond))
		case r := <-results:
			switch {
			case r.taken != nil:
				fatal = r.taken
				stepDown("node id taken", "err", r.taken)
			case r.held:
				deadline.Reset(time.Until(r.sent.Add(e.cfg.TTL - e.cfg.Renew)))
			case r.err == nil:
				stepDown("the lease was taken")
			default:
				e.log.Warn("lease: renewal failed", "err", r.err, "epoch", epoch)
			}
		}
	}
}

// renewal is the outcome of one renewal.
type renewal struct {
	sent  time.Time
	held  bool
	err   error
	taken error // the node id was taken by another process
}

// renewLoop renews epoch every Renew until ctx ends, reporting each try.
// A renewal may take until the step-down deadline (TTL-Renew after the
// last one that held): a busy database or a leader busy restoring
// renews late, not never.
func (e *Elector) renewLoop(ctx context.Context, epoch int64, out chan<- renewal) {
	tick := time.NewTicker(e.cfg.Renew)
	defer tick.Stop()
	stepDownAt := time.Now().Add(e.cfg.TTL - e.cfg.Renew)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r := renewal{sent: time.Now()}
		r.held, r.err = e.renew(ctx, epoch, max(e.cfg.Renew, time.Until(stepDownAt)))
		if r.held {
			stepDownAt = r.sent.Add(e.cfg.TTL - e.cfg.Renew)
		}
		if err := e.heartbeat(ctx); errors.Is(err, errNodeTaken) {
			r.taken = err
		}
		select {
		case out <- r:
		case <-ctx.Done():
			return
		}
	}
}

var errNodeTaken = errors.New("node id in use")

// register claims this node's id, waiting out a previous process of the
// same node that died (its heartbeat ages out within the TTL); a live
// one keeps the id, and this one refuses to start.
func (e *Elector) register(ctx context.Context) error {
	deadline := time.Now().Add(e.cfg.TTL + 2*e.cfg.Renew)
	for {
		err := e.heartbeat(ctx)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errNodeTaken) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(e.cfg.Renew):
		}
	}
}

// heartbeat marks this node alive, refreshes the peers and reads the
// lease into the status.
func (e *Elector) heartbeat(ctx context.Context) error {
	qctx, cancel := context.WithTimeout(ctx, e.cfg.TTL)
	defer cancel()
	res, err := e.db.ExecContext(qctx, `INSERT INTO lease_nodes (node_id, instance, address, seen_at)
		VALUES ($1, $2, $3, clock_timestamp())
		ON CONFLICT (node_id) DO UPDATE SET instance = excluded.instance, address = excluded.address, seen_at = excluded.seen_at
		WHERE lease_nodes.instance = excluded.instance OR lease_nodes.seen_at < clock_timestamp() - $4 * interval '1 millisecond'`,
		e.cfg.NodeID, e.instance, e.cfg.Address, ms(e.cfg.TTL))
	if err != nil {
		return fmt.Errorf("lease: heartbeat: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var addr string
		var age float64
		_ = e.db.QueryRowxContext(qctx, `SELECT address, EXTRACT(EPOCH FROM clock_timestamp() - seen_at) FROM lease_nodes WHERE node_id = $1`,
			e.cfg.NodeID).Scan(&addr, &age)
		return fmt.Errorf("%w: another running server has --node-id %q (advertising %s, seen %.1fs ago); give each server its own --node-id",
			errNodeTaken, e.cfg.NodeID, addr, age)
	}
	var addrs []string
	if err := e.db.SelectContext(qctx, &addrs, `SELECT address FROM lease_nodes WHERE node_id <> $1 AND seen_at > clock_timestamp() - $2 * interval '1 millisecond'`,
		e.cfg.NodeID, ms(10*e.cfg.TTL)); err != nil {
		return fmt.Errorf("lease: read nodes: %w", err)
	}
	peers := map[string]bool{}
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		if ip := net.ParseIP(host); ip != nil {
			peers[ip.String()] = true
			continue
		}
		ips, _ := net.DefaultResolver.LookupHost(qctx, host)
		for _, ip := range ips {
			peers[ip] = true
		}
	}
	e.mu.Lock()
	e.peers = peers
	e.mu.Unlock()
	return nil
}

func (e *Elector) unregister() {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Renew)
	defer cancel()
	_, _ = e.db.ExecContext(ctx, `DELETE FROM lease_nodes WHERE node_id = $1 AND instance = $2`, e.cfg.NodeID, e.instance)
}

// tryAcquire reads the lease and, when mayLead, takes it if it has
// expired (or there is none), with an epoch above every one seen.
func (e *Elector) tryAcquire(ctx context.Context, mayLead bool) (int64, bool) {
	qctx, cancel := context.WithTimeout(ctx, e.cfg.TTL)
	defer cancel()
	var dbVersion int
	if err := e.db.GetContext(qctx, &dbVersion, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`); err != nil {
		e.log.Warn("lease: read the schema version", "err", err)
		return 0, false
	}
	var row struct {
		Node    string `db:"node_id"`
		Address string `db:"address"`
		Epoch   int64  `db:"epoch"`
		Live    bool   `db:"live"`
		LeftMS  int64  `db:"left_ms"`
	}
	err := e.db.GetContext(qctx, &row, `SELECT node_id, address, epoch, expires_at > clock_timestamp() AS live,
		GREATEST(CEIL(EXTRACT(EPOCH FROM expires_at - clock_timestamp()) * 1000), 0)::bigint AS left_ms FROM leader_lease WHERE id = 1`)
	read := time.Now()
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		e.log.Warn("lease: read the lease", "err", err)
		e.setStatus(Status{Role: RoleStandby})
		return 0, false
	}
	e.mu.Lock()
	if row.Epoch < e.maxEpoch {
		e.warnOnce(fmt.Sprintf("the lease row's epoch went back from %d to %d (edited by hand?); it is not believed, and the next leader takes epoch %d",
			e.maxEpoch, row.Epoch, e.maxEpoch+1))
		row.Live = false
	}
	e.maxEpoch = max(e.maxEpoch, row.Epoch)
	floor := e.maxEpoch
	e.mu.Unlock()
	if row.Live {
		e.setStatus(Status{Role: RoleStandby, Leader: row.Address, Epoch: row.Epoch,
			Expires: read.Add(time.Duration(row.LeftMS) * time.Millisecond)})
		return 0, false
	}
	e.setStatus(Status{Role: RoleStandby, Epoch: row.Epoch})
	if !mayLead {
		return 0, false
	}
	if dbVersion != e.cfg.SchemaVersion {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.warnOnce(fmt.Sprintf("refusing to lead: the database's schema version is %d and this binary's is %d; run the same version on every server",
			dbVersion, e.cfg.SchemaVersion))
		return 0, false
	}
	var epoch int64
	err = e.db.InTx(qctx, func(tx *sqlx.Tx) error {
		// FOR UPDATE waits for every commit still fenced with the old
		// epoch (Term.Fence holds the row FOR KEY SHARE): a deposed
		// leader's commit in flight ends before the epoch moves on.
		if _, err := tx.ExecContext(qctx, `SELECT 1 FROM leader_lease WHERE id = 1 FOR UPDATE`); err != nil {
			return err
		}
		return tx.GetContext(qctx, &epoch, `INSERT INTO leader_lease (id, node_id, address, epoch, schema_version, expires_at, renewed_at)
		VALUES (1, $1, $2, $3 + 1, $4, clock_timestamp() + $5 * interval '1 millisecond', clock_timestamp())
		ON CONFLICT (id) DO UPDATE SET node_id = excluded.node_id, address = excluded.address,
			epoch = GREATEST(leader_lease.epoch, $3) + 1, schema_version = excluded.schema_version,
			expires_at = excluded.expires_at, renewed_at = excluded.renewed_at
		WHERE leader_lease.expires_at <= clock_timestamp() OR leader_lease.epoch < $3
		RETURNING epoch`, e.cfg.NodeID, e.cfg.Address, floor, e.cfg.SchemaVersion, ms(e.cfg.TTL))
	})
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false // another node was quicker
	}
	if err != nil {
		e.log.Warn("lease: take the lease", "err", err)
		return 0, false
	}
	e.mu.Lock()
	e.maxEpoch = max(e.maxEpoch, epoch)
	e.warned = ""
	e.mu.Unlock()
	return epoch, true
}

// warnOnce logs msg unless it was the last one logged; e.mu is held.
func (e *Elector) warnOnce(msg string) {
	if e.warned != msg {
		e.warned = msg
		e.log.Error("lease: " + msg)
	}
}

// renew extends the lease of epoch; held is false when it is no longer
// this node's (taken, or expired on the database's clock).
func (e *Elector) renew(ctx context.Context, epoch int64, timeout time.Duration) (held bool, err error) {
	// ctx is the term's renewing, which ends only with the term.
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	res, err := e.db.ExecContext(qctx, `UPDATE leader_lease SET expires_at = clock_timestamp() + $1 * interval '1 millisecond', renewed_at = clock_timestamp()
		WHERE id = 1 AND epoch = $2 AND node_id = $3 AND expires_at > clock_timestamp()`, ms(e.cfg.TTL), epoch, e.cfg.NodeID)
	e.metrics.renewSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		e.metrics.renewals.WithLabelValues("error").Inc()
		return false, fmt.Errorf("lease: renew: %w", err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		e.metrics.renewals.WithLabelValues("lost").Inc()
		return false, nil
	}
	e.metrics.renewals.WithLabelValues("ok").Inc()
	return true, nil
}

// release ends the lease of epoch now, so a standby need not wait for it
// to expire.
func (e *Elector) release(epoch int64) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Renew)
	defer cancel()
	if _, err := e.db.ExecContext(ctx, `UPDATE leader_lease SET expires_at = clock_timestamp() - interval '1 millisecond'
		WHERE id = 1 AND epoch = $1 AND node_id = $2`, epoch, e.cfg.NodeID); err != nil {
		e.log.Warn("lease: release", "err", err)
	}
}
