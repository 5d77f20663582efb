package closeio

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/internal/vendorio"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
)

// The headers Close signs its webhooks with: HeaderSigHash is
// hex(HMAC-SHA256(key = hex-decoded signature_key, message =
// HeaderSigTimestamp's value followed by the raw body)); the timestamp is
// Unix seconds.
const (
	HeaderSigHash      = "Close-Sig-Hash"
	HeaderSigTimestamp = "Close-Sig-Timestamp"
)

// KeyWebhookSubscriptionID is the instance secret Subscribe sets to the id
// (whsub_…) of the Close webhook subscription it made, for Unsubscribe.
const KeyWebhookSubscriptionID = "event.webhook.subscription.id"

// MaxWebhookSkew is how far ahead of the intake's clock a close-sig-timestamp
// may be. Clocks drift, but a request signed well in the future was
// made to be replayed then.
const MaxWebhookSkew = 5 * time.Minute

// maxSubscriptionPages bounds the paging of GET /webhook/: an organization
// has a handful of subscriptions, so a listing that does not end is Close
// (or a proxy) misbehaving.
const maxSubscriptionPages = 100

var (
	_ source.Webhook    = (*Source)(nil)
	_ source.Subscriber = (*Source)(nil)
)

// WebhookEvent is one (object type, action) pair a Close webhook
// subscription fires on, as Close's POST /webhook/ takes it.
type WebhookEvent struct {
	ObjectType string `json:"object_type"`
	Action     string `json:"action"`
}

// webhookActions are the actions subscribed to for every object type.
// "merged" is left out on purpose: Close sends the lead "updated" and
// "deleted" events of a merge as well, and the source lead's deletion time
// in a "merged" event is not documented to equal its "deleted" event's,
// which the poller's deletion feed reports; subscribing to both could
// deliver one deletion twice.
var webhookActions = []string{"created", "updated", "deleted"}

// hubObjectTypes are the event object types behind each hub resource.
func hubObjectTypes(hub string) []string {
	switch hub {
	case ResourceAccounts:
		return []string{TypeLead}
	case ResourceContacts:
		return []string{TypeContact}
	case ResourceOpportunities:
		return []string{TypeOpportunity}
	case ResourceActivities:
		return ActivityEventTypes
	}
	return nil
}

// hubResourceOf is the hub resource whose records an event's object type
// names, "" for object types no poller reads (tasks, status changes…).
// Every activity.* type is an activity: GET /activity/ lists them all.
func hubResourceOf(objectType string) string {
	switch {
	case objectType == TypeLead:
		return ResourceAccounts
	case objectType == TypeContact:
		return ResourceContacts
	case objectType == TypeOpportunity:
		return ResourceOpportunities
	case strings.HasPrefix(objectType, "activity.") && len(objectType) > len("activity."):
		return ResourceActivities
	}
	return ""
}

// hubResources are the hub resources an instance reports: those of its
// /hubs/crm pollers, or all of Close's when it has none (a webhook-only
// instance).
func hubResources(s *instances.Settings) []string {
	var out []string
	if s != nil {
		for _, p := range s.Pollers {
			if p.HubResource != "" && Spec.HasResource(p.HubResource) && !slices.Contains(out, p.HubResource) {
				out = append(out, p.HubResource)
			}
		}
	}
	if len(out) == 0 {
		return Spec.Resources
	}
	// Spec's order, so that the subscription reads the same every time.
	var sorted []string
	for _, r := range Spec.Resources {
		if slices.Contains(out, r) {
			sorted = append(sorted, r)
		}
	}
	return sorted
}

// SubscriptionEvents are the events Subscribe asks Close for: created,
// updated and deleted of the object types behind the instance's hub
// resources (all four when it has no /hubs/crm poller).
func SubscriptionEvents(s *instances.Settings) []WebhookEvent {
	var out []WebhookEvent
	for _, hub := range hubResources(s) {
		for _, t := range hubObjectTypes(hub) {
			for _, a := range webhookActions {
				out = append(out, WebhookEvent{ObjectType: t, Action: a})
			}
		}
	}
	return out
}

