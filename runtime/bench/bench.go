// Package bench is `pollwire bench`: it runs pollwire's real pipeline —
// store, engine, scheduler, the rest connector, the delivery dispatcher — in
// one process against the rest simulator and a callback sink on loopback,
// with many instances, a change rate at the vendor and an optional vendor
// latency, and measures what the scale issue asks: polls per second,
// scheduling lag, change → callback latency, events per second, CPU per
// poll, peak RSS and store writes.
//
// The floor phase (Config.Floor) makes the same HTTP polls, spread the same
// way, and POSTs the same notifications, with no scheduler heap, no store
// and no outbox: the least work the job can take. Its CPU per poll is what
// the pipeline's is compared with.
//
// Both phases share the process with the vendor simulator, the change
// driver and the callback sink, so their CPU is in both measurements. Their
// goroutines carry the pprof label role=vendor or role=sink, the pipeline's
// role=pipeline and the floor's role=floor, so a CPU profile of a run can
// tell them apart (go tool pprof -tagfocus role=pipeline).
package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/pollwire/pollwire/instances"
)

// Config is one benchmark run. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	// Instances × Resources pollers, each polling its own simulator
	// resource.
	Instances int
	Resources int
	// Interval is every poller's refresh interval.
	Interval time.Duration
	// Warmup runs before the measured window: the engine's start-up and
	// first polls are not measured.
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
	// ChangeRate is records created or updated per second at the vendor,
	// over all pollers at random.
	ChangeRate float64
	// VendorLatency delays every list request of the simulator.
	VendorLatency time.Duration
	// BatchSize is the instances' event.notification.batch.size.
	BatchSize int
	// MaxConcurrent bounds polls in flight (engine.Config.MaxConcurrent;
	// the floor's workers). Default 256, the engine's default.
	MaxConcurrent int
	// CallbackURLs is how many distinct callback URLs the instances post
	// to (paths on one sink); the dispatcher queues per URL. Default 1.
	CallbackURLs int
	// Floor runs the floor phase before the pipeline.
	Floor bool
	// DataDir holds the store; default a temporary directory removed at
	// the end. A given directory must not hold a store already.
	DataDir string
	// Settle bounds the wait after the window for the last changes to be
	// delivered; default 2 × Interval + 30 s.
	Settle time.Duration
	// Seed makes the change stream reproducible.
	Seed uint64
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// CPUProfile and FloorCPUProfile, when set, receive CPU profiles of
	// the pipeline's and the floor's measured windows. Goroutines carry the
	// pprof label role (pipeline, floor, vendor, sink).
	CPUProfile      io.Writer
	FloorCPUProfile io.Writer
	// HeapProfile and HeapProfileStart, when set, receive heap profiles
	// taken at the end and at the start of the pipeline's window; with
	// go tool pprof -diff_base start end, the allocations of the window.
	HeapProfile      io.Writer
	HeapProfileStart io.Writer
}

// DefaultConfig finishes in about 30 s on a 2-core machine.
func DefaultConfig() Config {
	return Config{
		Instances:     2000,
		Resources:     1,
		Interval:      10 * time.Second,
		Warmup:        5 * time.Second,
		Duration:      15 * time.Second,
		ChangeRate:    100,
		BatchSize:     10,
		MaxConcurrent: 256,
		CallbackURLs:  1,
		Seed:          1,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Instances == 0 {
		c.Instances = d.Instances
	}
	if c.Resources == 0 {
		c.Resources = d.Resources
	}
	if c.Interval == 0 {
		c.Interval = d.Interval
	}
	if c.Duration == 0 {
		c.Duration = d.Duration
	}
	if c.BatchSize == 0 {
		c.BatchSize = d.BatchSize
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = d.MaxConcurrent
	}
	if c.CallbackURLs == 0 {
		c.CallbackURLs = d.CallbackURLs
	}
	if c.Settle == 0 {
		c.Settle = 2*c.Interval + 30*time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// Validate checks a configuration (after defaults) without running it.
func (c Config) Validate() error {
	switch {
	case c.Instances < 1:
		return fmt.Errorf("%w: instances must be at least 1", ErrConfig)
	case c.Resources < 1 || c.Resources > 1000:
		return fmt.Errorf("%w: resources must be 1-1000", ErrConfig)
	case c.Interval < instances.MinInterval:
		return fmt.Errorf("%w: interval must be at least %s", ErrConfig, instances.MinInterval)
	case c.Duration <= 0 || c.Warmup < 0:
		return fmt.Errorf("%w: duration must be positive and warm-up not negative", ErrConfig)
	case c.ChangeRate < 0:
		return fmt.Errorf("%w: change rate must not be negative", ErrConfig)
	case c.VendorLatency < 0:
		return fmt.Errorf("%w: vendor latency must not be negative", ErrConfig)
	case c.BatchSize < 1 || c.BatchSize > instances.MaxBatchSize:
		return fmt.Errorf("%w: batch size must be 1-%d", ErrConfig, instances.MaxBatchSize)
	case c.MaxConcurrent < 1:
		return fmt.Errorf("%w: max concurrent must be at least 1", ErrConfig)
	case c.CallbackURLs < 1 || c.CallbackURLs > c.Instances:
		return fmt.Errorf("%w: callback URLs must be 1 to the number of instances", ErrConfig)
	}
	return nil
}

func (c Config) pollers() int { return c.Instances * c.Resources }

func (c Config) echo() ConfigEcho {
	return ConfigEcho{
		Instances: c.Instances, Resources: c.Resources, Pollers: c.pollers(),
		IntervalS: c.Interval.Seconds(), DurationS: c.Duration.Seconds(), WarmupS: c.Warmup.Seconds(),
		ChangeRate: c.ChangeRate, VendorLatencyS: c.VendorLatency.Seconds(), BatchSize: c.BatchSize,
		MaxConcurrent: c.MaxConcurrent, CallbackURLs: c.CallbackURLs, Floor: c.Floor, DataDir: c.DataDir,
	}
}

func (c Config) logf(format string, args ...any) {
	fmt.Fprintf(c.Log, "bench: "+format+"\n", args...)
}

// Run runs the floor (when asked) and then the pipeline, and reports both.
// Cancelling ctx ends the run early with an error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rep := &Report{Machine: machine(), Config: cfg.echo()}
	if cfg.Floor {
		cfg.logf("floor: %d pollers every %s, %s warm-up + %s", cfg.pollers(), cfg.Interval, cfg.Warmup, cfg.Duration)
		ph, err := runFloor(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("floor: %w", err)
		}
		rep.Floor = ph
		// The floor's garbage must not count in the pipeline's peak.
		runtime.GC()
		debug.FreeOSMemory()
	}
	cfg.logf("pipeline: %d instances × %d resources every %s, %s warm-up + %s", cfg.Instances, cfg.Resources, cfg.Interval, cfg.Warmup, cfg.Duration)
	prov, ph, err := runPipeline(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	rep.Provision, rep.Pipeline = prov, ph
	rep.Config.DataDir = cfg.DataDir
	if rep.Floor != nil {
		rep.VsFloor = ratios(rep.Pipeline, rep.Floor)
	}
	rep.Machine.LoadEnd = loadAvg()
	return rep, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
