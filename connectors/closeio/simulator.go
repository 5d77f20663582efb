package closeio

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollwire/pollwire/connectors/internal/simkit"
)

// Formats of Close's dates: objects carry microseconds and an offset with a
// colon, event-log envelopes microseconds and no offset (UTC).
const (
	ObjectTimeFormat = "2006-01-02T15:04:05.000000-07:00"
	EventTimeFormat  = "2006-01-02T15:04:05.000000"
)

// Simulator defaults.
const (
	// DefaultSimAPIKey is the API key a Simulator accepts when none is set.
	DefaultSimAPIKey = "sim-api-key"
	// DefaultRateLimit and DefaultRateWindow are a Close-like limit per API
	// key and endpoint group: the Close docs use 20 requests per second per
	// key as their example; the real figures vary by group and are not
	// published.
	DefaultRateLimit  = 200
	DefaultRateWindow = 10 * time.Second
	// DefaultMaxLimit is the largest _limit of lists and searches.
	DefaultMaxLimit = 100
	// EventMaxLimit is the event log's largest (and default) _limit.
	EventMaxLimit = 50
	// DefaultMaxSkip is the deepest _skip. Close documents that a maximum
	// exists and varies per resource, not its value: 10,000 is an assumption.
	DefaultMaxSkip = 10000
	// EventRetention is how far back the event log goes.
	EventRetention = 30 * 24 * time.Hour
)

// The Close object types the Simulator stores.
const (
	TypeLead        = "lead"
	TypeContact     = "contact"
	TypeOpportunity = "opportunity"
	TypeActivity    = "activity"
)

var simTypes = []string{TypeLead, TypeContact, TypeOpportunity, TypeActivity}

var idPrefix = map[string]string{
	TypeLead: "lead_", TypeContact: "cont_", TypeOpportunity: "oppo_", TypeActivity: "acti_",
}

// SimOptions configure a Simulator.
type SimOptions struct {
	// APIKey is the key Basic auth must carry as user name (the password
	// empty); default DefaultSimAPIKey.
	APIKey string
	// Now is Close's clock; default time.Now.
	Now func() time.Time
	// RateLimit is how many requests per RateWindow one API key may make
	// to one endpoint group before 429; 0 means unlimited (and no RateLimit
	// header).
	RateLimit int
	// RateWindow is the length of a rate-limit window; default
	// DefaultRateWindow. Windows are fixed: the first request of a key and
	// group opens one, and it ends RateWindow later.
	RateWindow time.Duration
	// MaxLimit is the largest _limit of lists and searches (400 above it);
	// default DefaultMaxLimit. The event log's is always EventMaxLimit.
	MaxLimit int
	// MaxSkip is the deepest _skip (400 beyond it); default DefaultMaxSkip.
	MaxSkip int

	// WebhookRetry are the waits before each retry of a webhook whose
	// receiver failed (an answer other than 2xx, a timeout, no connection):
	// one attempt plus len(WebhookRetry) retries. Nil means
	// DefaultWebhookRetry(), Close-like backoff over 72 hours; tests pass
	// milliseconds, and an empty non-nil slice sends once.
	WebhookRetry []time.Duration
	// WebhookDropRate is the share (0 to 1) of webhooks never sent at all,
	// decided per webhook by a seeded generator: a lost push, which only a
	// poller running beside the webhooks (hybrid mode) recovers.
	WebhookDropRate float64
	// WebhookSeed seeds the drop decisions; 0 means a fixed default, so runs
	// are repeatable either way.
	WebhookSeed uint64
	// WebhookClient sends the webhooks; default a client with a 10 s
	// timeout. The subscriptions' verify_ssl is not applied: configure the
	// client's TLS instead.
	WebhookClient *http.Client
}

// Simulator is an in-memory Close API for tests, the demo and developers
// (`pollwire sim closeio`): leads, contacts, opportunities and activities
// with their list filters, the Advanced Filtering API, the event log, Basic
// auth, per-key, per-endpoint-group rate limits, lead merges, and webhook
// subscriptions it pushes every change to, signed and retried (see
// simulator_webhook.go). It is deterministic given its clock and the order
// of calls (ids and drops come from seeded generators) and safe for
// concurrent use. See ServeHTTP for the routes.
type Simulator struct {
	opts SimOptions

	requests  atomic.Int64
	throttled atomic.Int64

	mu      sync.Mutex
	rng     *rand.Rand
	objects map[string]*simStore
	events  []*simEvent // in the order they happened
	windows map[string]*rateWindow

	hooks webhooks
}

type simStore struct {
	byID map[string]*simObject
	// sorted caches by (field, id), rebuilt when nil.
	byUpdated, byCreated []*simObject
}

type simObject struct {
	typ     string
	id      string
	fields  map[string]any
	created time.Time
	updated time.Time
	raw     []byte
}

type simEvent struct {
	id      string
	date    time.Time // date_created and date_updated
	objType string
	action  string
	objID   string
	leadID  string
	raw     []byte
}

type rateWindow struct {
	start time.Time
	count int
}

// NewSimulator returns an empty Simulator.
func NewSimulator(o SimOptions) *Simulator {
	if o.APIKey == "" {
		o.APIKey = DefaultSimAPIKey
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RateWindow <= 0 {
		o.RateWindow = DefaultRateWindow
	}
	if o.MaxLimit <= 0 {
		o.MaxLimit = DefaultMaxLimit
	}
	if o.MaxSkip <= 0 {
		o.MaxSkip = DefaultMaxSkip
	}
	s := &Simulator{
		opts:    o,
		rng:     rand.New(rand.NewPCG(0x636c6f7365, 0x73696d)),
		objects: map[string]*simStore{},
		windows: map[string]*rateWindow{},
	}
	for _, t := range simTypes {
		s.objects[t] = &simStore{byID: map[string]*simObject{}}
	}
	s.hooks.init(&s.opts)
	return s
}

// Requests returns how many API requests the Simulator has served, refusals
// included.
func (s *Simulator) Requests() int { return int(s.requests.Load()) }

// Throttled returns how many requests were answered 429.
func (s *Simulator) Throttled() int { return int(s.throttled.Load()) }

// now is Close's clock at the microsecond precision of its dates.
func (s *Simulator) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID returns prefix and 43 random-looking base62 characters, the shape of
// Close's ids. Callers hold mu.
func (s *Simulator) newID(prefix string) string {
	b := make([]byte, len(prefix)+43)
	copy(b, prefix)
	for i := len(prefix); i < len(b); i++ {
		b[i] = base62[s.rng.IntN(len(base62))]
	}
	return string(b)
}

// ErrSimNotFound is returned by Update and Delete for an unknown object.
var ErrSimNotFound = errors.New("closeio simulator: no such object")

// errUnknownType is returned for an object type other than lead, contact,
// opportunity or activity.
var errUnknownType = errors.New("closeio simulator: object type must be lead, contact, opportunity or activity")

// Create stores a new object of objectType ("lead", "contact",
// "opportunity" or "activity") with fields over Close-like defaults, logs a
// "created" event and returns a copy of the object. Its id is generated
// (lead_…, cont_…, oppo_…, acti_…) unless fields carry an unused "id".
// Contacts, opportunities and activities belong to a lead: a missing or
// unknown lead_id gets a new lead. date_created and date_updated are Now,
// unless fields give them as time.Time (for boundary tests). It panics on
// an unknown object type, a programming error.
func (s *Simulator) Create(objectType string, fields map[string]any) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.create(objectType, fields, true)
	if err != nil {
		panic(err)
	}
	return cloneJSON(o.fields).(map[string]any)
}

