package switchboard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tellonce/directory"
	"tellonce/router"
	"tellonce/schedule"
)

// The directory is the durable truth about queues and agents; the router
// holds a copy for matching. These keep the copy in step.

// RouterQueue converts a directory queue of agency a into the router's
// configuration: the queue's hours with the agency's holidays and zone.
func RouterQueue(q directory.Queue, a directory.Agency) (router.QueueConfig, error) {
	hours, err := schedule.New(q.Hours, a.Holidays, a.TimeZone)
	if err != nil {
		return router.QueueConfig{}, fmt.Errorf("hours of queue %s: %w", q.ID, err)
	}
	cfg := routerQueue(q)
	if hours != nil { // a nil *Schedule in the interface would not read as "no hours"
		cfg.Hours = hours
	}
	return cfg, nil
}

func routerQueue(q directory.Queue) router.QueueConfig {
	ch := make([]router.Channel, len(q.Channels))
	for i, c := range q.Channels {
		ch[i] = router.Channel(c)
	}
	of := make([]router.OverflowRule, len(q.Overflow))
	for i, o := range q.Overflow {
		of[i] = router.OverflowRule{After: seconds(o.AfterS), To: o.To}
	}
	wrapup := seconds(q.WrapupS)
	if q.WrapupS == 0 {
		wrapup = -1 // the router reads zero as "default"; the API's 0 means none
	}
	return router.QueueConfig{
		ID: q.ID, Agency: q.Agency, Name: q.Name, Channels: ch,
		RequiredSkills: q.RequiredSkills, Strategy: router.Strategy(q.Strategy),
		OfferTimeout: seconds(q.OfferTimeoutS), Wrapup: wrapup, WidenAfter: seconds(q.WidenAfterS),
		Overflow: of, OverflowPolicy: router.OverflowPolicy(q.OverflowPolicy),
		SLA:           router.SLA{AnswerWithin: seconds(q.SLA.AnswerWithinS), TargetPct: q.SLA.TargetPct},
		CallbackAfter: seconds(q.CallbackAfterS), MaxWaiting: q.MaxWaiting,
		CallbackRetries: q.CallbackRetries, CallbackRetryAfter: seconds(q.CallbackRetryS),
		Kind: router.QueueKind(q.Kind), Aging: seconds(q.AgingS),
	}
}

// RouterAgent converts a directory user (an agent) into the router's
// profile.
func RouterAgent(u directory.User) router.AgentProfile {
	qs := make(map[string]int, len(u.Queues))
	for _, m := range u.Queues {
		qs[m.Queue] = m.Level
	}
	return router.AgentProfile{Username: u.Username, Name: u.Name, Agency: u.Agency, Skills: u.Skills, Queues: qs, MaxChats: u.MaxChats,
		Phone: u.SIPURI}
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// RoutingConfig reads every queue and every agent from the directory, for
// the router's start.
func RoutingConfig(ctx context.Context, dir *directory.Store) ([]router.QueueConfig, []router.AgentProfile, error) {
	agencies := map[string]directory.Agency{}
	for page := (directory.Page{Limit: 500}); ; {
		as, more, err := dir.ListAgencies(ctx, page)
		if err != nil {
			return nil, nil, err
		}
		for _, a := range as {
			agencies[a.ID] = a
		}
		if !more {
			break
		}
		page.After = as[len(as)-1].ID
	}
	var queues []router.QueueConfig
	for page := (directory.Page{Limit: 500}); ; {
		qs, more, err := dir.ListQueues(ctx, directory.QueueFilter{}, page)
		if err != nil {
			return nil, nil, err
		}
		for _, q := range qs {
			cfg, err := RouterQueue(q, agencies[q.Agency])
			if err != nil {
				return nil, nil, err
			}
			queues = append(queues, cfg)
		}
		if !more {
			break
		}
		page.After = qs[len(qs)-1].ID
	}
	var agents []router.AgentProfile
	for page := (directory.Page{Limit: 500}); ; {
		us, more, err := dir.ListUsers(ctx, directory.UserFilter{Role: directory.RoleAgent}, page)
		if err != nil {
			return nil, nil, err
		}
		for _, u := range us {
			agents = append(agents, RouterAgent(u))
		}
		if !more {
			break
		}
		page.After = us[len(us)-1].Username
	}
	return queues, agents, nil
}

// SyncQueue puts a changed queue into the router, durably, with its
// agency's calendar.
func SyncQueue(ctx context.Context, r *router.Router, j Journal, dir *directory.Store, q directory.Queue) error {
	a, err := dir.GetAgency(ctx, q.Agency)
	if err != nil {
		return fmt.Errorf("route queue %s: %w", q.ID, err)
	}
	cfg, err := RouterQueue(q, a)
	if err != nil {
		return err
	}
	evs, err := r.UpsertQueue(cfg)
	if err != nil {
		return fmt.Errorf("route queue %s: %w", q.ID, err)
	}
	return Commit(ctx, j, evs)
}

// SyncAgency puts every queue of a changed agency into the router again:
// its holidays and zone are part of each queue's hours.
func SyncAgency(ctx context.Context, r *router.Router, j Journal, dir *directory.Store, a directory.Agency) error {
	for page := (directory.Page{Limit: 500}); ; {
		qs, more, err := dir.ListQueues(ctx, directory.QueueFilter{Agency: a.ID}, page)
		if err != nil {
			return fmt.Errorf("route agency %s: %w", a.ID, err)
		}
		for _, q := range qs {
			cfg, err := RouterQueue(q, a)
			if err != nil {
				return err
			}
			evs, err := r.UpsertQueue(cfg)
			if err != nil {
				return fmt.Errorf("route queue %s: %w", q.ID, err)
			}
			if err := Commit(ctx, j, evs); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
		page.After = qs[len(qs)-1].ID
	}
}

// SyncUser puts a changed agent into the router, or takes a user who is
// no longer an agent out of it, durably.
func SyncUser(ctx context.Context, r *router.Router, j Journal, u directory.User) error {
	var evs []router.Event
	var err error
	if u.Role == directory.RoleAgent {
		evs, err = r.UpsertAgent(RouterAgent(u))
	} else {
		evs, err = r.RemoveAgent(u.Username)
		if errors.Is(err, router.ErrNotFound) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("route user %s: %w", u.Username, err)
	}
	return Commit(ctx, j, evs)
}
