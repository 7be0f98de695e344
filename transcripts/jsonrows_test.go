package transcripts

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// decodeRows is a JSON array of objects as plain values.
func decodeRows(t testing.TB, doc string) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal([]byte(doc), &out); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	return out
}

// The hand-written rows of a PostgreSQL batch say what json.Marshal of the
// same rows says: every column, the same values, times and NULLs alike.
func TestJSONRowsMatchEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 7, 13, 40, 5, 123456000, time.UTC)
	odd := "quote \" back \\ tab \t nl \n cr \r nul \x00 bell \x07 <a&b> 한국어 \u2028 \u2029 bad \xff\xfe end"
	cases := []caseRow{
		{ID: "case-1", CallerID: "c1", CallerName: odd, CallerLanguage: "ko", Context: `{"summary":"x"}`,
			Status: "open", CreatedAt: at, ClosedAt: nil, Identity: ""},
		{ID: "case-2", CallerID: odd, Status: "closed", CreatedAt: at, ClosedAt: at.Add(time.Minute), Identity: "phone:010"},
	}
	contacts := []contactRow{
		{ID: "ct-1", CaseID: "case-1", Queue: "q1", Agency: "a1", Channel: "voice", Status: "assigned", Priority: -3,
			CallerID: "c1", Context: odd, CallbackNumber: "010-1234", Skills: `{"lang:ko":1}`, Seq: 1 << 40, Head: true,
			Agent: "kim", EnqueuedAt: at, AnsweredAt: at.Add(time.Second), EndedAt: nil, Disposition: "", WarmOf: "",
			DueAt: nil, Slot: true, Attempts: 2, ConferenceOf: "x", Identity: "id", Origin: "o", IdemKey: "k"},
		{ID: "ct-2", EnqueuedAt: at, EndedAt: at, DueAt: at.Add(time.Hour)},
	}
	events := []eventRow{
		{CaseID: "case-1", Seq: 7, At: at, Type: "message", Actor: "citizen", ContactID: "ct-1", Text: odd, Data: `{"a":"b"}`},
		{CaseID: "case-2", Seq: 1, At: at},
	}
	var w jsonWriter
	for name, pair := range map[string][2]string{
		"cases":    {array(&w, cases, (*caseRow).appendJSON), mustMarshal(t, cases)},
		"contacts": {array(&w, contacts, (*contactRow).appendJSON), mustMarshal(t, contacts)},
		"events":   {array(&w, events, (*eventRow).appendJSON), mustMarshal(t, events)},
		"none":     {array(&w, []eventRow(nil), (*eventRow).appendJSON), "[]"},
	} {
		got, want := decodeRows(t, pair[0]), decodeRows(t, pair[1])
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, pair[0], pair[1])
		}
	}
}

func mustMarshal(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzAppendJSONString: any string reads back as encoding/json writes it.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "\x00\x1f\x7f", "한국어", "\xff", "a\xe2\x80", "\u2028\u2029", "<>&", "\ud7ff\U0010ffff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Fatalf("%q: not a JSON string: %v (%s)", s, err, appendJSONString(nil, s))
		}
		if err := json.Unmarshal([]byte(mustMarshal(t, s)), &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%q: read back %q, encoding/json gives %q", s, got, want)
		}
	})
}

// BenchmarkBatchJSON encodes the rows of a batch of ten contacts' worth of
// events (10 cases, 10 contacts, 40 events) as a PostgreSQL batch carries
// them: by hand (the journal's way) and by encoding/json (before).
func BenchmarkBatchJSON(b *testing.B) {
	at := time.Date(2026, 12, 7, 13, 40, 5, 123456000, time.UTC)
	var cs []caseRow
	var ct []contactRow
	var ev []eventRow
	for i := range 10 {
		cs = append(cs, caseRow{ID: "case-" + string(rune('a'+i)), CallerID: "lg-c1", CallerName: "loadgen caller 1",
			CallerLanguage: "ko", Context: `{"summary":"loadgen contact","ivr":["1","3"],"attributes":null}`, Status: "open", CreatedAt: at})
		ct = append(ct, contactRow{ID: "contact-" + string(rune('a'+i)), CaseID: cs[i].ID, Queue: "queue-1", Agency: "agency-1",
			Channel: "voice", Status: "assigned", CallerID: "lg-c1", Context: cs[i].Context, Skills: "{}", Seq: int64(i),
			Agent: "lg-a0001", EnqueuedAt: at, AnsweredAt: at})
		for k := range 4 {
			ev = append(ev, eventRow{CaseID: cs[i].ID, Seq: int64(k), At: at, Type: "offered", Actor: "router", ContactID: ct[i].ID, Data: "{}"})
		}
	}
	b.Run("by-hand", func(b *testing.B) {
		b.ReportAllocs()
		var w jsonWriter
		for b.Loop() {
			_ = array(&w, cs, (*caseRow).appendJSON)
			_ = array(&w, ct, (*contactRow).appendJSON)
			_ = array(&w, ev, (*eventRow).appendJSON)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, rows := range []any{cs, ct, ev} {
				if _, err := jsonRows(rows); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
