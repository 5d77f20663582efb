package closeio

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollwire/pollwire/connectors/internal/simkit"
	"github.com/pollwire/pollwire/connectors/internal/vendorio"
)

// DefaultWebhookRetry is the Simulator's default wait before each retry of
// a failed webhook: backoff from seconds to 12 hours, 15 retries over just
// under 72 hours. Close documents retries with backoff for 72 hours (and
// pausing a subscription whose deliveries all fail for 3 days), not the
// schedule itself: these waits are an assumption.
func DefaultWebhookRetry() []time.Duration {
	return []time.Duration{
		10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour,
		12 * time.Hour, 12 * time.Hour, 12 * time.Hour, 12 * time.Hour, 8 * time.Hour,
	}
}

// DefaultWebhookTimeout is how long the default WebhookClient waits for a
// receiver to answer before the attempt counts as failed.
const DefaultWebhookTimeout = 10 * time.Second

// webhooks is the Simulator's webhook subscriptions and deliveries.
type webhooks struct {
	retry    []time.Duration
	dropRate float64
	client   *http.Client
	now      func() time.Time

	// Guarded by Simulator.mu: deliveries are decided (and drops drawn)
	// in the order mutations happen, so a run is repeatable.
	subs []*simSubscription // in creation order
	rng  *rand.Rand

	// ctx ends every pending delivery when the Simulator is closed.
	ctx    context.Context
	cancel context.CancelFunc

	sent, delivered, dropped atomic.Int64

	pmu     sync.Mutex
	pending int
	idle    chan struct{} // closed when pending falls to 0
}

// simSubscription is one webhook subscription.
type simSubscription struct {
	id, url  string
	events   []WebhookEvent
	verify   bool
	status   string // active or paused
	key      string // signature_key: 64 hex digits
	created  time.Time
	modified time.Time
}

func (h *webhooks) init(o *SimOptions) {
	h.retry = o.WebhookRetry
	if h.retry == nil {
		h.retry = DefaultWebhookRetry()
	}
	h.dropRate = o.WebhookDropRate
	if math.IsNaN(h.dropRate) || h.dropRate < 0 {
		h.dropRate = 0
	}
	h.dropRate = min(h.dropRate, 1)
	h.client = o.WebhookClient
	if h.client == nil {
		h.client = &http.Client{Timeout: DefaultWebhookTimeout}
	}
	h.now = o.Now
	seed := o.WebhookSeed
	if seed == 0 {
		seed = 0x776562686f6f6b
	}
	h.rng = rand.New(rand.NewPCG(seed, 0x64726f70))
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.idle = make(chan struct{})
	close(h.idle)
}

func (h *webhooks) begin() {
	h.pmu.Lock()
	if h.pending == 0 {
		h.idle = make(chan struct{})
	}
	h.pending++
	h.pmu.Unlock()
}

func (h *webhooks) end() {
	h.pmu.Lock()
	if h.pending--; h.pending == 0 {
		close(h.idle)
	}
	h.pmu.Unlock()
}

// Webhooks returns how many webhooks the Simulator has sent (each counted
// once however often it was retried), how many of those a receiver
// accepted with a 2xx, and how many it dropped by WebhookDropRate without
// sending. After FlushWebhooks, sent − delivered gave up.
func (s *Simulator) Webhooks() (sent, delivered, dropped int) {
	return int(s.hooks.sent.Load()), int(s.hooks.delivered.Load()), int(s.hooks.dropped.Load())
}

// FlushWebhooks waits until every webhook sent so far was accepted or
// gave up after its last retry, or until ctx ends. Tests call it instead
// of sleeping.
func (s *Simulator) FlushWebhooks(ctx context.Context) error {
	s.hooks.pmu.Lock()
	idle := s.hooks.idle
	s.hooks.pmu.Unlock()
	select {
	case <-idle: // first, alone: a done ctx must not hide that nothing is pending
		return nil
	default:
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("closeio simulator: webhooks still pending: %w", ctx.Err())
	}
}

// Close ends the pending webhook deliveries (their retries give up) and
// waits for them. The API keeps working; later webhooks fail at once.
func (s *Simulator) Close() {
	s.hooks.cancel()
	_ = s.FlushWebhooks(context.Background())
}