// create is Create; with autoLead false an unknown lead_id is an error (the
// HTTP API's behaviour). Callers hold mu.
func (s *Simulator) create(typ string, fields map[string]any, autoLead bool) (*simObject, error) {
	st := s.objects[typ]
	if st == nil {
		return nil, errUnknownType
	}
	now := s.now()
	created, updated := now, now
	if t, ok := fields["date_created"].(time.Time); ok {
		created, updated = t.UTC().Truncate(time.Microsecond), t.UTC().Truncate(time.Microsecond)
	}
	if t, ok := fields["date_updated"].(time.Time); ok {
		updated = t.UTC().Truncate(time.Microsecond)
	}
	id, _ := fields["id"].(string)
	if id == "" || st.byID[id] != nil {
		id = s.newID(idPrefix[typ])
	}

	var leadID string
	if typ != TypeLead {
		leadID, _ = fields["lead_id"].(string)
		if s.objects[TypeLead].byID[leadID] == nil {
			if leadID != "" && !autoLead {
				return nil, &fieldError{field: "lead_id", msg: "Object does not exist."}
			}
			lead, err := s.create(TypeLead, map[string]any{"id": leadID, "date_created": created}, true)
			if err != nil {
				return nil, err
			}
			leadID = lead.id
		}
	}

	o := &simObject{typ: typ, id: id, created: created, updated: updated, fields: defaults(typ, id, leadID)}
	for k, v := range fields {
		switch k {
		case "id", "lead_id", "date_created", "date_updated":
			continue // set by the store
		}
		o.fields[k] = cloneJSON(v)
	}
	s.stamp(o)
	st.byID[id] = o
	st.byUpdated, st.byCreated = nil, nil
	s.logEvent(o, "created", o.fields, nil, nil, nil, updated)
	return o, nil
}

// defaults are the fields a new object of typ starts with, shaped like
// Close's (only the ones a connector or a test looks at).
func defaults(typ, id, leadID string) map[string]any {
	f := map[string]any{"id": id, "organization_id": "orga_simulator", "created_by": nil, "updated_by": nil}
	short := id[max(0, len(id)-6):]
	switch typ {
	case TypeLead:
		f["name"] = "Lead " + short
		f["display_name"] = f["name"]
		f["status_id"] = "stat_potential"
		f["status_label"] = "Potential"
		f["description"] = ""
		f["url"] = nil
	case TypeContact:
		f["lead_id"] = leadID
		f["name"] = "Contact " + short
		f["display_name"] = f["name"]
		f["title"] = ""
		f["emails"] = []any{}
		f["phones"] = []any{}
	case TypeOpportunity:
		f["lead_id"] = leadID
		f["status_id"] = "stat_active"
		f["status_label"] = "Active"
		f["status_type"] = "active"
		f["value"] = 0
		f["value_period"] = "one_time"
		f["confidence"] = 0
		f["user_id"] = "user_simulator"
		f["note"] = ""
		f["date_won"] = nil
	case TypeActivity:
		f["lead_id"] = leadID
		f["_type"] = "Note"
		f["note"] = ""
		f["user_id"] = "user_simulator"
		f["contact_id"] = nil
	}
	return f
}

// stamp writes o's dates into its fields and renders its JSON.
func (s *Simulator) stamp(o *simObject) {
	o.fields["date_created"] = o.created.Format(ObjectTimeFormat)
	o.fields["date_updated"] = o.updated.Format(ObjectTimeFormat)
	if o.typ == TypeActivity {
		if _, ok := o.fields["activity_at"]; !ok {
			o.fields["activity_at"] = o.fields["date_created"]
		}
	}
	raw, err := json.Marshal(o.fields)
	if err != nil {
		panic(fmt.Sprintf("closeio simulator: %s %s is not JSON: %v", o.typ, o.id, err))
	}
	o.raw = raw
}

// Update merges fields into an object, sets its date_updated to Now (or to
// fields' date_updated when it is a time.Time), logs an "updated" event and
// returns a copy of the object.
func (s *Simulator) Update(objectType, id string, fields map[string]any) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.update(objectType, id, fields)
	if err != nil {
		return nil, err
	}
	return cloneJSON(o.fields).(map[string]any), nil
}

func (s *Simulator) update(typ, id string, fields map[string]any) (*simObject, error) {
	st := s.objects[typ]
	if st == nil {
		return nil, errUnknownType
	}
	o := st.byID[id]
	if o == nil {
		return nil, fmt.Errorf("%w: %s %s", ErrSimNotFound, typ, id)
	}
	prev := cloneJSON(o.fields).(map[string]any)
	var changed []string
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		switch k {
		case "id", "lead_id", "date_created", "date_updated", "organization_id":
			continue // not writable, as in Close
		}
		v := cloneJSON(fields[k])
		if old, ok := o.fields[k]; !ok || !jsonEqual(old, v) {
			changed = append(changed, k)
		}
		o.fields[k] = v
	}
	o.updated = s.now()
	if t, ok := fields["date_updated"].(time.Time); ok {
		o.updated = t.UTC().Truncate(time.Microsecond)
	}
	changed = append(changed, "date_updated")
	s.stamp(o)
	st.byUpdated = nil
	s.logEvent(o, "updated", o.fields, prev, changed, nil, o.updated)
	return o, nil
}

