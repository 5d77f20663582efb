package bench

import (
	"context"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"time"
)

// phaseRun is a phase ready to be measured: its pollers run, its vendor
// and sink serve; measure adds the changes, the warm-up and the window.
type phaseRun struct {
	name string
	cfg  Config
	win  *window
	rec  *recorder
	sink *sink
	drv  *driver
	// heapBefore is the live heap before the phase's pollers existed.
	heapBefore int64
	// peakReset is false when the peak RSS could not be reset for the phase.
	peakReset bool
	// atStart and atEnd, when set, run at the window's start and end
	// (before the GC that measures the live heap).
	atStart func()
	atEnd   func(*Phase)
	// skips returns the phase's skipped due times so far.
	skips func() int64
	// failures returns the phase's failed delivery attempts so far.
	failures func() int64
	// profile, when set, receives a CPU profile of the window.
	profile io.Writer
}

// measure runs the change driver through the warm-up and the window, then
// waits for the last changes to be delivered, and reports.
func measure(ctx context.Context, r phaseRun) (*Phase, error) {
	cfg := r.cfg
	p := &Phase{Name: r.name, Pollers: cfg.pollers(), HeapBefore: r.heapBefore, PeakIsProcess: !r.peakReset}
	r.drv.start()
	defer r.drv.stop()
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return nil, err
	}
	var skips0, fails0 int64
	if r.skips != nil {
		skips0 = r.skips()
	}
	if r.failures != nil {
		fails0 = r.failures()
	}
	if r.profile != nil {
		if err := pprof.StartCPUProfile(r.profile); err != nil {
			cfg.logf("%s: no CPU profile: %v", r.name, err)
			r.profile = nil
		}
	}
	stopSampling := sampleRSS(p)
	defer stopSampling()
	ws := time.Now()
	cpu0, rt0 := cpuTime(), readRuntime()
	r.win.start.Store(ws.UnixNano())
	if r.atStart != nil {
		r.atStart()
	}
	cfg.logf("%s: measuring for %s", r.name, cfg.Duration)

	if err := sleep(ctx, cfg.Duration); err != nil {
		if r.profile != nil {
			pprof.StopCPUProfile()
		}
		return nil, err
	}
	we := time.Now()
	r.win.end.Store(we.UnixNano())
	cpu, rt := cpuTime()-cpu0, readRuntime().minus(rt0)
	if r.profile != nil {
		pprof.StopCPUProfile()
	}
	if r.atEnd != nil {
		r.atEnd(p)
	}
	if r.skips != nil {
		p.Skips = r.skips() - skips0
	}
	p.WindowS = we.Sub(ws).Seconds()
	p.Goroutines = runtime.NumGoroutine()
	p.HeapLive = liveHeap()
	r.drv.stop()

	cfg.logf("%s: waiting up to %s for the last of %d changes to arrive", r.name, cfg.Settle, r.drv.made.Load())
	settle := time.Now()
	for r.sink.unique() < r.drv.made.Load() && time.Since(settle) < cfg.Settle {
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
	p.SettleS = time.Since(settle).Seconds()
	stopSampling()
	_, p.PeakRSS = memStatus()
	if r.failures != nil {
		p.DeliveryFails = r.failures() - fails0
	}

	p.Polls = r.rec.polls.Load()
	p.PollsPerS = float64(p.Polls) / p.WindowS
	p.ExpectedPollsPer = float64(cfg.pollers()) / cfg.Interval.Seconds()
	p.PollErrors = r.rec.errors.Load()
	p.PerPoller = r.rec.spread(cfg.Duration.Seconds() / cfg.Interval.Seconds())
	p.Lag = r.rec.lag.Summary()
	p.Latency = r.sink.latency.Summary()

	p.Changes = r.drv.made.Load()
	p.Events = r.sink.events.Load()
	p.Duplicates = r.sink.dups.Load()
	p.Missing = max(p.Changes-r.sink.unique(), 0)
	p.Settled = p.Missing == 0
	p.Notifications = r.sink.notifications.Load()
	p.EventsPerS = float64(r.sink.inWindow.Load()) / p.WindowS
	p.DeliveryFails += r.sink.bad.Load()

	p.GCCPUS = rt.gcCPU
	p.GCCycles = int64(rt.gcCycles)
	if p.Polls > 0 {
		p.AllocPerPoll = int64(rt.allocBytes / float64(p.Polls))
	}
	p.CPUS = cpu.Seconds()
	p.CPUCores = p.CPUS / p.WindowS
	if p.Polls > 0 {
		p.CPUPer1kPolls = p.CPUS / float64(p.Polls) * 1000
	}
	return p, nil
}

// sampleRSS records the highest RssAnon and RssFile in p once a second
// until the returned function is called (which may be called again).
func sampleRSS(p *Phase) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			anon, file := rssSplit()
			p.PeakAnon, p.PeakFile = max(p.PeakAnon, anon), max(p.PeakFile, file)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		once.Do(func() { close(done) })
		<-finished
	}
}

// runtimeStats are the Go runtime's counters a window is measured by.
type runtimeStats struct {
	gcCPU      float64 // seconds of CPU spent by the GC (an estimate of the runtime's)
	gcCycles   float64
	allocBytes float64
}

var runtimeSamples = []string{"/cpu/classes/gc/total:cpu-seconds", "/gc/cycles/total:gc-cycles", "/gc/heap/allocs:bytes"}

func readRuntime() runtimeStats {
	ss := make([]metrics.Sample, len(runtimeSamples))
	for i, name := range runtimeSamples {
		ss[i].Name = name
	}
	metrics.Read(ss)
	v := func(s metrics.Sample) float64 {
		switch s.Value.Kind() {
		case metrics.KindFloat64:
			return s.Value.Float64()
		case metrics.KindUint64:
			return float64(s.Value.Uint64())
		}
		return 0
	}
	return runtimeStats{gcCPU: v(ss[0]), gcCycles: v(ss[1]), allocBytes: v(ss[2])}
}

func (a runtimeStats) minus(b runtimeStats) runtimeStats {
	return runtimeStats{gcCPU: a.gcCPU - b.gcCPU, gcCycles: a.gcCycles - b.gcCycles, allocBytes: a.allocBytes - b.allocBytes}
}

// liveHeap collects garbage and returns the heap still in use.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// freshPeak returns memory to the OS and restarts the peak RSS, so that a
// phase's peak is its own. It returns the live heap and whether the peak
// could be reset.
func freshPeak() (int64, bool) {
	heap := liveHeap()
	debug.FreeOSMemory()
	return heap, resetPeakRSS()
}
