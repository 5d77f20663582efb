package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pollwire/pollwire/runtime/bench"
)

// runBench is `pollwire bench`: the pipeline against the rest simulator on
// loopback, measured (see runtime/bench).
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := bench.DefaultConfig()
	cfg := d
	fs.IntVar(&cfg.Instances, "instances", d.Instances, "instances to provision")
	fs.IntVar(&cfg.Resources, "resources", d.Resources, "resources (pollers) per instance")
	fs.DurationVar(&cfg.Interval, "interval", d.Interval, "every poller's refresh interval")
	fs.DurationVar(&cfg.Duration, "duration", d.Duration, "measured window")
	fs.DurationVar(&cfg.Warmup, "warmup", d.Warmup, "run before the window, not measured")
	fs.Float64Var(&cfg.ChangeRate, "change-rate", d.ChangeRate, "records created or updated per second at the vendor, over all pollers")
	fs.DurationVar(&cfg.VendorLatency, "vendor-latency", d.VendorLatency, "delay of every vendor list request")
	fs.IntVar(&cfg.BatchSize, "batch-size", d.BatchSize, "events per notification (event.notification.batch.size)")
	fs.IntVar(&cfg.MaxConcurrent, "max-concurrent", d.MaxConcurrent, "polls in flight at most (engine MaxConcurrent; floor workers)")
	fs.IntVar(&cfg.CallbackURLs, "callback-urls", d.CallbackURLs, "distinct callback URLs over the instances")
	fs.BoolVar(&cfg.Floor, "floor", false, "also run the floor (same polls and POSTs, no scheduler, no store) and report ratios")
	fs.StringVar(&cfg.DataDir, "data", "", "data directory for the store (default: a temporary directory, removed after)")
	fs.DurationVar(&cfg.Settle, "settle", 0, "longest wait after the window for the last deliveries (default 2×interval + 30s)")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the pipeline's measured window to this file, and of the floor's to FILE.floor (pprof label role: pipeline, floor, vendor, sink)")
	memProfile := fs.String("memprofile", "", "write heap profiles taken at the end and the start of the pipeline's window to this file and FILE.start")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pollwire bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if !*quiet {
		cfg.Log = stderr
	}
	// create opens a profile file, closed when the command returns.
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	create := func(path string) (*os.File, error) {
		f, err := os.Create(path)
		if err == nil {
			files = append(files, f)
		}
		return f, err
	}
	var err error
	if *memProfile != "" {
		if cfg.HeapProfile, err = create(*memProfile); err == nil {
			cfg.HeapProfileStart, err = create(*memProfile + ".start")
		}
	}
	if err == nil && *cpuProfile != "" {
		if cfg.CPUProfile, err = create(*cpuProfile); err == nil && cfg.Floor {
			cfg.FloorCPUProfile, err = create(*cpuProfile + ".floor")
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "pollwire bench:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "pollwire bench:", err)
		return 1
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteSummary(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "pollwire bench:", err)
		return 1
	}
	return 0
}