// Delete removes an object and logs a "deleted" event for it. Deleting a
// lead first deletes its contacts, opportunities and activities, each with
// its own event, as Close does.
func (s *Simulator) Delete(objectType, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delete(objectType, id)
}

func (s *Simulator) delete(typ, id string) error {
	st := s.objects[typ]
	if st == nil {
		return errUnknownType
	}
	o := st.byID[id]
	if o == nil {
		return fmt.Errorf("%w: %s %s", ErrSimNotFound, typ, id)
	}
	if typ == TypeLead {
		for _, child := range []string{TypeContact, TypeOpportunity, TypeActivity} {
			cs := s.objects[child]
			var ids []string
			for cid, c := range cs.byID {
				if c.fields["lead_id"] == id {
					ids = append(ids, cid)
				}
			}
			slices.Sort(ids) // map order must not leak into the event log
			for _, cid := range ids {
				if err := s.delete(child, cid); err != nil {
					return err
				}
			}
		}
	}
	delete(st.byID, id)
	st.byUpdated, st.byCreated = nil, nil
	s.logEvent(o, "deleted", nil, o.fields, nil, nil, s.now())
	return nil
}

// eventObjectType is the event log's name for o's type: activities are
// logged per activity type ("activity.note", "activity.call", …).
func eventObjectType(o *simObject) string {
	if o.typ == TypeActivity {
		t, _ := o.fields["_type"].(string)
		if t == "" {
			t = "Note"
		}
		return "activity." + strings.ToLower(t)
	}
	return o.typ
}

// logEvent appends an event-log entry and pushes it to the webhook
// subscriptions it matches. Callers hold mu.
func (s *Simulator) logEvent(o *simObject, action string, data, prev map[string]any, changed []string, meta map[string]any, at time.Time) {
	if at.Before(s.now()) {
		at = s.now() // the log records when the change was made, whatever the object's stamp says
	}
	leadID := o.id
	if o.typ != TypeLead {
		leadID, _ = o.fields["lead_id"].(string)
	}
	ev := &simEvent{id: s.newID("ev_"), date: at, objType: eventObjectType(o), action: action, objID: o.id, leadID: leadID}
	stamp := at.Format(EventTimeFormat)
	if changed == nil {
		changed = []string{}
	}
	if meta == nil {
		meta = map[string]any{}
	}
	body := map[string]any{
		"id": ev.id, "date_created": stamp, "date_updated": stamp,
		"organization_id": "orga_simulator", "user_id": nil, "api_key_id": nil,
		"request_id":  s.newID("req_"),
		"object_type": ev.objType, "object_id": ev.objID, "lead_id": leadID, "action": action,
		"changed_fields": changed, "meta": meta,
		"data": nilIfEmpty(data), "previous_data": nilIfEmpty(prev),
	}
	raw, err := json.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("closeio simulator: event is not JSON: %v", err))
	}
	ev.raw = raw
	s.events = append(s.events, ev)
	s.pushLocked(ev)
}

func nilIfEmpty(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

// ordered returns the objects of typ sorted by (field, id), field being
// date_updated or date_created. Callers hold mu.
func (s *Simulator) ordered(typ string, byCreated bool) []*simObject {
	st := s.objects[typ]
	cache := &st.byUpdated
	if byCreated {
		cache = &st.byCreated
	}
	if *cache == nil {
		out := make([]*simObject, 0, len(st.byID))
		for _, o := range st.byID {
			out = append(out, o)
		}
		sort.Slice(out, func(i, j int) bool {
			a, b := out[i].updated, out[j].updated
			if byCreated {
				a, b = out[i].created, out[j].created
			}
			if !a.Equal(b) {
				return a.Before(b)
			}
			return out[i].id < out[j].id
		})
		*cache = out
	}
	return *cache
}

// ServeHTTP answers, under any path prefix ending in the route (so both
// base.url http://host and http://host/api/v1 work):
//
//	GET    /lead/?query=…&_skip=&_limit=&_fields=        leads (query: date_updated>="…", date_created, status:"…", sort:[-]field)
//	GET    /contact/?lead_id=&_skip=&_limit=&_fields=    contacts (no date filter, as in Close)
//	GET    /opportunity/?date_updated__gte=…&_order_by=…  opportunities
//	GET    /activity/?date_created__gt=…&_order_by=…      activities (no date_updated filter)
//	POST   /data/search/                                 Advanced Filtering (contacts, leads), cursor paging
//	GET    /event/?object_type=&action=&date_updated__gte=&_cursor=   the event log, newest first
//	POST   /{type}/          create        GET /{type}/{id}/   retrieve
//	PUT    /{type}/{id}/     update        DELETE /{type}/{id}/  delete
//	POST   /lead/merge/      {"source", "destination"}: merge two leads
//	POST   /webhook/         subscribe     GET /webhook/          list subscriptions
//	GET|PUT|DELETE /webhook/{id}/          one subscription
//
// Every request needs Basic auth with the API key as user name. Lists
// answer {"has_more","total_results","data"}; errors {"error": "…"} or, for
// invalid fields, {"errors": [], "field-errors": {…}}.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.APIKey)) != 1 || pass != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="api"`)
		simError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	typ, id, ok := route(r.URL.Path)
	if !ok {
		simError(w, http.StatusNotFound, "Not found.")
		return
	}
	if !s.admit(w, user, r.Method, typ) {
		return
	}
	tz, err := tzOffset(r.Header.Get("X-TZ-Offset"))
	if err != nil {
		simError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch {
	case typ == "data/search" && r.Method == http.MethodPost:
		s.search(w, r, tz)
	case typ == "event" && r.Method == http.MethodGet && id == "":
		s.eventLog(w, r, tz)
	case typ == "data/search" || typ == "event":
		simError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method))
	case typ == "webhook":
		s.serveWebhook(w, r, id)
	case typ == TypeLead && id == "merge" && r.Method == http.MethodPost:
		s.httpMerge(w, r)
	case id == "" && r.Method == http.MethodGet:
		s.list(w, r, typ, tz)
	case id == "" && r.Method == http.MethodPost:
		s.httpCreate(w, r, typ)
	case id != "" && r.Method == http.MethodGet:
		s.httpGet(w, typ, id)
	case id != "" && r.Method == http.MethodPut:
		s.httpUpdate(w, r, typ, id)
	case id != "" && r.Method == http.MethodDelete:
		s.mu.Lock()
		err := s.delete(typ, id)
		s.mu.Unlock()
		if err != nil {
			simError(w, http.StatusNotFound, "Empty query: object matching query does not exist.")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{})
	default:
		simError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method))
	}
}

