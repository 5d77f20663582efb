package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/pollwire/pollwire/connectors/internal/simkit"
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

// simWebhooks sends the Simulator's webhooks through a simkit.Webhooks:
// one request at a time (so events written meanwhile gather into the next
// batch, as HubSpot batches), failed batches retried on their schedule
// without holding up new ones.
type simWebhooks struct {
	send   *simkit.Webhooks[simEvent]
	now    func() time.Time
	secret string
	rate   float64
	client *http.Client
	props  map[string]bool // nil: every property
	portal int64
	app    int64

	// Used only under send's lock, in Notify.
	rng  *rand.Rand
	seq  int64
	subs map[string]int64 // subscription type (+ property) → subscriptionId
}

func newSimWebhooks(o *SimOptions) *simWebhooks {
	w := &simWebhooks{
		now: o.Now, secret: o.WebhookSecret, rate: o.WebhookDropRate,
		client: o.WebhookClient, portal: o.PortalID, app: o.AppID,
		rng:  rand.New(rand.NewPCG(o.WebhookSeed, o.WebhookSeed^0x9e3779b97f4a7c15)),
		subs: map[string]int64{},
	}
	if w.secret == "" {
		w.secret = o.ClientSecret
	}
	retry := o.WebhookRetry
	if retry == nil {
		retry = DefaultWebhookRetry
	}
	batch := o.WebhookBatch
	if batch <= 0 || batch > MaxWebhookEvents {
		batch = MaxWebhookEvents
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
	w.send = simkit.NewWebhooks(simkit.WebhookOptions[simEvent]{
		URL: o.WebhookURL, Retry: retry, Batch: batch, Post: w.post,
		// HubSpot does not retry what the receiver refused; nor does the
		// Simulator once its URL is unset.
		GiveUp: func(status int, _, now string) bool { return noRetry(status) || now == "" },
	})
	return w
}

// SetWebhookURL points the Simulator's webhooks at url, for tests that start
// their receiver after the Simulator; "" stops new ones. Events already
// queued go to the new URL.
func (s *Simulator) SetWebhookURL(url string) {
	s.hooks.send.SetURL(url)
}

// Webhooks counts webhook events: sent (put in a request at least once),
// delivered (in a request answered 2xx) and dropped (lost to
// WebhookDropRate, refused with 400, 401, 403, 404 or 405, which HubSpot
// does not retry, or still failing after the last retry).
func (s *Simulator) Webhooks() (sent, delivered, dropped int) {
	return s.hooks.send.Counts()
}

// FlushWebhooks waits until every webhook event is delivered or given up,
// retries included, or until ctx ends.
func (s *Simulator) FlushWebhooks(ctx context.Context) error {
	return s.hooks.send.Flush(ctx)
}

// notify queues the webhook events of a write: a creation with a
// propertyChange for each property it set, a propertyChange for each
// property an update set (cleared ones with an empty value), or a deletion.
// All carry the record's new modification time as occurredAt, which is
// what the poller reads as updatedAt (archivedAt for a deletion). Callers
// hold s.mu, so events queue in write order.
func (s *Simulator) notify(action string, o *simObject, props map[string]string) {
	w := s.hooks
	w.send.Notify(func() ([]simEvent, int) {
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
			return nil, 0
		}
		// A lost notification loses all of a write's events, as a lost
		// request would.
		if w.rate > 0 && w.rng.Float64() < w.rate {
			return nil, len(evs)
		}
		return evs, 0
	})
}

// event builds one event of o. Callers are in send's Notify.
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

// post sends one attempt of a batch of events, signed, and returns the
// answer's status (0 when there was none).
func (w *simWebhooks) post(url string, attempt int, events []simEvent) int {
	if url == "" {
		return 0
	}
	for i := range events {
		events[i].AttemptNumber = attempt
	}
	body, err := json.Marshal(events)
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
	return simkit.Send(w.client, req)
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
