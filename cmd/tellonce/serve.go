package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	_ "time/tzdata" // statistics count days in Asia/Seoul on any machine

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"tellonce/auth"
	"tellonce/demo"
	"tellonce/directory"
	"tellonce/lease"
	"tellonce/recordings"
	"tellonce/relay"
	"tellonce/router"
	tsql "tellonce/sql"
	"tellonce/stats"
	"tellonce/switchboard"
	"tellonce/transcripts"
	"tellonce/web"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := parseServe("serve", args, stderr, getenv)
	if err != nil {
		return err
	}
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	// Every socket is an open file: a node's agents and waiting citizens
	// need tens of thousands.
	if n := raiseOpenFiles(); n > 0 && n < openFilesAdvised {
		log.Warn("the open-file limit is low for a node: each agent and citizen socket takes one (set LimitNOFILE= in the unit, or ulimit -n)",
			"limit", n, "advised", openFilesAdvised)
	} else if n > 0 {
		log.Info("open-file limit", "limit", n)
	}
	// The embedded database serves one server: a second one on the same
	// file would run a second router over the same contacts.
	lock, err := tsql.LockServer(cfg.db)
	if err != nil {
		return err
	}
	defer lock.Close()
	db, err := openAndMigrate(ctx, cfg.db, log)
	if err != nil {
		return err
	}
	defer db.Close()

	hasher := auth.DefaultHasher()
	dir := directory.NewStore(db, nil)
	if err := ensureAdmin(ctx, dir, hasher, getenv("TELLONCE_ADMIN_PASSWORD"), stdout); err != nil {
		return err
	}
	if cfg.demo {
		logins, err := demo.Seed(ctx, dir, hasher)
		if err != nil {
			return err
		}
		printDemo(stdout, logins)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(db.DB.DB, "tellonce"))
	sessions := auth.NewSessions(db, cfg.web.SessionTTL, nil)
	sessions.CacheLookups(cfg.sessionCache)
	tokens, err := auth.LoadContactTokens(ctx, db)
	if err != nil {
		return err
	}
	// Recordings go with their transcripts: the purge and an erasure
	// delete a case's files; the store's own sweep only clears partial
	// uploads a crash left.
	var recs *recordings.Store
	reviewOpts := transcripts.ReviewOptions{Retention: cfg.retention, Log: log}
	if cfg.recordingDir != "" {
		if recs, err = recordings.New(recordings.Config{Dir: cfg.recordingDir, Retention: -1, Log: log}); err != nil {
			return fmt.Errorf("--recording-dir: %w", err)
		}
		reviewOpts.Files = recs
	}
	review, err := transcripts.NewReview(db, reviewOpts)
	if err != nil {
		return err
	}
	ln, certs, err := listen(cfg, log)
	if err != nil {
		return err
	}
	defer ln.Close()
	scheme := "http"
	if certs != nil {
		scheme = "https"
	}

	// On PostgreSQL the servers elect one leader, which routes; on the
	// embedded database the file lock made this server the only one.
	var leadership relay.Leadership = alone{addr: ln.Addr().String()}
	var elector *lease.Elector
	if db.Dialect == tsql.Postgres {
		lc := cfg.lease
		lc.NodeID = cmp.Or(lc.NodeID, defaultNodeID(ln.Addr()))
		lc.Address = cmp.Or(lc.Address, advertised(ln.Addr()))
		lc.Log, lc.Registry = log, reg
		if lc.SchemaVersion, err = schemaVersion(db); err != nil {
			return err
		}
		// The lease has connections of its own: when a thousand desks come
		// back to a new leader at once, its requests hold the shared pool,
		// and a renewal queued behind them for a connection would come too
		// late and depose a healthy leader.
		leaseDB, err := tsql.Open(ctx, cfg.db)
		if err != nil {
			return fmt.Errorf("lease: %w", err)
		}
		defer leaseDB.Close()
		leaseDB.SetMaxOpenConns(leaseConns)
		if elector, err = lease.New(leaseDB, lc); err != nil {
			return err
		}
		leadership = elector
	}
	terms := &termMetrics{}
	gatherers := prometheus.Gatherers{reg, terms}
	var metricsPage http.Handler // nil: 404 here, served on --metrics-addr
	if cfg.metricsAddr == "" {
		metricsPage = web.MetricsHandler(gatherers, cfg.web.MetricsToken)
	}
	metrics, err := listenMetrics(cfg, gatherers, log)
	if err != nil {
		return err
	}
	debug, err := listenDebug(cfg, log)
	if err != nil {
		return err
	}
	front := relay.New(relay.Config{Leadership: leadership, Ready: db.Ready, Log: log, Metrics: metricsPage})
	lead := func(ctx context.Context, fence func(context.Context, *sqlx.Tx) error, fenceQuery func(int) (string, []any)) error {
		return runLeader(ctx, leaderDeps{cfg: cfg, log: log, db: db, dir: dir, sessions: sessions, hasher: hasher,
			tokens: tokens, review: review, front: front, metrics: terms, fence: fence, fenceQuery: fenceQuery, recordings: recs})
	}
	// The front outlives each term as leader; it stops last, once the
	// leader has drained and released the lease.
	g, gctx := errgroup.WithContext(ctx)
	rest, stopRest := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRest()
	g.Go(func() error {
		// Serving starts once the node knows where requests go (its own
		// restored state, or a live leader), so that a load balancer and
		// the start-up message never point at a node that answers 503.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for !front.Settled() {
			select {
			case <-rest.Done():
				return nil
			case <-tick.C:
			}
		}
		fmt.Fprintf(stdout, "tellonce %s is serving on %s://%s/ (storage: %s)\n", version, scheme, ln.Addr(), describeDB(cfg.db))
		return serveFront(rest, ln, front, log)
	})
	g.Go(func() error {
		defer stopRest()
		if elector == nil {
			return lead(gctx, nil, nil)
		}
		return elector.Run(gctx, func(ctx context.Context, t lease.Term) error { return lead(ctx, t.Fence, t.FenceQuery) })
	})
	g.Go(func() error { return front.Run(rest) })
	g.Go(func() error { return purgeSessions(gctx, sessions, log) })
	if certs != nil {
		g.Go(func() error { return certs.Run(gctx) })
	}
	if metrics != nil {
		g.Go(func() error { return metrics.Run(gctx) })
	}
	if debug != nil {
		g.Go(func() error { return debug.Run(gctx) })
	}
	return ignoreCanceled(g.Wait())
}

