package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"tellonce/auth"
	"tellonce/cases"
	"tellonce/directory"
	"tellonce/transcripts"
)

// What the consoles need from the directory beyond the contract's
// endpoints: the agent desk's transfer dialog lists every agency's queues
// and agents, while GET /v1/queues shows an agent only their own agency.

// transferTargets is the answer of GET /v1/transfer-targets: names only —
// no skills, memberships or settings of other agencies.
type transferTargets struct {
	Agencies []targetAgency `json:"agencies"`
	Queues   []targetQueue  `json:"queues"`
	Agents   []targetAgent  `json:"agents"`
}

type targetAgency struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// targetQueue carries channels so that the dialog offers only queues that
// take the contact's channel (the router refuses the others).
type targetQueue struct {
	ID         string   `json:"id"`
	Agency     string   `json:"agency"`
	AgencyName string   `json:"agency_name"`
	Name       string   `json:"name"`
	Channels   []string `json:"channels"`
}

type targetAgent struct {
	Username string `json:"username"`
	Name     string `json:"name"`
	Agency   string `json:"agency"`
}

// consoleAPI registers the endpoints the consoles add to the contract.
func (s *Server) consoleAPI(mux *http.ServeMux) {
	s.handle(mux, "GET /v1/transfer-targets", s.authed(s.getTransferTargets))
	s.handle(mux, "GET /v1/contacts/{id}/messages", s.getChatMessages)
}

// getTransferTargets lists every queue and every agent a contact can be
// transferred to, across agencies. People may read it (agents transfer;
// supervisors and admins see what their agents see); machines may not.
func (s *Server) getTransferTargets(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !canReadDirectory(p) {
		s.writeError(w, r, errForbidden)
		return
	}
	out, err := s.readTransferTargets(r.Context(), p.Username)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) readTransferTargets(ctx context.Context, self string) (transferTargets, error) {
	out := transferTargets{Agencies: []targetAgency{}, Queues: []targetQueue{}, Agents: []targetAgent{}}
	agencies, err := allAgencies(ctx, s.dir)
	if err != nil {
		return out, err
	}
	names := make(map[string]string, len(agencies))
	for _, a := range agencies {
		names[a.ID] = a.Name
		out.Agencies = append(out.Agencies, targetAgency{ID: a.ID, Name: a.Name})
	}
	queues, err := allQueues(ctx, s.dir)
	if err != nil {
		return out, err
	}
	interpreterQueue := map[string]bool{}
	for _, q := range queues {
		if q.Kind == "interpreter" {
			interpreterQueue[q.ID] = true
			continue // interpreters are asked for, not transferred to
		}
		out.Queues = append(out.Queues, targetQueue{ID: q.ID, Agency: q.Agency, AgencyName: names[q.Agency], Name: q.Name, Channels: q.Channels})
	}
	users, err := allPages(func(pg directory.Page) ([]directory.User, bool, error) {
		return s.dir.ListUsers(ctx, directory.UserFilter{Role: directory.RoleAgent}, pg)
	}, func(u directory.User) string { return u.Username })
	if err != nil {
		return out, err
	}
	for _, u := range users {
		if u.Username != self && !interpreterQueue[firstQueue(u.Queues)] {
			out.Agents = append(out.Agents, targetAgent{Username: u.Username, Name: u.Name, Agency: u.Agency})
		}
	}
	return out, nil
}

// firstQueue is where a transfer to the agent lands (the router's rule:
// the highest level, then the lowest id).
func firstQueue(ms []directory.Membership) string {
	best, level := "", 0
	for _, m := range ms {
		if best == "" || m.Level > level || (m.Level == level && m.Queue < best) {
			best, level = m.Queue, m.Level
		}
	}
	return best
}

func allAgencies(ctx context.Context, dir *directory.Store) ([]directory.Agency, error) {
	return allPages(func(pg directory.Page) ([]directory.Agency, bool, error) {
		return dir.ListAgencies(ctx, pg)
	}, func(a directory.Agency) string { return a.ID })
}

func allQueues(ctx context.Context, dir *directory.Store) ([]directory.Queue, error) {
	return allPages(func(pg directory.Page) ([]directory.Queue, bool, error) {
		return dir.ListQueues(ctx, directory.QueueFilter{}, pg)
	}, func(q directory.Queue) string { return q.ID })
}

// allPages reads a whole directory list, page by page.
func allPages[T any](list func(directory.Page) ([]T, bool, error), key func(T) string) ([]T, error) {
	var out []T
	pg := directory.Page{Limit: 500}
	for {
		items, more, err := list(pg)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if !more || len(items) == 0 {
			return out, nil
		}
		pg.After = key(items[len(items)-1])
	}
}

// chatMessage is one message of a citizen's conversation, as the citizen
// socket's message frame has it, plus the timeline's seq.
type chatMessage struct {
	Seq       int64     `json:"seq"`
	From      string    `json:"from"` // "agent" or "citizen"
	AgentName string    `json:"agent_name,omitempty"`
	Text      string    `json:"text"`
	At        time.Time `json:"at"`
}

// getChatMessages is GET /v1/contacts/{id}/messages?token=: the messages
// of the citizen's open case, every leg, for the citizen's own token. The
// citizen socket sends only what happens while it is connected; a phone
// that lost its connection for a moment reads here what it missed. Only
// messages: citizens never see notes, speech-to-text or the case view.
func (s *Server) getChatMessages(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	t := citizenToken(r)
	if t == "" {
		s.writeError(w, r, errorf(http.StatusUnauthorized, codeUnauthorized, "token", "a valid citizen token is required"))
		return
	}
	c, err := s.board.Peek(id)
	if err == nil && !s.tokens.Valid(c.Origin, t) {
		// Answered as an unknown contact is, and audited.
		s.auditRefusal(r, auth.Principal{}, transcripts.AuditEntry{Action: transcripts.ActionContact, CaseID: c.CaseID,
			Query: "op=messages&contact_id=" + c.ID})
		err = errNoContact(id)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cs, err := s.board.Case(c.CaseID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	names := map[string]string{}
	interpreters := map[string]bool{} // agents who joined the case as interpreters
	for _, l := range cs.Legs {
		if l.Interpreter && l.Agent != "" {
			interpreters[l.Agent] = true
		}
	}
	items := []chatMessage{}
	for _, e := range cs.Events {
		if e.Type != cases.CaseMessage {
			continue
		}
		role, who, _ := strings.Cut(e.Actor, ":")
		m := chatMessage{Seq: e.Seq, From: role, Text: e.Text, At: e.At.UTC()}
		if role == "agent" && interpreters[who] {
			m.From = "interpreter"
		}
		if role == "agent" {
			if _, ok := names[who]; !ok {
				names[who] = who
				if a, err := s.board.Agent(who); err == nil && a.Name != "" {
					names[who] = a.Name
				}
			}
			m.AgentName = names[who]
		}
		items = append(items, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}