// route finds the resource (and object id) at the end of a path, whatever
// prefix the Simulator is mounted under.
func route(path string) (typ, id string, ok bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	n := len(segs)
	if n >= 2 && segs[n-2] == "data" && segs[n-1] == "search" {
		return "data/search", "", true
	}
	for i := n - 1; i >= 0 && i >= n-2; i-- {
		if segs[i] == "event" || segs[i] == "webhook" || slices.Contains(simTypes, segs[i]) {
			if i == n-1 {
				return segs[i], "", true
			}
			return segs[i], segs[i+1], segs[i+1] != ""
		}
	}
	return "", "", false
}

// admit applies the rate limit of (key, endpoint group), writes the
// RateLimit header, and answers 429 itself when the window is spent.
func (s *Simulator) admit(w http.ResponseWriter, key, method, typ string) bool {
	if s.opts.RateLimit <= 0 {
		return true
	}
	group := key + " " + method + " " + typ
	now := s.opts.Now()
	s.mu.Lock()
	win := s.windows[group]
	if win == nil || !now.Before(win.start.Add(s.opts.RateWindow)) {
		win = &rateWindow{start: now}
		s.windows[group] = win
	}
	allowed := win.count < s.opts.RateLimit
	if allowed {
		win.count++
	}
	remaining := s.opts.RateLimit - win.count
	reset := win.start.Add(s.opts.RateWindow).Sub(now)
	s.mu.Unlock()

	resetSec := math.Ceil(reset.Seconds()*1000) / 1000
	w.Header().Set("RateLimit", fmt.Sprintf("limit=%d, remaining=%d, reset=%s",
		s.opts.RateLimit, remaining, strconv.FormatFloat(resetSec, 'f', -1, 64)))
	if allowed {
		return true
	}
	s.throttled.Add(1)
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(reset.Seconds()))))
	// The body Close sent before the RateLimit header existed (deprecated
	// in 2024, still sent): rate_reset is in seconds.
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]any{
		"message":    fmt.Sprintf("API call count exceeded for this %s window", s.opts.RateWindow),
		"rate_reset": resetSec, "rate_limit": s.opts.RateLimit, "rate_window": s.opts.RateWindow.Seconds(),
	}})
	return false
}

// tzOffset reads the X-TZ-Offset header: the client's UTC offset in hours
// ("-5", "5.5"), which dates without an offset are read in. Default UTC.
func tzOffset(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	h, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || h < -14 || h > 14 {
		return 0, fmt.Errorf("Invalid X-TZ-Offset %q: a number of hours from -14 to 14 is expected.", v)
	}
	return time.Duration(h * float64(time.Hour)), nil
}

// parseTime reads a date parameter as Close accepts them: RFC 3339 with or
// without an offset and fraction, a minute precision time, or a date. A
// value without an offset is in the client's zone (X-TZ-Offset).
func parseTime(v string, tz time.Duration) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.Add(-tz).UTC(), true
		}
	}
	return time.Time{}, false
}

// listFilters are the filters of a list request the Simulator accepts, per
// object type (besides _skip, _limit, _fields, _order_by and date filters).
var listFilters = map[string][]string{
	TypeLead:        {"query"},
	TypeContact:     {"lead_id"},
	TypeOpportunity: {"lead_id", "user_id", "user_id__in", "status_id", "status_id__in", "status_type", "status_type__in", "status_label", "status_label__in"},
	TypeActivity:    {"lead_id", "_type", "user_id", "contact_id"},
}

var dateFilters = map[string][]string{
	TypeOpportunity: {"date_updated", "date_created"},
	TypeActivity:    {"date_created", "activity_at"},
}

var orderBy = map[string][]string{
	TypeOpportunity: {"date_updated", "date_created", "date_won", "value", "confidence"},
	TypeActivity:    {"date_created", "activity_at"},
}

