package bench

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Report is the outcome of a run: what ran where, and each phase measured.
type Report struct {
	Machine   Machine    `json:"machine"`
	Config    ConfigEcho `json:"config"`
	Provision *Provision `json:"provision,omitempty"`
	Pipeline  *Phase     `json:"pipeline,omitempty"`
	Floor     *Phase     `json:"floor,omitempty"`
	// VsFloor compares the pipeline with the floor (pipeline ÷ floor).
	VsFloor *Ratios `json:"vs_floor,omitempty"`
}

// Machine is where the run happened.
type Machine struct {
	OS         string     `json:"os"`
	Arch       string     `json:"arch"`
	CPU        string     `json:"cpu,omitempty"`
	NumCPU     int        `json:"num_cpu"`
	GOMAXPROCS int        `json:"gomaxprocs"`
	MemBytes   int64      `json:"mem_bytes"`
	GoVersion  string     `json:"go_version"`
	LoadStart  [3]float64 `json:"load_start"`
	LoadEnd    [3]float64 `json:"load_end"`
}

func machine() Machine {
	return Machine{
		OS: runtime.GOOS, Arch: runtime.GOARCH, CPU: cpuModel(), NumCPU: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), MemBytes: memTotal(), GoVersion: runtime.Version(),
		LoadStart: loadAvg(),
	}
}

// ConfigEcho is the configuration as run, in report units.
type ConfigEcho struct {
	Instances      int     `json:"instances"`
	Resources      int     `json:"resources"`
	Pollers        int     `json:"pollers"`
	IntervalS      float64 `json:"interval_s"`
	DurationS      float64 `json:"duration_s"`
	WarmupS        float64 `json:"warmup_s"`
	ChangeRate     float64 `json:"change_rate"`
	VendorLatencyS float64 `json:"vendor_latency_s"`
	BatchSize      int     `json:"batch_size"`
	MaxConcurrent  int     `json:"max_concurrent"`
	CallbackURLs   int     `json:"callback_urls"`
	Floor          bool    `json:"floor"`
	DataDir        string  `json:"data_dir"`
}

// Provision is the cost of setting up the pipeline's instances.
type Provision struct {
	Instances int `json:"instances"`
	Pollers   int `json:"pollers"`
	// Create is building (validating, compiling) and storing every
	// instance: one CreateInstance transaction each.
	CreateS float64 `json:"create_s"`
	// States is storing every poller's first state in large batches.
	StatesS float64 `json:"states_s"`
	// Start is engine.Start: loading, decrypting and compiling every
	// instance and scheduling its pollers.
	StartS float64 `json:"engine_start_s"`
	// StartCPUS is the CPU time engine.Start took.
	StartCPUS float64 `json:"engine_start_cpu_s"`
	// StartPeakRSS is the peak RSS from before engine.Start to its end
	// (the provisioning's garbage returned to the OS first).
	StartPeakRSS int64 `json:"engine_start_peak_rss_bytes"`
}

