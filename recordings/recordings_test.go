package recordings

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tellonce/clocktest"
)

var t0 = time.Date(2026, 12, 7, 4, 35, 0, 123e6, time.UTC)

func newStore(t *testing.T, clock *clocktest.Clock, retention time.Duration) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, Retention: retention, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// tone is one 20 ms G.711 payload (160 samples) of a loud square wave.
func tone(law Law) []byte {
	hi, lo := byte(0x80), byte(0x00) // μ-law: ±32124
	if law == PCMA {
		hi, lo = 0xaa, 0x2a // A-law: ±32256
	}
	p := make([]byte, 160)
	for i := range p {
		if i/4%2 == 0 {
			p[i] = hi
		} else {
			p[i] = lo
		}
	}
	return p
}

// silence is one 20 ms payload of digital silence.
func silence(law Law) []byte {
	b := byte(0xff)
	if law == PCMA {
		b = 0xd5
	}
	return bytes.Repeat([]byte{b}, 160)
}

type wav struct {
	channels, rate, bits int
	dataLen              int
	left, right          []int16
}

func readWAV(t *testing.T, path string) wav {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < headerBytes || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Fatalf("%s: not a canonical WAV", path)
	}
	le := binary.LittleEndian
	w := wav{channels: int(le.Uint16(b[22:])), rate: int(le.Uint32(b[24:])), bits: int(le.Uint16(b[34:])), dataLen: int(le.Uint32(b[40:]))}
	if riff := int(le.Uint32(b[4:])); riff != len(b)-8 {
		t.Errorf("RIFF size %d, file %d bytes", riff, len(b))
	}
	if w.dataLen != len(b)-headerBytes {
		t.Errorf("data size %d in header, %d in file", w.dataLen, len(b)-headerBytes)
	}
	for i := headerBytes; i+4 <= len(b); i += 4 {
		w.left = append(w.left, int16(le.Uint16(b[i:])))
		w.right = append(w.right, int16(le.Uint16(b[i+2:])))
	}
	return w
}

func loud(samples []int16) int {
	n := 0
	for _, s := range samples {
		if s > 16000 || s < -16000 {
			n++
		}
	}
	return n
}

func TestRecordingHoldsBothDirections(t *testing.T) {
	for _, law := range []Law{PCMU, PCMA} {
		t.Run(law.String(), func(t *testing.T) {
			clock := clocktest.New(t0)
			s, dir := newStore(t, clock, 0)
			r, err := s.Begin(context.Background(), Meta{CaseID: "cs-1", ContactID: "ct-2", Started: t0, Law: law})
			if err != nil {
				t.Fatal(err)
			}
			// 50 frames a side: the caller talks for the first half second,
			// the agent for the second.
			for i := range 50 {
				c, a := tone(law), silence(law)
				if i >= 25 {
					c, a = a, c
				}
				if err := r.WriteCaller(c); err != nil {
					t.Fatal(err)
				}
				if err := r.WriteAgent(a); err != nil {
					t.Fatal(err)
				}
			}
			sum, err := r.Close()
			if err != nil {
				t.Fatal(err)
			}
			want := Summary{File: "2026-12-07/cs-1_ct-2_20261207T043500.123Z.wav", Seconds: 1, StartedAt: t0}
			if sum != want {
				t.Fatalf("summary %+v, want %+v", sum, want)
			}
			w := readWAV(t, filepath.Join(dir, sum.File))
			if w.channels != 2 || w.rate != 8000 || w.bits != 16 {
				t.Fatalf("format %d ch, %d Hz, %d bits", w.channels, w.rate, w.bits)
			}
			if frames := w.dataLen / 4; frames != 50*160 {
				t.Fatalf("header says %d frames, fed %d", frames, 50*160)
			}
			if got := loud(w.left[:25*160]); got != 25*160 {
				t.Errorf("caller's first half: %d loud samples", got)
			}
			if got := loud(w.right[25*160:]); got != 25*160 {
				t.Errorf("agent's second half: %d loud samples", got)
			}
			if loud(w.left[25*160:])+loud(w.right[:25*160]) != 0 {
				t.Error("a silent half carries sound: channels crossed")
			}
			if _, err := os.Stat(filepath.Join(dir, sum.File+partSuffix)); !os.IsNotExist(err) {
				t.Errorf("partial file left: %v", err)
			}
		})
	}
}