// leaseConns is the lease's own pool: a renewal, a heartbeat and a
// standby's look at the lease may run at once.
const leaseConns = 4

// leaderDeps is what one term as leader is built from.
type leaderDeps struct {
	cfg      serveConfig
	log      *slog.Logger
	db       *tsql.DB
	dir      *directory.Store
	sessions *auth.Sessions
	hasher   auth.Hasher
	tokens   *auth.ContactTokens
	review   *transcripts.Review
	front    *relay.Front
	metrics  *termMetrics
	fence    func(context.Context, *sqlx.Tx) error
	// fenceQuery is fence folded into the journal's batch statement.
	fenceQuery func(first int) (string, []any)
	// recordings is nil when the server keeps none.
	recordings *recordings.Store
}

// runLeader routes until ctx ends: it restores the live state from SQL
// (as a restart does: timers re-armed, every agent given a fresh
// reconnect grace, pending offers revoked with their contacts' places
// kept), serves through the front, and on the way out stops the sockets
// first and the journal last, so that requests finishing meanwhile are
// made durable or answered unavailable.
func runLeader(ctx context.Context, d leaderDeps) error {
	began := time.Now()
	reg := prometheus.NewRegistry()
	journal := transcripts.NewJournal(d.db, transcripts.Options{Log: d.log, Fence: d.fence, FenceQuery: d.fenceQuery})
	writes, err := web.NewWriteGroupMetrics(reg, time.Now)
	if err != nil {
		return err
	}
	rt, st, today, err := restore(ctx, d, journal, writes, reg)
	if err != nil {
		return err
	}
	srv, err := web.New(d.cfg.web, web.Deps{DB: d.db, Directory: d.dir, Sessions: d.sessions, Hasher: d.hasher, Log: d.log, Registry: reg,
		Switchboard: switchboard.New(rt, journal, d.dir), Tokens: d.tokens, Stats: st, Estimator: st, Review: d.review,
		Recordings: archive(d.recordings)})
	if err != nil {
		return err
	}
	flow, err := stats.NewCounters(reg)
	if err != nil {
		return err
	}
	var queueIDs []string
	for _, q := range rt.Queues() {
		queueIDs = append(queueIDs, q.ID)
	}
	flow.Zero(queueIDs)
	reg.MustRegister(readiness(ctx, d.db), srv.Hub().Collector())
	if err := journal.RegisterMetrics(reg); err != nil {
		return err
	}
	if err := journal.DeliverTo(srv.Deliver, st.Observe, flow.Observe); err != nil {
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	rest, stopRest := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRest()
	g.Go(func() error {
		defer stopRest()
		d.metrics.set(reg)
		d.front.Lead(srv.Handler())
		d.log.Info("leading: live state restored", "took", time.Since(began).Round(time.Millisecond))
		// Today's statistics are not needed to route: they are rebuilt
		// now, counting what was committed since after the day's log.
		applied := st.Apply(today)
		if applied == nil {
			<-gctx.Done()
		}
		d.front.Lead(nil)
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		srv.Stop(sctx)
		return applied
	})
	g.Go(func() error { return journal.Run(rest) })
	g.Go(func() error { return ignoreCanceled(rt.Run(rest)) })
	// The embedded database's WAL is copied into its file here, not by
	// whichever commit crosses SQLite's limit (that commit would stall the
	// offers waiting for it).
	g.Go(func() error { return ignoreCanceled(d.db.RunCheckpoints(rest, tsql.DefaultCheckpointEvery, d.log)) })
	g.Go(func() error { return ignoreCanceled(st.Run(gctx)) })
	g.Go(func() error { return srv.Hub().Run(gctx) })
	// Each minute's history samples go to the database, so that the next
	// start's Load shows the day's charts from midnight.
	g.Go(func() error { return ignoreCanceled(st.RunHistory(gctx, d.db)) })
	// One server purges: the leader.
	g.Go(func() error { return d.review.RunRetention(gctx) })
	if d.recordings != nil {
		g.Go(func() error { return d.recordings.Run(gctx) })
	}
	return ignoreCanceled(g.Wait())
}

// archive is the store as web's Archive, nil when there is none (a typed
// nil would pass for one).
func archive(s *recordings.Store) recordings.Archive {
	if s == nil {
		return nil
	}
	return s
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// restore builds the live state: queues and agents from the directory,
// open cases from the journal in their original order, and their callers'
// earlier cases; and it reads today's statistics. Nothing commits while
// it runs (the journal has not started, and any earlier leader is fenced
// off), so its reads are independent: they run side by side, each on its
// own connection, and the router is built from them after. The statistics
// hold what the journal delivers until they are rebuilt from what was
// read (Stats.Apply), which the caller does once it routes: they are not
// needed for the first offer. Each step is timed in the log: a slow
// takeover says which one.
func restore(ctx context.Context, d leaderDeps, journal *transcripts.Journal, writes router.WriteObserver,
	reg *prometheus.Registry) (*router.Router, *stats.Stats, *stats.Today, error) {
	rt, err := router.New(router.Config{Sink: journal, ReconnectGrace: d.cfg.grace, Writes: writes})
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := stats.New(stats.Config{Router: rt, Registry: reg, Log: d.log, HistoryRetention: d.cfg.historyRetention})
	if err != nil {
		return nil, nil, nil, err
	}
	var (
		queues  []router.QueueConfig
		agents  []router.AgentProfile
		open    []router.CaseSnapshot
		earlier map[string][]router.PastCase
		today   *stats.Today
		took    [4]time.Duration // directory, cases, history, statistics
	)
	began := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	timed := func(i int, read func() error) {
		g.Go(func() error {
			defer func() { took[i] = time.Since(began) }()
			return read()
		})
	}
	timed(0, func() (err error) {
		queues, agents, err = switchboard.RoutingConfig(gctx, d.dir)
		return err
	})
	timed(1, func() (err error) {
		open, err = journal.Load(gctx)
		return err
	})
	if days := d.cfg.web.HistoryDays; days > 0 {
		// The history offers show, as of now (the log keeps the cases, not
		// what an offer showed), for every caller at once.
		timed(2, func() (err error) {
			earlier, err = d.review.EarlierOfOpen(gctx, time.Now().Add(-time.Duration(days)*24*time.Hour), router.MaxHistory)
			return err
		})
	}
	timed(3, func() (err error) {
		today, err = st.ReadToday(gctx, d.db)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, nil, nil, err
	}
	read := time.Now()
	live := 0
	for i := range open {
		open[i].History = earlier[open[i].Identity]
		live += len(open[i].Contacts)
	}
	if err := rt.Restore(router.Snapshot{Queues: queues, Agents: agents, Cases: open}); err != nil {
		return nil, nil, nil, fmt.Errorf("restore the router: %w", err)
	}
	st.Hold()
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	d.log.Info("router restored", "queues", len(queues), "agents", len(agents), "open_cases", len(open), "live_contacts", live,
		"read", ms(read.Sub(began)), "read_directory", ms(took[0]), "read_cases", ms(took[1]), "read_history", ms(took[2]),
		"read_statistics", ms(took[3]), "rebuild", ms(time.Since(read)))
	return rt, st, today, nil
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", "", "database: a postgres:// URL or an SQLite file path (TELLONCE_DB, DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := openFlagged(ctx, *dsn, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	v, err := db.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %d migrations; schema version %d (%s)\n", n, v, describeDB(cmp.Or(*dsn, getenv("TELLONCE_DB"), getenv("DATABASE_URL"))))
	return nil
}

// openFlagged opens the database a command's --db names, else
// TELLONCE_DB, else DATABASE_URL (else the embedded default).
func openFlagged(ctx context.Context, dsn string, getenv func(string) string) (*tsql.DB, error) {
	for _, env := range []string{"TELLONCE_DB", "DATABASE_URL"} {
		if dsn == "" {
			dsn = getenv(env)
		}
	}
	return tsql.Open(ctx, dsn)
}

func openAndMigrate(ctx context.Context, dsn string, log *slog.Logger) (*tsql.DB, error) {
	db, err := tsql.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	n, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	log.Info("database ready", "storage", describeDB(dsn), "migrations_applied", n)
	return db, nil
}

// describeDB names the store without its password.
func describeDB(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			return "postgresql " + u.Redacted()
		}
		return "postgresql"
	}
	if dsn == "" {
		dsn = tsql.DefaultSQLitePath
	}
	return "embedded sqlite " + dsn
}

// ensureAdmin creates the first admin on an empty directory, with the
// given password or a generated one printed once.
func ensureAdmin(ctx context.Context, dir *directory.Store, h auth.Hasher, password string, stdout io.Writer) error {
	n, err := dir.CountAdmins(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		if password != "" {
			fmt.Fprintln(stdout, "TELLONCE_ADMIN_PASSWORD was ignored: the database has an admin already. "+
				"To set a user's password from the server, run: tellonce users reset-password NAME")
		}
		return nil
	}
	generated := password == ""
	if generated {
		if password, err = newPassword(); err != nil {
			return err
		}
	}
	if err := directory.CheckPassword(password); err != nil {
		return fmt.Errorf("TELLONCE_ADMIN_PASSWORD: %w", err)
	}
	hash, err := h.Hash(password)
	if err != nil {
		return err
	}
	req := directory.UserCreate{Username: "admin", Name: "Administrator", Password: password, Role: directory.RoleAdmin}
	if _, err := dir.CreateUser(ctx, req, hash); err != nil {
		return fmt.Errorf("create first admin: %w", err)
	}
	if generated {
		fmt.Fprintf(stdout, "\nCreated user \"admin\" with password: %s\nThis is shown once; change it after logging in.\n\n", password)
	} else {
		fmt.Fprintln(stdout, "Created user \"admin\" with the password from TELLONCE_ADMIN_PASSWORD.")
	}
	return nil
}

func printDemo(w io.Writer, logins []demo.Login) {
	fmt.Fprintf(w, "\nDemo data is loaded. Every demo account's password is %q.\n", demo.Password)
	fmt.Fprintf(w, "  %-22s %-11s %-12s %s\n", "USERNAME", "ROLE", "AGENCY", "NAME")
	for _, l := range logins {
		fmt.Fprintf(w, "  %-22s %-11s %-12s %s\n", l.Username, l.Role, l.Agency, l.Name)
	}
	fmt.Fprintln(w)
}

// purgeSessions removes expired logins every hour until ctx ends.
func purgeSessions(ctx context.Context, s *auth.Sessions, log *slog.Logger) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := s.Purge(ctx); err != nil {
			log.Warn("purge sessions", "err", err)
		} else if n > 0 {
			log.Info("purged expired sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