// Phase is one measured run: the pipeline or the floor.
type Phase struct {
	Name    string  `json:"name"`
	Pollers int     `json:"pollers"`
	WindowS float64 `json:"window_s"`

	Polls            int64   `json:"polls"`
	PollsPerS        float64 `json:"polls_per_s"`
	ExpectedPollsPer float64 `json:"expected_polls_per_s"`
	PollErrors       int64   `json:"poll_errors"`
	// Skips are due times dropped because the poller's previous run was
	// still going (the scheduler's count; the floor's own).
	Skips int64 `json:"skips"`
	// PerPoller is the spread of polls per poller inside the window.
	PerPoller PerPoller `json:"per_poller"`
	// Lag is actual start − due time of the polls started in the window.
	Lag Dist `json:"lag"`
	// Latency is change (the record's updated_at) → callback received, for
	// changes made in the window.
	Latency Dist `json:"latency"`

	Changes       int64   `json:"changes"`
	Events        int64   `json:"events"`
	Duplicates    int64   `json:"duplicates"`
	Missing       int64   `json:"missing"`
	Notifications int64   `json:"notifications"`
	EventsPerS    float64 `json:"events_per_s"`
	DeliveryFails int64   `json:"delivery_failures"`
	// SettleS is how long after the window the last changes took to arrive.
	SettleS float64 `json:"settle_s"`
	Settled bool    `json:"settled"`

	CPUS          float64 `json:"cpu_s"`
	CPUCores      float64 `json:"cpu_cores"`
	CPUPer1kPolls float64 `json:"cpu_s_per_1k_polls"`
	// GCCPUS is the Go runtime's estimate of the CPU its garbage collector
	// used in the window; GCCycles the collections, AllocPerPoll the heap
	// bytes allocated per poll (by the whole process).
	GCCPUS       float64 `json:"gc_cpu_s"`
	GCCycles     int64   `json:"gc_cycles"`
	AllocPerPoll int64   `json:"alloc_bytes_per_poll"`
	// PeakRSS is the peak from the phase's start (for the pipeline: the
	// end of engine.Start) to the end of its settling.
	PeakRSS int64 `json:"peak_rss_bytes"`
	// PeakIsProcess is set where the peak could not be reset between
	// phases, so it is the whole process's.
	PeakIsProcess bool `json:"peak_is_process,omitempty"`
	// PeakAnon and PeakFile are the highest RssAnon (heap, stacks) and
	// RssFile (mapped files: the store's mmap) seen, sampled every second
	// from the window's start to the end of settling. File-backed pages
	// are page cache the kernel can reclaim; anonymous ones are not.
	PeakAnon int64 `json:"peak_rss_anon_bytes,omitempty"`
	PeakFile int64 `json:"peak_rss_file_bytes,omitempty"`
	// HeapBefore and HeapLive are the live Go heap after a GC before the
	// phase started and at the end of its window.
	HeapBefore int64 `json:"heap_before_bytes"`
	HeapLive   int64 `json:"heap_live_bytes"`
	Goroutines int   `json:"goroutines"`

	StoreBytes int64    `json:"store_bytes,omitempty"`
	Commits    *Commits `json:"commits,omitempty"`
	// EngineLag is the engine's own pollwire_schedule_lag_seconds, read
	// from its registry: a cross-check of Lag with coarse buckets.
	EngineLag *PromHist `json:"engine_lag,omitempty"`
}

// PerPoller is how evenly polls spread over pollers.
type PerPoller struct {
	Min      int64   `json:"min"`
	Max      int64   `json:"max"`
	Expected float64 `json:"expected"`
	// Starved pollers did not poll at all in the window.
	Starved int `json:"starved"`
}

// Commits counts the store writes the pipeline asked for, by kind.
// CommitPoll, SaveAttempt and SavePollerStates go through bbolt's group
// commit, so transactions (and fsyncs) are fewer than calls.
type Commits struct {
	CommitPoll       int64   `json:"commit_poll"`
	SavePollerStates int64   `json:"save_poller_states"`
	StatesSaved      int64   `json:"states_saved"`
	SaveAttempt      int64   `json:"save_attempt"`
	AppendEntries    int64   `json:"append_entries"`
	PerS             float64 `json:"calls_per_s"`
}

// PromHist is a Prometheus histogram's view of a distribution.
type PromHist struct {
	Count int64   `json:"count"`
	MeanS float64 `json:"mean_s"`
	// P99S is the upper bound of the bucket holding the 99th percentile.
	P99S float64 `json:"p99_le_s"`
	// MaxS is the upper bound of the highest non-empty bucket (+Inf as -1).
	MaxS float64 `json:"max_le_s"`
}

// Ratios compare the pipeline with the floor.
type Ratios struct {
	CPUPer1kPolls float64 `json:"cpu_per_1k_polls"`
	PeakRSS       float64 `json:"peak_rss"`
	PollsPerS     float64 `json:"polls_per_s"`
}

func ratios(p, f *Phase) *Ratios {
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	return &Ratios{
		CPUPer1kPolls: div(p.CPUPer1kPolls, f.CPUPer1kPolls),
		PeakRSS:       div(float64(p.PeakRSS), float64(f.PeakRSS)),
		PollsPerS:     div(p.PollsPerS, f.PollsPerS),
	}
}

