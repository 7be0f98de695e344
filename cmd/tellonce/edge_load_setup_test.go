package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// The browser load test's setup burst (docs/telephony.md#figures): every
// call offered, then every desk accepts at once; each browser notes when
// each stage of its setup happened, and the edge's CPU over the burst is
// the cost of the setups.

// setupStages are one browser's setup, in ns since the run's base; the
// first frame heard is its loadLeg's first.
type setupStages struct {
	accept atomic.Int64 // the desk sends accept
	offer  atomic.Int64 // the edge's rtc_offer reaches the desk
	answer atomic.Int64 // the page's answer, gathered, is sent
	ice    atomic.Int64 // the page's ICE is connected
	dtls   atomic.Int64 // the page's peer is connected (ICE and DTLS)
}

// pageCertificate is a page's DTLS certificate, as a browser makes one
// (ECDSA P-256).
func pageCertificate() (webrtc.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return webrtc.Certificate{}, err
	}
	c, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return webrtc.Certificate{}, err
	}
	return *c, nil
}

// setupBurst is what acceptAtOnce measured.
type setupBurst struct {
	offered, heard int64
	wall           time.Duration
	// edgeCPU is the edge's CPU over the burst; edgeBefore its CPU rate
	// (of a core) just before, every caller waiting; loadCPU the load
	// process's over the burst.
	edgeCPU, loadCPU time.Duration
	edgeBefore       float64
	// pace is the time between two desks' accepts; 0 when all at once.
	pace     time.Duration
	stages   [][]time.Duration // by setupStageNames, of the browsers that heard
	reached  [5]int            // browsers past accept, offer, answer, ICE, DTLS
	profiles string
}

var setupStageNames = []string{
	"accept → rtc_offer at the desk (server, the edge's peer and gathering, server)",
	"rtc_offer → answer sent (the page's peer and gathering)",
	"answer sent → ICE connected at the page (server, the edge applying it, ICE checks)",
	"ICE connected → DTLS connected",
	"DTLS connected → the caller's first frame heard",
	"accept → the caller's first frame heard (the whole setup)",
}

func (b setupBurst) String() string {
	var s strings.Builder
	perSetup := b.edgeCPU - time.Duration(b.edgeBefore*float64(b.wall))
	accepted := "accepted at once"
	if b.pace > 0 {
		accepted = fmt.Sprintf("accepted one every %s", b.pace)
	}
	fmt.Fprintf(&s, "setup burst: %d offered and %s, %d hearing their caller after %s\n", b.offered, accepted, b.heard, b.wall.Round(time.Millisecond))
	fmt.Fprintf(&s, "edge CPU over the burst %s (%.2f ms a setup; %.2f ms a setup less the %.1f %% of a core it used just before); load process CPU %s (%.2f ms a setup)\n",
		b.edgeCPU.Round(time.Millisecond), ms(b.edgeCPU)/float64(max(b.heard, 1)), ms(perSetup)/float64(max(b.heard, 1)), b.edgeBefore*100,
		b.loadCPU.Round(time.Millisecond), ms(b.loadCPU)/float64(max(b.heard, 1)))
	for i, name := range setupStageNames {
		d := b.stages[i]
		fmt.Fprintf(&s, "  %-85s p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms\n", name, ms(percentile(d, 0.5)), ms(percentile(d, 0.99)), ms(percentile(d, 1)))
	}
	fmt.Fprintf(&s, "browsers that reached each stage: accepted %d, offered %d, answered %d, ICE %d, DTLS %d, heard %d\n",
		b.reached[0], b.reached[1], b.reached[2], b.reached[3], b.reached[4], b.heard)
	s.WriteString(b.profiles)
	return strings.TrimRight(s.String(), "\n")
}