// list answers GET /{type}/.
func (s *Simulator) list(w http.ResponseWriter, r *http.Request, typ string, tz time.Duration) {
	q := r.URL.Query()
	limit, skip, msg := s.paging(q, s.opts.MaxLimit)
	if msg != "" {
		simError(w, http.StatusBadRequest, msg)
		return
	}
	var (
		preds     []func(*simObject) bool
		sortField = "date_created"
		desc      bool
	)
	for name, vals := range q {
		v := vals[0]
		switch {
		case name == "_skip" || name == "_limit" || name == "_fields":
		case name == "_order_by" && orderBy[typ] != nil:
			desc = strings.HasPrefix(v, "-")
			sortField = strings.TrimPrefix(v, "-")
			if !slices.Contains(orderBy[typ], sortField) {
				simError(w, http.StatusBadRequest, fmt.Sprintf("Invalid _order_by %q.", v))
				return
			}
		case name == "query" && typ == TypeLead:
			p, sf, d, err := parseLeadQuery(v, tz)
			if err != nil {
				simError(w, http.StatusBadRequest, err.Error())
				return
			}
			preds = append(preds, p...)
			if sf != "" {
				sortField, desc = sf, d
			}
		case strings.Contains(name, "__") && typ != TypeLead:
			field, op, _ := strings.Cut(name, "__")
			if slices.Contains(dateFilters[typ], field) {
				t, ok := parseTime(v, tz)
				if !ok || !slices.Contains([]string{"gt", "gte", "lt", "lte"}, op) {
					simError(w, http.StatusBadRequest, fmt.Sprintf("Invalid date filter %s=%q.", name, v))
					return
				}
				preds = append(preds, dateFilter(field, op, t))
				continue
			}
			if op == "in" && slices.Contains(listFilters[typ], name) {
				set := strings.Split(v, ",")
				preds = append(preds, func(o *simObject) bool { return slices.Contains(set, str(o.fields[field])) })
				continue
			}
			if typ == TypeActivity && field == "date_updated" {
				simError(w, http.StatusBadRequest, "Activities cannot be filtered by date_updated; use date_created or activity_at.")
				return
			}
			simError(w, http.StatusBadRequest, fmt.Sprintf("Invalid filter %q.", name))
			return
		case slices.Contains(listFilters[typ], name):
			preds = append(preds, func(o *simObject) bool { return str(o.fields[name]) == v })
		default:
			simError(w, http.StatusBadRequest, fmt.Sprintf("Invalid filter %q.", name))
			return
		}
	}

	s.mu.Lock()
	all := s.sortedBy(typ, sortField, desc)
	var matched []*simObject
	for _, o := range all {
		if matches(o, preds) {
			matched = append(matched, o)
		}
	}
	fields := splitFields(q.Get("_fields"))
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"has_more":%t,"total_results":%d,"data":[`, skip+limit < len(matched), len(matched))
	for i, o := range matched[min(skip, len(matched)):min(skip+limit, len(matched))] {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(project(o, fields, ""))
	}
	buf.WriteString("]}")
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, buf.Bytes())
}

// paging reads _limit and _skip.
func (s *Simulator) paging(q map[string][]string, maxLimit int) (limit, skip int, msg string) {
	limit = min(100, maxLimit)
	if v := first(q["_limit"]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, "Invalid _limit: a positive whole number is expected."
		}
		if n > maxLimit {
			return 0, 0, fmt.Sprintf("Invalid _limit: the maximum is %d.", maxLimit)
		}
		limit = n
	}
	if v := first(q["_skip"]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, "Invalid _skip: a whole number, 0 or more, is expected."
		}
		if n > s.opts.MaxSkip {
			return 0, 0, fmt.Sprintf("Invalid _skip: the maximum is %d. Narrow the query down, e.g. by a date range.", s.opts.MaxSkip)
		}
		skip = n
	}
	return limit, skip, ""
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// sortedBy returns the objects of typ in (field, id) order, reversed when
// desc. Callers hold mu.
func (s *Simulator) sortedBy(typ, field string, desc bool) []*simObject {
	var out []*simObject
	switch field {
	case "date_updated":
		out = s.ordered(typ, false)
	case "date_created":
		out = s.ordered(typ, true)
	default:
		out = slices.Clone(s.ordered(typ, true))
		sort.SliceStable(out, func(i, j int) bool {
			return sortKey(out[i], field) < sortKey(out[j], field)
		})
	}
	if desc {
		out = slices.Clone(out)
		slices.Reverse(out)
	}
	return out
}

// sortKey makes a field's value comparable as a string: dates as fixed
// width epoch microseconds, numbers zero-padded, the rest as text.
func sortKey(o *simObject, field string) string {
	switch field {
	case "date_updated":
		return fmt.Sprintf("%020d", o.updated.UnixMicro())
	case "date_created":
		return fmt.Sprintf("%020d", o.created.UnixMicro())
	}
	switch v := o.fields[field].(type) {
	case float64:
		return fmt.Sprintf("%030.6f", v)
	case int:
		return fmt.Sprintf("%030d", v)
	case json.Number:
		f, _ := v.Float64()
		return fmt.Sprintf("%030.6f", f)
	}
	return str(o.fields[field])
}

func dateOf(o *simObject, field string) time.Time {
	switch field {
	case "date_updated":
		return o.updated
	case "date_created":
		return o.created
	}
	t, _ := time.Parse(time.RFC3339Nano, str(o.fields[field]))
	return t
}

func dateFilter(field, op string, t time.Time) func(*simObject) bool {
	return func(o *simObject) bool {
		d := dateOf(o, field)
		switch op {
		case "gt":
			return d.After(t)
		case "gte":
			return !d.Before(t)
		case "lt":
			return d.Before(t)
		default:
			return !d.After(t)
		}
	}
}

func matches(o *simObject, preds []func(*simObject) bool) bool {
	for _, p := range preds {
		if !p(o) {
			return false
		}
	}
	return true
}

// str renders a scalar field for equality tests.
func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func splitFields(v string) []string {
	if v == "" {
		return nil
	}
	var out []string
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// project renders o with only fields (all of them when fields is nil),
// plus "__object_type" when objType is set (search rows).
func project(o *simObject, fields []string, objType string) []byte {
	if fields == nil && objType == "" {
		return o.raw
	}
	m := make(map[string]any, len(fields)+1)
	for _, f := range fields {
		if v, ok := o.fields[f]; ok {
			m[f] = v
		}
	}
	if objType != "" {
		m["__object_type"] = objType
		m["id"] = o.id
	}
	b, _ := json.Marshal(m)
	return b
}

// parseLeadQuery reads the subset of Close's search syntax the Simulator
// supports in GET /lead/?query=: date_updated / date_created compared with
// >=, >, <, <= to a quoted date (minute precision, as Close documents:
// seconds are dropped), status:"label", and sort:[-]field.
func parseLeadQuery(q string, tz time.Duration) (preds []func(*simObject) bool, sortField string, desc bool, err error) {
	i := 0
	skipSpace := func() {
		for i < len(q) && (q[i] == ' ' || q[i] == '\t') {
			i++
		}
	}
	for {
		skipSpace()
		if i == len(q) {
			return preds, sortField, desc, nil
		}
		start := i
		for i < len(q) && (q[i] == '_' || q[i] >= 'a' && q[i] <= 'z') {
			i++
		}
		field := q[start:i]
		skipSpace()
		opStart := i
		for i < len(q) && strings.IndexByte("<>=:", q[i]) >= 0 {
			i++
		}
		op := q[opStart:i]
		skipSpace()
		var value string
		if i < len(q) && q[i] == '"' {
			end := strings.IndexByte(q[i+1:], '"')
			if end < 0 {
				return nil, "", false, errors.New("Invalid query: unterminated quote.")
			}
			value = q[i+1 : i+1+end]
			i += end + 2
		} else {
			vs := i
			for i < len(q) && q[i] != ' ' && q[i] != '\t' {
				i++
			}
			value = q[vs:i]
		}
		switch {
		case field == "sort" && op == ":":
			desc = strings.HasPrefix(value, "-")
			sortField = strings.TrimPrefix(value, "-")
			if sortField != "date_updated" && sortField != "date_created" {
				return nil, "", false, fmt.Errorf("Invalid query: cannot sort by %q.", sortField)
			}
		case field == "status" && op == ":":
			label := value
			preds = append(preds, func(o *simObject) bool { return strings.EqualFold(str(o.fields["status_label"]), label) })
		case (field == "date_updated" || field == "date_created") && slices.Contains([]string{">=", ">", "<", "<="}, op):
			t, ok := parseTime(value, tz)
			if !ok {
				return nil, "", false, fmt.Errorf("Invalid query: %q is not a date.", value)
			}
			m := t.Truncate(time.Minute) // Close compares to the minute
			if op == ">" || op == "<=" {
				m = m.Add(time.Minute)
			}
			f := field
			if op == ">=" || op == ">" {
				preds = append(preds, func(o *simObject) bool { return !dateOf(o, f).Before(m) })
			} else {
				preds = append(preds, func(o *simObject) bool { return dateOf(o, f).Before(m) })
			}
		default:
			return nil, "", false, fmt.Errorf("Invalid query: the simulator does not support %q.", q[start:i])
		}
	}
}

// search answers POST /data/search/, the Advanced Filtering API.
func (s *Simulator) search(w http.ResponseWriter, r *http.Request, tz time.Duration) {
	var body struct {
		Query  map[string]any      `json:"query"`
		Fields map[string][]string `json:"_fields"`
		Sort   []struct {
			Direction string `json:"direction"`
			Field     struct {
				Type       string `json:"type"`
				ObjectType string `json:"object_type"`
				FieldName  string `json:"field_name"`
			} `json:"field"`
		} `json:"sort"`
		Limit         *int    `json:"_limit"`
		Cursor        *string `json:"cursor"`
		IncludeCounts bool    `json:"include_counts"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		simFieldErrors(w, map[string]any{"__all__": "The body must be a JSON object: " + err.Error()})
		return
	}
	if body.Query == nil {
		simFieldErrors(w, map[string]any{"query": "This field is required."})
		return
	}
	objType, pred, err := compileSearch(body.Query, tz)
	if err != nil {
		simFieldErrors(w, map[string]any{"query": err.Error()})
		return
	}
	limit := min(100, s.opts.MaxLimit)
	if body.Limit != nil {
		if *body.Limit < 1 || *body.Limit > s.opts.MaxLimit {
			simFieldErrors(w, map[string]any{"_limit": fmt.Sprintf("Ensure this value is between 1 and %d.", s.opts.MaxLimit)})
			return
		}
		limit = *body.Limit
	}
	type sortBy struct {
		field string
		desc  bool
	}
	var order []sortBy
	for _, so := range body.Sort {
		if so.Field.Type != "regular_field" || so.Field.ObjectType != objType || so.Field.FieldName == "" {
			simFieldErrors(w, map[string]any{"sort": "Each sort needs a regular_field of the queried object type."})
			return
		}
		if so.Direction != "asc" && so.Direction != "desc" {
			simFieldErrors(w, map[string]any{"sort": "direction must be asc or desc."})
			return
		}
		order = append(order, sortBy{so.Field.FieldName, so.Direction == "desc"})
	}
	// keys of o in the sort order, id last, each comparable as a string.
	keys := func(o *simObject) []string {
		k := make([]string, 0, len(order)+1)
		for _, so := range order {
			k = append(k, sortKey(o, so.field))
		}
		return append(k, o.id)
	}
	less := func(a, b []string) bool {
		for i := range a {
			if a[i] == b[i] {
				continue
			}
			if i < len(order) && order[i].desc {
				return a[i] > b[i]
			}
			return a[i] < b[i]
		}
		return false
	}
	var after []string
	if body.Cursor != nil && *body.Cursor != "" {
		if err := json.Unmarshal([]byte(decodeCursor(*body.Cursor)), &after); err != nil || len(after) != len(order)+1 {
			simFieldErrors(w, map[string]any{"cursor": "Invalid cursor."})
			return
		}
	}

	s.mu.Lock()
	var rows []*simObject
	for _, o := range s.ordered(objType, true) {
		if pred(o) {
			rows = append(rows, o)
		}
	}
	total := len(rows)
	sort.SliceStable(rows, func(i, j int) bool { return less(keys(rows[i]), keys(rows[j])) })
	if after != nil {
		i := sort.Search(len(rows), func(i int) bool { return less(after, keys(rows[i])) })
		rows = rows[i:]
	}
	var next string
	if len(rows) > limit {
		rows = rows[:limit]
		k, _ := json.Marshal(keys(rows[limit-1]))
		next = encodeCursor(string(k))
	}
	fields, ok := body.Fields[objType]
	if !ok {
		fields = []string{} // only __object_type and id, as Close answers by default
	}
	var buf bytes.Buffer
	buf.WriteString(`{"data":[`)
	for i, o := range rows {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(project(o, fields, objType))
	}
	buf.WriteString(`],"cursor":`)
	simkit.WriteJSONString(&buf, next)
	if body.IncludeCounts {
		fmt.Fprintf(&buf, `,"count":{"total":%d}`, total)
	}
	buf.WriteByte('}')
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, buf.Bytes())
}

