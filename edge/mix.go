package edge

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/emiago/diago/audio"
)

// mixer is a three-way (or larger) conference on the edge: every 20 ms
// each member hears the sum of what the others said in that time. Two
// parties are bridged frame by frame instead (no decoding); a conference
// needs the mix because two streams written to one leg interleave.
type mixer struct {
	mu      sync.Mutex
	members []*leg
	heard   map[*leg][]int16 // the last frame each member said, as PCM
}

func newMixer(members ...*leg) *mixer {
	return &mixer{members: members, heard: map[*leg][]int16{}}
}

// set replaces who is in the mix (hold takes the caller out of it and
// puts them back).
func (m *mixer) set(members ...*leg) {
	m.mu.Lock()
	m.members = members
	m.heard = map[*leg][]int16{}
	m.mu.Unlock()
}

// put takes a member's frame (in the member's codec).
func (m *mixer) put(from *leg, payload []byte) {
	pcm := make([]byte, 2*len(payload))
	var err error
	switch from.codec.Name {
	case "pcma":
		_, err = audio.DecodeAlawTo(pcm, payload)
	default:
		_, err = audio.DecodeUlawTo(pcm, payload)
	}
	if err != nil {
		return
	}
	s := make([]int16, len(payload))
	for i := range s {
		s[i] = int16(uint16(pcm[2*i]) | uint16(pcm[2*i+1])<<8)
	}
	m.mu.Lock()
	if slices.Contains(m.members, from) {
		m.heard[from] = s
	}
	m.mu.Unlock()
}

// tick sends each member the others' sum and forgets what was said.
func (m *mixer) tick() {
	m.mu.Lock()
	heard := m.heard
	m.heard = map[*leg][]int16{}
	members := m.members
	m.mu.Unlock()
	for _, to := range members {
		sum := make([]int32, 160)
		n := 0
		for from, s := range heard {
			if from == to {
				continue
			}
			for i := 0; i < len(s) && i < len(sum); i++ {
				sum[i] += int32(s[i])
			}
			n++
		}
		if n == 0 {
			continue
		}
		pcm := make([]byte, 2*len(sum))
		for i, v := range sum {
			v = max(min(v, 32767), -32768)
			pcm[2*i], pcm[2*i+1] = byte(uint16(int16(v))), byte(uint16(int16(v))>>8)
		}
		out := make([]byte, len(sum))
		if to.codec.Name == "pcma" {
			_, _ = audio.EncodeAlawTo(out, pcm)
		} else {
			_, _ = audio.EncodeUlawTo(out, pcm)
		}
		to.send(out)
	}
}

// run mixes until ctx ends.
func (m *mixer) run(ctx context.Context) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.tick()
		}
	}
}