// Verify checks Close's signature of a pushed request: close-sig-hash
// must be the HMAC-SHA256, keyed with the instance's hex signature key
// (event.webhook.signature.key), of close-sig-timestamp followed by the
// raw body, and the timestamp at most source.MaxWebhookAge before req.Now
// and MaxWebhookSkew after it. Every refusal wraps source.ErrSignature and
// says why. It does not touch the network.
func (s *Source) Verify(req *source.WebhookRequest) error {
	if req == nil || req.Instance == nil {
		return refuse("the request names no instance")
	}
	secret, _ := req.Instance.Value(connectors.KeyWebhookSecret)
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return refuse("the instance has no %s (subscribe, or set Close's signature_key)", connectors.KeyWebhookSecret)
	}
	key, err := hex.DecodeString(secret)
	if err != nil || len(key) == 0 {
		return refuse("the instance's %s is not hex, as Close's signature_key is", connectors.KeyWebhookSecret)
	}
	hash, err := oneHeader(req.Header, HeaderSigHash)
	if err != nil {
		return err
	}
	stamp, err := oneHeader(req.Header, HeaderSigTimestamp)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(hash)
	if err != nil {
		return refuse("%s %q is not hex", HeaderSigHash, vendorio.Clip(vendorio.OneLine(hash), 80))
	}
	if len(got) != sha256.Size {
		return refuse("%s has %d bytes, not the %d of an HMAC-SHA256", HeaderSigHash, len(got), sha256.Size)
	}
	sec, err := unixSeconds(stamp)
	if err != nil {
		return refuse("%s %q is not a Unix time in seconds", HeaderSigTimestamp, vendorio.Clip(vendorio.OneLine(stamp), 40))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(stamp))
	mac.Write(req.Body)
	// hmac.Equal compares in constant time: a mismatch's position must not
	// leak through timing.
	if !hmac.Equal(mac.Sum(nil), got) {
		return refuse("%s does not match the body and timestamp (wrong key, or the body was changed)", HeaderSigHash)
	}
	// Checked after the signature, so that "stale" only ever describes a
	// request Close really signed: a replay, or a retry signed long ago.
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	at := time.Unix(sec, 0)
	if age := now.Sub(at); age > source.MaxWebhookAge {
		return refuse("signed %s ago (%s), more than %s", age.Round(time.Second), at.UTC().Format(time.RFC3339), source.MaxWebhookAge)
	}
	if ahead := at.Sub(now); ahead > MaxWebhookSkew {
		return refuse("signed %s in the future (%s), more than %s", ahead.Round(time.Second), at.UTC().Format(time.RFC3339), MaxWebhookSkew)
	}
	return nil
}

func refuse(format string, a ...any) error {
	return fmt.Errorf("closeio: %s: %w", fmt.Sprintf(format, a...), source.ErrSignature)
}

// oneHeader returns the single value of a signature header; a missing,
// empty or repeated one is refused, since which copy was signed is unknown.
func oneHeader(h http.Header, name string) (string, error) {
	vs := h.Values(name)
	switch {
	case len(vs) == 0 || strings.TrimSpace(vs[0]) == "":
		return "", refuse("the %s header is missing", name)
	case len(vs) > 1:
		return "", refuse("the %s header is repeated", name)
	}
	return strings.TrimSpace(vs[0]), nil
}

// unixSeconds reads a timestamp of 1 to 12 digits: no sign, no fraction,
// nothing a lenient parser would accept that Close does not send.
func unixSeconds(v string) (int64, error) {
	if len(v) == 0 || len(v) > 12 {
		return 0, errors.New("not 1 to 12 digits")
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, errors.New("not digits")
		}
	}
	return strconv.ParseInt(v, 10, 64)
}

