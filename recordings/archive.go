package recordings

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The server keeps the recordings the edges upload in an Archive: the
// edge's directory of day folders is both where it records and its
// upload spool, and the server's is where review plays them from. The
// interface is what the server needs, so that object storage can stand
// in for a directory later.

// MaxSeconds is the longest recording an archive takes: four hours of
// a leg, 460.8 MB of stereo 16-bit audio at 8 kHz.
const MaxSeconds = 4 * 60 * 60

// MaxUploadBytes is the largest upload body: a header and MaxSeconds.
const MaxUploadBytes = headerBytes + MaxSeconds*SampleRate*frameBytes

// ErrBadAudio says a body is not a recording in the format the edge
// writes (16-bit linear PCM, 8 kHz, stereo, canonical 44-byte header,
// exactly the data the header announces).
var ErrBadAudio = errors.New("not a recording in the edge's format")

// Archive stores finished recordings under their base names
// (<case>_<contact>_<start>.wav, as Meta.Name ends).
type Archive interface {
	// Stage validates and writes body under a temporary name; nothing
	// reads it until Commit.
	Stage(ctx context.Context, base string, body io.Reader) (Staged, error)
	// Open reads a committed recording; fs.ErrNotExist if there is none.
	Open(ctx context.Context, base string) (Stored, error)
	// PurgeCase deletes every recording of a case.
	PurgeCase(ctx context.Context, caseID string) (int, error)
}

// Staged is a recording written but not yet visible.
type Staged interface {
	// Seconds is the audio's length.
	Seconds() float64
	// Commit makes it readable under its name, replacing any earlier
	// file of that name.
	Commit() error
	// Discard deletes it; after Commit it does nothing.
	Discard()
}

// Stored is a committed recording being read.
type Stored interface {
	io.ReadSeekCloser
	ModTime() time.Time
}