// WriteSummary writes the report for reading.
func (r *Report) WriteSummary(w io.Writer) error {
	var b strings.Builder
	m, c := r.Machine, r.Config
	fmt.Fprintf(&b, "pollwire bench: %d instances × %d resources = %d pollers every %s, %s after %s warm-up\n",
		c.Instances, c.Resources, c.Pollers, secs(c.IntervalS), secs(c.DurationS), secs(c.WarmupS))
	fmt.Fprintf(&b, "  vendor: %g changes/s, %s latency per list request; batch size %d; max concurrent polls %d; %d callback URL(s)\n",
		c.ChangeRate, secs(c.VendorLatencyS), c.BatchSize, c.MaxConcurrent, c.CallbackURLs)
	fmt.Fprintf(&b, "  machine: %s/%s, %d CPUs (GOMAXPROCS %d) %s, %s memory, %s, load %.2f → %.2f\n",
		m.OS, m.Arch, m.NumCPU, m.GOMAXPROCS, m.CPU, bytesText(m.MemBytes), m.GoVersion, m.LoadStart[0], m.LoadEnd[0])
	if p := r.Provision; p != nil {
		fmt.Fprintf(&b, "  provisioning: %d instances created in %.1fs, %d first states in %.2fs, engine.Start %.2fs (%.2f CPU s, peak RSS %s)\n",
			p.Instances, p.CreateS, p.Pollers, p.StatesS, p.StartS, p.StartCPUS, bytesText(p.StartPeakRSS))
	}
	for _, ph := range []*Phase{r.Pipeline, r.Floor} {
		if ph != nil {
			writePhase(&b, ph)
		}
	}
	if v := r.VsFloor; v != nil {
		fmt.Fprintf(&b, "\npipeline ÷ floor: CPU per 1,000 polls %.2f×, peak RSS %.2f×, polls/s %.2f×\n",
			v.CPUPer1kPolls, v.PeakRSS, v.PollsPerS)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writePhase(b *strings.Builder, p *Phase) {
	fmt.Fprintf(b, "\n%s (%d pollers, %.1fs window)\n", p.Name, p.Pollers, p.WindowS)
	fmt.Fprintf(b, "  polls          %d = %.1f/s (expected %.1f/s), %d errors, %d skips\n",
		p.Polls, p.PollsPerS, p.ExpectedPollsPer, p.PollErrors, p.Skips)
	fmt.Fprintf(b, "  per poller     min %d, max %d, expected %.1f; %d starved\n",
		p.PerPoller.Min, p.PerPoller.Max, p.PerPoller.Expected, p.PerPoller.Starved)
	fmt.Fprintf(b, "  schedule lag   p50 %s  p99 %s  p99.9 %s  max %s  (%d polls)\n",
		p.Lag.P50, p.Lag.P99, p.Lag.P999, p.Lag.Max, p.Lag.Count)
	if e := p.EngineLag; e != nil {
		fmt.Fprintf(b, "  engine metric  pollwire_schedule_lag_seconds: %d polls, mean %s, p99 ≤ %s, max ≤ %s\n",
			e.Count, secs(e.MeanS), leText(e.P99S), leText(e.MaxS))
	}
	fmt.Fprintf(b, "  change→callback p50 %s  p99 %s  max %s  (%d events)\n",
		p.Latency.P50, p.Latency.P99, p.Latency.Max, p.Latency.Count)
	settled := "settled"
	if !p.Settled {
		settled = "NOT settled"
	}
	fmt.Fprintf(b, "  events         %d of %d changes delivered (%d missing, %d duplicates) in %d notifications, %s %.1fs after the window; %.1f events/s in the window; %d delivery failures\n",
		p.Events-p.Duplicates, p.Changes, p.Missing, p.Duplicates, p.Notifications, settled, p.SettleS, p.EventsPerS, p.DeliveryFails)
	fmt.Fprintf(b, "  CPU            %.2fs = %.2f cores; %.4fs per 1,000 polls; GC %.2fs in %d cycles, %s allocated per poll\n",
		p.CPUS, p.CPUCores, p.CPUPer1kPolls, p.GCCPUS, p.GCCycles, bytesText(p.AllocPerPoll))
	peak := "peak RSS"
	if p.PeakIsProcess {
		peak = "peak RSS (process)"
	}
	fmt.Fprintf(b, "  memory         %s %s (sampled peaks: anonymous %s, mapped files %s); live heap %s (before %s); %d goroutines\n",
		peak, bytesText(p.PeakRSS), bytesText(p.PeakAnon), bytesText(p.PeakFile), bytesText(p.HeapLive), bytesText(p.HeapBefore), p.Goroutines)
	if p.StoreBytes > 0 || p.Commits != nil {
		fmt.Fprintf(b, "  store          %s", bytesText(p.StoreBytes))
		if c := p.Commits; c != nil {
			fmt.Fprintf(b, "; %.1f write calls/s (CommitPoll %d, SaveAttempt %d, SavePollerStates %d with %d states, AppendEntries %d)",
				c.PerS, c.CommitPoll, c.SaveAttempt, c.SavePollerStates, c.StatesSaved, c.AppendEntries)
		}
		b.WriteByte('\n')
	}
}

func secs(s float64) string {
	return Millis(time.Duration(s * float64(time.Second))).String()
}

func leText(s float64) string {
	if s < 0 {
		return "+Inf"
	}
	return secs(s)
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return strconv.FormatInt(n, 10) + " B"
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
