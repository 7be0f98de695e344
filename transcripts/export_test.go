package transcripts

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"tellonce/sql/sqltest"
)

func TestRedactedMasksPhoneAndCardNumbers(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		id := w.chat("gov110.general", "resolved", "제 번호는 010-1234-5678, 카드는 4111 1111 1111 1111 입니다", "네")
		tl, err := w.rv.Timeline(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		msg := tl.Events[2].Text
		if want := "제 번호는 010-1234-5678, 카드는 4111 1111 1111 1111 입니다"; msg != want {
			t.Fatalf("stored message = %q; want %q (phone and card numbers are stored)", msg, want)
		}
		red := tl.Redacted()
		if got, want := red.Events[2].Text, "제 번호는 010-****-5678, 카드는 **** **** **** 1111 입니다"; got != want {
			t.Errorf("redacted message = %q; want %q", got, want)
		}
		if !red.Masked || tl.Masked {
			t.Errorf("Masked = %v after Redacted, %v before; want true, false", red.Masked, tl.Masked)
		}
		if tl.Events[2].Text != msg {
			t.Errorf("Redacted changed the timeline it was called on")
		}
	})
}

func TestExportFormats(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		id := w.transferred(`=HYPERLINK("http://evil.example","click")`)
		tl, err := w.rv.Timeline(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}

		var js bytes.Buffer
		if err := tl.Export(&js, FormatJSON); err != nil {
			t.Fatal(err)
		}
		var back Timeline
		if err := json.Unmarshal(js.Bytes(), &back); err != nil {
			t.Fatalf("JSON export does not parse: %v", err)
		}
		back.scope = tl.scope
		if !reflect.DeepEqual(back, tl) {
			t.Errorf("JSON export read back =\n%+v\nwant\n%+v", back, tl)
		}

		var cs bytes.Buffer
		if err := tl.Export(&cs, FormatCSV); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&cs).ReadAll()
		if err != nil {
			t.Fatalf("CSV export does not parse: %v", err)
		}
		if !reflect.DeepEqual(rows[0], csvHeader) || len(rows) != len(tl.Events)+1 {
			t.Fatalf("CSV export: header %v and %d rows; want %v and %d", rows[0], len(rows)-1, csvHeader, len(tl.Events))
		}
		for i, row := range rows[1:] {
			e := tl.Events[i]
			if row[0] != id || row[3] != e.Agency || row[6] != e.Type {
				t.Errorf("CSV row %d = %v; want case %s, agency %s, type %s", i+1, row, id, e.Agency, e.Type)
			}
			for _, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("CSV row %d cell %q starts a formula", i+1, cell)
				}
			}
		}
		if got := rows[3][8]; got != `'=HYPERLINK("http://evil.example","click")` {
			t.Errorf("CSV text cell = %q; want it defused with a leading apostrophe", got)
		}

		var txt bytes.Buffer
		if err := tl.Export(&txt, FormatTXT); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Case " + id + " (closed)", "Agencies: gov110, nts126", "[gov110] transfer", "국세청 담당",
			"[nts126] message", "확인했습니다", "(disposition resolved)"} {
			if !strings.Contains(txt.String(), want) {
				t.Errorf("TXT export does not hold %q:\n%s", want, txt.String())
			}
		}
		if err := tl.Export(&txt, "pdf"); err == nil {
			t.Error("Export(pdf) = nil; want an error")
		}
	})
}

func TestCSVCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""}, {"plain", "plain"}, {"=1+1", "'=1+1"}, {"+82 10", "'+82 10"}, {"-5", "'-5"},
		{"@SUM(A1)", "'@SUM(A1)"}, {"\t=1", "'\t=1"}, {"\r=1", "'\r=1"}, {"a=1", "a=1"}, {"증명서", "증명서"},
	}
	for _, tt := range tests {
		if got := csvCell(tt.in); got != tt.want {
			t.Errorf("csvCell(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
