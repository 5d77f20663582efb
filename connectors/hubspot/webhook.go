package hubspot

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/internal/vendorio"
	"github.com/pollwire/pollwire/connectors/source"
)

// The headers of HubSpot's v3 request signature.
const (
	HeaderSignatureV3      = "X-HubSpot-Signature-v3"
	HeaderRequestTimestamp = "X-HubSpot-Request-Timestamp"
)

// MaxWebhookSkew is how far ahead of pollwire's clock a webhook's timestamp
// may be. HubSpot documents only the 5-minute limit on age; a timestamp
// from the future is refused too, or a captured request could be replayed
// for as long as its forged-ahead clock allows.
const MaxWebhookSkew = 5 * time.Minute

// MaxWebhookEvents is the most events HubSpot puts in one webhook request.
const MaxWebhookEvents = 100

var _ source.Webhook = (*Source)(nil)

// Verify checks HubSpot's v3 signature: base64(HMAC-SHA256(secret, method +
// URI + body + timestamp)), the secret being the instance's
// event.webhook.signature.key or else its OAuth client secret
// (oauth.api.secret), and a timestamp (epoch ms) at most
// source.MaxWebhookAge old and MaxWebhookSkew ahead. The URI is the URL
// HubSpot called, with the characters HubSpot's docs list (%3A %2F %3F %40
// %21 %24 %27 %28 %29 %2A %2C %3B) decoded; the URI exactly as received is
// accepted too, because HubSpot's own client libraries sign the URI as
// given, and a proxy may have re-encoded it either way. Errors wrap
// source.ErrSignature and say which check failed.
func (s *Source) Verify(req *source.WebhookRequest) error {
	if req == nil || req.Instance == nil {
		return refuse("no instance to verify against")
	}
	secret := webhookSecret(req)
	if secret == "" {
		return refuse("the instance has neither %s nor %s to verify it with", connectors.KeyWebhookSecret, KeyClientSecret)
	}
	sig := strings.TrimSpace(req.Header.Get(HeaderSignatureV3))
	if sig == "" {
		return refuse("the %s header is missing", HeaderSignatureV3)
	}
	ts := strings.TrimSpace(req.Header.Get(HeaderRequestTimestamp))
	if ts == "" {
		return refuse("the %s header is missing", HeaderRequestTimestamp)
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ms <= 0 {
		return refuse("%s %q is not a time in epoch milliseconds", HeaderRequestTimestamp, vendorio.Clip(ts, 40))
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	switch age := now.Sub(time.UnixMilli(ms)); {
	case age > source.MaxWebhookAge:
		return refuse("the request is %s old (%s %s); at most %s is accepted, so a replay is refused", age.Round(time.Second), HeaderRequestTimestamp, ts, source.MaxWebhookAge)
	case -age > MaxWebhookSkew:
		return refuse("%s %s is %s ahead of pollwire's clock; at most %s is accepted", HeaderRequestTimestamp, ts, (-age).Round(time.Second), MaxWebhookSkew)
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return refuse("%s is not base64", HeaderSignatureV3)
	}
	if len(got) != sha256.Size {
		return refuse("%s holds %d bytes, not an HMAC-SHA256", HeaderSignatureV3, len(got))
	}
	uri, err := requestURI(req.URL)
	if err != nil {
		return refuse("%v", err)
	}
	method := req.Method
	if method == "" {
		method = "POST"
	}
	// Both comparisons are constant-time; trying a second form of the URI
	// tells an attacker nothing the first does not.
	ok := hmac.Equal(got, signV3(secret, method, DecodeSignedURI(uri), req.Body, ts))
	if !ok && DecodeSignedURI(uri) != uri {
		ok = hmac.Equal(got, signV3(secret, method, uri, req.Body, ts))
	}
	if !ok {
		return refuse("%s does not match the method, URL, body and timestamp (a wrong client secret, or a body or URL changed on the way)", HeaderSignatureV3)
	}
	return nil
}

func refuse(format string, args ...any) error {
	return fmt.Errorf("hubspot: %w: %s", source.ErrSignature, fmt.Sprintf(format, args...))
}

// webhookSecret is the key HubSpot signs with: the app's client secret,
// unless the instance names another one (a private app's, or an app whose
// OAuth credentials pollwire does not hold).
func webhookSecret(req *source.WebhookRequest) string {
	if v, _ := req.Instance.Value(connectors.KeyWebhookSecret); strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	v, _ := req.Instance.Value(KeyClientSecret)
	return strings.TrimSpace(v)
}

// requestURI is the URI HubSpot signs: the full URL it called, scheme and
// host included, path and query as sent.
func requestURI(u *url.URL) (string, error) {
	if u == nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("the public URL HubSpot called is unknown; it is part of the signature")
	}
	uri := u.Scheme + "://" + u.Host + u.EscapedPath()
	if u.RawQuery != "" || u.ForceQuery {
		uri += "?" + u.RawQuery
	}
	return uri, nil
}

// signedURIDecodes are the percent-encodings HubSpot's v3 docs say to
// decode in the URI before signing.
var signedURIDecodes = map[string]byte{
	"3A": ':', "2F": '/', "3F": '?', "40": '@', "21": '!', "24": '$',
	"27": '\'', "28": '(', "29": ')', "2A": '*', "2C": ',', "3B": ';',
}

// DecodeSignedURI decodes, in a URI, the percent-encodings HubSpot's v3
// signature docs list and leaves every other one as it is.
func DecodeSignedURI(uri string) string {
	if !strings.Contains(uri, "%") {
		return uri
	}
	var b strings.Builder
	b.Grow(len(uri))
	for i := 0; i < len(uri); i++ {
		if uri[i] == '%' && i+2 < len(uri) {
			if c, ok := signedURIDecodes[strings.ToUpper(uri[i+1:i+3])]; ok {
				b.WriteByte(c)
				i += 2
				continue
			}
		}
		b.WriteByte(uri[i])
	}
	return b.String()
}

// SignV3 returns HubSpot's v3 signature of a request, as the
// X-HubSpot-Signature-v3 header carries it. uri must already be in the
// form HubSpot signs (see DecodeSignedURI).
func SignV3(secret, method, uri string, body []byte, timestamp string) string {
	return base64.StdEncoding.EncodeToString(signV3(secret, method, uri, body, timestamp))
}

func signV3(secret, method, uri string, body []byte, timestamp string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(method))
	mac.Write([]byte(uri))
	mac.Write(body)
	mac.Write([]byte(timestamp))
	return mac.Sum(nil)
}

