// Package simkit holds what the connectors' simulators share: a webhook
// sender with a retry schedule, and JSON answers.
package simkit

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// Webhooks sends a simulator's webhooks to one URL, one request at a
// time (so items written meanwhile gather into the next request, up to
// Batch of them), failed requests retried on their schedule without
// holding up new ones. Waits are real time: a simulator's clock stamps
// records and signatures, and a test's fake clock would never let a retry
// come due. It is safe for concurrent use.
type Webhooks[T any] struct {
	opts WebhookOptions[T]

	mu      sync.Mutex
	url     string
	queue   []T
	waiting []*batch[T]
	running bool
	wake    chan struct{}
	pending int           // items neither delivered nor given up
	idle    chan struct{} // closed while pending is 0
	sent    int
	done    int
	dropped int
}

// WebhookOptions are what a simulator's webhooks do of their own.
type WebhookOptions[T any] struct {
	// URL is where requests go; "" sends none (SetURL changes it).
	URL string
	// Retry is the wait before each retry of a failed request; after the
	// last, the request is given up.
	Retry []time.Duration
	// Batch is the most items one request carries; at least 1.
	Batch int
	// Post makes one attempt (attempt 0 first) to send items to url, which
	// may be "", and returns the answer's status, 0 when there was none.
	Post func(url string, attempt int, items []T) (status int)
	// GiveUp reports whether a failed attempt is given up at once, before
	// its retries run out: it has the answer's status, the URL it was sent
	// to and the URL set now. nil: never.
	GiveUp func(status int, sentTo, now string) bool
}

// batch is one request's items and its retry state.
type batch[T any] struct {
	items   []T
	attempt int // the number of the next attempt
	due     time.Time
}

// NewWebhooks returns a sender with o's choices.
func NewWebhooks[T any](o WebhookOptions[T]) *Webhooks[T] {
	if o.Batch < 1 {
		o.Batch = 1
	}
	w := &Webhooks[T]{opts: o, url: o.URL, wake: make(chan struct{}, 1), idle: make(chan struct{})}
	close(w.idle)
	return w
}

// SetURL points the webhooks at url; "" stops new ones. Items already
// queued go to the new URL.
func (w *Webhooks[T]) SetURL(url string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.url = url
}

// Counts returns how many items were sent (put in a request at least
// once), delivered (in a request answered 2xx) and dropped (lost as a
// Notify said, given up, or still failing after the last retry).
func (w *Webhooks[T]) Counts() (sent, delivered, dropped int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sent, w.done, w.dropped
}

// Flush waits until every item is delivered or given up, retries
// included, or until ctx ends.
func (w *Webhooks[T]) Flush(ctx context.Context) error {
	for {
		w.mu.Lock()
		if w.pending == 0 {
			w.mu.Unlock()
			return nil
		}
		idle := w.idle
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle:
		}
	}
}

// Notify queues the items of a write, unless no URL is set. build runs
// under the sender's lock, so calls queue in order and build may use state
// only it touches; it returns the items to send, or how many items were
// lost instead (a drop rate), counted as dropped.
func (w *Webhooks[T]) Notify(build func() (items []T, lost int)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.url == "" {
		return
	}
	items, lost := build()
	w.dropped += lost
	if len(items) == 0 {
		return
	}
	w.queue = append(w.queue, items...)
	if w.pending == 0 {
		w.idle = make(chan struct{})
	}
	w.pending += len(items)
	if !w.running {
		w.running = true
		go w.run()
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run sends until nothing is left to send or retry, then ends; Notify
// starts it again.
func (w *Webhooks[T]) run() {
	for {
		w.mu.Lock()
		b, wait := w.nextLocked(time.Now())
		if b == nil && wait < 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		url := w.url
		w.mu.Unlock()
		if b == nil {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-w.wake:
			}
			t.Stop()
			continue
		}
		status := w.opts.Post(url, b.attempt, b.items)
		w.mu.Lock()
		w.settleLocked(b, status, url, time.Now())
		w.mu.Unlock()
	}
}

// nextLocked returns the batch to send now: a retry that is due first,
// else up to Batch new items. With none, wait is how long until the next
// retry is due, or -1 when there is none. Callers hold w.mu.
func (w *Webhooks[T]) nextLocked(now time.Time) (b *batch[T], wait time.Duration) {
	first := -1
	for i, r := range w.waiting {
		if first < 0 || r.due.Before(w.waiting[first].due) {
			first = i
		}
	}
	if first >= 0 && !w.waiting[first].due.After(now) {
		b = w.waiting[first]
		w.waiting = append(w.waiting[:first], w.waiting[first+1:]...)
		return b, 0
	}
	if len(w.queue) > 0 {
		n := min(len(w.queue), w.opts.Batch)
		b = &batch[T]{items: append([]T(nil), w.queue[:n]...)}
		w.queue = w.queue[n:]
		w.sent += n
		return b, 0
	}
	if first >= 0 {
		return nil, w.waiting[first].due.Sub(now)
	}
	return nil, -1
}

// settleLocked records an attempt's outcome: delivered, given up, or due
// for a retry. Callers hold w.mu.
func (w *Webhooks[T]) settleLocked(b *batch[T], status int, sentTo string, now time.Time) {
	n := len(b.items)
	switch {
	case status >= 200 && status < 300:
		w.done += n
	case (w.opts.GiveUp != nil && w.opts.GiveUp(status, sentTo, w.url)) || b.attempt >= len(w.opts.Retry):
		w.dropped += n
	default:
		b.due = now.Add(w.opts.Retry[b.attempt])
		b.attempt++
		w.waiting = append(w.waiting, b)
		return
	}
	if w.pending -= n; w.pending == 0 {
		close(w.idle)
	}
}

// Send makes req with client and returns the answer's status, 0 when there
// was none. It reads (at most 64 KiB of) the answer and closes it.
func Send(client *http.Client, req *http.Request) int {
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode
}
