// Command settlewatch-sim sends contract-conforming POS, gateway and
// settlement traces to an OTLP endpoint (the settlewatch collector), with
// scenarios, and writes the ground truth of what it sent.
//
//	settlewatch-sim backfill -days 1 -scenario simulator/scenarios/demo.yaml -truth .run/truth
//	settlewatch-sim live -rate 20 -scenario simulator/scenarios/live-demo.yaml
//	settlewatch-sim load -workers 4 -rate 5000 -duration 60s -scenario simulator/scenarios/load.yaml
//	settlewatch-sim fleet -scenario simulator/scenarios/demo.yaml
//	settlewatch-sim check -days 1 -scenario my.yaml
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `settlewatch-sim sends simulated card-present payment traffic as OTLP traces.

Usage:
  settlewatch-sim <command> [flags]

Commands:
  live      send traffic in real time until -duration or Ctrl-C, with a progress line
  backfill  send N days of history (timestamps in the past) as fast as the collector takes it
  load      load generator: many transactions per second from several goroutines
  fleet     print the fleet of a scenario file (ids to use as scenario targets)
  check     validate a scenario file against a run without sending anything

Run 'settlewatch-sim <command> -h' for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the run failed (export errors, I/O)
	exitUsage   = 2 // bad flags or scenario file
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "live":
		return cmdLive(ctx, rest, stdout, stderr)
	case "backfill":
		return cmdBackfill(ctx, rest, stdout, stderr)
	case "load":
		return cmdLoad(ctx, rest, stdout, stderr)
	case "fleet":
		return cmdFleet(rest, stdout, stderr)
	case "check":
		return cmdCheck(rest, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "settlewatch-sim: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}
