package closeio

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors/source"
)

func TestParseRateLimit(t *testing.T) {
	cases := []struct {
		in   string
		want rateLimit
		ok   bool
	}{
		{"limit=100, remaining=57, reset=3.2", rateLimit{100, 57, 3200 * time.Millisecond}, true},
		{"limit=100,remaining=0,reset=5", rateLimit{100, 0, 5 * time.Second}, true},
		{` LIMIT = 20 , remaining="3", reset=0.25, policy=x`, rateLimit{20, 3, 250 * time.Millisecond}, true},
		{"limit=100, remaining=-1, reset=1", rateLimit{100, 0, time.Second}, true},
		{"limit=100, remaining=5", rateLimit{}, false},
		{"limit=abc, remaining=5, reset=1", rateLimit{}, false},
		{"limit=1, remaining=5, reset=-1", rateLimit{}, false},
		{"limit=1, remaining=5, reset=NaN", rateLimit{}, false},
		{"", rateLimit{}, false},
	}
	for _, tc := range cases {
		got, ok := parseRateLimit(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%q: %+v %v, want %+v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if rl, ok := parseRateLimit("limit=1, remaining=1, reset=1e300"); !ok || rl.reset != 24*time.Hour {
		t.Errorf("huge reset: %+v %v", rl, ok)
	}
}

func header(v string) http.Header { return http.Header{"Ratelimit": {v}} }

// acquireWithin reports whether acquire returned within d.
func acquireWithin(l *limiter, d time.Duration) bool {
	done := make(chan error, 1)
	go func() { done <- l.acquire(context.Background()) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		go func() { <-done; l.release(nil, 0, 0) }() // let it finish later
		return false
	}
}

func TestLimiterProbesThenPaces(t *testing.T) {
	l := newLimiter()
	if err := l.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Nothing is known yet: one request at a time.
	second := make(chan struct{})
	go func() {
		if err := l.acquire(context.Background()); err == nil {
			close(second)
		}
	}()
	select {
	case <-second:
		t.Fatal("a second request went before the first answer")
	case <-time.After(50 * time.Millisecond):
	}
	l.release(header("limit=3, remaining=1, reset=0.3"), 200, 0)
	<-second // one left in the window: it goes
	start := time.Now()
	if acquireWithin(l, 50*time.Millisecond) {
		t.Fatal("a request went past remaining=1 with one in flight")
	}
	l.release(header("limit=3, remaining=0, reset=0.29"), 200, 0)
	if err := l.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("went after %s, before the window reset", d)
	}
	// In the new window, the limit is known: up to 3 at once.
	if !acquireWithin(l, 50*time.Millisecond) || !acquireWithin(l, 50*time.Millisecond) {
		t.Error("a new window does not start full")
	}
}

func TestLimiterOutOfOrderAnswers(t *testing.T) {
	l := newLimiter()
	_ = l.acquire(context.Background())
	l.release(header("limit=10, remaining=5, reset=10"), 200, 0)
	_ = l.acquire(context.Background())
	_ = l.acquire(context.Background())
	l.release(header("limit=10, remaining=3, reset=9.9"), 200, 0)
	l.release(header("limit=10, remaining=4, reset=9.9"), 200, 0) // older news
	if l.remaining != 3 || l.inflight != 0 {
		t.Errorf("remaining %d inflight %d, want 3 and 0", l.remaining, l.inflight)
	}
}

func TestLimiterWithoutHeader(t *testing.T) {
	l := newLimiter()
	_ = l.acquire(context.Background())
	l.release(http.Header{}, 200, 0)
	// Close does not limit this group: no pacing.
	for range 5 {
		if !acquireWithin(l, 50*time.Millisecond) {
			t.Fatal("an unlimited group paced requests")
		}
	}
}

func TestLimiter429(t *testing.T) {
	l := newLimiter()
	_ = l.acquire(context.Background())
	start := time.Now()
	l.release(http.Header{}, http.StatusTooManyRequests, 200*time.Millisecond)
	if err := l.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 180*time.Millisecond {
		t.Errorf("went after %s, before Retry-After", d)
	}
	// Then it probes: one at a time until an answer says more.
	if acquireWithin(l, 50*time.Millisecond) {
		t.Error("no probe after a 429 without RateLimit")
	}
}

func TestLimiterWaitBeyondDeadline(t *testing.T) {
	l := newLimiter()
	_ = l.acquire(context.Background())
	l.release(header("limit=10, remaining=0, reset=30"), 200, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := l.acquire(ctx)
	if !errors.Is(err, source.ErrRateLimited) || time.Since(start) > 100*time.Millisecond {
		t.Errorf("acquire past the deadline: %v after %s", err, time.Since(start))
	}
}

func TestEndpointGroupAndSharing(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"GET", "/lead/?query=x"}:     "GET lead",
		{"GET", "/lead/lead_1/"}:      "GET lead",
		{"POST", "/data/search/"}:     "POST data",
		{"GET", "/event/?_cursor=ab"}: "GET event",
		{"GET", "opportunity"}:        "GET opportunity",
	} {
		if got := endpointGroup(in[0], in[1]); got != want {
			t.Errorf("%v: %q, want %q", in, got, want)
		}
	}
	var ls limiters
	a := ls.get("https://api.close.com/api/v1", "key1", "GET lead")
	if ls.get("https://api.close.com/api/v1", "key1", "GET lead") != a {
		t.Error("the same key and group got two limiters")
	}
	for _, other := range []*limiter{
		ls.get("https://api.close.com/api/v1", "key2", "GET lead"),
		ls.get("https://api.close.com/api/v1", "key1", "GET opportunity"),
		ls.get("http://sim", "key1", "GET lead"),
	} {
		if other == a {
			t.Error("different keys, groups or hosts share a limiter")
		}
	}
}