// acceptAtOnce waits until every call is offered (or 12 s after the
// first offer, within the 20 s offer timeout), measures the edge's CPU
// rate for a second, releases every desk's accept at once and waits until
// every accepted browser hears its caller, or none more for 30 s.
func (r *loadRig) acceptAtOnce(m *loadMedia, offered *atomic.Int64, release chan struct{}, releasedAt *time.Time, tabs []*loadLeg, stages []setupStages) setupBurst {
	t := r.t
	hz, pid := clockTicks(), r.edge.Process.Pid
	var firstAt time.Time
	for n := offered.Load(); n < int64(len(tabs)); n = offered.Load() {
		if n > 0 && firstAt.IsZero() {
			firstAt = time.Now()
		}
		if !firstAt.IsZero() && time.Since(firstAt) > 12*time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling a count
	}
	b := setupBurst{offered: offered.Load()}
	p0, w0 := readProc(t, pid, hz), time.Now()
	time.Sleep(time.Second) // the edge's rate with every caller waiting: nothing to await
	e0, l0, start := readProc(t, pid, hz), cpuTime(), time.Now()
	b.edgeBefore = float64(e0.cpu-p0.cpu) / float64(start.Sub(w0))
	stopProfiles := r.profileSetup()
	*releasedAt = time.Now() // read by the desks after the close
	close(release)
	hearing := func() (n int64) {
		for _, tab := range tabs {
			if tab.first.Load() != 0 {
				n++
			}
		}
		return n
	}
	last, lastAt := int64(-1), time.Now()
	for n := hearing(); n < b.offered; n = hearing() {
		if n != last {
			last, lastAt = n, time.Now()
		} else if time.Since(lastAt) > 30*time.Second {
			break
		}
		time.Sleep(5 * time.Millisecond) // polling a count
	}
	e1, l1 := readProc(t, pid, hz), cpuTime()
	b.heard, b.edgeCPU, b.loadCPU = hearing(), e1.cpu-e0.cpu, l1-l0
	// The burst ends with the last first frame heard, not the poll.
	var end int64
	b.stages = make([][]time.Duration, len(setupStageNames))
	for i, tab := range tabs {
		st := &stages[i]
		at := []int64{st.accept.Load(), st.offer.Load(), st.answer.Load(), st.ice.Load(), st.dtls.Load(), tab.first.Load()}
		for j := range b.reached {
			if at[j] != 0 {
				b.reached[j]++
			}
		}
		first := at[5]
		if first == 0 {
			continue
		}
		end = max(end, first)
		for j := range len(at) - 1 {
			b.stages[j] = append(b.stages[j], time.Duration(at[j+1]-at[j]))
		}
		b.stages[len(at)-1] = append(b.stages[len(at)-1], time.Duration(first-at[0]))
	}
	b.wall = time.Duration(end) - start.Sub(m.base)
	if b.heard == 0 {
		b.wall = time.Since(start)
	}
	b.profiles = stopProfiles()
	return b
}

// profileSetup, with TELLONCE_EDGE_LOAD_PROFILE=FILE, keeps CPU profiles
// of the setup burst: the edge's over its first 2 s in FILE.setup, the
// load process's until stopped in FILE.load-setup. The returned function
// stops them and gives their top entries.
func (r *loadRig) profileSetup() func() string {
	path := os.Getenv("TELLONCE_EDGE_LOAD_PROFILE")
	if path == "" {
		return func() string { return "" }
	}
	edgeDone := make(chan error, 1)
	go func() {
		edgeDone <- fetchProfile(r.debug+"/debug/pprof/profile?seconds=2", path+".setup")
	}()
	f, err := os.Create(path + ".load-setup")
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
		}
	}
	loadErr := err
	return func() string {
		var s strings.Builder
		if loadErr == nil {
			pprof.StopCPUProfile()
			loadErr = f.Close()
		}
		for _, p := range []struct {
			name, bin, file string
			err             error
		}{{"edge", r.edgeBin, path + ".setup", <-edgeDone}, {"load process", "", path + ".load-setup", loadErr}} {
			if p.err != nil {
				r.t.Errorf("%s's setup profile: %v", p.name, p.err)
				continue
			}
			args := []string{"tool", "pprof", "-top", "-nodecount=25"}
			if p.bin != "" {
				args = append(args, p.bin)
			}
			out, err := exec.Command("go", append(args, p.file)...).CombinedOutput()
			if err != nil {
				r.t.Errorf("go tool pprof: %v", err)
			}
			fmt.Fprintf(&s, "%s CPU profile over the setup burst, %s:\n%s\n", p.name, p.file, out)
		}
		return s.String()
	}
}

// fetchProfile saves the profile served at url in path.
func fetchProfile(url, path string) error {
	res, err := http.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, res.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
