package salesforce

import (
	"fmt"
	"sync"
	"time"

	"github.com/pollwire/pollwire/connectors/source"
)

// DefaultPauseFor is how long a spent API allowance pauses an instance
// before pollwire looks again. Salesforce counts requests over a rolling
// 24 hours and says nothing of when enough of them age out (no
// Retry-After, no reset time), so one hour is a compromise: a single
// request an hour costs nothing, and polling resumes within the hour of
// the allowance coming back.
const DefaultPauseFor = time.Hour

// org is what the Source knows of one org's API allowance, shared by every
// instance that polls it.
type org struct {
	mu sync.Mutex
	// last is the latest Sforce-Limit-Info reading, taken at lastAt.
	last   usage
	lastAt time.Time
	// spentUntil is set by REQUEST_LIMIT_EXCEEDED: no poll starts before.
	spentUntil time.Time
	reason     string
}

// observe records a Sforce-Limit-Info reading.
func (o *org) observe(u usage, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if at.Before(o.lastAt) {
		return // an older answer finishing late
	}
	o.last, o.lastAt = u, at
}

// spend marks the allowance spent until until.
func (o *org) spend(until time.Time, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if until.After(o.spentUntil) {
		o.spentUntil, o.reason = until, reason
	}
}

// admit refuses a poll that needs calls requests when the allowance is
// known to be spent: after REQUEST_LIMIT_EXCEEDED until the re-check time,
// or when the latest reading, younger than pauseFor, leaves fewer than
// calls requests. An older reading says nothing: the rolling window may
// have freed requests since, and the poll itself will read a new one.
func (o *org) admit(now time.Time, calls int64, pauseFor time.Duration) *source.PausedError {
	o.mu.Lock()
	defer o.mu.Unlock()
	if now.Before(o.spentUntil) {
		return &source.PausedError{Until: o.spentUntil, Reason: o.reason}
	}
	if o.last.max > 0 && now.Before(o.lastAt.Add(pauseFor)) && o.last.max-o.last.used < calls {
		until := o.lastAt.Add(pauseFor)
		return &source.PausedError{Until: until, Reason: fmt.Sprintf(
			"Salesforce API allowance nearly spent (api-usage=%d/%d, a poll needs %d requests); the allowance is a rolling 24 hours, re-checking at %s",
			o.last.used, o.last.max, calls, until.UTC().Format(time.RFC3339))}
	}
	return nil
}

// usage returns the latest reading and whether there is one.
func (o *org) usage() (usage, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last, o.last.max > 0
}