// compileSearch turns an Advanced Filtering query into the object type it
// asks for and a predicate. It supports the query types and
// conditions a poller needs: and, or, object_type, match_all,
// field_condition on regular fields with moment_range (fixed_utc and
// fixed_local_date moments), term and text conditions; "negate" on any.
func compileSearch(q map[string]any, tz time.Duration) (string, func(*simObject) bool, error) {
	var objType string
	var compile func(q map[string]any, depth int) (func(*simObject) bool, error)
	compile = func(q map[string]any, depth int) (func(*simObject) bool, error) {
		if depth > 20 {
			return nil, errors.New("query nested too deeply")
		}
		var p func(*simObject) bool
		switch t, _ := q["type"].(string); t {
		case "and", "or":
			subs, _ := q["queries"].([]any)
			var ps []func(*simObject) bool
			for _, sq := range subs {
				m, ok := sq.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s queries must be objects", t)
				}
				sp, err := compile(m, depth+1)
				if err != nil {
					return nil, err
				}
				ps = append(ps, sp)
			}
			and := t == "and"
			p = func(o *simObject) bool {
				for _, sp := range ps {
					if sp(o) != and {
						return !and
					}
				}
				return and
			}
		case "object_type":
			ot, _ := q["object_type"].(string)
			if ot != TypeContact && ot != TypeLead {
				return nil, fmt.Errorf("object_type %q cannot be searched; use contact or lead", ot)
			}
			if objType != "" && objType != ot {
				return nil, errors.New("a query can search one object type")
			}
			objType = ot
			p = func(o *simObject) bool { return o.typ == ot }
		case "match_all":
			p = func(*simObject) bool { return true }
		case "field_condition":
			fp, err := compileField(q, tz)
			if err != nil {
				return nil, err
			}
			p = fp
		default:
			return nil, fmt.Errorf("query type %q is not supported by the simulator", t)
		}
		if neg, _ := q["negate"].(bool); neg {
			inner := p
			p = func(o *simObject) bool { return !inner(o) }
		}
		return p, nil
	}
	p, err := compile(q, 0)
	if err != nil {
		return "", nil, err
	}
	if objType == "" {
		return "", nil, errors.New("the query must contain an object_type query")
	}
	return objType, p, nil
}

