package switchboard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tellonce/cases"
	"tellonce/directory"
	"tellonce/schedule"
)

// The directory is the durable truth about queues and agents; the router
// holds a copy for matching. These keep the copy in step.

// RouterQueue converts a directory queue of agency a into the router's
// configuration: the queue's hours with the agency's holidays and zone.
func RouterQueue(q directory.Queue, a directory.Agency) (cases.QueueConfig, error) {
	hours, err := schedule.New(q.Hours, a.Holidays, a.TimeZone)
	if err != nil {
		return cases.QueueConfig{}, fmt.Errorf("hours of queue %s: %w", q.ID, err)
	}
	cfg := routerQueue(q)
	if hours != nil { // a nil *Schedule in the interface would not read as "no hours"
		cfg.Hours = hours
	}
	return cfg, nil
}

func routerQueue(q directory.Queue) cases.QueueConfig {
	ch := make([]cases.Channel, len(q.Channels))
	for i, c := range q.Channels {
		ch[i] = cases.Channel(c)
	}
	of := make([]cases.OverflowRule, len(q.Overflow))
	for i, o := range q.Overflow {
		of[i] = cases.OverflowRule{After: seconds(o.AfterS), To: o.To}
	}
	wrapup := seconds(q.WrapupS)
	if q.WrapupS == 0 {
		wrapup = -1 // the router reads zero as "default"; the API's 0 means none
	}
	return cases.QueueConfig{
		ID: q.ID, Agency: q.Agency, Name: q.Name, Channels: ch,
		RequiredSkills: q.RequiredSkills, Strategy: cases.Strategy(q.Strategy),
		OfferTimeout: seconds(q.OfferTimeoutS), Wrapup: wrapup, WidenAfter: seconds(q.WidenAfterS),
		Overflow: of, OverflowPolicy: cases.OverflowPolicy(q.OverflowPolicy),
		HelpWhile:     cases.HelpWhile{MinIdle: q.HelpWhile.MinIdle},
		SLA:           cases.SLA{AnswerWithin: seconds(q.SLA.AnswerWithinS), TargetPct: q.SLA.TargetPct},
		CallbackAfter: seconds(q.CallbackAfterS), MaxWaiting: q.MaxWaiting,
		CallbackRetries: q.CallbackRetries, CallbackRetryAfter: seconds(q.CallbackRetryS),
		Kind: cases.QueueKind(q.Kind), Aging: seconds(q.AgingS),
	}
}

// RouterAgent converts a directory user (an agent) into the router's
// profile.
func RouterAgent(u directory.User) cases.AgentProfile {
	qs := make(map[string]int, len(u.Queues))
	for _, m := range u.Queues {
		qs[m.Queue] = m.Level
	}
	return cases.AgentProfile{Username: u.Username, Name: u.Name, Agency: u.Agency, Skills: u.Skills, Queues: qs, MaxChats: u.MaxChats,
		Phone: u.SIPURI}
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// RoutingConfig reads every queue and every agent from the directory, for
// the router's start.
func RoutingConfig(ctx context.Context, dir *directory.Store) ([]cases.QueueConfig, []cases.AgentProfile, error) {
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
	var queues []cases.QueueConfig
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
	var agents []cases.AgentProfile
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
func (s *Switchboard) SyncQueue(ctx context.Context, q directory.Queue) error {
	a, err := s.dir.GetAgency(ctx, q.Agency)
	if err != nil {
		return fmt.Errorf("route queue %s: %w", q.ID, err)
	}
	cfg, err := RouterQueue(q, a)
	if err != nil {
		return err
	}
	evs, err := s.r.UpsertQueue(cfg)
	if err != nil {
		return fmt.Errorf("route queue %s: %w", q.ID, err)
	}
	return Commit(ctx, s.j, evs)
}

// SyncAgency puts every queue of a changed agency into the router again:
// its holidays and zone are part of each queue's hours.
func (s *Switchboard) SyncAgency(ctx context.Context, a directory.Agency) error {
	for page := (directory.Page{Limit: 500}); ; {
		qs, more, err := s.dir.ListQueues(ctx, directory.QueueFilter{Agency: a.ID}, page)
		if err != nil {
			return fmt.Errorf("route agency %s: %w", a.ID, err)
		}
		for _, q := range qs {
			cfg, err := RouterQueue(q, a)
			if err != nil {
				return err
			}
			evs, err := s.r.UpsertQueue(cfg)
			if err != nil {
				return fmt.Errorf("route queue %s: %w", q.ID, err)
			}
			if err := Commit(ctx, s.j, evs); err != nil {
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
func (s *Switchboard) SyncUser(ctx context.Context, u directory.User) error {
	var evs []cases.Event
	var err error
	if u.Role == directory.RoleAgent {
		evs, err = s.r.UpsertAgent(RouterAgent(u))
	} else {
		evs, err = s.r.RemoveAgent(u.Username)
		if errors.Is(err, cases.ErrNotFound) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("route user %s: %w", u.Username, err)
	}
	return Commit(ctx, s.j, evs)
}

// UnrouteQueue takes a queue out of the router before the directory
// deletes it. It refuses, wrapping cases.ErrConflict, while contacts are
// live in the queue; a queue the router does not know is no error, and
// removed says whether the router had it (to give it back if the
// directory keeps the queue after all). Its events are not journaled: a
// queue leaves the durable log with the directory's row.
func (s *Switchboard) UnrouteQueue(id string) (removed bool, err error) {
	_, err = s.r.RemoveQueue(id)
	if errors.Is(err, cases.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// UnrouteAgent takes an agent out of the router before their account stops
// being an agent's. It refuses, wrapping cases.ErrConflict, while they
// hold contacts; an agent the router does not know is no error.
func (s *Switchboard) UnrouteAgent(username string) error {
	_, err := s.r.RemoveAgent(username)
	if errors.Is(err, cases.ErrNotFound) {
		return nil
	}
	return err
}

// RestoreAgent gives the router back an agent whose directory change
// failed after UnrouteAgent; for anyone who is not an agent in the
// directory, or is still routed, it does nothing.
func (s *Switchboard) RestoreAgent(ctx context.Context, username string) error {
	u, err := s.dir.GetUser(ctx, username)
	if err != nil || u.Role != directory.RoleAgent {
		return nil
	}
	if _, err := s.r.Agent(username); !errors.Is(err, cases.ErrNotFound) {
		return nil
	}
	return s.SyncUser(ctx, u)
}
