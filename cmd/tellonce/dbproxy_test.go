package main

import (
	"net"
	"net/url"
	"sync"
	"testing"
)

// dbProxy stands between one server and PostgreSQL on loopback, so that
// a drill can cut that server off the database: cut stops every byte
// both ways on the open connections and holds new ones unanswered (a
// network partition: the server's queries hang, they do not fail
// quickly); heal closes what was held, as a partition long enough to
// reset the connections does, and passes new connections again.
type dbProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool // both ends of every connection, open or held
	done  sync.WaitGroup
}

// newDBProxy listens on a free loopback port in front of the PostgreSQL
// server of dsn; dsn returns the same URL through the proxy.
func newDBProxy(t *testing.T, dsn string) *dbProxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{ln: ln, target: u.Host, conns: map[net.Conn]bool{}}
	p.done.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// dsn is dsn with its host replaced by the proxy's address.
func (p *dbProxy) dsn(dsn string) string {
	u, _ := url.Parse(dsn)
	u.Host = p.ln.Addr().String()
	return u.String()
}

func (p *dbProxy) accept() {
	defer p.done.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns[c] = true
		cut := p.cut
		p.mu.Unlock()
		if cut {
			continue // held: no answer until heal closes it
		}
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			p.pass(c)
		}()
	}
}

// pass copies between the client and a new connection to the database.
func (p *dbProxy) pass(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		p.drop(client)
		return
	}
	p.mu.Lock()
	p.conns[server] = true
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	copyHalf := func(to, from net.Conn) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := from.Read(buf)
			if n > 0 && !p.isCut() {
				if _, werr := to.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		// One side ended: end both, unless cut (then heal ends them).
		if !p.isCut() {
			p.drop(to)
			p.drop(from)
		}
	}
	go copyHalf(server, client)
	go copyHalf(client, server)
	wg.Wait()
}

func (p *dbProxy) isCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

func (p *dbProxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// Cut stops all traffic through the proxy.
func (p *dbProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
}

// Heal closes every connection held during the cut and passes new ones.
func (p *dbProxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *dbProxy) close() {
	p.ln.Close()
	p.Heal()
	p.done.Wait()
}
