// Command tellonce is the one binary of the tellonce call-centre router:
// it serves the API and consoles, migrates the database, simulates
// staffing levels, drives a running server with simulated load and reports
// its version. Run "tellonce help" for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `tellonce — one router for every public call centre

Usage:
  tellonce <command> [flags]

Commands:
  serve     start the HTTP server (API, agent/supervisor/admin consoles)
  migrate   bring the database schema up to date and exit
  users     reset-password NAME: a new password for a user, from the server
  remask    rewrite stored rows under the current masking rules, once after an upgrade that extends them
  simulate  staffing what-if: how many agents a queue needs, on the real router with a simulated clock
  loadgen   drive a running server with simulated agents and contacts, report latencies
  edge      the SIP edge: answer phone calls, phone menus, agents' phones, as a gateway of a server
  probe     ask a URL (default http://127.0.0.1:8080/readyz); exit 0 on 2xx (container health checks)
  version   print the version
  help      print this help, or "tellonce help <command>" for a command's flags

Storage: with no database configured, tellonce keeps everything in an
embedded SQLite file (./data/tellonce.db). Point TELLONCE_DB (or DATABASE_URL)
at a postgres:// URL for production.

Quick start:
  tellonce serve --demo      seed demo agencies, queues and users, print logins
  tellonce simulate --agents 8-16 --arrivals 120 --handle 5m --sla 20s
                             how many agents for 120 calls an hour at 20 s?
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tellonce:", err)
		os.Exit(1)
	}
}

// run dispatches a command; getenv is os.Getenv outside tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr, getenv)
	case "migrate":
		return migrate(ctx, rest, stdout, stderr, getenv)
	case "users":
		return users(ctx, rest, stdout, stderr, getenv)
	case "remask":
		return remask(ctx, rest, stdout, stderr, getenv)
	case "simulate":
		return runSimulate(ctx, rest, stdout, stderr)
	case "loadgen":
		return runLoadgen(ctx, rest, stdout, stderr, getenv)
	case "edge":
		return runEdge(ctx, rest, stderr, getenv)
	case "probe":
		return probe(ctx, rest, stdout)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "tellonce", buildVersion())
		return nil
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" {
			return run(ctx, []string{rest[0], "-h"}, stdout, stderr, getenv)
		}
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func buildVersion() string {
	v := version
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + info.GoVersion
	}
	return v
}
