package rest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// DefaultWebhookRetry is the Simulator's wait before each retry of a push
// that failed (no answer, a timeout or a status other than 2xx).
var DefaultWebhookRetry = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}

// DefaultWebhookTimeout is how long the Simulator waits for a push's
// answer.
const DefaultWebhookTimeout = 10 * time.Second

// The fields of a Simulator push, {"resource": …, "type": …, "record": {…}}:
// an instance reads them with webhook.resource.path "resource",
// webhook.type.path "type" and webhook.record.path "record".
const (
	SimPushResource = "resource"
	SimPushType     = "type"
	SimPushRecord   = "record"
)

// simPush is one push and its retry state.
type simPush struct {
	body    []byte
	attempt int // retries made
	due     time.Time
}

// simWebhooks sends the Simulator's pushes, one request per write and one
// at a time, failed ones retried on their schedule without holding up new
// ones. Waits are real time, so a test's fake clock cannot stall them.
type simWebhooks struct {
	now      func() time.Time
	secret   []byte
	header   string
	encoding string
	prefix   bool
	tsHeader string
	rate     float64
	retry    []time.Duration
	client   *http.Client

	mu      sync.Mutex
	url     string
	rng     *rand.Rand
	queue   []*simPush
	waiting []*simPush
	running bool
	wake    chan struct{}
	pending int
	idle    chan struct{} // closed while pending is 0
	sent    int
	done    int
	dropped int
}

func newSimWebhooks(o *SimOptions, now func() time.Time) *simWebhooks {
	w := &simWebhooks{
		now: now, secret: []byte(o.WebhookSecret), header: or(o.WebhookHeader, DefaultWebhookSignatureHeader),
		encoding: or(o.WebhookEncoding, EncodingHex), prefix: o.WebhookPrefix, tsHeader: o.WebhookTimestampHeader,
		rate: o.WebhookDropRate, retry: o.WebhookRetry, client: o.WebhookClient, url: o.WebhookURL,
		rng:  rand.New(rand.NewPCG(o.WebhookSeed, o.WebhookSeed^0x9e3779b97f4a7c15)),
		wake: make(chan struct{}, 1), idle: make(chan struct{}),
	}
	close(w.idle)
	if w.retry == nil {
		w.retry = DefaultWebhookRetry
	}
	if w.client == nil {
		w.client = &http.Client{Timeout: DefaultWebhookTimeout}
	}
	return w
}

// SetWebhookURL points the Simulator's pushes at url, for tests that start
// their receiver after the Simulator; "" stops new ones.
func (s *Simulator) SetWebhookURL(url string) {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	s.hooks.url = url
}

// Webhooks counts pushes: sent (attempted at least once), delivered
// (answered 2xx) and dropped (lost to WebhookDropRate, or still failing
// after the last retry).
func (s *Simulator) Webhooks() (sent, delivered, dropped int) {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	return s.hooks.sent, s.hooks.done, s.hooks.dropped
}

// FlushWebhooks waits until every push is delivered or given up, retries
// included, or until ctx ends.
func (s *Simulator) FlushWebhooks(ctx context.Context) error {
	for {
		s.hooks.mu.Lock()
		if s.hooks.pending == 0 {
			s.hooks.mu.Unlock()
			return nil
		}
		idle := s.hooks.idle
		s.hooks.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle:
		}
	}
}

// notify queues a push of a write: {"resource", "type", "record"}, the
// record as stored (for a deletion, as it was, with updated_at moved to the
// deletion time, so the deletion has a date of its own). Callers hold s.mu,
// so pushes queue in write order.
func (s *Simulator) notify(resource, typ string, record []byte) {
	w := s.hooks
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.url == "" {
		return
	}
	if w.rate > 0 && w.rng.Float64() < w.rate {
		w.dropped++
		return
	}
	body, err := json.Marshal(map[string]any{SimPushResource: resource, SimPushType: typ, SimPushRecord: json.RawMessage(record)})
	if err != nil {
		return
	}
	w.queue = append(w.queue, &simPush{body: body})
	if w.pending == 0 {
		w.idle = make(chan struct{})
	}
	w.pending++
	if !w.running {
		w.running = true
		go w.run()
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run sends until nothing is left to send or retry.
func (w *simWebhooks) run() {
	for {
		w.mu.Lock()
		p, wait := w.nextLocked(time.Now())
		if p == nil && wait < 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		url := w.url
		w.mu.Unlock()
		if p == nil {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-w.wake:
			}
			t.Stop()
			continue
		}
		ok := w.post(url, p.body)
		w.mu.Lock()
		switch {
		case ok:
			w.done++
		case url == "" || p.attempt >= len(w.retry):
			w.dropped++
		default:
			p.due = time.Now().Add(w.retry[p.attempt])
			p.attempt++
			w.waiting = append(w.waiting, p)
			w.mu.Unlock()
			continue
		}
		if w.pending--; w.pending == 0 {
			close(w.idle)
		}
		w.mu.Unlock()
	}
}

// nextLocked returns the push to send now (a due retry first), or how long
// until a retry is due (-1: none).
func (w *simWebhooks) nextLocked(now time.Time) (*simPush, time.Duration) {
	first := -1
	for i, p := range w.waiting {
		if first < 0 || p.due.Before(w.waiting[first].due) {
			first = i
		}
	}
	if first >= 0 && !w.waiting[first].due.After(now) {
		p := w.waiting[first]
		w.waiting = append(w.waiting[:first], w.waiting[first+1:]...)
		return p, 0
	}
	if len(w.queue) > 0 {
		p := w.queue[0]
		w.queue = w.queue[1:]
		w.sent++
		return p, 0
	}
	if first >= 0 {
		return nil, w.waiting[first].due.Sub(now)
	}
	return nil, -1
}

// post sends one attempt of a push, signed, and reports a 2xx answer.
func (w *simWebhooks) post(url string, body []byte) bool {
	if url == "" {
		return false
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pollwire-rest-simulator")
	mac := hmac.New(sha256.New, w.secret)
	if w.tsHeader != "" {
		ts := strconv.FormatInt(w.now().Unix(), 10)
		req.Header.Set(w.tsHeader, ts)
		mac.Write([]byte(ts + "."))
	}
	mac.Write(body)
	sig := hex.EncodeToString(mac.Sum(nil))
	if w.encoding == EncodingBase64 {
		sig = base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	if w.prefix {
		sig = "sha256=" + sig
	}
	req.Header.Set(w.header, sig)
	resp, err := w.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}
