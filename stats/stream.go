package stats

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Update is one message of the live stream: Data is the JSON of
// {"at": time, "queues": [QueueStats…]} for the watcher's agency, or nil
// for a heartbeat. Data is shared by every watcher: do not change it.
type Update struct {
	Data []byte
}

// Watcher receives the live queue statistics of one agency (or of all).
// C is closed when the watcher is dropped for falling behind, when it
// unsubscribes, or when the stream closes (Run ended or CloseWatchers).
type Watcher struct {
	C      <-chan Update
	ch     chan Update
	agency string
	s      *Stats
}

// Close unsubscribes the watcher; C is closed.
func (w *Watcher) Close() { w.s.stream.remove(w) }

// stream fans the live figures out to watchers: one computation and one
// encoding per agency for all of them, non-blocking sends, and a watcher
// whose buffer is full is dropped rather than waited for.
type stream struct {
	mu       sync.Mutex
	closed   bool
	watchers map[*Watcher]struct{}
	groups   map[string]*group // by agency, "" = every agency
	dropped  int
}

// group is what the watchers of one agency were last sent.
type group struct {
	ws       map[*Watcher]struct{}
	view     *view
	last     []byte // the queues JSON last sent
	lastSent time.Time
}

func (st *stream) init() {
	st.watchers = map[*Watcher]struct{}{}
	st.groups = map[string]*group{}
}

// Subscribe adds a watcher of agency's queues ("" for every queue). The
// current figures are in C at once; after that an update comes whenever
// they change, at most once per Interval, and a heartbeat after Heartbeat
// without one. After the stream has closed, C is closed at once.
func (s *Stats) Subscribe(agency string) *Watcher {
	ch := make(chan Update, s.cfg.WatcherBuffer)
	w := &Watcher{C: ch, ch: ch, agency: agency, s: s}
	v := s.current()
	data := s.queuesJSON(v, agency)
	st := &s.stream
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		close(ch)
		return w
	}
	st.watchers[w] = struct{}{}
	g := st.groups[agency]
	if g == nil {
		g = &group{ws: map[*Watcher]struct{}{}, view: v, last: data, lastSent: v.at}
		st.groups[agency] = g
	}
	g.ws[w] = struct{}{}
	ch <- Update{Data: message(v.at, data)}
	return w
}

func (st *stream) remove(w *Watcher) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.removeLocked(w)
}

func (st *stream) removeLocked(w *Watcher) {
	if _, ok := st.watchers[w]; !ok {
		return
	}
	delete(st.watchers, w)
	close(w.ch)
	if g := st.groups[w.agency]; g != nil {
		if delete(g.ws, w); len(g.ws) == 0 {
			delete(st.groups, w.agency)
		}
	}
}

// Watchers counts the watchers subscribed now.
func (s *Stats) Watchers() int {
	s.stream.mu.Lock()
	defer s.stream.mu.Unlock()
	return len(s.stream.watchers)
}

// Dropped counts the watchers dropped for falling behind.
func (s *Stats) Dropped() int {
	s.stream.mu.Lock()
	defer s.stream.mu.Unlock()
	return s.stream.dropped
}

// CloseWatchers ends the stream: every watcher's C is closed and later
// subscribers get a closed C. The web server calls it when it shuts down.
func (s *Stats) CloseWatchers() {
	st := &s.stream
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closed = true
	for w := range st.watchers {
		st.removeLocked(w)
	}
}

// Tick refreshes the live figures if they are an Interval old and sends
// what changed to the watchers (or a heartbeat to those that have had
// nothing for Heartbeat). Run calls it every Interval; tests call it after
// moving their clock.
func (s *Stats) Tick() {
	v := s.current()
	now := s.clock.Now()
	st := &s.stream
	st.mu.Lock()
	agencies := make([]string, 0, len(st.groups))
	for a, g := range st.groups {
		if g.view != v {
			agencies = append(agencies, a)
		}
	}
	st.mu.Unlock()
	// Encode outside the lock: subscribers and slow senders need not wait.
	fresh := make(map[string][]byte, len(agencies))
	for _, a := range agencies {
		fresh[a] = s.queuesJSON(v, a)
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	for a, g := range st.groups {
		var u Update
		if data, ok := fresh[a]; ok && g.view != v {
			g.view = v
			if !bytes.Equal(data, g.last) {
				g.last, u.Data = data, message(v.at, data)
			}
		}
		if u.Data == nil && now.Sub(g.lastSent) < s.cfg.Heartbeat {
			continue
		}
		g.lastSent = now
		for w := range g.ws {
			select {
			case w.ch <- u:
			default:
				st.dropped++
				st.removeLocked(w)
			}
		}
	}
}

// Run calls Tick every Interval until ctx ends, then closes the stream.
func (s *Stats) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	defer s.CloseWatchers()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			s.Tick()
		}
	}
}

// queuesJSON is the JSON list of agency's queues ("" = all) in v, encoded
// once per view and agency.
func (s *Stats) queuesJSON(v *view, agency string) []byte {
	v.encMu.Lock()
	defer v.encMu.Unlock()
	if b, ok := v.enc[agency]; ok {
		return b
	}
	qs := make([]QueueStats, 0, len(v.queues))
	for _, q := range v.queues {
		if agency == "" || q.Agency == agency {
			qs = append(qs, q)
		}
	}
	b, err := json.Marshal(qs)
	if err != nil {
		s.cfg.Log.Error("stats: encode queues", "err", err)
		b = []byte("[]")
	}
	if v.enc == nil {
		v.enc = map[string][]byte{}
	}
	v.enc[agency] = b
	return b
}

// message wraps a queue list with the time it was computed.
func message(at time.Time, queues []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(queues) + 64)
	b.WriteString(`{"at":"`)
	b.WriteString(at.UTC().Format(time.RFC3339))
	b.WriteString(`","queues":`)
	b.Write(queues)
	b.WriteString("}")
	return b.Bytes()
}