// AddWebhook subscribes url to events, as POST /webhook/ does, and returns
// the subscription's id and signature key.
func (s *Simulator) AddWebhook(url string, events ...WebhookEvent) (id, signatureKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.addWebhook(url, events, true)
	return sub.id, sub.key
}

// addWebhook stores a new subscription. Callers hold mu.
func (s *Simulator) addWebhook(url string, events []WebhookEvent, verify bool) *simSubscription {
	key := make([]byte, 0, 32)
	for range 4 {
		key = binary.BigEndian.AppendUint64(key, s.rng.Uint64())
	}
	now := s.now()
	sub := &simSubscription{
		id: s.newID("whsub_"), url: url, events: slices.Clone(events), verify: verify,
		status: "active", key: hex.EncodeToString(key), created: now, modified: now,
	}
	s.hooks.subs = append(s.hooks.subs, sub)
	return sub
}

func (sub *simSubscription) matches(ev *simEvent) bool {
	for _, e := range sub.events {
		if e.ObjectType == ev.objType && e.Action == ev.action {
			return true
		}
	}
	return false
}

// pushLocked sends ev to every active subscription it matches, each in its
// own goroutine: Close delivers asynchronously and in no guaranteed order.
// Callers hold mu.
func (s *Simulator) pushLocked(ev *simEvent) {
	h := &s.hooks
	for _, sub := range h.subs {
		if sub.status != "active" || !sub.matches(ev) {
			continue
		}
		if h.dropRate > 0 && h.rng.Float64() < h.dropRate {
			h.dropped.Add(1)
			continue
		}
		var body bytes.Buffer
		body.WriteString(`{"subscription_id":`)
		simkit.WriteJSONString(&body, sub.id)
		body.WriteString(`,"event":`)
		body.Write(ev.raw)
		body.WriteByte('}')
		key, _ := hex.DecodeString(sub.key)
		h.sent.Add(1)
		h.begin()
		go s.deliver(sub.url, key, body.Bytes())
	}
}

// deliver POSTs one webhook until a receiver accepts it or the retries
// run out.
func (s *Simulator) deliver(target string, key, body []byte) {
	h := &s.hooks
	defer h.end()
	for attempt := 0; ; attempt++ {
		if h.attempt(target, key, body) {
			h.delivered.Add(1)
			return
		}
		if attempt >= len(h.retry) {
			return
		}
		t := time.NewTimer(h.retry[attempt])
		select {
		case <-t.C:
		case <-h.ctx.Done():
			t.Stop()
			return
		}
	}
}