// Standard object type ids (objectTypeId) of the generic "object.*"
// webhook events, for the objects the hub resources poll.
var objectTypeResources = map[string]string{
	"0-1":  "contacts",
	"0-2":  "accounts",
	"0-3":  "opportunities",
	"0-48": "activities", // calls
	"0-49": "activities", // emails
	"0-47": "activities", // meetings
	"0-46": "activities", // notes
	"0-27": "activities", // tasks
}

// legacyResources maps the object part of legacy subscription types
// (contact.creation…) to hub resources. HubSpot has legacy types for
// contacts, companies and deals only; engagements come as object.* events.
// The engagement names are read too, in case HubSpot adds them.
var legacyResources = map[string]string{
	"contact": "contacts",
	"company": "accounts",
	"deal":    "opportunities",
	"call":    "activities",
	"email":   "activities",
	"meeting": "activities",
	"note":    "activities",
	"task":    "activities",
}

// Change types, as the engine names them.
const (
	changeCreated = "CREATED"
	changeUpdated = "UPDATED"
	changeDeleted = "DELETED"
)

// Changes turns a verified HubSpot webhook body (a JSON array of events)
// into changes, in the order their objects first appear:
//
//   - contact.* → contacts, company.* → accounts, deal.* → opportunities;
//     object.* by objectTypeId (0-1, 0-2, 0-3, and the engagements 0-48
//     calls, 0-49 emails, 0-47 meetings, 0-46 notes, 0-27 tasks →
//     activities).
//   - creation → CREATED; propertyChange → UPDATED; deletion and
//     privacyDeletion → DELETED; restore → UPDATED (the record is back with
//     its old creation date, which the poller also reports as UPDATED);
//     merge → UPDATED of the surviving record (CREATED when HubSpot made a
//     new one, newObjectId) and DELETED of each record merged away.
//   - associationChange and other types (tickets, products, conversations…)
//     are no changes of a polled record and are skipped.
//
// Events of one object and resource with the same occurredAt (a creation
// and the propertyChanges of the properties it set) are one change: DELETED
// over CREATED over UPDATED. Date is occurredAt; Raw is the JSON array of
// the events that make the change. A body that is not an array of events,
// or a mapped event without objectId or occurredAt, is an error.
func (s *Source) Changes(req *source.WebhookRequest) ([]source.Change, error) {
	if req == nil {
		return nil, fmt.Errorf("hubspot: no webhook request")
	}
	return parseWebhook(req.Body)
}

type changeKey struct {
	resource, id string
	at           int64
}

type pending struct {
	change source.Change
	raws   [][]byte
}

