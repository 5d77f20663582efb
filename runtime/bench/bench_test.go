package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []uint64{0, 1, 63, 64, 65, 127, 128, 129, 1000, 1 << 40, math.MaxInt64}
	for range 10000 {
		values = append(values, rng.Uint64N(math.MaxInt64)>>rng.UintN(63))
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("value %d: bucket %d out of range", v, i)
		}
		lo, w := bucketRange(i)
		if v < lo || v-lo >= w {
			t.Fatalf("value %d in bucket %d = [%d, %d)", v, i, lo, lo+w)
		}
		if v >= subBuckets && float64(w)/float64(lo) > 1.0/subBuckets+1e-12 {
			t.Fatalf("bucket %d of %d is %d wide: coarser than 1/64", i, lo, w)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		name string
		gen  func() time.Duration
	}{
		{"constant", func() time.Duration { return 1234 * time.Microsecond }},
		{"tiny", func() time.Duration { return time.Duration(rng.IntN(64)) }},
		{"uniform ms", func() time.Duration { return time.Duration(rng.Int64N(int64(100 * time.Millisecond))) }},
		{"long tail", func() time.Duration { return time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond)) }},
		{"minutes", func() time.Duration { return time.Duration(rng.Int64N(int64(10 * time.Minute))) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			vals := make([]time.Duration, 20000)
			for i := range vals {
				vals[i] = tc.gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
				rank := max(int(math.Ceil(q*float64(len(vals)))), 1)
				want := vals[rank-1]
				got := h.Quantile(q)
				if diff := math.Abs(float64(got - want)); diff > float64(want)/subBuckets+1 {
					t.Errorf("q%.3f = %v, want %v (±1/64)", q, got, want)
				}
			}
			s := h.Summary()
			if s.Count != int64(len(vals)) || time.Duration(s.Max) != vals[len(vals)-1] {
				t.Errorf("count %d max %v, want %d and %v", s.Count, time.Duration(s.Max), len(vals), vals[len(vals)-1])
			}
		})
	}
}

func TestHistogramEmptyAndNegative(t *testing.T) {
	var h Histogram
	if got := h.Quantile(0.99); got != 0 {
		t.Errorf("empty quantile = %v", got)
	}
	if s := h.Summary(); s != (Dist{}) {
		t.Errorf("empty summary = %+v", s)
	}
	h.Record(-time.Second)
	h.Record(time.Millisecond)
	if h.Negative() != 1 || h.Count() != 2 || h.Quantile(0.5) != 0 {
		t.Errorf("negative %d count %d p50 %v; want 1, 2, 0", h.Negative(), h.Count(), h.Quantile(0.5))
	}
}

func TestSlotAtOrBefore(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 1000 {
		every := time.Duration(1+rng.IntN(600)) * time.Second
		off := time.Duration(rng.Int64N(int64(every)))
		at := time.Unix(0, rng.Int64N(int64(100*365*24*time.Hour)))
		s := slotAtOrBefore(at, off, every)
		if s.After(at) || at.Sub(s) >= every || (s.UnixNano()-int64(off))%int64(every) != 0 {
			t.Fatalf("slot of %v (offset %v, every %v) = %v", at, off, every, s)
		}
	}
}

