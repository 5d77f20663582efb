package closeio

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors/source"
)

// BenchmarkRateLimitUtilization measures how much of a Close-like limit
// (100 requests per 10 s per API key and endpoint group) the Source uses
// while backlogged: five instances share one key and page through a
// backlog far larger than the window allows, for 35 s of real time.
// It reports the share of the allowed requests that were made (the
// allowed count is the limit times every window that began in the run,
// the most generous reading) and the number of 429s. The goal is
// at least 90 % used and no 429 after the first.
//
// One iteration takes 35 s: run it with -benchtime=1x.
func BenchmarkRateLimitUtilization(b *testing.B) {
	const (
		limit   = 100
		window  = 10 * time.Second
		run     = 35 * time.Second
		callers = 5
	)
	for range b.N {
		sim := NewSimulator(SimOptions{RateLimit: limit, RateWindow: window})
		srv := httptest.NewServer(sim)
		for range 3000 {
			sim.Create(TypeOpportunity, nil)
		}
		src := New()
		// Cancelled, not a deadline: a poll would refuse a wait for the
		// next window that outlasts its deadline, and stop pacing early.
		ctx, cancel := context.WithCancel(context.Background())
		stop := time.AfterFunc(run, cancel)
		start := time.Now()
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				for ctx.Err() == nil {
					req := request(b, srv.URL, ResourceOpportunities, start.Add(-time.Hour), pollOpts{pageSize: 10, timeout: 5 * time.Second})
					err := src.Poll(ctx, req, func(source.Record) error { return nil })
					if err != nil && ctx.Err() == nil {
						b.Errorf("poll: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		stop.Stop()
		cancel()
		elapsed := time.Since(start)
		srv.Close()

		windows := int((elapsed + window - 1) / window)
		served := sim.Requests() - sim.Throttled()
		used := 100 * float64(served) / float64(limit*windows)
		b.ReportMetric(used, "%used")
		b.ReportMetric(float64(sim.Throttled()), "429s")
		b.Logf("%d requests served, %d refused, over %s (%d windows of %d)", served, sim.Throttled(), elapsed.Round(time.Millisecond), windows, limit)
		if sim.Throttled() > 1 {
			b.Errorf("%d requests refused with 429, want at most 1", sim.Throttled())
		}
	}
}
