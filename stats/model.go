package stats

import (
	"time"

	"tellonce/cases"
)

// input is what the estimate of one queue is made from at one moment.
type input struct {
	cfg       cases.QueueConfig
	rate      float64 // arrivals per second
	chatShare float64 // of the arrivals
	handle    float64 // seconds, answer to end
	wrap      float64 // seconds
	load      float64 // erlangs: rate × (handle + wrap)
	theta     float64 // abandonments per second per waiting contact
	servers   float64 // contacts the staff can hold at once, shared out
	staffed   int     // agents working the queue
	free      bool    // someone could be offered a contact now
}

// minLoad keeps an idle queue's share of a shared agent above zero.
const minLoad = 0.01

// inputs works out every queue's input at now; it holds s.mu.
func (s *Stats) inputs(cfgs []cases.QueueConfig, agents []cases.AgentView, now time.Time) map[string]*input {
	in := make(map[string]*input, len(cfgs))
	for _, q := range cfgs {
		m := s.model(q.ID)
		x := &input{cfg: q, handle: m.handle, wrap: wrapup(q).Seconds(), chatShare: 0.5}
		n := m.arrivals.value(now, s.cfg.ArrivalWindow)
		x.rate = n / s.cfg.ArrivalWindow.Seconds()
		if n > 0.5 {
			x.chatShare = m.chat.value(now, s.cfg.ArrivalWindow) / n
		}
		if waited := m.waited.value(now, s.cfg.PatienceWindow); waited > 0 {
			x.theta = m.abandons.value(now, s.cfg.PatienceWindow) / waited
		}
		x.load = x.rate * (x.handle + x.wrap)
		in[q.ID] = x
	}
	// Each working agent's capacity goes to their queues in proportion to
	// the queues' load.
	for _, a := range agents {
		if !staffed(a) {
			continue
		}
		queues := sortedKeys(a.Queues) // a fixed order: the same sums every time
		total := 0.0
		for _, q := range queues {
			if x := in[q]; x != nil {
				total += x.load + minLoad
			}
		}
		for _, q := range queues {
			x := in[q]
			if x == nil {
				continue
			}
			x.staffed++
			x.servers += slots(a, x.cfg, x.chatShare) * (x.load + minLoad) / total
			x.free = x.free || free(a, x.cfg)
		}
	}
	return in
}

// staffed reports whether an agent is working: available, busy or
// wrapping up, and connected or holding contacts (an agent within the
// reconnect grace still has them).
func staffed(a cases.AgentView) bool {
	switch a.State {
	case cases.StateAvailable, cases.StateBusy, cases.StateWrapup:
		return a.Connected || a.Voice+a.Chats > 0
	}
	return false
}

// channels says which capacity classes a queue takes.
func channels(q cases.QueueConfig) (chat, voice bool) {
	for _, c := range q.Channels {
		if c == cases.ChannelChat {
			chat = true
		} else {
			voice = true
		}
	}
	return chat, voice
}

// slots is how many of q's contacts an agent handles at once: one for a
// voice queue, MaxChats for a chat queue, and in between for a queue that
// takes both, by the share of chats among its arrivals.
func slots(a cases.AgentView, q cases.QueueConfig, chatShare float64) float64 {
	chat, voice := channels(q)
	mc := float64(max(a.MaxChats, 1))
	switch {
	case chat && !voice:
		return mc
	case chat:
		return 1 + chatShare*(mc-1)
	}
	return 1
}

// free reports whether the router could offer the agent one of q's
// contacts now.
func free(a cases.AgentView, q cases.QueueConfig) bool {
	if !a.Connected || a.Chosen != cases.StateAvailable || a.Voice > 0 {
		return false
	}
	chat, voice := channels(q)
	return voice && a.Chats == 0 || chat && a.Chats < max(a.MaxChats, 1)
}

// wrapup is a queue's wrap-up time as the router applies it.
func wrapup(q cases.QueueConfig) time.Duration {
	switch {
	case q.Wrapup == 0:
		return cases.DefaultWrapup
	case q.Wrapup < 0:
		return 0
	}
	return q.Wrapup
}
