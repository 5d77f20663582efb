package closeio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pollwire/pollwire/connectors/internal/vendorio"
	"github.com/pollwire/pollwire/connectors/source"
)

// MaxLimiterWait is the longest a request waits for its endpoint group's
// rate-limit window to reset. Close's windows last seconds; a longer reset
// is left to the engine's schedule (source.ErrRateLimited).
const MaxLimiterWait = 2 * time.Minute

// rateLimit is one RateLimit header: `limit=100, remaining=57, reset=3.2`,
// reset in seconds (decimal).
type rateLimit struct {
	limit, remaining int
	reset            time.Duration
}

// parseRateLimit reads Close's RateLimit header. Unknown parameters are
// ignored; ok is false when limit, remaining or reset is missing or not a
// number.
func parseRateLimit(v string) (rl rateLimit, ok bool) {
	var have int
	for part := range strings.SplitSeq(v, ",") {
		name, val, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			continue
		}
		val = strings.Trim(strings.TrimSpace(val), `"`)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return rl, false
			}
			rl.limit, have = n, have|1
		case "remaining":
			n, err := strconv.Atoi(val)
			if err != nil {
				return rl, false
			}
			rl.remaining, have = max(n, 0), have|2
		case "reset":
			f, err := strconv.ParseFloat(val, 64)
			if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
				return rl, false
			}
			f = min(f, 24*3600) // keeps the Duration from overflowing
			rl.reset, have = time.Duration(f*float64(time.Second)), have|4
		}
	}
	return rl, have == 7
}

// limiter paces the requests of one (base URL, API key, endpoint group) —
// shared by every instance using that key — so that they slow down before
// Close refuses: it tracks the last known window (limit, remaining, reset)
// and the requests in flight, and lets a request go only while the window
// has room for it. Until the first answer says what the limit is, one
// request at a time goes (a probe), so that instances starting together do
// not burst past a limit nobody knows yet.
type limiter struct {
	mu        sync.Mutex
	known     bool      // a RateLimit header was seen
	unlimited bool      // the last answer had none: Close does not limit this group
	limit     int       // of the last header
	remaining int       // of the current window, as last known
	resetAt   time.Time // when the current window ends
	inflight  int
	changed   chan struct{} // closed and replaced at every release
	lastUse   time.Time
}

func newLimiter() *limiter { return &limiter{changed: make(chan struct{})} }

// acquire waits until a request may go and reserves its place. The caller
// must call release exactly once afterwards.
func (l *limiter) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		now := time.Now()
		l.lastUse = now
		if l.known && !now.Before(l.resetAt) {
			if l.limit > 0 {
				// The window is over: a new one starts full. The next
				// answer says exactly how full.
				l.remaining = max(l.remaining, l.limit)
			} else {
				// A 429 without a RateLimit header: nothing is known of
				// the next window; probe it.
				l.known = false
			}
		}
		var room bool
		switch {
		case l.unlimited:
			room = true
		case !l.known:
			room = l.inflight == 0
		default:
			room = l.remaining-l.inflight > 0
		}
		if room {
			l.inflight++
			l.mu.Unlock()
			return nil
		}
		changed := l.changed
		var wait time.Duration
		if l.known && l.remaining-l.inflight <= 0 && now.Before(l.resetAt) {
			wait = l.resetAt.Sub(now)
		} else if l.inflight == 0 {
			wait = 100 * time.Millisecond // no release will come to wake us: look again
		}
		l.mu.Unlock()

		if err := l.wait(ctx, changed, wait); err != nil {
			return err
		}
	}
}

// wait blocks until the limiter changes, wait has passed (when positive),
// or ctx ends.
func (l *limiter) wait(ctx context.Context, changed <-chan struct{}, wait time.Duration) error {
	if wait <= 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
			return nil
		}
	}
	if wait > MaxLimiterWait || !vendorio.FitsDeadline(ctx, wait) {
		return fmt.Errorf("the rate limit resets in %s, beyond what this poll can wait: %w", wait.Round(time.Millisecond), source.ErrRateLimited)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-changed:
	case <-t.C:
	}
	return nil
}

// release records what an answer said about the window: its RateLimit
// header (h nil when no answer came), and for a 429 the wait it asked for.
func (l *limiter) release(h http.Header, status int, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	now := time.Now()
	if h != nil {
		if rl, ok := parseRateLimit(h.Get("RateLimit")); ok {
			resetAt := now.Add(rl.reset)
			if !l.known || !now.Before(l.resetAt) {
				// A new window: the answer is the truth about it. Measured
				// from its arrival, resetAt is never earlier than Close's.
				l.remaining, l.resetAt = rl.remaining, resetAt
			} else {
				// The same window: answers may arrive out of order, and
				// the lowest remaining is the latest.
				l.remaining = min(l.remaining, rl.remaining)
				if resetAt.After(l.resetAt) {
					l.resetAt = resetAt
				}
			}
			l.limit, l.known, l.unlimited = rl.limit, true, false
		} else if status >= 200 && status < 300 {
			l.unlimited = !l.known
		}
	}
	if status == http.StatusTooManyRequests {
		l.known, l.unlimited = true, false
		l.remaining = 0
		if until := now.Add(retryAfter); until.After(l.resetAt) {
			l.resetAt = until
		}
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// limiters holds the limiter of every (base URL, API key, endpoint group)
// seen, shared by all polls of the Source.
type limiters struct {
	mu sync.Mutex
	m  map[string]*limiter
}

// limiterIdle is how long an unused limiter is kept; its window is long
// over by then.
const limiterIdle = time.Hour

func (ls *limiters) get(baseURL, apiKey, group string) *limiter {
	// The key is hashed: the map outlives polls and need not hold secrets.
	sum := sha256.Sum256([]byte(apiKey))
	key := baseURL + "\x00" + hex.EncodeToString(sum[:8]) + "\x00" + group
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.m == nil {
		ls.m = map[string]*limiter{}
	}
	l := ls.m[key]
	if l == nil {
		if len(ls.m) >= 1024 {
			ls.prune()
		}
		l = newLimiter()
		l.lastUse = time.Now()
		ls.m[key] = l
	}
	return l
}

// prune drops limiters unused for limiterIdle. Callers hold mu.
func (ls *limiters) prune() {
	cutoff := time.Now().Add(-limiterIdle)
	for k, l := range ls.m {
		l.mu.Lock()
		idle := l.inflight == 0 && l.lastUse.Before(cutoff)
		l.mu.Unlock()
		if idle {
			delete(ls.m, k)
		}
	}
}

// endpointGroup names the group a request counts against: Close groups
// endpoints by path and method (GETs of /lead/ apart from POSTs to
// /activity/). The first path segment under base.url stands for the path.
func endpointGroup(method, relPath string) string {
	seg, _, _ := strings.Cut(strings.TrimLeft(relPath, "/"), "/")
	seg, _, _ = strings.Cut(seg, "?")
	return method + " " + seg
}

// parseRetryAfter reads a Retry-After value, delay-seconds or an HTTP date.
// Unlike vendorio.ParseRetryAfter it reads fractional seconds and any number
// (capped at a day), so it stays this connector's own.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return 0, false
		}
		secs = min(secs, 24*3600)
		return time.Duration(secs * float64(time.Second)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