// ParseBase reads a recording's base name back into its case, contact
// and start (Law stays unset), and returns its path relative to the
// directory.
func ParseBase(base string) (Meta, string, error) {
	if strings.ContainsAny(base, `/\`) {
		return Meta{}, "", fmt.Errorf("recordings: name %q: a base name has no folder", base)
	}
	caseID, contactID, started, ok := parseBase(base)
	if !ok {
		return Meta{}, "", fmt.Errorf("recordings: name %q: want <case>_<contact>_<YYYYMMDDTHHMMSS.mmmZ>.wav", base)
	}
	m := Meta{CaseID: caseID, ContactID: contactID, Started: started}
	rel, err := m.Name()
	if err != nil {
		return Meta{}, "", err
	}
	if pathBase(rel) != base {
		// Only one spelling of a name is taken, so that one recording
		// cannot be stored twice under two names.
		return Meta{}, "", fmt.Errorf("recordings: name %q: not in canonical form (want %q)", base, pathBase(rel))
	}
	return m, rel, nil
}

func pathBase(rel string) string { return rel[strings.LastIndexByte(rel, '/')+1:] }

// CheckHeader reads a canonical WAV header in the edge's format and
// returns how many bytes of audio it announces.
func CheckHeader(h []byte) (int64, error) {
	if len(h) < headerBytes {
		return 0, fmt.Errorf("%w: the header is %d bytes, want %d", ErrBadAudio, len(h), headerBytes)
	}
	le := binary.LittleEndian
	data := int64(le.Uint32(h[40:]))
	want := header(data / frameBytes)
	switch {
	case data%frameBytes != 0:
		return 0, fmt.Errorf("%w: %d bytes of audio is not whole stereo frames", ErrBadAudio, data)
	case data > MaxSeconds*SampleRate*frameBytes:
		return 0, fmt.Errorf("%w: longer than %d s", ErrBadAudio, MaxSeconds)
	case !bytes.Equal(h[:headerBytes], want):
		return 0, fmt.Errorf("%w: want a 44-byte RIFF/WAVE header of 16-bit PCM, 8000 Hz, 2 channels", ErrBadAudio)
	}
	return data, nil
}

// Stage writes body as <name>.part after checking its header, its
// length against the header and that nothing follows the audio.
func (s *Store) Stage(ctx context.Context, base string, body io.Reader) (Staged, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	_, rel, err := ParseBase(base)
	if err != nil {
		return nil, err
	}
	h := make([]byte, headerBytes)
	if _, err := io.ReadFull(body, h); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: shorter than its header", ErrBadAudio)
		}
		return nil, fmt.Errorf("recordings: read %s: %w", base, err)
	}
	data, err := CheckHeader(h)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(s.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("recordings: %w", err)
	}
	f, err := os.OpenFile(path+partSuffix, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, fmt.Errorf("recordings: stage %s: %w", base, err)
	}
	st := &staged{path: path, seconds: float64(data/frameBytes) / SampleRate}
	err = func() error {
		if _, err := f.Write(h); err != nil {
			return err
		}
		n, err := io.CopyN(f, body, data)
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: %d bytes of audio, the header announces %d", ErrBadAudio, n, data)
		}
		if err != nil {
			return err
		}
		if m, _ := io.CopyN(io.Discard, body, 1); m > 0 {
			return fmt.Errorf("%w: more bytes follow the %d the header announces", ErrBadAudio, data)
		}
		return f.Sync()
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		st.Discard()
		if errors.Is(err, ErrBadAudio) {
			return nil, err
		}
		return nil, fmt.Errorf("recordings: stage %s: %w", base, err)
	}
	return st, nil
}

type staged struct {
	path    string
	seconds float64
	done    bool
}

func (st *staged) Seconds() float64 { return st.seconds }

func (st *staged) Commit() error {
	if err := os.Rename(st.path+partSuffix, st.path); err != nil {
		return fmt.Errorf("recordings: commit: %w", err)
	}
	st.done = true
	return nil
}

func (st *staged) Discard() {
	if !st.done {
		_ = os.Remove(st.path + partSuffix)
		st.done = true
	}
}

// Open opens a finished recording by its base name.
func (s *Store) Open(ctx context.Context, base string) (Stored, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	_, rel, err := ParseBase(base)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(s.dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, fmt.Errorf("recordings: open %s: %w", base, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("recordings: open %s: %w", base, err)
	}
	return stored{File: f, mod: fi.ModTime()}, nil
}

type stored struct {
	*os.File
	mod time.Time
}

func (s stored) ModTime() time.Time { return s.mod }

// Finished lists the finished recordings in the directory, oldest leg
// first, as paths relative to it: the edge's upload spool.
func (s *Store) Finished(ctx context.Context) ([]string, error) {
	days, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("recordings: %w", err)
	}
	type item struct {
		rel     string
		started time.Time
	}
	var items []item
	for _, day := range days {
		if !day.IsDir() {
			continue
		}
		if _, err := time.Parse(dayLayout, day.Name()); err != nil {
			continue
		}
		files, err := os.ReadDir(filepath.Join(s.dir, day.Name()))
		if err != nil {
			return nil, fmt.Errorf("recordings: %w", err)
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if strings.HasSuffix(f.Name(), partSuffix) {
				continue
			}
			if _, _, started, ok := parseName(f); ok {
				items = append(items, item{day.Name() + "/" + f.Name(), started})
			}
		}
	}
	slices.SortFunc(items, func(a, b item) int { return a.started.Compare(b.started) })
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.rel
	}
	return out, nil
}

// OpenFile opens a recording by its path relative to the directory, as
// Finished lists it.
func (s *Store) OpenFile(rel string) (*os.File, error) {
	if _, err := s.relPath(rel); err != nil {
		return nil, err
	}
	return os.Open(filepath.Join(s.dir, filepath.FromSlash(rel)))
}

// Remove deletes a recording by its relative path; one already gone is
// not an error.
func (s *Store) Remove(rel string) error {
	if _, err := s.relPath(rel); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(s.dir, filepath.FromSlash(rel))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recordings: %w", err)
	}
	return nil
}

// relPath checks that rel is a recording's path as Meta.Name gives it.
func (s *Store) relPath(rel string) (Meta, error) {
	m, want, err := ParseBase(pathBase(rel))
	if err != nil {
		return Meta{}, err
	}
	if want != rel {
		return Meta{}, fmt.Errorf("recordings: %q is not a recording's path (want %q)", rel, want)
	}
	return m, nil
}

// parseBase is parseName for a base name.
func parseBase(base string) (caseID, contactID string, started time.Time, ok bool) {
	b, isWAV := strings.CutSuffix(base, ".wav")
	parts := strings.Split(b, "_")
	if !isWAV || len(parts) != 3 || !idPattern.MatchString(parts[0]) || !idPattern.MatchString(parts[1]) {
		return "", "", time.Time{}, false
	}
	t, err := time.Parse(stampLayout, parts[2])
	if err != nil {
		return "", "", time.Time{}, false
	}
	return parts[0], parts[1], t, true
}

var _ Archive = (*Store)(nil)