func compileField(q map[string]any, tz time.Duration) (func(*simObject) bool, error) {
	field, _ := q["field"].(map[string]any)
	if field["type"] != "regular_field" {
		return nil, errors.New("only regular_field fields are supported by the simulator")
	}
	name, _ := field["field_name"].(string)
	ot, _ := field["object_type"].(string)
	if name == "" || (ot != TypeContact && ot != TypeLead) {
		return nil, errors.New("a regular_field needs object_type (contact or lead) and field_name")
	}
	cond, _ := q["condition"].(map[string]any)
	onType := func(p func(*simObject) bool) func(*simObject) bool {
		return func(o *simObject) bool { return o.typ == ot && p(o) }
	}
	switch t, _ := cond["type"].(string); t {
	case "moment_range":
		var lo, hi *time.Time
		for key, dst := range map[string]**time.Time{"on_or_after": &lo, "before": &hi} {
			m, ok := cond[key].(map[string]any)
			if !ok {
				if cond[key] != nil {
					return nil, fmt.Errorf("%s must be a moment object or null", key)
				}
				continue
			}
			at, err := moment(m, tz)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", key, err)
			}
			*dst = &at
		}
		if lo == nil && hi == nil {
			return nil, errors.New("moment_range needs on_or_after or before")
		}
		return onType(func(o *simObject) bool {
			d := dateOf(o, name)
			return !d.IsZero() && (lo == nil || !d.Before(*lo)) && (hi == nil || d.Before(*hi))
		}), nil
	case "term":
		vals, _ := cond["values"].([]any)
		if len(vals) == 0 {
			return nil, errors.New("term needs values")
		}
		set := make([]string, len(vals))
		for i, v := range vals {
			set[i] = str(v)
		}
		return onType(func(o *simObject) bool { return slices.Contains(set, str(o.fields[name])) }), nil
	case "text":
		v, _ := cond["value"].(string)
		v = strings.ToLower(v)
		return onType(func(o *simObject) bool { return strings.Contains(strings.ToLower(str(o.fields[name])), v) }), nil
	default:
		return nil, fmt.Errorf("condition type %q is not supported by the simulator", t)
	}
}

// moment reads a moment of a moment_range.
func moment(m map[string]any, tz time.Duration) (time.Time, error) {
	v, _ := m["value"].(string)
	switch m["type"] {
	case "fixed_utc":
		t, ok := parseTime(v, 0)
		if !ok {
			return time.Time{}, fmt.Errorf("fixed_utc value %q is not a date", v)
		}
		return t, nil
	case "fixed_local_date":
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			return time.Time{}, fmt.Errorf("fixed_local_date value %q is not a date", v)
		}
		if m["which"] == "end" {
			t = t.AddDate(0, 0, 1)
		}
		return t.Add(-tz), nil
	}
	return time.Time{}, fmt.Errorf("moment type %v is not supported by the simulator", m["type"])
}

// eventCombos are the filter combinations the event log accepts (besides
// date_updated, allowed with any of them), as Close documents them.
var eventCombos = [][]string{
	{}, {"object_type", "object_id"}, {"object_type", "action"}, {"object_id", "action"},
	{"lead_id", "object_type"}, {"lead_id", "object_type", "action"},
	{"lead_id", "user_id", "object_type"}, {"lead_id", "user_id", "object_type", "action"},
	{"lead_id", "user_id"}, {"user_id", "object_id"}, {"user_id", "object_id", "action"},
	{"user_id", "object_type"}, {"user_id", "object_type", "action"},
	{"lead_id"}, {"user_id"}, {"request_id"},
}

// eventCursor is the position an event-log cursor encodes, with the date
// range it was made for: Close's cursors carry the date_updated filters.
type eventCursor struct {
	Date  int64  `json:"d"` // unix micro of the event at the page edge
	ID    string `json:"i"`
	Newer bool   `json:"n"` // cursor_previous: the events after the position
	From  *int64 `json:"f,omitempty"`
	To    *int64 `json:"t,omitempty"`
}