// The two directions arrive on their own goroutines, in any interleaving;
// the file holds every frame of each, in order.
func TestConcurrentDirections(t *testing.T) {
	clock := clocktest.New(t0)
	s, dir := newStore(t, clock, 0)
	r, err := s.Begin(context.Background(), Meta{CaseID: "cs-1", ContactID: "ct-2", Law: PCMU})
	if err != nil {
		t.Fatal(err)
	}
	const callerFrames, agentFrames = 300, 200
	var wg sync.WaitGroup
	for _, side := range []struct {
		n     int
		write func([]byte) error
	}{{callerFrames, r.WriteCaller}, {agentFrames, r.WriteAgent}} {
		wg.Go(func() {
			for range side.n {
				if err := side.write(tone(PCMU)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	sum, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	w := readWAV(t, filepath.Join(dir, sum.File))
	if frames := w.dataLen / 4; frames != callerFrames*160 || sum.Seconds != callerFrames*0.02 {
		t.Fatalf("%d frames, %v s; want the longer direction's %d", frames, sum.Seconds, callerFrames*160)
	}
	if loud(w.left) != callerFrames*160 || loud(w.right) != agentFrames*160 || loud(w.right[agentFrames*160:]) != 0 {
		t.Errorf("caller %d loud, agent %d loud", loud(w.left), loud(w.right))
	}
	if sum.StartedAt != t0 {
		t.Errorf("started %v: an unset start is the clock's now", sum.StartedAt)
	}
}

// A direction that goes quiet (no RTP) is filled with silence by the
// clock, so that the other stays in time.
func TestSilentDirectionStaysInTime(t *testing.T) {
	clock := clocktest.New(t0)
	s, dir := newStore(t, clock, 0)
	r, err := s.Begin(context.Background(), Meta{CaseID: "cs-1", ContactID: "ct-2", Law: PCMU})
	if err != nil {
		t.Fatal(err)
	}
	_ = r.WriteCaller(tone(PCMU))
	_ = r.WriteAgent(tone(PCMU))
	clock.Advance(2 * time.Second) // the agent sends nothing meanwhile
	_ = r.WriteCaller(tone(PCMU))
	sum, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	w := readWAV(t, filepath.Join(dir, sum.File))
	// The caller's second frame sits at 1.7 s (2 s less the slack), not
	// straight after the first.
	at := int((2*time.Second - slack) * SampleRate / time.Second)
	if len(w.left) != at+160 || loud(w.left[at:]) != 160 || loud(w.left[160:at]) != 0 {
		t.Fatalf("caller channel: %d samples, want the second frame at %d", len(w.left), at)
	}
	if loud(w.right[:160]) != 160 || loud(w.right[160:]) != 0 {
		t.Error("agent channel not padded with silence")
	}
}

func TestBeginRejectsBadMeta(t *testing.T) {
	s, _ := newStore(t, clocktest.New(t0), 0)
	for _, tt := range []struct {
		m    Meta
		want string
	}{
		{Meta{CaseID: "", ContactID: "ct-1"}, "case_id"},
		{Meta{CaseID: "cs-1", ContactID: "010-1234-5678 Kim"}, "contact_id"},
		{Meta{CaseID: "../etc", ContactID: "ct-1"}, "case_id"},
		{Meta{CaseID: "cs_1", ContactID: "ct-1"}, "case_id"},
		{Meta{CaseID: "cs-1", ContactID: "ct-1", Law: 7}, "law"},
	} {
		if _, err := s.Begin(context.Background(), tt.m); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want an error naming %s", tt.m, err, tt.want)
		}
	}
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "dir") {
		t.Errorf("no dir: %v", err)
	}
}

func TestCloseTwiceAndWriteAfterClose(t *testing.T) {
	s, _ := newStore(t, clocktest.New(t0), 0)
	r, err := s.Begin(context.Background(), Meta{CaseID: "cs-1", ContactID: "ct-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteAgent(tone(PCMU)); err == nil {
		t.Error("write after close accepted")
	}
	if _, err := r.Close(); err == nil {
		t.Error("second close accepted")
	}
}

func TestSweepDeletesPastRetention(t *testing.T) {
	clock := clocktest.New(t0)
	s, dir := newStore(t, clock, 30*24*time.Hour)
	ctx := context.Background()
	record := func(caseID string, started time.Time) string {
		r, err := s.Begin(ctx, Meta{CaseID: caseID, ContactID: "ct-1", Started: started})
		if err != nil {
			t.Fatal(err)
		}
		_ = r.WriteCaller(tone(PCMU))
		sum, err := r.Close()
		if err != nil {
			t.Fatal(err)
		}
		return sum.File
	}
	old := record("cs-old", t0.Add(-31*24*time.Hour))
	edge := record("cs-edge", t0.Add(-30*24*time.Hour+time.Second))
	fresh := record("cs-new", t0)
	// A crash's partial file, old, and files that are not recordings.
	crashed, err := s.Begin(ctx, Meta{CaseID: "cs-crash", ContactID: "ct-1", Started: t0.Add(-40 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	_ = crashed.f.Close()
	stranger := filepath.Join(dir, old[:len("2026-11-06")], "notes.txt")
	if err := os.WriteFile(stranger, []byte("kept"), 0o640); err != nil {
		t.Fatal(err)
	}

	n, err := s.Sweep(ctx)
	if err != nil || n != 2 {
		t.Fatalf("swept %d (%v), want the old file and the old partial one", n, err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{filepath.ToSlash(stranger[len(dir)+1:]), edge, fresh}) {
		t.Fatalf("left %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "2026-10-28")); !os.IsNotExist(err) {
		t.Errorf("the crashed file's emptied day directory is still there: %v", err)
	}

	clock.Advance(2 * time.Second)
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("second sweep: %d, %v", n, err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{filepath.ToSlash(stranger[len(dir)+1:]), fresh}) {
		t.Fatalf("left %v", got)
	}
}

// A partial file (a crash mid-leg) is listed nowhere: it goes a day after
// its leg started, whatever the retention.
func TestSweepDeletesAbandonedPartialFiles(t *testing.T) {
	clock := clocktest.New(t0)
	s, dir := newStore(t, clock, -1)
	ctx := context.Background()
	for _, m := range []Meta{{CaseID: "cs-crash", ContactID: "ct-1"}, {CaseID: "cs-done", ContactID: "ct-1"}} {
		r, err := s.Begin(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if m.CaseID == "cs-crash" {
			_ = r.f.Close()
		} else if _, err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(23 * time.Hour)
	if n, err := s.Sweep(ctx); n != 0 || err != nil {
		t.Fatalf("swept %d, %v: a leg may still be going", n, err)
	}
	clock.Advance(2 * time.Hour)
	if n, err := s.Sweep(ctx); n != 1 || err != nil {
		t.Fatalf("swept %d, %v", n, err)
	}
	if got := files(t, dir); len(got) != 1 || !strings.Contains(got[0], "cs-done_") || !strings.HasSuffix(got[0], ".wav") {
		t.Fatalf("left %v", got)
	}
}

func TestNegativeRetentionKeepsForever(t *testing.T) {
	clock := clocktest.New(t0)
	s, dir := newStore(t, clock, -1)
	r, _ := s.Begin(context.Background(), Meta{CaseID: "cs-1", ContactID: "ct-1"})
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(100 * 365 * 24 * time.Hour)
	if n, err := s.Sweep(context.Background()); n != 0 || err != nil || len(files(t, dir)) != 1 {
		t.Fatalf("swept %d, %v", n, err)
	}
}

func TestPurgeCase(t *testing.T) {
	clock := clocktest.New(t0)
	s, dir := newStore(t, clock, 0)
	ctx := context.Background()
	for _, m := range []Meta{{CaseID: "cs-a", ContactID: "ct-1"}, {CaseID: "cs-a", ContactID: "ct-2"}, {CaseID: "cs-b", ContactID: "ct-3"}} {
		r, err := s.Begin(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.PurgeCase(ctx, "cs-a"); n != 2 || err != nil {
		t.Fatalf("purged %d, %v", n, err)
	}
	if got := files(t, dir); len(got) != 1 || !strings.Contains(got[0], "cs-b_") {
		t.Fatalf("left %v", got)
	}
}

// Run sweeps at once, then on its ticker, and returns when ctx ends.
func TestRunSweepsUntilCancelled(t *testing.T) {
	clock := clocktest.New(t0)
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, Retention: time.Hour, Every: time.Millisecond, Now: clock.Now, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := s.Begin(context.Background(), Meta{CaseID: "cs-1", ContactID: "ct-1"})
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	clock.Advance(2 * time.Hour)
	clocktest.Eventually(t, "the old recording swept", 5*time.Second, func() bool { return len(files(t, dir)) == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestG711Decoding(t *testing.T) {
	for _, tt := range []struct {
		law  Law
		in   byte
		want int16
	}{
		{PCMU, 0xff, 0}, {PCMU, 0x7f, 0}, {PCMU, 0x80, 32124}, {PCMU, 0x00, -32124}, {PCMU, 0xfe, 8}, {PCMU, 0x7e, -8}, {PCMU, 0xef, 132},
		{PCMA, 0xd5, 8}, {PCMA, 0x55, -8}, {PCMA, 0xaa, 32256}, {PCMA, 0x2a, -32256},
	} {
		if got := tt.law.decode(tt.in); got != tt.want {
			t.Errorf("%v %#02x: %d, want %d", tt.law, tt.in, got, tt.want)
		}
	}
}

// files lists the files under dir, relative and slash-separated, sorted.
// A sweep running meanwhile may remove a day's folder under the walk: what
// vanished is simply not listed.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p != dir {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// A name Meta.Name makes reads back as the same case, contact and start;
// the sweep reads nothing else from a name.
func FuzzNameRoundTrip(f *testing.F) {
	f.Add("cs-1", "ct-2", int64(0))
	f.Add("cs-abcdefghijklmnopqrstuvwxyz", "ct-z", t0.UnixMilli())
	f.Add("a_b", "c.d", int64(-1))
	f.Fuzz(func(t *testing.T, caseID, contactID string, ms int64) {
		m := Meta{CaseID: caseID, ContactID: contactID, Started: time.UnixMilli(ms)}
		name, err := m.Name()
		if err != nil {
			return
		}
		day, base, ok := strings.Cut(name, "/")
		if !ok {
			t.Fatalf("name %q has no day directory", name)
		}
		for _, entry := range []string{base, base + partSuffix} {
			c, ct, started, ok := parseName(fileEntry(entry))
			if !ok || c != caseID || ct != contactID || !started.Equal(m.Started) {
				if m.Started.Year() < 0 || m.Started.Year() > 9999 {
					return // outside what the layout can write
				}
				t.Fatalf("%q read back as %q %q %v %v", entry, c, ct, started, ok)
			}
		}
		if day != m.Started.UTC().Format(dayLayout) {
			t.Fatalf("day %q for %v", day, m.Started)
		}
	})
}

// fileEntry is a directory entry of a plain file named name.
type fileEntry string

func (e fileEntry) Name() string               { return string(e) }
func (e fileEntry) IsDir() bool                { return false }
func (e fileEntry) Type() os.FileMode          { return 0 }
func (e fileEntry) Info() (os.FileInfo, error) { return nil, os.ErrNotExist }
