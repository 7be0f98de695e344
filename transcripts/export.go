package transcripts

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"tellonce/cases"
)

// Export formats.
const (
	FormatTXT  = "txt"
	FormatJSON = "json"
	FormatCSV  = "csv"
)

// ExportFormats lists the formats Export writes.
var ExportFormats = []string{FormatTXT, FormatJSON, FormatCSV}

// ContentType is the media type of an export format.
func ContentType(format string) string {
	switch format {
	case FormatJSON:
		return "application/json; charset=utf-8"
	case FormatCSV:
		return "text/csv; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}

// Export writes t in format (txt, json or csv). Mask it first (Redacted)
// for a reader without the pii permission: Export writes what it is given.
func (t Timeline) Export(w io.Writer, format string) error {
	switch format {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(t)
	case FormatCSV:
		return t.writeCSV(w)
	case FormatTXT:
		return t.writeTXT(w)
	}
	return fmt.Errorf("export: unknown format %q", format)
}

// csvHeader names the columns of a CSV export: one row per timeline entry.
var csvHeader = []string{"case_id", "seq", "at", "agency", "queue", "contact_id", "type", "actor", "text", "disposition"}

// writeCSV writes one row per timeline entry. Every cell is made safe to
// open in a spreadsheet: see csvCell.
func (t Timeline) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, e := range t.Events {
		row := []string{t.CaseID, fmt.Sprint(e.Seq), e.At.Format(time.RFC3339Nano), e.Agency, e.Queue,
			e.ContactID, e.Type, e.Actor, exportText(e), e.Data["disposition"]}
		for i := range row {
			row[i] = csvCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// exportText is an entry's text in the CSV and text exports. A recording
// has none of its own: it says where the edge keeps the audio, how long it
// is and when it began (the audio itself is never exported).
func exportText(e EntryView) string {
	if e.Type == cases.CaseRecording {
		return fmt.Sprintf("%s (%s s, from %s)", e.Data["file"], e.Data["seconds"], e.Data["started_at"])
	}
	return e.Text
}

// csvCell defuses formula injection (CWE-1236): a spreadsheet runs a cell
// that starts with = + - @ (or a tab or carriage return before one) as a
// formula, so such a cell gets a leading apostrophe, which spreadsheets
// show as text. Citizens write the text, so this is not hypothetical.
func csvCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// writeTXT writes a plain-text transcript a person can read or print.
func (t Timeline) writeTXT(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Case %s (%s)\n", t.CaseID, t.Status)
	fmt.Fprintf(&b, "Started: %s\n", t.StartedAt.Format(time.RFC3339))
	if t.EndedAt != nil {
		fmt.Fprintf(&b, "Ended:   %s\n", t.EndedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "Caller:  %s (%s) %s\n", t.Caller.Name, t.Caller.Language, t.Caller.ID)
	if t.Context.Summary != "" {
		fmt.Fprintf(&b, "Summary: %s\n", oneLine(t.Context.Summary))
	}
	if len(t.Context.IVR) > 0 {
		fmt.Fprintf(&b, "IVR:     %s\n", strings.Join(t.Context.IVR, " > "))
	}
	fmt.Fprintf(&b, "Agencies: %s\n", strings.Join(t.Agencies, ", "))
	if t.Masked {
		b.WriteString("Phone and card numbers are masked.\n")
	}
	b.WriteString("\nLegs:\n")
	for i, l := range t.Legs {
		agent := l.Agent
		if agent == "" {
			agent = "(not answered)"
		}
		wait := "still waiting"
		if l.WaitS != nil {
			wait = fmt.Sprintf("waited %.0f s", *l.WaitS)
		}
		fmt.Fprintf(&b, "  %d. %s  %s  %s  %s  %s  %s\n", i+1, l.EnqueuedAt.Format(time.RFC3339), l.Queue, l.Channel,
			agent, wait, l.Disposition)
	}
	b.WriteString("\nTimeline:\n")
	for _, e := range t.Events {
		where := e.Agency
		if where == "" {
			where = "-"
		}
		fmt.Fprintf(&b, "  %s  [%s] %-15s %s", e.At.Format(time.RFC3339), where, e.Type, e.Actor)
		if text := exportText(e); text != "" {
			fmt.Fprintf(&b, ": %s", oneLine(text))
		}
		if d := e.Data["disposition"]; d != "" {
			fmt.Fprintf(&b, " (disposition %s)", d)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine keeps a text's line breaks from posing as new entries.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ⏎ ", "\n", " ⏎ ", "\r", " ⏎ ").Replace(s)
}
