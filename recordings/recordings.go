// Package recordings owns the recordings of answered legs: one WAV file
// per leg with both directions (the citizen on the left channel, whether
// they called or were called back; the agent on the right), named by case, contact and leg start, under one
// directory, and deleted after the retention period.
//
// The edge feeds each direction's G.711 frames as they arrive, from two
// goroutines if it likes; a Recording interleaves them in time. Files are
// 16-bit linear PCM, 8 kHz stereo: every player and speech-to-text engine
// reads it, a browser included, and each speaker stays separate for
// review (a reviewer can mute one side; nothing clips as a mix would).
package recordings

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

const (
	// SampleRate is G.711's: 8000 samples a second in each direction.
	SampleRate = 8000
	// frameBytes is one stereo frame of two 16-bit samples.
	frameBytes = 4
	// headerBytes is the canonical 44-byte WAV header.
	headerBytes = 44
	// slack is how far a direction may lag the wall clock before the gap
	// is filled with silence: more than any jitter buffer, less than a
	// pause anyone would notice being shifted.
	slack = 300 * time.Millisecond
	// partSuffix marks a file still being written (or left by a crash).
	partSuffix = ".part"
	// abandonedAfter is when a partial file is taken as left by a crash:
	// no leg lasts a day. Nothing lists such a file (a leg's recording
	// enters the case timeline when it is closed), so it is deleted then,
	// not kept for the retention.
	abandonedAfter = 24 * time.Hour
	// dayLayout names the per-day directories.
	dayLayout = "2006-01-02"
	// stampLayout is the leg start in a file name: UTC, to the millisecond.
	stampLayout = "20060102T150405.000Z"
)

// DefaultRetention is transcripts' default: a year.
const DefaultRetention = 365 * 24 * time.Hour

// DefaultEvery is how often Run sweeps.
const DefaultEvery = time.Hour

// Config is the recordings' settings.
type Config struct {
	// Dir holds the recordings, one subdirectory per day of leg start. A
	// mounted object store works as long as it supports rename.
	Dir string
	// Retention: a recording is deleted this long after its leg started.
	// Zero takes DefaultRetention; negative keeps for ever. The wiring
	// passes the transcript retention, so that both go together.
	Retention time.Duration
	// Every is how often Run sweeps; zero takes DefaultEvery.
	Every time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Log; nil is slog.Default().
	Log *slog.Logger
}

// Store creates and sweeps recordings.
type Store struct {
	dir       string
	retention time.Duration
	every     time.Duration
	now       func() time.Time
	log       *slog.Logger
}

