package router

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	memdb "github.com/hashicorp/go-memdb"
)

// keySamples are rows of every table in the states its indexes care
// about, fixed so that the keys they produce can be compared byte for
// byte with the golden file.
func keySamples() map[string][]any {
	at := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	queued := &contactRow{ID: "ct-1", CaseID: "cs-1", Identity: "tel:abc", Queue: "q", Agency: "a", Channel: ChannelVoice,
		Priority: 3, Seq: 7, CaseCreatedAt: at, EnqueuedAt: at, Status: StatusQueued, Overflowed: []string{"r"},
		Reserved: "kim"}
	queued.Rank = queued.computeRank(0)
	offered := &contactRow{ID: "ct-2", CaseID: "cs-1", Identity: "chat:dev", Queue: "q", Channel: ChannelChat,
		Seq: 8, CaseCreatedAt: at, EnqueuedAt: at, Status: StatusOffered, Agent: "kim", OfferID: "of-1"}
	offered.Rank = offered.computeRank(0)
	booked := &contactRow{ID: "ct-3", CaseID: "cs-2", Identity: "tel:def", Queue: "q", Channel: ChannelCallback,
		Seq: 9, CaseCreatedAt: at, EnqueuedAt: at, Status: StatusScheduled, Due: at.Add(time.Hour), Slot: true, Head: true}
	booked.Rank = booked.computeRank(0)
	// Aging 60s, priority 3: ranked as a priority-0 case three minutes older.
	aged := &contactRow{ID: "ct-4", CaseID: "cs-3", Identity: "tel:ghi", Queue: "q", Channel: ChannelVoice,
		Priority: 3, Seq: 10, CaseCreatedAt: at, EnqueuedAt: at, Status: StatusQueued}
	aged.Rank = aged.computeRank(time.Minute)
	return map[string][]any{
		tableContacts: {queued, offered, booked, aged},
		tableAgents: {&agentRow{AgentProfile: AgentProfile{Username: "kim", Queues: map[string]int{"q": 1, "r": 2}, MaxChats: 2},
			Connected: true, State: StateAvailable, IdleSince: at}},
		tableCases:   {&caseRow{ID: "cs-1", CreatedAt: at}},
		tableQueues:  {&queueRow{QueueConfig: QueueConfig{ID: "q", Agency: "a"}}},
		tableMembers: {&memberRow{Queue: "q", Username: "kim"}},
		tableHeldFor: {queued},
		tableBooked:  {booked},
	}
}

// describeKeys is every index's key of every sample row: the encoding the
// router's order and look-ups depend on (the rank's byte order is the
// routing order), which a schema description alone does not show.
func describeKeys(s *memdb.DBSchema) (string, error) {
	var b strings.Builder
	samples := keySamples()
	for _, tname := range sortedKeys(s.Tables) {
		t := s.Tables[tname]
		for i, row := range samples[tname] {
			fmt.Fprintf(&b, "%s[%d]\n", tname, i)
			for _, iname := range sortedKeys(t.Indexes) {
				switch ix := t.Indexes[iname].Indexer.(type) {
				case memdb.SingleIndexer:
					ok, key, err := ix.FromObject(row)
					if err != nil {
						return "", fmt.Errorf("%s.%s: %w", tname, iname, err)
					}
					if ok {
						fmt.Fprintf(&b, "  %s %q\n", iname, key)
					} else {
						fmt.Fprintf(&b, "  %s -\n", iname)
					}
				case memdb.MultiIndexer:
					ok, keys, err := ix.FromObject(row)
					if err != nil {
						return "", fmt.Errorf("%s.%s: %w", tname, iname, err)
					}
					if !ok {
						fmt.Fprintf(&b, "  %s -\n", iname)
					}
					// A row's keys are a set: memdb does not keep their order.
					lines := make([]string, len(keys))
					for i, key := range keys {
						lines[i] = fmt.Sprintf("  %s %q\n", iname, key)
					}
					slices.Sort(lines)
					b.WriteString(strings.Join(lines, ""))
				}
			}
		}
	}
	return b.String(), nil
}

// TestIndexKeysGolden fails when an index's key encoding changes without
// the golden file being regenerated (go test ./router -run IndexKeysGolden
// -update): memdb's byte order is the routing order, so a new encoding is
// a change of behaviour to review, not a detail.
func TestIndexKeysGolden(t *testing.T) {
	got, err := describeKeys(schema())
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "keys.golden", got, "IndexKeysGolden")
}

// TestRankMatchesItsFormat checks the rank built digit by digit against
// the format it replaces, at the edges of each field.
func TestRankMatchesItsFormat(t *testing.T) {
	at := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, c := range []contactRow{
		{Priority: 0, Seq: 1, CaseCreatedAt: at},
		{Priority: maxPriority, Seq: 1<<64 - 1, CaseCreatedAt: at, Head: true},
		{Priority: -maxPriority, Seq: 0, CaseCreatedAt: time.Unix(0, 1<<63-1)},
		{Priority: 5, Seq: 42, CaseCreatedAt: time.Unix(-5, 0)},
		{Priority: 2 * maxPriority, Seq: 7, CaseCreatedAt: at}, // out of range: the format's own text
	} {
		for _, aging := range []time.Duration{0, time.Minute} {
			band := 1
			if c.Head {
				band = 0
			}
			age, prio := c.CaseCreatedAt.UnixNano(), c.Priority
			if aging > 0 {
				age -= int64(c.Priority) * int64(aging)
				prio = 0
			}
			age = max(age, 0)
			want := fmt.Sprintf("%d%04d%020d%020d", band, maxPriority-prio, age, c.Seq)
			if got := c.computeRank(aging); got != want {
				t.Errorf("rank of %+v aging %s = %q; want %q", c, aging, got, want)
			}
		}
	}
}
