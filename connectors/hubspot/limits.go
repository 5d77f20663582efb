package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/pollwire/pollwire/connectors/source"
)

// HubSpot's rate-limit headers.
const (
	headerMax            = "X-HubSpot-RateLimit-Max"
	headerRemaining      = "X-HubSpot-RateLimit-Remaining"
	headerInterval       = "X-HubSpot-RateLimit-Interval-Milliseconds"
	headerDaily          = "X-HubSpot-RateLimit-Daily"
	headerDailyRemaining = "X-HubSpot-RateLimit-Daily-Remaining"
)

// DefaultSearchPerSecond is how many searches a Source starts per second
// and account: one below HubSpot's five, so that a rolling one-second window
// on HubSpot's side never sees a sixth.
const DefaultSearchPerSecond = 4

// account is the rate-limit state of one HubSpot account (one private-app
// token, or one OAuth installation), shared by every instance and poller
// that uses it.
type account struct {
	mu sync.Mutex

	// searchNext is when the next search may start; searches are spaced
	// searchGap apart. HubSpot limits them on their own, per second, and
	// exempts them from the ten-secondly limit.
	searchNext time.Time
	searchGap  time.Duration

	// The rolling limit as the last X-HubSpot-RateLimit-Max/-Remaining/
	// -Interval-Milliseconds headers told it.
	known     bool
	max       int
	remaining int
	interval  time.Duration

	// blockedUntil holds every request back after a refusal, or when the
	// rolling window is spent, so that concurrent pollers do not each
	// collect their own 429.
	blockedUntil time.Time

	// pausedUntil is set while the daily limit is spent.
	pausedUntil time.Time
	pauseReason string
	// assumedReset is the midnight the last daily pause expected the limit
	// to reset at; a refusal after it means the account's zone is later
	// than configured.
	assumedReset time.Time
}

func newAccount(searchPerSecond int) *account {
	return &account{searchGap: time.Second / time.Duration(searchPerSecond)}
}

// reserve is how much of the rolling limit a Source leaves unused: other
// apps of the account share it, and responses arrive out of order.
func reserve(limit int) int { return max(1, limit/10) }

// acquire waits until a request may start. A spent daily limit returns a
// *source.PausedError at once: waiting hours inside a poll helps nobody.
func (a *account) acquire(ctx context.Context, search bool, now func() time.Time, sleep func(context.Context, time.Duration) error) error {
	for {
		a.mu.Lock()
		t := now()
		if t.Before(a.pausedUntil) {
			err := &source.PausedError{Until: a.pausedUntil, Reason: a.pauseReason}
			a.mu.Unlock()
			return err
		}
		var wait time.Duration
		switch {
		case t.Before(a.blockedUntil):
			wait = a.blockedUntil.Sub(t)
		case search:
			// Searches take the next free slot and wait for it: first come,
			// first served, however many pollers share the account.
			slot := t
			if a.searchNext.After(t) {
				slot = a.searchNext
			}
			a.searchNext = slot.Add(a.searchGap)
			a.mu.Unlock()
			if slot.After(t) {
				return sleep(ctx, slot.Sub(t))
			}
			return nil
		case a.known && a.remaining <= reserve(a.max):
			// The rolling window is (nearly) spent: after one full interval
			// without our requests it is empty again, whatever its shape.
			a.blockedUntil = t.Add(a.interval)
			a.remaining = a.max
			wait = a.interval
		default:
			if a.known {
				a.remaining--
			}
		}
		a.mu.Unlock()
		if wait <= 0 {
			return nil
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// observe takes in a response's rate-limit headers. A daily remainder of
// zero pauses the account before the request that would be refused.
func (a *account) observe(h http.Header, t time.Time, zone *time.Location) {
	limit, okMax := headerInt(h, headerMax)
	rem, okRem := headerInt(h, headerRemaining)
	iv, okIv := headerInt(h, headerInterval)
	daily, okDaily := headerInt(h, headerDaily)
	dailyRem, okDailyRem := headerInt(h, headerDailyRemaining)
	a.mu.Lock()
	defer a.mu.Unlock()
	if okMax && okRem && okIv && limit > 0 && iv > 0 {
		a.known, a.max, a.remaining, a.interval = true, limit, rem, time.Duration(iv)*time.Millisecond
	}
	if okDailyRem && dailyRem <= 0 {
		what := "the daily API limit"
		if okDaily {
			what = fmt.Sprintf("the daily API limit of %d requests", daily)
		}
		a.pauseDailyLocked(t, zone, what+" is spent (X-HubSpot-RateLimit-Daily-Remaining: 0)")
	}
}

// block holds requests back until t (a refusal's wait).
func (a *account) block(until time.Time) {
	a.mu.Lock()
	if until.After(a.blockedUntil) {
		a.blockedUntil = until
	}
	a.mu.Unlock()
}

// pauseDaily records a spent daily limit and returns the pause.
func (a *account) pauseDaily(t time.Time, zone *time.Location, reason string) *source.PausedError {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pauseDailyLocked(t, zone, reason)
	return &source.PausedError{Until: a.pausedUntil, Reason: a.pauseReason}
}

// pauseDailyLocked pauses until the limit resets: midnight in the account's
// zone. HubSpot does not say the zone in its answers, so it comes from the
// configuration (UTC by default). Refused again within a day after the
// midnight it assumed, the zone must be wrong: it then tries again every
// hour rather than waiting another whole day.
func (a *account) pauseDailyLocked(t time.Time, zone *time.Location, reason string) {
	if zone == nil {
		zone = time.UTC
	}
	var until time.Time
	if !a.assumedReset.IsZero() && !t.Before(a.assumedReset) && t.Sub(a.assumedReset) < 24*time.Hour {
		until = t.Truncate(time.Hour).Add(time.Hour)
		reason += fmt.Sprintf("; still spent after midnight %s, so %s is probably not the account's time zone: trying hourly", zone, zone)
	} else {
		until = nextMidnight(t, zone)
		a.assumedReset = until
		reason += fmt.Sprintf("; it resets at midnight %s", zone)
	}
	if until.After(a.pausedUntil) {
		a.pausedUntil, a.pauseReason = until, reason
	}
}

// nextMidnight is the first midnight in zone after t.
func nextMidnight(t time.Time, zone *time.Location) time.Time {
	l := t.In(zone)
	// time.Date normalises day+1 across month ends and DST changes.
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, zone)
}

func headerInt(h http.Header, name string) (int, bool) {
	v := h.Get(name)
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}