// eventLog answers GET /event/.
func (s *Simulator) eventLog(w http.ResponseWriter, r *http.Request, tz time.Duration) {
	q := r.URL.Query()
	if q.Has("_skip") {
		simError(w, http.StatusBadRequest, "The event log does not support _skip; page with _cursor.")
		return
	}
	limit := EventMaxLimit
	if v := q.Get("_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > EventMaxLimit {
			simError(w, http.StatusBadRequest, fmt.Sprintf("Invalid _limit: the maximum is %d.", EventMaxLimit))
			return
		}
		limit = n
	}
	var (
		filters  []string
		lo, hi   *time.Time // on date_updated (= date_created here)
		loStrict bool
		hiStrict bool
	)
	for name, vals := range q {
		v := vals[0]
		switch name {
		case "_limit", "_cursor":
		case "object_type", "action", "object_id", "lead_id", "user_id", "request_id":
			filters = append(filters, name)
		case "date_updated__gte", "date_updated__gt", "date_created__gte", "date_created__gt",
			"date_updated__lte", "date_updated__lt", "date_created__lte", "date_created__lt":
			t, ok := parseTime(v, tz)
			if !ok {
				simError(w, http.StatusBadRequest, fmt.Sprintf("Invalid date filter %s=%q.", name, v))
				return
			}
			strict := strings.HasSuffix(name, "t")
			if strings.Contains(name, "__g") {
				lo, loStrict = &t, strict
			} else {
				hi, hiStrict = &t, strict
			}
		default:
			simError(w, http.StatusBadRequest, fmt.Sprintf("Invalid filter %q.", name))
			return
		}
	}
	slices.Sort(filters)
	if !slices.ContainsFunc(eventCombos, func(c []string) bool { return slices.Equal(slices.Sorted(slices.Values(c)), filters) }) {
		simError(w, http.StatusBadRequest, fmt.Sprintf("Unsupported combination of filters: %s.", strings.Join(filters, ", ")))
		return
	}
	// From here on the range is half-open, [lo, hi).
	if loStrict && lo != nil {
		t := lo.Add(time.Microsecond)
		lo = &t
	}
	if !hiStrict && hi != nil {
		t := hi.Add(time.Microsecond)
		hi = &t
	}
	var cur *eventCursor
	if v := q.Get("_cursor"); v != "" {
		cur = &eventCursor{}
		if err := json.Unmarshal([]byte(decodeCursor(v)), cur); err != nil || cur.ID == "" {
			simError(w, http.StatusBadRequest, "Invalid _cursor.")
			return
		}
		// The cursor carries the date range of the query it came from.
		lo, hi = nil, nil
		if cur.From != nil {
			t := time.UnixMicro(*cur.From).UTC()
			lo = &t
		}
		if cur.To != nil {
			t := time.UnixMicro(*cur.To).UTC()
			hi = &t
		}
	}
	match := func(e *simEvent) bool {
		return (q.Get("object_type") == "" || e.objType == q.Get("object_type")) &&
			(q.Get("action") == "" || e.action == q.Get("action")) &&
			(q.Get("object_id") == "" || e.objID == q.Get("object_id")) &&
			(q.Get("lead_id") == "" || e.leadID == q.Get("lead_id")) &&
			q.Get("user_id") == "" && q.Get("request_id") == "" && // simulator events have no user or request
			(lo == nil || !e.date.Before(*lo)) && (hi == nil || e.date.Before(*hi))
	}
	// newer reports whether a sorts before b: newest first, ties by id.
	newer := func(a, b *simEvent) bool {
		if !a.date.Equal(b.date) {
			return a.date.After(b.date)
		}
		return a.id > b.id
	}

	s.mu.Lock()
	cutoff := s.now().Add(-EventRetention)
	var evs []*simEvent
	for _, e := range s.events {
		if !e.date.Before(cutoff) && match(e) {
			evs = append(evs, e)
		}
	}
	sort.Slice(evs, func(i, j int) bool { return newer(evs[i], evs[j]) })
	start, end := 0, len(evs)
	if cur != nil {
		pos := &simEvent{date: time.UnixMicro(cur.Date).UTC(), id: cur.ID}
		if cur.Newer {
			end = sort.Search(len(evs), func(i int) bool { return !newer(evs[i], pos) })
			start = max(0, end-limit)
		} else {
			start = sort.Search(len(evs), func(i int) bool { return newer(pos, evs[i]) })
		}
	}
	page := evs[start:min(end, start+limit)]
	var from, to *int64
	if lo != nil {
		v := lo.UnixMicro()
		from = &v
	}
	if hi != nil {
		v := hi.UnixMicro()
		to = &v
	}
	var next, prev string
	if len(page) > 0 {
		last, firstEv := page[len(page)-1], page[0]
		if start+len(page) < len(evs) {
			next = mustCursor(eventCursor{Date: last.date.UnixMicro(), ID: last.id, From: from, To: to})
		}
		prev = mustCursor(eventCursor{Date: firstEv.date.UnixMicro(), ID: firstEv.id, Newer: true, From: from, To: to})
	}
	var buf bytes.Buffer
	buf.WriteString(`{"data":[`)
	for i, e := range page {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(e.raw)
	}
	buf.WriteString(`],"cursor_next":`)
	simkit.WriteJSONString(&buf, next)
	buf.WriteString(`,"cursor_previous":`)
	simkit.WriteJSONString(&buf, prev)
	buf.WriteByte('}')
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, buf.Bytes())
}

func mustCursor(c eventCursor) string {
	b, _ := json.Marshal(c)
	return encodeCursor(string(b))
}

// Cursors are opaque to clients; the Simulator makes them from JSON, with
// a reversible encoding that keeps them URL- and JSON-safe.
func encodeCursor(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%02x", s[i])
	}
	return b.String()
}

func decodeCursor(s string) string {
	if len(s)%2 != 0 {
		return ""
	}
	b := make([]byte, len(s)/2)
	for i := range b {
		n, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return ""
		}
		b[i] = byte(n)
	}
	return string(b)
}

// httpCreate answers POST /{type}/.
func (s *Simulator) httpCreate(w http.ResponseWriter, r *http.Request, typ string) {
	fields, ok := readObject(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	o, err := s.create(typ, fields, false)
	var out []byte
	if err == nil {
		out = o.raw
	}
	s.mu.Unlock()
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		simFieldErrors(w, map[string]any{fe.field: fe.msg})
	case err != nil:
		simError(w, http.StatusBadRequest, err.Error())
	default:
		writeRaw(w, http.StatusOK, out)
	}
}

func (s *Simulator) httpGet(w http.ResponseWriter, typ, id string) {
	s.mu.Lock()
	var out []byte
	if o := s.objects[typ].byID[id]; o != nil {
		out = o.raw
	}
	s.mu.Unlock()
	if out == nil {
		simError(w, http.StatusNotFound, "Empty query: object matching query does not exist.")
		return
	}
	writeRaw(w, http.StatusOK, out)
}

func (s *Simulator) httpUpdate(w http.ResponseWriter, r *http.Request, typ, id string) {
	fields, ok := readObject(w, r)
	if !ok {
		return
	}
	delete(fields, "date_updated") // only Go callers may set dates
	s.mu.Lock()
	o, err := s.update(typ, id, fields)
	var out []byte
	if err == nil {
		out = o.raw
	}
	s.mu.Unlock()
	if err != nil {
		simError(w, http.StatusNotFound, "Empty query: object matching query does not exist.")
		return
	}
	writeRaw(w, http.StatusOK, out)
}

func readObject(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var fields map[string]any
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil || fields == nil {
		simFieldErrors(w, map[string]any{"__all__": "The body must be a JSON object."})
		return nil, false
	}
	// Dates come from the store's clock over HTTP, never from the body.
	delete(fields, "date_created")
	return fields, true
}

// fieldError is a validation failure of one field.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// cloneJSON copies the maps and slices of a JSON-like value.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, e := range v {
			c[k] = cloneJSON(e)
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = cloneJSON(e)
		}
		return c
	case time.Time:
		return v.UTC().Format(ObjectTimeFormat)
	}
	return v
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func simError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func simFieldErrors(w http.ResponseWriter, fields map[string]any) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []any{}, "field-errors": fields})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	simkit.WriteJSON(w, status, "application/json", v)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	simkit.WriteRaw(w, status, "application/json", b)
}