// New checks the configuration and makes the directory. It starts nothing:
// Run sweeps.
func New(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("recordings: dir: empty")
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("recordings: dir: %w", err)
	}
	s := &Store{dir: cfg.Dir, retention: cfg.Retention, every: cfg.Every, now: cfg.Now, log: cfg.Log}
	if s.retention == 0 {
		s.retention = DefaultRetention
	}
	if s.every <= 0 {
		s.every = DefaultEvery
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// Meta identifies a leg. Only opaque ids go into a file name: never a
// caller's number or name.
type Meta struct {
	CaseID    string
	ContactID string
	// Started is when the leg was answered; zero means now.
	Started time.Time
	// Law is the G.711 law of the frames that will be fed.
	Law Law
}

// idPattern is what an id in a file name may look like.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)

// Name returns the file a leg's recording has, relative to the directory:
// 2026-12-07/<case>_<contact>_20261207T043500.123Z.wav (times in UTC).
func (m Meta) Name() (string, error) {
	if !idPattern.MatchString(m.CaseID) {
		return "", fmt.Errorf("recordings: case_id %q: want 1–64 letters, digits and dashes", m.CaseID)
	}
	if !idPattern.MatchString(m.ContactID) {
		return "", fmt.Errorf("recordings: contact_id %q: want 1–64 letters, digits and dashes", m.ContactID)
	}
	t := m.Started.UTC()
	return t.Format(dayLayout) + "/" + m.CaseID + "_" + m.ContactID + "_" + t.Format(stampLayout) + ".wav", nil
}

// Summary describes a finished recording.
type Summary struct {
	File      string    // relative to the directory, slash-separated
	Seconds   float64   // length of the audio
	StartedAt time.Time // the leg's start
}

// Begin opens a leg's recording. The file is written as <name>.part and
// renamed when Close finishes it, so that a file with the .wav name is
// always complete.
func (s *Store) Begin(ctx context.Context, m Meta) (*Recording, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.Started.IsZero() {
		m.Started = s.now()
	}
	if m.Law != PCMU && m.Law != PCMA {
		return nil, fmt.Errorf("recordings: law: %v is not G.711", m.Law)
	}
	name, err := m.Name()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(s.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("recordings: %w", err)
	}
	f, err := os.OpenFile(path+partSuffix, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("recordings: begin %s: %w", name, err)
	}
	r := &Recording{name: name, path: path, f: f, w: bufio.NewWriterSize(f, 32<<10),
		law: m.Law, started: m.Started, opened: s.now(), now: s.now}
	// A placeholder header; Close writes the real sizes.
	if _, err := r.w.Write(make([]byte, headerBytes)); err != nil {
		r.abort()
		return nil, fmt.Errorf("recordings: begin %s: %w", name, err)
	}
	return r, nil
}

// Recording is one leg's file being written. WriteCaller and WriteAgent
// may be called from different goroutines.
type Recording struct {
	name, path string
	law        Law
	started    time.Time
	opened     time.Time
	now        func() time.Time

	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	pending [2][]int16 // decoded samples per channel not yet written
	frames  int64      // stereo frames written
	err     error      // the first write error; the recording is then lost
	closed  bool
}

// The channels.
const (
	caller = 0 // left
	agent  = 1 // right
)

// WriteCaller records G.711 samples the citizen sent (one RTP payload):
// the caller, or the one a callback reached.
func (r *Recording) WriteCaller(payload []byte) error { return r.write(caller, payload) }

// WriteAgent records G.711 samples the agent sent.
func (r *Recording) WriteAgent(payload []byte) error { return r.write(agent, payload) }

func (r *Recording) write(ch int, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("recordings: %s: closed", r.name)
	}
	if r.err != nil {
		return r.err
	}
	r.fillGaps()
	for _, b := range payload {
		r.pending[ch] = append(r.pending[ch], r.law.decode(b))
	}
	return r.flush()
}

// fillGaps pads a direction that lags the wall clock by more than slack
// with silence, so that a direction that paused (silence suppression, a
// mute, lost packets) stays in time with the other, and the other's
// samples do not pile up waiting for it.
func (r *Recording) fillGaps() {
	due := int64(r.now().Sub(r.opened)-slack) * SampleRate / int64(time.Second)
	for ch := range r.pending {
		if pos := r.frames + int64(len(r.pending[ch])); pos < due {
			r.pending[ch] = append(r.pending[ch], make([]int16, due-pos)...)
		}
	}
}

// flush writes the frames both directions have samples for.
func (r *Recording) flush() error {
	n := min(len(r.pending[caller]), len(r.pending[agent]))
	if n == 0 {
		return nil
	}
	var frame [frameBytes]byte
	for i := range n {
		binary.LittleEndian.PutUint16(frame[0:], uint16(r.pending[caller][i]))
		binary.LittleEndian.PutUint16(frame[2:], uint16(r.pending[agent][i]))
		if _, err := r.w.Write(frame[:]); err != nil {
			r.err = fmt.Errorf("recordings: %s: %w", r.name, err)
			return r.err
		}
	}
	r.frames += int64(n)
	for ch := range r.pending {
		r.pending[ch] = append(r.pending[ch][:0], r.pending[ch][n:]...)
	}
	return nil
}

// Close finishes the file: the shorter direction is padded with silence,
// the header gets its sizes, the file is synced and takes its .wav name.
// After a write error Close removes the partial file and returns the
// error.
func (r *Recording) Close() (Summary, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return Summary{}, fmt.Errorf("recordings: %s: closed twice", r.name)
	}
	r.closed = true
	if r.err != nil {
		r.abort()
		return Summary{}, r.err
	}
	longest := max(len(r.pending[caller]), len(r.pending[agent]))
	for ch := range r.pending {
		r.pending[ch] = append(r.pending[ch], make([]int16, longest-len(r.pending[ch]))...)
	}
	err := r.flush()
	if err == nil {
		err = r.w.Flush()
	}
	if err == nil {
		_, err = r.f.WriteAt(header(r.frames), 0)
	}
	if err == nil {
		err = r.f.Sync()
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(r.path+partSuffix, r.path)
	}
	if err != nil {
		_ = os.Remove(r.path + partSuffix)
		return Summary{}, fmt.Errorf("recordings: close %s: %w", r.name, err)
	}
	return Summary{File: r.name, Seconds: float64(r.frames) / SampleRate, StartedAt: r.started}, nil
}

