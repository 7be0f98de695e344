package cases

import (
	"strings"
	"time"
	"unicode"
)

const (
	maxRecordingFileLen = 512
	maxRecordingSeconds = 86400
)

// Recording is what the edge recorded of one answered leg: File is its
// path or object key at the edge (the audio stays there), Seconds its
// length, StartedAt when it began.
type Recording struct {
	File      string
	Seconds   int
	StartedAt time.Time
}

// Validate checks a recording's fields.
func (rec Recording) Validate() error {
	if strings.TrimSpace(rec.File) == "" {
		return Invalid("file", "is required")
	}
	if len(rec.File) > maxRecordingFileLen {
		return Invalid("file", "is longer than %d bytes", maxRecordingFileLen)
	}
	if strings.ContainsFunc(rec.File, unicode.IsControl) {
		return Invalid("file", "must not contain control characters")
	}
	if rec.Seconds < 0 || rec.Seconds > maxRecordingSeconds {
		return Invalid("seconds", "must be 0-%d", maxRecordingSeconds)
	}
	if rec.StartedAt.IsZero() {
		return Invalid("started_at", "is required")
	}
	return nil
}