func parseWebhook(body []byte) ([]source.Change, error) {
	body = bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF"))
	if !vendorio.ValidJSON(body, maxDepth) {
		return nil, fmt.Errorf("the webhook body is not JSON: %q", vendorio.Clip(vendorio.OneLine(string(body)), 60))
	}
	root := gjson.ParseBytes(body)
	var events []gjson.Result
	switch {
	case root.IsArray():
		events = root.Array()
	case root.IsObject():
		events = []gjson.Result{root} // one event unwrapped; HubSpot sends arrays
	default:
		return nil, fmt.Errorf("the webhook body is not an array of events: %s", vendorio.Clip(vendorio.OneLine(root.Raw), 60))
	}
	var out []*pending
	index := map[changeKey]*pending{}
	add := func(c source.Change, raw []byte) {
		k := changeKey{c.Resource, c.ObjectID, c.Date.UnixMilli()}
		if p, ok := index[k]; ok {
			if rank(c.Type) > rank(p.change.Type) {
				p.change.Type = c.Type
			}
			p.raws = append(p.raws, raw)
			return
		}
		p := &pending{change: c, raws: [][]byte{raw}}
		index[k] = p
		out = append(out, p)
	}
	for i, ev := range events {
		if !ev.IsObject() {
			return nil, fmt.Errorf("event %d is not an object: %s", i, vendorio.Clip(vendorio.OneLine(ev.Raw), 60))
		}
		st := ev.Get("subscriptionType")
		if st.Type != gjson.String {
			return nil, fmt.Errorf("event %d has no subscriptionType: %s", i, vendorio.Clip(vendorio.OneLine(ev.Raw), 60))
		}
		resource, action := eventResource(st.Str, ev)
		if resource == "" {
			continue
		}
		typ := actionType(action)
		if typ == "" && action != "merge" {
			continue
		}
		at, ok := epochMillis(ev.Get("occurredAt"))
		if !ok {
			return nil, fmt.Errorf("event %d (%s) has no occurredAt in epoch milliseconds", i, st.Str)
		}
		date := time.UnixMilli(at).UTC()
		raw := []byte(ev.Raw)
		if action == "merge" {
			if err := mergeChanges(ev, resource, date, raw, add); err != nil {
				return nil, fmt.Errorf("event %d (%s): %w", i, st.Str, err)
			}
			continue
		}
		id := objectID(ev.Get("objectId"))
		if id == "" {
			return nil, fmt.Errorf("event %d (%s) has no objectId", i, st.Str)
		}
		add(source.Change{Resource: resource, Type: typ, ObjectID: id, Date: date}, raw)
	}
	changes := make([]source.Change, len(out))
	for i, p := range out {
		c := p.change
		c.Raw = append([]byte{'['}, bytes.Join(p.raws, []byte{','})...)
		c.Raw = append(c.Raw, ']')
		changes[i] = c
	}
	return changes, nil
}

// eventResource splits a subscription type into the hub resource it
// concerns ("" when none) and its action.
func eventResource(subscriptionType string, ev gjson.Result) (resource, action string) {
	obj, action, ok := strings.Cut(subscriptionType, ".")
	if !ok {
		return "", ""
	}
	if obj == "object" {
		return objectTypeResources[ev.Get("objectTypeId").String()], action
	}
	return legacyResources[obj], action
}

func actionType(action string) string {
	switch action {
	case "creation":
		return changeCreated
	case "propertyChange", "restore":
		return changeUpdated
	case "deletion", "privacyDeletion":
		return changeDeleted
	}
	return ""
}

// rank orders the types of events collapsed into one change: the end state
// wins.
func rank(t string) int {
	switch t {
	case changeDeleted:
		return 3
	case changeCreated:
		return 2
	}
	return 1
}

// mergeChanges reads a merge event: the surviving record (newObjectId when
// HubSpot made a new one, else primaryObjectId, else objectId) changed, and
// every other id named is gone.
func mergeChanges(ev gjson.Result, resource string, date time.Time, raw []byte, add func(source.Change, []byte)) error {
	primary := objectID(ev.Get("primaryObjectId"))
	survivor, typ := objectID(ev.Get("newObjectId")), changeCreated
	if survivor == "" || survivor == primary {
		survivor, typ = primary, changeUpdated
	}
	if survivor == "" {
		survivor = objectID(ev.Get("objectId"))
	}
	if survivor == "" {
		return fmt.Errorf("no newObjectId, primaryObjectId or objectId")
	}
	add(source.Change{Resource: resource, Type: typ, ObjectID: survivor, Date: date}, raw)
	gone := []string{primary}
	ev.Get("mergedObjectIds").ForEach(func(_, v gjson.Result) bool {
		gone = append(gone, objectID(v))
		return true
	})
	seen := map[string]bool{survivor: true}
	for _, id := range gone {
		if id != "" && !seen[id] {
			seen[id] = true
			add(source.Change{Resource: resource, Type: changeDeleted, ObjectID: id, Date: date}, raw)
		}
	}
	return nil
}

// objectID reads an id sent as a number (as HubSpot does) or a string; a
// number is kept as written, since ids beyond 2^53 must not pass through
// float64.
func objectID(v gjson.Result) string {
	switch v.Type {
	case gjson.Number:
		if _, err := strconv.ParseInt(v.Raw, 10, 64); err != nil {
			return "" // 1.5, 1e3: not an id
		}
		return v.Raw
	case gjson.String:
		return strings.TrimSpace(v.Str)
	}
	return ""
}

// epochMillis reads occurredAt: epoch milliseconds as a number or a string
// of digits.
func epochMillis(v gjson.Result) (int64, bool) {
	var s string
	switch v.Type {
	case gjson.Number:
		s = v.Raw
	case gjson.String:
		s = v.Str
	default:
		return 0, false
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	// Beyond ±2^53 ms (±285,000 years) time.UnixMilli overflows.
	return ms, err == nil && ms > -1<<53 && ms < 1<<53
}
