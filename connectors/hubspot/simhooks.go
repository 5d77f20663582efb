package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
)

// DefaultWebhookRetry is the Simulator's wait before each retry of a failed
// webhook request: ten retries spread over about 24 hours, as HubSpot
// documents ("up to 10 times", "over the course of 24 hours"). HubSpot
// randomizes each delay; the Simulator does not, so tests repeat.
var DefaultWebhookRetry = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 8 * time.Hour,
}

// DefaultWebhookTimeout is how long the Simulator waits for a webhook
// answer before it counts the attempt as failed.
const DefaultWebhookTimeout = 5 * time.Second

// Defaults of the Simulator's webhook payloads: the ids of HubSpot's
// documented example.
const (
	DefaultPortalID = 62515
	DefaultAppID    = 54321
)

// simWebhookTypes are how HubSpot names each object type's webhook events:
// the legacy subscription types (contact.creation…) where they exist, else
// the generic object.* types with the object's objectTypeId.
var simWebhookTypes = map[string]struct{ legacy, typeID string }{
	"contacts":  {"contact", "0-1"},
	"companies": {"company", "0-2"},
	"deals":     {"deal", "0-3"},
	"calls":     {"", "0-48"},
	"emails":    {"", "0-49"},
	"meetings":  {"", "0-47"},
	"notes":     {"", "0-46"},
	"tasks":     {"", "0-27"},
}

// simEvent is one webhook event, in HubSpot's field order.
type simEvent struct {
	EventID          int64   `json:"eventId"`
	SubscriptionID   int64   `json:"subscriptionId"`
	PortalID         int64   `json:"portalId"`
	AppID            int64   `json:"appId"`
	OccurredAt       int64   `json:"occurredAt"`
	SubscriptionType string  `json:"subscriptionType"`
	AttemptNumber    int     `json:"attemptNumber"`
	ObjectID         int64   `json:"objectId"`
	ObjectTypeID     string  `json:"objectTypeId,omitempty"`
	PropertyName     string  `json:"propertyName,omitempty"`
	PropertyValue    *string `json:"propertyValue,omitempty"`
	ChangeSource     string  `json:"changeSource"`
}

// simBatch is one webhook request's events and its retry state.
type simBatch struct {
	events  []simEvent
	attempt int // attemptNumber of the next try
	due     time.Time
}

// simWebhooks sends the Simulator's webhooks: one request at a time (so
// events written meanwhile gather into the next batch, as HubSpot batches),
// failed batches retried on their schedule without holding up new ones.
// Waits are real time: the Simulator's clock stamps records and signatures,
// and a test's fake clock would never let a retry come due.
type simWebhooks struct {
	now    func() time.Time
	secret string
	rate   float64
	retry  []time.Duration
	batch  int
	client *http.Client
	props  map[string]bool // nil: every property
	portal int64
	app    int64

	mu      sync.Mutex
	url     string
	rng     *rand.Rand
	seq     int64
	subs    map[string]int64 // subscription type (+ property) → subscriptionId
	queue   []simEvent
	waiting []*simBatch
	running bool
	wake    chan struct{}
	pending int           // events neither delivered nor given up
	idle    chan struct{} // closed while pending is 0
	sent    int
	done    int
	dropped int
}

func newSimWebhooks(o *SimOptions) *simWebhooks {
	w := &simWebhooks{
		now: o.Now, secret: o.WebhookSecret, rate: o.WebhookDropRate, retry: o.WebhookRetry,
		batch: o.WebhookBatch, client: o.WebhookClient, portal: o.PortalID, app: o.AppID,
		url: o.WebhookURL, rng: rand.New(rand.NewPCG(o.WebhookSeed, o.WebhookSeed^0x9e3779b97f4a7c15)),
		subs: map[string]int64{}, wake: make(chan struct{}, 1), idle: make(chan struct{}),
	}
	close(w.idle)
	if w.secret == "" {
		w.secret = o.ClientSecret
	}
	if w.retry == nil {
		w.retry = DefaultWebhookRetry
	}
	if w.batch <= 0 || w.batch > MaxWebhookEvents {
		w.batch = MaxWebhookEvents
	}
	if w.client == nil {
		w.client = &http.Client{Timeout: DefaultWebhookTimeout}
	}
	if o.WebhookProperties != nil {
		w.props = map[string]bool{}
		for _, p := range o.WebhookProperties {
			w.props[p] = true
		}
	}
	if w.portal == 0 {
		w.portal = DefaultPortalID
	}
	if w.app == 0 {
		w.app = DefaultAppID
	}
	return w
}

// SetWebhookURL points the Simulator's webhooks at url, for tests that start
// their receiver after the Simulator; "" stops new ones. Events already
// queued go to the new URL.
func (s *Simulator) SetWebhookURL(url string) {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	s.hooks.url = url
}

// Webhooks counts webhook events: sent (put in a request at least once),
// delivered (in a request answered 2xx) and dropped (lost to
// WebhookDropRate, refused with 400, 401, 403, 404 or 405, which HubSpot
// does not retry, or still failing after the last retry).
func (s *Simulator) Webhooks() (sent, delivered, dropped int) {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	return s.hooks.sent, s.hooks.done, s.hooks.dropped
}