// attempt makes one delivery attempt, signed at the time it is made: a
// retry hours later carries a fresh timestamp, or receivers would refuse
// it as a replay.
func (h *webhooks) attempt(target string, key, body []byte) bool {
	stamp := strconv.FormatInt(h.now().Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(stamp))
	mac.Write(body)
	req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pollwire-closeio-simulator")
	req.Header.Set(HeaderSigHash, hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set(HeaderSigTimestamp, stamp)
	resp, err := h.client.Do(req)
	if err != nil {
		return false
	}
	vendorio.DrainClose(resp.Body)
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// Merge merges the lead sourceID into destID as Close does: the source's
// contacts, opportunities and activities move to the destination (an
// "updated" event each), the destination is updated, the source deleted,
// and a lead "merged" event names the destination. Every event of the
// merge carries merge_source_lead_id and merge_destination_lead_id in its
// meta.
func (s *Simulator) Merge(sourceID, destID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.merge(sourceID, destID)
}

func (s *Simulator) merge(srcID, dstID string) error {
	leads := s.objects[TypeLead]
	src, dst := leads.byID[srcID], leads.byID[dstID]
	switch {
	case src == nil:
		return fmt.Errorf("%w: lead %s", ErrSimNotFound, srcID)
	case dst == nil:
		return fmt.Errorf("%w: lead %s", ErrSimNotFound, dstID)
	case srcID == dstID:
		return errors.New("closeio simulator: a lead cannot be merged into itself")
	}
	meta := func() map[string]any {
		return map[string]any{"merge_source_lead_id": srcID, "merge_destination_lead_id": dstID}
	}
	now := s.now()
	for _, typ := range []string{TypeContact, TypeOpportunity, TypeActivity} {
		st := s.objects[typ]
		var ids []string
		for id, o := range st.byID {
			if o.fields["lead_id"] == srcID {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids) // map order must not leak into the event log
		for _, id := range ids {
			o := st.byID[id]
			prev := cloneJSON(o.fields).(map[string]any)
			o.fields["lead_id"] = dstID
			o.updated = now
			s.stamp(o)
			st.byUpdated = nil
			s.logEvent(o, "updated", o.fields, prev, []string{"lead_id", "date_updated"}, meta(), now)
		}
	}
	prev := cloneJSON(dst.fields).(map[string]any)
	dst.updated = now
	s.stamp(dst)
	s.logEvent(dst, "updated", dst.fields, prev, []string{"date_updated"}, meta(), now)
	delete(leads.byID, srcID)
	leads.byUpdated, leads.byCreated = nil, nil
	s.logEvent(src, "deleted", nil, src.fields, nil, meta(), now)
	s.logEvent(dst, "merged", dst.fields, nil, nil, meta(), now)
	return nil
}

// httpMerge answers POST /lead/merge/ {"source": id, "destination": id}.
func (s *Simulator) httpMerge(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Source      string `json:"source"`
		Destination string `json:"destination"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		simFieldErrors(w, map[string]any{"__all__": "The body must be {\"source\": lead id, \"destination\": lead id}."})
		return
	}
	fe := map[string]any{}
	s.mu.Lock()
	for field, id := range map[string]string{"source": body.Source, "destination": body.Destination} {
		if s.objects[TypeLead].byID[id] == nil {
			fe[field] = "Object does not exist."
		}
	}
	var err error
	if len(fe) == 0 {
		err = s.merge(body.Source, body.Destination)
	}
	s.mu.Unlock()
	switch {
	case len(fe) > 0:
		simFieldErrors(w, fe)
	case err != nil:
		simError(w, http.StatusBadRequest, err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]any{})
	}
}

// render is a subscription as Close's API shows it.
func (sub *simSubscription) render() map[string]any {
	events := make([]any, len(sub.events))
	for i, e := range sub.events {
		events[i] = map[string]any{"object_type": e.ObjectType, "action": e.Action}
	}
	return map[string]any{
		"id": sub.id, "url": sub.url, "events": events, "verify_ssl": sub.verify,
		"signature_key": sub.key, "status": sub.status,
		"date_created": sub.created.Format(EventTimeFormat), "date_updated": sub.modified.Format(EventTimeFormat),
		"created_by": nil, "updated_by": nil, "health_status": "healthy", "pause_reason": nil,
		"latest_error": nil, "counters": map[string]any{}, "recent_consecutive_fail_buckets_cnt": 0,
	}
}

// subscriptionBody is a POST or PUT /webhook/ body; nil fields were not
// given.
type subscriptionBody struct {
	URL    *string `json:"url"`
	Events *[]struct {
		ObjectType  string `json:"object_type"`
		Action      string `json:"action"`
		ExtraFilter any    `json:"extra_filter"`
	} `json:"events"`
	VerifySSL *bool   `json:"verify_ssl"`
	Status    *string `json:"status"`
}

// check validates the fields given; create requires url and events.
func (b *subscriptionBody) check(create bool) (events []WebhookEvent, fe map[string]any) {
	fe = map[string]any{}
	switch {
	case b.URL == nil && create:
		fe["url"] = "This field is required."
	case b.URL != nil:
		if u, err := url.Parse(*b.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fe["url"] = "Enter a valid http or https URL."
		}
	}
	switch {
	case b.Events == nil && create:
		fe["events"] = "This field is required."
	case b.Events != nil && len(*b.Events) == 0:
		fe["events"] = "Subscribe to at least one event."
	case b.Events != nil:
		for _, e := range *b.Events {
			if e.ExtraFilter != nil {
				fe["events"] = "extra_filter is not supported by the simulator."
				break
			}
			if !validWebhookEvent(e.ObjectType, e.Action) {
				fe["events"] = fmt.Sprintf("Invalid event: object_type %q, action %q.", e.ObjectType, e.Action)
				break
			}
			events = append(events, WebhookEvent{ObjectType: e.ObjectType, Action: e.Action})
		}
	}
	if b.Status != nil && create {
		fe["status"] = "Unknown field." // Close's CreateWebhook has no status
	} else if b.Status != nil && *b.Status != "active" && *b.Status != "paused" {
		fe["status"] = "status must be active or paused."
	}
	if len(fe) == 0 {
		fe = nil
	}
	return events, fe
}

// validWebhookEvent reports whether the Simulator can fire on (objectType,
// action): created, updated and deleted of leads, contacts, opportunities
// and activity types, and lead merges.
func validWebhookEvent(objectType, action string) bool {
	switch {
	case objectType == TypeLead && action == "merged":
		return true
	case action != "created" && action != "updated" && action != "deleted":
		return false
	case objectType == TypeLead || objectType == TypeContact || objectType == TypeOpportunity:
		return true
	}
	name, ok := strings.CutPrefix(objectType, "activity.")
	if !ok || name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c != '_' && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// serveWebhook answers /webhook/ and /webhook/{id}/.
func (s *Simulator) serveWebhook(w http.ResponseWriter, r *http.Request, id string) {
	switch {
	case id == "" && r.Method == http.MethodGet:
		s.mu.Lock()
		data := make([]any, len(s.hooks.subs))
		for i, sub := range s.hooks.subs {
			data[i] = sub.render()
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"has_more": false, "data": data})
	case id == "" && r.Method == http.MethodPost:
		b, ok := readSubscription(w, r)
		if !ok {
			return
		}
		events, fe := b.check(true)
		if fe != nil {
			simFieldErrors(w, fe)
			return
		}
		verify := b.VerifySSL == nil || *b.VerifySSL
		s.mu.Lock()
		out := s.addWebhook(*b.URL, events, verify).render()
		s.mu.Unlock()
		writeJSON(w, http.StatusCreated, out)
	case id != "" && r.Method == http.MethodGet:
		s.mu.Lock()
		var out map[string]any
		if sub := s.subscription(id); sub != nil {
			out = sub.render()
		}
		s.mu.Unlock()
		if out == nil {
			simError(w, http.StatusNotFound, "Empty query: webhook subscription matching query does not exist.")
			return
		}
		writeJSON(w, http.StatusOK, out)
	case id != "" && r.Method == http.MethodPut:
		b, ok := readSubscription(w, r)
		if !ok {
			return
		}
		events, fe := b.check(false)
		if fe != nil {
			simFieldErrors(w, fe)
			return
		}
		s.mu.Lock()
		var out map[string]any
		if sub := s.subscription(id); sub != nil {
			if b.URL != nil {
				sub.url = *b.URL
			}
			if events != nil {
				sub.events = events
			}
			if b.VerifySSL != nil {
				sub.verify = *b.VerifySSL
			}
			if b.Status != nil {
				sub.status = *b.Status
			}
			sub.modified = s.now()
			out = sub.render()
		}
		s.mu.Unlock()
		if out == nil {
			simError(w, http.StatusNotFound, "Empty query: webhook subscription matching query does not exist.")
			return
		}
		writeJSON(w, http.StatusOK, out)
	case id != "" && r.Method == http.MethodDelete:
		s.mu.Lock()
		n := len(s.hooks.subs)
		s.hooks.subs = slices.DeleteFunc(s.hooks.subs, func(sub *simSubscription) bool { return sub.id == id })
		gone := len(s.hooks.subs) < n
		s.mu.Unlock()
		if !gone {
			simError(w, http.StatusNotFound, "Empty query: webhook subscription matching query does not exist.")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{})
	default:
		simError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method))
	}
}

// subscription finds a subscription by id. Callers hold mu.
func (s *Simulator) subscription(id string) *simSubscription {
	for _, sub := range s.hooks.subs {
		if sub.id == id {
			return sub
		}
	}
	return nil
}

// readSubscription decodes a subscription body, refusing unknown fields as
// Close's schema does (additionalProperties: false).
func readSubscription(w http.ResponseWriter, r *http.Request) (*subscriptionBody, bool) {
	var b subscriptionBody
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		simFieldErrors(w, map[string]any{"__all__": "The body must be a JSON object of url, events and verify_ssl: " + err.Error()})
		return nil, false
	}
	return &b, true
}
