package recordings

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tellonce/clocktest"
)

// upload is a recording's bytes: frames stereo frames of a ramp.
func upload(frames int) []byte {
	b := bytes.NewBuffer(Header(int64(frames)))
	for i := range frames {
		b.Write([]byte{byte(i), byte(i >> 8), byte(^i), 0})
	}
	return b.Bytes()
}

const base0 = "cs-1_ct-1_20261207T043500.123Z.wav"

func TestStageCommitOpen(t *testing.T) {
	s, dir := newStore(t, clocktest.New(t0), -1)
	ctx := context.Background()
	body := upload(SampleRate * 2)
	st, err := s.Stage(ctx, base0, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if st.Seconds() != 2 {
		t.Errorf("seconds %v; want 2", st.Seconds())
	}
	if _, err := s.Open(ctx, base0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a staged recording opens (%v); want not until committed", err)
	}
	if err := st.Commit(); err != nil {
		t.Fatal(err)
	}
	st.Discard() // after Commit: nothing
	f, err := s.Open(ctx, base0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, body) {
		t.Errorf("read back %d bytes, not what was staged (%d)", len(got), len(body))
	}
	if _, err := os.Stat(filepath.Join(dir, "2026-12-07", base0)); err != nil {
		t.Errorf("not in its day folder: %v", err)
	}
	// Staging again and discarding leaves the committed one alone.
	st, err = s.Stage(ctx, base0, bytes.NewReader(upload(10)))
	if err != nil {
		t.Fatal(err)
	}
	st.Discard()
	if left, _ := filepath.Glob(filepath.Join(dir, "*", "*.part")); len(left) != 0 {
		t.Errorf("a discarded stage left %v", left)
	}
	if n, err := s.PurgeCase(ctx, "cs-1"); err != nil || n != 1 {
		t.Errorf("PurgeCase: %d, %v; want 1", n, err)
	}
	if _, err := s.Open(ctx, base0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open after purge: %v; want not exist", err)
	}
}

func TestStageRefusesWhatIsNotARecording(t *testing.T) {
	s, dir := newStore(t, clocktest.New(t0), -1)
	good := upload(800)
	mono := slices.Clone(good)
	mono[22] = 1
	loud := slices.Clone(good)
	loud[24] = 0x44 // 44.1 kHz
	for name, body := range map[string][]byte{
		"empty":        nil,
		"short header": good[:20],
		"mono":         mono,
		"sample rate":  loud,
		"cut short":    good[:len(good)-4],
		"trailing":     append(slices.Clone(good), 1, 2, 3, 4),
		"text":         []byte(strings.Repeat("not a wav file ", 10)),
	} {
		if _, err := s.Stage(context.Background(), base0, bytes.NewReader(body)); !errors.Is(err, ErrBadAudio) {
			t.Errorf("%s: %v; want ErrBadAudio", name, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*", "*")); len(left) != 0 {
		t.Errorf("refused uploads left %v", left)
	}
}

func TestParseBase(t *testing.T) {
	m, rel, err := ParseBase(base0)
	if err != nil {
		t.Fatal(err)
	}
	if m.CaseID != "cs-1" || m.ContactID != "ct-1" || !m.Started.Equal(t0) || rel != "2026-12-07/"+base0 {
		t.Errorf("ParseBase: %+v %q", m, rel)
	}
	for _, bad := range []string{"", "x.wav", "../" + base0, "2026-12-07/" + base0, "cs-1_ct-1_20261207T043500.123Z.WAV",
		"cs_1_ct-1_20261207T043500.123Z.wav", "cs-1_ct-1_20261207T043500.12Z.wav", base0 + ".part"} {
		if _, _, err := ParseBase(bad); err == nil {
			t.Errorf("ParseBase(%q) accepted", bad)
		}
	}
}

func TestFinishedListsTheSpoolOldestFirst(t *testing.T) {
	clock := clocktest.New(t0)
	s, _ := newStore(t, clock, -1)
	ctx := context.Background()
	var want []string
	for i, at := range []time.Time{t0.Add(48 * time.Hour), t0, t0.Add(time.Minute)} {
		r, err := s.Begin(ctx, Meta{CaseID: "cs", ContactID: "ct-" + string(rune('a'+i)), Started: at, Law: PCMU})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Close(); err != nil {
			t.Fatal(err)
		}
		n, _ := Meta{CaseID: "cs", ContactID: "ct-" + string(rune('a'+i)), Started: at}.Name()
		want = append(want, n)
	}
	if _, err := s.Begin(ctx, Meta{CaseID: "cs", ContactID: "ct-open", Started: t0, Law: PCMU}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Finished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{want[1], want[2], want[0]}) {
		t.Errorf("Finished %v; want the three closed ones oldest first, not the one being written", got)
	}
	f, err := s.OpenFile(got[0])
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := s.Remove(got[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(got[0]); err != nil {
		t.Errorf("removing twice: %v", err)
	}
	if err := s.Remove("../etc/passwd"); err == nil {
		t.Error("Remove took a path outside the recordings")
	}
}

// FuzzCheckHeader: whatever the bytes, CheckHeader accepts only the one
// header the edge writes for the length it announces.
func FuzzCheckHeader(f *testing.F) {
	f.Add(Header(0))
	f.Add(Header(8000))
	f.Add(upload(3)[:44])
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt "))
	f.Fuzz(func(t *testing.T, h []byte) {
		n, err := CheckHeader(h)
		if err != nil {
			return
		}
		if !bytes.Equal(h[:headerBytes], Header(n/frameBytes)) {
			t.Fatalf("accepted a header unlike the edge's for %d bytes", n)
		}
	})
}