// Changes turns a verified Close webhook, {"subscription_id", "event":
// {…}}, into changes:
//
//	lead, contact, opportunity, activity.*  created / updated → CREATED / UPDATED of event.data
//	                                        deleted           → DELETED of event.object_id
//	lead                                    merged            → DELETED of meta.merge_source_lead_id,
//	                                                            then UPDATED of event.data (the destination)
//
// A record's Date is read from event.data exactly as the instance's poller
// of that resource reads records (its updatedDateField and format; Close's
// date_updated otherwise), and a deletion's is the event's date_updated
// read as the poller's deletion feed reads it: the engine dedupes a change
// seen both ways on (ObjectID, Date). Resource is the name of each poller
// reading that hub resource (the hub resource itself when the instance has
// no /hubs/crm poller). Other object types and actions (tasks, "sent",
// "completed"…) and resources the instance does not poll yield no change.
// A payload that is not Close's shape, or a record without its id or date,
// is an error wrapping ErrWebhookPayload.
func (s *Source) Changes(req *source.WebhookRequest) ([]source.Change, error) {
	if req == nil {
		return nil, fmt.Errorf("%w: no request", ErrWebhookPayload)
	}
	body := bytes.TrimPrefix(req.Body, utf8BOM)
	if !vendorio.ValidJSON(body, vendorio.MaxDepth) {
		return nil, fmt.Errorf("%w: %v", ErrWebhookPayload, vendorio.InvalidJSON(body, vendorio.MaxDepth))
	}
	doc := gjson.ParseBytes(body)
	ev := doc.Get("event")
	if !doc.IsObject() || !ev.IsObject() {
		return nil, fmt.Errorf("%w: the body is not {\"event\": {…}}", ErrWebhookPayload)
	}
	objType, action := ev.Get("object_type"), ev.Get("action")
	if objType.Type != gjson.String || action.Type != gjson.String {
		return nil, fmt.Errorf("%w: event %s has no object_type or action", ErrWebhookPayload, eventName(ev))
	}
	hub := hubResourceOf(objType.Str)
	if hub == "" {
		return nil, nil
	}
	targets := webhookTargets(req.Settings, hub)
	if len(targets) == 0 {
		return nil, nil
	}
	raw := []byte(ev.Raw)

	var out []source.Change
	switch action.Str {
	case "created", "updated":
		typ := "UPDATED"
		if action.Str == "created" {
			typ = "CREATED"
		}
		for _, t := range targets {
			c, err := recordChange(ev, t, typ, raw)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	case "deleted":
		for _, t := range targets {
			c, err := deletedChange(ev, ev.Get("object_id"), t, raw)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	case "merged":
		if hub != ResourceAccounts {
			return nil, nil
		}
		for _, t := range targets {
			del, err := deletedChange(ev, ev.Get("meta.merge_source_lead_id"), t, raw)
			if err != nil {
				return nil, err
			}
			upd, err := recordChange(ev, t, "UPDATED", raw)
			if err != nil {
				return nil, err
			}
			out = append(out, del, upd)
		}
	}
	return out, nil
}

// target is a poller resource a change is reported under, with the poller
// whose id and date fields read it (nil: Close's id and date_updated).
type target struct {
	resource string
	poller   *instances.Poller
}

// webhookTargets are the pollers reading hub: every /hubs/crm poller of it,
// or the hub resource alone when the instance has no /hubs/crm poller; none
// when it polls other resources only.
func webhookTargets(s *instances.Settings, hub string) []target {
	var out []target
	hasHub := false
	if s != nil {
		for i := range s.Pollers {
			p := &s.Pollers[i]
			if p.HubResource == "" {
				continue
			}
			hasHub = true
			if p.HubResource == hub {
				out = append(out, target{p.Resource, p})
			}
		}
	}
	if !hasHub {
		return []target{{resource: hub}}
	}
	return out
}

// defaultUpdated is how a record's date is read without a poller: the hub
// default, Close's date_updated in RFC 3339 with microseconds.
var defaultUpdated = instances.DateField{Field: "date_updated"}

// recordChange is the change of event.data under t.
func recordChange(ev gjson.Result, t target, typ string, raw []byte) (source.Change, error) {
	data := ev.Get("data")
	if !data.IsObject() {
		return source.Change{}, fmt.Errorf("%w: %s event %s has no data", ErrWebhookPayload, ev.Get("action").Str, eventName(ev))
	}
	idField, date := "id", defaultUpdated
	if t.poller != nil {
		if t.poller.IDField != "" {
			idField = t.poller.IDField
		}
		if t.poller.Updated.Field != "" {
			date = t.poller.Updated
		}
	}
	idv := data.Get(idField)
	id := idv.String()
	if !idv.Exists() || id == "" || idv.IsObject() || idv.IsArray() {
		return source.Change{}, fmt.Errorf("%w: event %s: the record has no id at %q", ErrWebhookPayload, eventName(ev), idField)
	}
	// Read as the engine reads a polled record's date: any value's text,
	// through the poller's format.
	dv := data.Get(date.Field)
	if !dv.Exists() || dv.Type == gjson.Null || dv.String() == "" {
		return source.Change{}, fmt.Errorf("%w: event %s: record %s has no %s", ErrWebhookPayload, eventName(ev), vendorio.Clip(id, 80), date.Field)
	}
	at, err := date.Parse(dv.String())
	if err != nil {
		return source.Change{}, fmt.Errorf("%w: event %s: record %s: %s %q: %v", ErrWebhookPayload, eventName(ev), vendorio.Clip(id, 80), date.Field, vendorio.Clip(dv.String(), 60), err)
	}
	return source.Change{Resource: t.resource, Type: typ, ObjectID: strings.Clone(id), Date: at, Raw: bytes.Clone(raw)}, nil
}

// deletedChange is the deletion of the object idv names, dated as the
// poller's deletion feed dates the same event (parseEventTime of the
// event's date_updated).
func deletedChange(ev, idv gjson.Result, t target, raw []byte) (source.Change, error) {
	if idv.Type != gjson.String || idv.Str == "" {
		return source.Change{}, fmt.Errorf("%w: %s event %s names no object", ErrWebhookPayload, ev.Get("action").Str, eventName(ev))
	}
	d := ev.Get("date_updated")
	at, ok := parseEventTime(d.String())
	if d.Type != gjson.String || !ok {
		return source.Change{}, fmt.Errorf("%w: event %s: date_updated %q is not a date", ErrWebhookPayload, eventName(ev), vendorio.Clip(d.String(), 60))
	}
	return source.Change{Resource: t.resource, Type: "DELETED", ObjectID: strings.Clone(idv.Str), Date: at, Raw: bytes.Clone(raw)}, nil
}

func eventName(ev gjson.Result) string {
	if id := ev.Get("id"); id.Type == gjson.String && id.Str != "" {
		return vendorio.Clip(vendorio.OneLine(id.Str), 80)
	}
	return "(without id)"
}

// subscription is a Close webhook subscription as its API answers.
type subscription struct {
	ID           string         `json:"id"`
	URL          string         `json:"url"`
	Events       []WebhookEvent `json:"events"`
	SignatureKey string         `json:"signature_key"`
	Status       string         `json:"status"`
}

// Subscribe makes Close push the instance's changes to req.CallbackURL:
// POST {base.url}/webhook/ with the SubscriptionEvents and verify_ssl, with
// the instance's API key. A subscription Close already has for the same URL
// — or, failing that, the one the instance's KeyWebhookSubscriptionID names
// — is reused (PUT with the URL and events, active again) rather than
// doubled, and further ones for that URL are deleted: each would push every
// change again, signed with a key pollwire does not hold. It returns the
// signature key (event.webhook.signature.key) and the subscription id
// (KeyWebhookSubscriptionID) to store with the instance.
func (s *Source) Subscribe(ctx context.Context, req *source.SubscribeRequest) (map[string]string, error) {
	if req == nil || req.CallbackURL == "" {
		return nil, errors.New("closeio: subscribe: no callback URL")
	}
	api, err := s.newAPI(req.Settings, req.Instance, req.Client)
	if err != nil {
		return nil, err
	}
	subs, err := api.subscriptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("closeio: subscribe: %w", err)
	}
	var keep *subscription
	var extra []string
	for i := range subs {
		if subs[i].URL != req.CallbackURL {
			continue
		}
		if keep == nil {
			keep = &subs[i]
		} else {
			extra = append(extra, subs[i].ID)
		}
	}
	if stored, _ := req.Instance.Value(KeyWebhookSubscriptionID); keep == nil && stored != "" {
		// The instance's callback URL moved: point its subscription at the
		// new one rather than leave it pushing to the old.
		for i := range subs {
			if subs[i].ID == stored {
				keep = &subs[i]
			}
		}
	}
	events := SubscriptionEvents(req.Settings)
	var sub subscription
	if keep != nil {
		body, _ := json.Marshal(map[string]any{"url": req.CallbackURL, "events": events, "verify_ssl": true, "status": "active"})
		if err := api.call(ctx, http.MethodPut, "/webhook/"+url.PathEscape(keep.ID)+"/", body, &sub); err != nil {
			return nil, fmt.Errorf("closeio: subscribe: updating subscription %s: %w", keep.ID, err)
		}
		if sub.SignatureKey == "" {
			sub.SignatureKey = keep.SignatureKey
		}
		if sub.ID == "" {
			sub.ID = keep.ID
		}
	} else {
		body, _ := json.Marshal(map[string]any{"url": req.CallbackURL, "events": events, "verify_ssl": true})
		if err := api.call(ctx, http.MethodPost, "/webhook/", body, &sub); err != nil {
			return nil, fmt.Errorf("closeio: subscribe: %w", err)
		}
	}
	if sub.ID == "" {
		return nil, errors.New("closeio: subscribe: Close answered without a subscription id")
	}
	if k, err := hex.DecodeString(sub.SignatureKey); err != nil || len(k) == 0 {
		return nil, fmt.Errorf("closeio: subscribe: subscription %s: signature_key %q is not hex", sub.ID, vendorio.Clip(sub.SignatureKey, 80))
	}
	for _, id := range extra {
		if err := api.deleteSubscription(ctx, id); err != nil {
			return nil, fmt.Errorf("closeio: subscribe: deleting duplicate subscription %s: %w", id, err)
		}
	}
	return map[string]string{
		connectors.KeyWebhookSecret: sub.SignatureKey,
		KeyWebhookSubscriptionID:    sub.ID,
	}, nil
}

// Unsubscribe deletes the subscription the instance's
// KeyWebhookSubscriptionID names (DELETE {base.url}/webhook/{id}/); without
// one, every subscription to req.CallbackURL. A subscription already gone
// is not an error.
func (s *Source) Unsubscribe(ctx context.Context, req *source.SubscribeRequest) error {
	if req == nil {
		return errors.New("closeio: unsubscribe: no request")
	}
	api, err := s.newAPI(req.Settings, req.Instance, req.Client)
	if err != nil {
		return err
	}
	id, _ := req.Instance.Value(KeyWebhookSubscriptionID)
	if id != "" {
		if err := api.deleteSubscription(ctx, id); err != nil {
			return fmt.Errorf("closeio: unsubscribe: %w", err)
		}
		return nil
	}
	if req.CallbackURL == "" {
		return fmt.Errorf("closeio: unsubscribe: the instance has no %s and no callback URL is given", KeyWebhookSubscriptionID)
	}
	subs, err := api.subscriptions(ctx)
	if err != nil {
		return fmt.Errorf("closeio: unsubscribe: %w", err)
	}
	for _, sub := range subs {
		if sub.URL == req.CallbackURL {
			if err := api.deleteSubscription(ctx, sub.ID); err != nil {
				return fmt.Errorf("closeio: unsubscribe: %w", err)
			}
		}
	}
	return nil
}

// subscriptions lists the organization's webhook subscriptions, following
// has_more with _skip should Close page them.
func (p *poll) subscriptions(ctx context.Context) ([]subscription, error) {
	var out []subscription
	for pages := 1; ; pages++ {
		if pages > maxSubscriptionPages {
			return nil, p.vendorError(http.MethodGet, "/webhook/", 0, fmt.Sprintf("the listing did not end after %d pages", maxSubscriptionPages))
		}
		target := "/webhook/"
		if len(out) > 0 {
			target += "?_skip=" + strconv.Itoa(len(out))
		}
		resp, err := p.fetch(ctx, http.MethodGet, target, nil)
		if err != nil {
			return nil, err
		}
		pg, err := parsePage(resp.body, "data", "")
		if err != nil {
			return nil, p.vendorError(http.MethodGet, target, resp.status, err.Error())
		}
		for _, raw := range pg.records {
			var sub subscription
			if err := json.Unmarshal(raw, &sub); err != nil {
				return nil, p.vendorError(http.MethodGet, target, resp.status, "a subscription is not Close's shape: "+err.Error())
			}
			out = append(out, sub)
		}
		if !gjson.GetBytes(resp.body, "has_more").Bool() || len(pg.records) == 0 {
			return out, nil
		}
	}
}

// deleteSubscription deletes one subscription; one already gone (404) is
// what was wanted.
func (p *poll) deleteSubscription(ctx context.Context, id string) error {
	_, err := p.fetch(ctx, http.MethodDelete, "/webhook/"+url.PathEscape(id)+"/", nil)
	var ve *source.VendorError
	if errors.As(err, &ve) && ve.Status == http.StatusNotFound {
		return nil
	}
	return err
}

// call sends body and reads the JSON answer into out.
func (p *poll) call(ctx context.Context, method, target string, body []byte, out any) error {
	resp, err := p.fetch(ctx, method, target, body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		return p.vendorError(method, target, resp.status, "the answer is not a subscription: "+invalidJSONOr(resp.body, err))
	}
	return nil
}

// invalidJSONOr explains a body that did not decode: its JSON error, or
// the decoder's.
func invalidJSONOr(body []byte, err error) string {
	if !vendorio.ValidJSON(body, vendorio.MaxDepth) {
		return vendorio.InvalidJSON(body, vendorio.MaxDepth).Error()
	}
	return err.Error()
}