func TestPromSummary(t *testing.T) {
	before := []bucket{{0.001, 10}, {0.01, 10}, {1, 10}, {math.Inf(1), 10}, {-1, 10}, {-2, 1000}}
	now := []bucket{{0.001, 60}, {0.01, 109}, {1, 110}, {math.Inf(1), 110}, {-1, 110}, {-2, 101000}}
	got := promSummary(now, before)
	want := &PromHist{Count: 100, MeanS: 0.001, P99S: 0.01, MaxS: 1}
	if *got != *want {
		t.Errorf("promSummary = %+v, want %+v", got, want)
	}
	if promSummary(now, nil) != nil {
		t.Error("a missing first reading gave a summary")
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"defaults", func(*Config) {}, true},
		{"sub-second interval", func(c *Config) { c.Interval = 500 * time.Millisecond }, false},
		{"negative rate", func(c *Config) { c.ChangeRate = -1 }, false},
		{"batch too large", func(c *Config) { c.BatchSize = 1001 }, false},
		{"more callback URLs than instances", func(c *Config) { c.Instances, c.CallbackURLs = 2, 3 }, false},
		{"negative latency", func(c *Config) { c.VendorLatency = -time.Second }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.withDefaults().Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestReportOutput(t *testing.T) {
	ph := func(name string, cpu float64) *Phase {
		return &Phase{
			Name: name, Pollers: 10, WindowS: 10, Polls: 100, PollsPerS: 10, ExpectedPollsPer: 10,
			Lag:     Dist{Count: 100, P50: Millis(2 * time.Millisecond), P99: Millis(1500 * time.Microsecond), Max: Millis(time.Second)},
			Changes: 5, Events: 5, CPUS: cpu, CPUPer1kPolls: cpu * 10, PeakRSS: 64 << 20,
		}
	}
	rep := &Report{Config: DefaultConfig().echo(), Pipeline: ph("pipeline", 2), Floor: ph("floor", 1)}
	rep.VsFloor = ratios(rep.Pipeline, rep.Floor)
	if rep.VsFloor.CPUPer1kPolls != 2 || rep.VsFloor.PeakRSS != 1 {
		t.Errorf("ratios = %+v", rep.VsFloor)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	lag := back["pipeline"].(map[string]any)["lag"].(map[string]any)
	if lag["p99_ms"] != 1.5 || lag["max_ms"] != 1000.0 {
		t.Errorf("lag as JSON = %v", lag)
	}
	var sum bytes.Buffer
	if err := rep.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"schedule lag   p50 2ms  p99 1.5ms", "pipeline ÷ floor: CPU per 1,000 polls 2.00×", "\nfloor (10 pollers"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
}

func TestSinkCountsDuplicates(t *testing.T) {
	win := newWindow()
	s := newSink(win)
	srv := httptest.NewServer(s)
	defer srv.Close()
	post := func(body string) {
		t.Helper()
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	ev := func(id, date string) string {
		return `{"objectId":"` + id + `","date":"` + date + `"}`
	}
	post(`{"message":{"events":[` + ev("a", "2026-01-01T00:00:00.001Z") + `,` + ev("b", "2026-01-01T00:00:00.001Z") + `]}}`)
	post(`{"message":{"events":[` + ev("a", "2026-01-01T00:00:00.001Z") + `]}}`) // again
	post(`{"message":{"events":[` + ev("a", "2026-01-01T00:00:00.002Z") + `]}}`) // a newer change
	post(`not json`)
	if s.events.Load() != 4 || s.dups.Load() != 1 || s.unique() != 3 || s.notifications.Load() != 4 || s.bad.Load() != 1 {
		t.Errorf("events %d dups %d unique %d notifications %d bad %d; want 4 1 3 4 1",
			s.events.Load(), s.dups.Load(), s.unique(), s.notifications.Load(), s.bad.Load())
	}
}

// TestRunSmoke runs both phases briefly and checks that the report adds
// up: every poller polled about once a second, every change made was
// delivered once, nothing failed. It asserts no timings.
func TestRunSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 10 s")
	}
	cfg := Config{
		Instances: 100, Resources: 2, Interval: time.Second, Warmup: time.Second, Duration: 3 * time.Second,
		ChangeRate: 50, Floor: true, DataDir: t.TempDir(), Settle: 20 * time.Second,
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.VsFloor == nil || rep.Provision == nil || rep.Provision.Pollers != 200 {
		t.Fatalf("report lacks parts: %+v", rep)
	}
	for _, p := range []*Phase{rep.Pipeline, rep.Floor} {
		want := float64(p.Pollers) * p.WindowS / cfg.Interval.Seconds()
		if float64(p.Polls) < 0.6*want || float64(p.Polls) > 1.4*want {
			t.Errorf("%s: %d polls, want about %.0f", p.Name, p.Polls, want)
		}
		if p.Changes == 0 || p.Events != p.Changes || p.Duplicates != 0 || p.Missing != 0 || !p.Settled {
			t.Errorf("%s: %d changes, %d events (%d duplicates, %d missing), settled %v",
				p.Name, p.Changes, p.Events, p.Duplicates, p.Missing, p.Settled)
		}
		if p.PollErrors != 0 || p.DeliveryFails != 0 {
			t.Errorf("%s: %d poll errors, %d delivery failures", p.Name, p.PollErrors, p.DeliveryFails)
		}
		if runtime.GOOS == "linux" && (p.PeakAnon == 0 || p.PeakRSS < p.PeakAnon) {
			t.Errorf("%s: peak RSS %d, sampled anonymous peak %d", p.Name, p.PeakRSS, p.PeakAnon)
		}
		if p.Lag.Count != p.Polls || p.Latency.Count == 0 {
			t.Errorf("%s: lag of %d polls (of %d), latency of %d events", p.Name, p.Lag.Count, p.Polls, p.Latency.Count)
		}
	}
	if c := rep.Pipeline.Commits; c == nil || c.CommitPoll == 0 || c.SaveAttempt == 0 {
		t.Errorf("commits = %+v", c)
	}
	if rep.Pipeline.StoreBytes == 0 {
		t.Error("no store size")
	}
}