func (r *Recording) abort() {
	_ = r.f.Close()
	_ = os.Remove(r.path + partSuffix)
}

// Header is the WAV header of a recording of frames stereo frames: what
// a test needs to make one.
func Header(frames int64) []byte { return header(frames) }

// header is a WAV header for frames stereo 16-bit frames at 8 kHz.
func header(frames int64) []byte {
	data := uint32(frames * frameBytes)
	h := make([]byte, headerBytes)
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], 36+data)
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], 1) // linear PCM
	le.PutUint16(h[22:], 2) // stereo: caller left, agent right
	le.PutUint32(h[24:], SampleRate)
	le.PutUint32(h[28:], SampleRate*frameBytes)
	le.PutUint16(h[32:], frameBytes)
	le.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	le.PutUint32(h[40:], data)
	return h
}

// Run sweeps on start and then every Config.Every until ctx ends, when it
// returns nil. A failed sweep is logged and tried again at the next tick.
func (s *Store) Run(ctx context.Context) error {
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	for {
		if n, err := s.Sweep(ctx); err != nil {
			if ctx.Err() == nil {
				s.log.Error("recordings: sweep failed", "err", err, "deleted", n)
			}
		} else if n > 0 {
			s.log.Info("recordings: deleted recordings past retention", "files", n, "older_than", s.retention.String())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Sweep deletes the recordings whose leg started more than the retention
// before now, partial files a crash left (a day after their leg started),
// and the day directories it empties, and returns how many files it
// deleted. Age is read from the
// file name, not the file's times, which copies and restores change.
// Files whose names are not a recording's are left alone.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	return s.remove(ctx, func(_, _ string, started time.Time, partial bool) bool {
		if partial && started.Before(now.Add(-abandonedAfter)) {
			return true
		}
		return s.retention >= 0 && started.Before(now.Add(-s.retention))
	})
}

// PurgeCase deletes every recording of a case, for when its transcript is
// deleted before its time (an erasure the law requires).
func (s *Store) PurgeCase(ctx context.Context, caseID string) (int, error) {
	if !idPattern.MatchString(caseID) {
		return 0, fmt.Errorf("recordings: case_id %q: want 1–64 letters, digits and dashes", caseID)
	}
	return s.remove(ctx, func(c, _ string, _ time.Time, _ bool) bool { return c == caseID })
}

// remove deletes the recordings doomed says to, and day directories left
// empty.
func (s *Store) remove(ctx context.Context, doomed func(caseID, contactID string, started time.Time, partial bool) bool) (int, error) {
	days, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("recordings: %w", err)
	}
	deleted := 0
	var errs []error
	for _, day := range days {
		if !day.IsDir() {
			continue
		}
		if _, err := time.Parse(dayLayout, day.Name()); err != nil {
			continue
		}
		dir := filepath.Join(s.dir, day.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		left := len(files)
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return deleted, err
			}
			caseID, contactID, started, ok := parseName(f)
			if !ok || !doomed(caseID, contactID, started, strings.HasSuffix(f.Name(), partSuffix)) {
				continue
			}
			if err := os.Remove(filepath.Join(dir, f.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
				continue
			}
			deleted++
			left--
		}
		if left == 0 {
			// Fails harmlessly if a recording was begun there meanwhile.
			_ = os.Remove(dir)
		}
	}
	return deleted, errors.Join(errs...)
}

// parseName reads a recording's file name (finished or partial).
func parseName(f fs.DirEntry) (caseID, contactID string, started time.Time, ok bool) {
	if f.IsDir() {
		return "", "", time.Time{}, false
	}
	return parseBase(strings.TrimSuffix(f.Name(), partSuffix))
}
