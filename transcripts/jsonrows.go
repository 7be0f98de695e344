package transcripts

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// The PostgreSQL batch (pgBatch) carries each table's rows as a JSON
// array. The rows of every batch — cases, contacts and case events, a few
// per contact — are written here by hand rather than by encoding/json,
// whose reflection over 26 contact columns, several of them interfaces,
// was the larger part of the journal's own CPU per batch. The output is
// what json.Marshal gives, but for HTML characters, which are left as
// they are (TestJSONRowsMatchEncodingJSON holds it to that).

// jsonWriter appends rows to one reusable buffer.
type jsonWriter struct{ b []byte }

// array is rows as a JSON array ("[]" for none, never null); each row
// appends itself through one.
func array[R any](w *jsonWriter, rows []R, one func(*R, *jsonWriter)) string {
	w.b = append(w.b[:0], '[')
	for i := range rows {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		one(&rows[i], w)
	}
	w.b = append(w.b, ']')
	return string(w.b)
}

func (w *jsonWriter) key(first bool, k string) {
	if first {
		w.b = append(w.b, '{', '"')
	} else {
		w.b = append(w.b, ',', '"')
	}
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *jsonWriter) end() { w.b = append(w.b, '}') }

func (w *jsonWriter) str(k, v string) { w.key(false, k); w.b = appendJSONString(w.b, v) }

func (w *jsonWriter) int(k string, v int64) { w.key(false, k); w.b = strconv.AppendInt(w.b, v, 10) }

func (w *jsonWriter) bool(k string, v bool) { w.key(false, k); w.b = strconv.AppendBool(w.b, v) }

func (w *jsonWriter) time(k string, t time.Time) {
	w.key(false, k)
	w.b = appendJSONTime(w.b, t)
}

// nullTime writes a column that holds nullTS's result: nil or a time.
func (w *jsonWriter) nullTime(k string, v any) {
	w.key(false, k)
	switch t := v.(type) {
	case nil:
		w.b = append(w.b, "null"...)
	case time.Time:
		w.b = appendJSONTime(w.b, t)
	default:
		panic(fmt.Sprintf("transcripts: column %s holds a %T, want a time or nil", k, v))
	}
}

// appendJSONTime is time.Time's MarshalJSON, which the journal's times
// (UTC, to the microsecond) always satisfy.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string as encoding/json writes it:
// quotes, backslashes and control characters escaped, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped; HTML characters are left as they are.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func (r *caseRow) appendJSON(w *jsonWriter) {
	w.key(true, "id")
	w.b = appendJSONString(w.b, r.ID)
	w.str("caller_id", r.CallerID)
	w.str("caller_name", r.CallerName)
	w.str("caller_language", r.CallerLanguage)
	w.str("context", r.Context)
	w.str("status", r.Status)
	w.time("created_at", r.CreatedAt)
	w.nullTime("closed_at", r.ClosedAt)
	w.str("identity", r.Identity)
	w.end()
}

func (r *contactRow) appendJSON(w *jsonWriter) {
	w.key(true, "id")
	w.b = appendJSONString(w.b, r.ID)
	w.str("case_id", r.CaseID)
	w.str("queue_id", r.Queue)
	w.str("agency_id", r.Agency)
	w.str("channel", r.Channel)
	w.str("status", r.Status)
	w.int("priority", int64(r.Priority))
	w.str("caller_id", r.CallerID)
	w.str("context", r.Context)
	w.str("callback_number", r.CallbackNumber)
	w.str("skills", r.Skills)
	w.int("seq", r.Seq)
	w.bool("head", r.Head)
	w.str("agent", r.Agent)
	w.time("enqueued_at", r.EnqueuedAt)
	w.nullTime("answered_at", r.AnsweredAt)
	w.nullTime("ended_at", r.EndedAt)
	w.str("disposition", r.Disposition)
	w.str("warm_of", r.WarmOf)
	w.nullTime("due_at", r.DueAt)
	w.bool("slot", r.Slot)
	w.int("attempts", int64(r.Attempts))
	w.str("conference_of", r.ConferenceOf)
	w.str("identity", r.Identity)
	w.str("origin", r.Origin)
	w.str("idempotency_key", r.IdemKey)
	w.end()
}

func (r *eventRow) appendJSON(w *jsonWriter) {
	w.key(true, "case_id")
	w.b = appendJSONString(w.b, r.CaseID)
	w.int("seq", r.Seq)
	w.time("at", r.At)
	w.str("type", r.Type)
	w.str("actor", r.Actor)
	w.str("contact_id", r.ContactID)
	w.str("text", r.Text)
	w.str("data", r.Data)
	w.end()
}