// FlushWebhooks waits until every webhook event is delivered or given up,
// retries included, or until ctx ends.
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

// notify queues the webhook events of a write: a creation with a
// propertyChange for each property it set, a propertyChange for each
// property an update set (cleared ones with an empty value), or a deletion.
// All carry the record's new modification time as occurredAt, which is
// what the poller reads as updatedAt (archivedAt for a deletion). Callers
// hold s.mu, so events queue in write order.
func (s *Simulator) notify(action string, o *simObject, props map[string]string) {
	w := s.hooks
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.url == "" {
		return
	}
	names := make([]string, 0, len(props))
	for k, v := range props {
		if (w.props == nil || w.props[k]) && (action != "creation" || v != "") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var evs []simEvent
	if action != "propertyChange" {
		evs = append(evs, w.event(o, action, "", nil))
	}
	if action != "deletion" {
		for _, k := range names {
			v := props[k]
			evs = append(evs, w.event(o, "propertyChange", k, &v))
		}
	}
	if len(evs) == 0 {
		return
	}
	// A lost notification loses all of a write's events, as a lost
	// request would.
	if w.rate > 0 && w.rng.Float64() < w.rate {
		w.dropped += len(evs)
		return
	}
	w.queue = append(w.queue, evs...)
	if w.pending == 0 {
		w.idle = make(chan struct{})
	}
	w.pending += len(evs)
	if !w.running {
		w.running = true
		go w.run()
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// event builds one event of o. Callers hold w.mu.
func (w *simWebhooks) event(o *simObject, action, prop string, value *string) simEvent {
	t := simWebhookTypes[o.typ]
	ev := simEvent{PortalID: w.portal, AppID: w.app, OccurredAt: o.updated.UnixMilli(), ChangeSource: "CRM", PropertyName: prop, PropertyValue: value}
	if t.legacy != "" {
		ev.SubscriptionType = t.legacy + "." + action
	} else {
		ev.SubscriptionType, ev.ObjectTypeID = "object."+action, t.typeID
	}
	ev.ObjectID, _ = strconv.ParseInt(o.id, 10, 64)
	w.seq++
	ev.EventID = w.seq
	sub := ev.SubscriptionType + "/" + ev.ObjectTypeID + "/" + prop
	if w.subs[sub] == 0 {
		w.subs[sub] = int64(100000 + len(w.subs))
	}
	ev.SubscriptionID = w.subs[sub]
	return ev
}

// run sends until nothing is left to send or retry, then ends; notify
// starts it again.
func (w *simWebhooks) run() {
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
		status := w.post(url, b)
		w.mu.Lock()
		w.settleLocked(b, status, time.Now())
		w.mu.Unlock()
	}
}

// nextLocked returns the batch to send now: a retry that is due first,
// else up to batch new events. With none, wait is how long until the next
// retry is due, or -1 when there is none.
func (w *simWebhooks) nextLocked(now time.Time) (b *simBatch, wait time.Duration) {
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
		n := min(len(w.queue), w.batch)
		b = &simBatch{events: append([]simEvent(nil), w.queue[:n]...)}
		w.queue = w.queue[n:]
		w.sent += n
		return b, 0
	}
	if first >= 0 {
		return nil, w.waiting[first].due.Sub(now)
	}
	return nil, -1
}

// post sends one attempt of b, signed, and returns the answer's status (0
// when there was none).
func (w *simWebhooks) post(url string, b *simBatch) int {
	if url == "" {
		return 0
	}
	for i := range b.events {
		b.events[i].AttemptNumber = b.attempt
	}
	body, err := json.Marshal(b.events)
	if err != nil {
		return 0
	}
	ts := strconv.FormatInt(w.now().UnixMilli(), 10)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "HubSpot Connect 2.0 (http://dev.hubspot.com/) - pollwire simulator")
	req.Header.Set(HeaderRequestTimestamp, ts)
	req.Header.Set(HeaderSignatureV3, SignV3(w.secret, http.MethodPost, DecodeSignedURI(url), body, ts))
	resp, err := w.client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode
}

// settleLocked records an attempt's outcome: delivered, given up, or due
// for a retry. Callers hold w.mu.
func (w *simWebhooks) settleLocked(b *simBatch, status int, now time.Time) {
	n := len(b.events)
	switch {
	case status >= 200 && status < 300:
		w.done += n
	case noRetry(status) || w.url == "" || b.attempt >= len(w.retry):
		w.dropped += n
	default:
		b.due = now.Add(w.retry[b.attempt])
		b.attempt++
		w.waiting = append(w.waiting, b)
		return
	}
	if w.pending -= n; w.pending == 0 {
		close(w.idle)
	}
}

// noRetry reports the answers HubSpot does not retry: the receiver said
// the request itself is wrong.
func noRetry(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed:
		return true
	}
	return false
}
