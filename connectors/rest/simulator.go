package rest

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollwire/pollwire/connectors/internal/simkit"
)

// SimTimeFormat is how the Simulator writes created_at and updated_at.
const SimTimeFormat = "2006-01-02T15:04:05.000Z"

// SimAuth is the authentication a Simulator requires.
type SimAuth struct {
	Type        string // none (default), basic, bearer or header
	User        string // basic
	Password    string // basic
	Token       string // bearer
	HeaderName  string // header
	HeaderValue string // header
}

// Fault is a failure the Simulator answers a list request with.
type Fault struct {
	// Status is the answer's status. Zero answers 200 with Body when Body is
	// set, else the normal listing (after Delay): a slow answer.
	Status int
	// RetryAfter is sent as the Retry-After header when set.
	RetryAfter string
	// Delay holds the answer back, or until the client gives up.
	Delay time.Duration
	// Body is sent as it is (e.g. invalid JSON); empty means a JSON message.
	Body string
}

// SimOptions configure a Simulator.
type SimOptions struct {
	// Now is the vendor's clock (tests skew it); default time.Now.
	Now func() time.Time
	// MaxLimit is the largest page size accepted, and the page size when a
	// request names none; a larger limit is refused with 400. Default 100.
	MaxLimit int
	// Auth is what requests must carry; otherwise they get 401.
	Auth SimAuth

	// WebhookURL is where every Put and Delete (through the Go API or HTTP)
	// is pushed, asynchronously, one write per request:
	// {"resource": …, "type": "created"|"updated"|"deleted", "record": {…}}
	// (see SimPushResource). Empty pushes nothing; SetWebhookURL sets it
	// later.
	WebhookURL string
	// WebhookSecret keys the pushes' HMAC-SHA256 signature.
	WebhookSecret string
	// WebhookHeader carries the signature; default X-Signature.
	WebhookHeader string
	// WebhookEncoding writes it: hex (default) or base64.
	WebhookEncoding string
	// WebhookPrefix writes "sha256=" before the signature.
	WebhookPrefix bool
	// WebhookTimestampHeader, when set, carries the push time in epoch
	// seconds, and the signed message is timestamp + "." + body.
	WebhookTimestampHeader string
	// WebhookDropRate is the share of writes whose push is lost, drawn
	// from a generator seeded with WebhookSeed.
	WebhookDropRate float64
	WebhookSeed     uint64
	// WebhookRetry are the waits before each retry of a failed push. nil
	// means DefaultWebhookRetry; an empty slice, no retries.
	WebhookRetry []time.Duration
	// WebhookClient sends the pushes. Default: a client with a
	// DefaultWebhookTimeout timeout.
	WebhookClient *http.Client
}

// Simulator is a generic JSON vendor API over an in-memory store, for
// tests, the demo and benchmarks. It lists each resource's records changed
// since a time in six page shapes (see ServeHTTP). It is deterministic
// given its clock and safe for concurrent use.
type Simulator struct {
	now      func() time.Time
	maxLimit int
	auth     SimAuth

	requests atomic.Int64
	hooks    *simWebhooks

	mu        sync.Mutex
	resources map[string]*simResource
}

type simResource struct {
	seq  int // last generated id number
	byID map[string]*simRecord
	// sorted orders the records by (updated, id), the order every listing
	// pages through; rebuilt when dirty.
	sorted []*simRecord
	dirty  bool
	faults []pendingFault
}

type simRecord struct {
	id      string
	fields  map[string]any
	updated time.Time // as shown: UTC, millisecond precision
	created string
	raw     []byte // fields as JSON, rendered at each put
	hidden  bool
}

type pendingFault struct {
	fault Fault
	left  int
}

// NewSimulator returns an empty Simulator.
func NewSimulator(opts SimOptions) *Simulator {
	s := &Simulator{now: opts.Now, maxLimit: opts.MaxLimit, auth: opts.Auth, resources: map[string]*simResource{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxLimit <= 0 {
		s.maxLimit = 100
	}
	if s.auth.Type == "" {
		s.auth.Type = AuthNone
	}
	s.hooks = newSimWebhooks(&opts, s.now)
	return s
}

// resource returns the named resource, creating it. Callers hold mu.
func (s *Simulator) resource(name string) *simResource {
	r := s.resources[name]
	if r == nil {
		r = &simResource{byID: map[string]*simRecord{}}
		s.resources[name] = r
	}
	return r
}

// Put creates or updates a record of resource: fields are merged into the
// stored record; "id" is assigned ("<resource>_<n>") when missing;
// "created_at" is set on create and "updated_at" to the vendor's Now() on
// every put. It returns a copy of the stored record.
func (s *Simulator) Put(resource string, fields map[string]any) map[string]any {
	return s.PutAt(resource, fields, s.now())
}

// PutAt is Put with an explicit updated_at (and created_at on create), for
// boundary tests: two records with the same timestamp, a clock behind.
func (s *Simulator) PutAt(resource string, fields map[string]any, at time.Time) map[string]any {
	at = at.UTC().Truncate(time.Millisecond)
	stamp := at.Format(SimTimeFormat)

	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.resource(resource)
	id := idString(fields["id"])
	rec := r.byID[id]
	created := rec == nil
	if rec == nil {
		for id == "" || r.byID[id] != nil {
			r.seq++
			id = resource + "_" + strconv.Itoa(r.seq)
		}
		rec = &simRecord{id: id, fields: map[string]any{"id": id}, created: stamp}
		r.byID[id] = rec
	}
	for k, v := range fields {
		if k == "id" && v == nil {
			continue // nil asks for an id, it does not erase one
		}
		rec.fields[k] = cloneValue(v)
	}
	rec.fields["created_at"] = rec.created // set once, whatever the put says
	rec.fields["updated_at"] = stamp
	rec.updated = at
	raw, err := json.Marshal(rec.fields)
	if err != nil {
		panic(fmt.Sprintf("rest simulator: record of %s is not JSON: %v", resource, err))
	}
	rec.raw = raw
	r.dirty = true
	typ := "updated"
	if created {
		typ = "created"
	}
	s.notify(resource, typ, raw)
	return cloneValue(rec.fields).(map[string]any)
}

func idString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// cloneValue copies the maps and slices of a JSON-like value, so callers
// never share them with the store.
func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, e := range v {
			c[k] = cloneValue(e)
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = cloneValue(e)
		}
		return c
	}
	return v
}

// Hide makes a record invisible to listing until Reveal, keeping its
// updated_at: a write that becomes visible late (eventual consistency).
func (s *Simulator) Hide(resource, id string) { s.setHidden(resource, id, true) }

// Reveal makes a hidden record visible again, at its original updated_at.
func (s *Simulator) Reveal(resource, id string) { s.setHidden(resource, id, false) }

func (s *Simulator) setHidden(resource, id string, hidden bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.resources[resource]; r != nil {
		if rec := r.byID[id]; rec != nil {
			rec.hidden = hidden
		}
	}
}

// Delete removes a record, if there is one, and pushes its deletion.
func (s *Simulator) Delete(resource, id string) { s.delete(resource, id) }

func (s *Simulator) delete(resource, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.resources[resource]
	if r == nil || r.byID[id] == nil {
		return false
	}
	rec := r.byID[id]
	delete(r.byID, id)
	r.dirty = true
	// The deletion carries its own time, at least a millisecond past the
	// last write, as a vendor's deletion event would.
	at := s.now().UTC().Truncate(time.Millisecond)
	if !at.After(rec.updated) {
		at = rec.updated.Add(time.Millisecond)
	}
	tomb := cloneValue(rec.fields).(map[string]any)
	tomb["updated_at"] = at.Format(SimTimeFormat)
	if raw, err := json.Marshal(tomb); err == nil {
		s.notify(resource, "deleted", raw)
	}
	return true
}

// Fail makes the next n list requests of resource, in any page shape,
// answer with f. Faults queue up in the order they were added.
func (s *Simulator) Fail(resource string, n int, f Fault) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.resource(resource)
	r.faults = append(r.faults, pendingFault{fault: f, left: n})
}

// Requests returns how many list requests the Simulator has served,
// faults included.
func (s *Simulator) Requests() int { return int(s.requests.Load()) }

// Page shapes of the listing, the first segment of its path.
const (
	simPlain  = "plain"  // JSON array, no paging
	simOffset = "offset" // offset/limit → {"data":[…],"has_more":bool}
	simPage   = "page"   // page (1-based)/per_page → {"items":[…],"has_more":bool}
	simCursor = "cursor" // cursor/limit → {"data":[…],"next_cursor":"…"|null}
	simNext   = "next"   // limit/after → {"results":[…],"next":"<absolute URL>"|null}
	simLink   = "link"   // limit/after → JSON array + Link: <…>; rel="next"
)

var simStyles = []string{simPlain, simOffset, simPage, simCursor, simNext, simLink}

// ServeHTTP answers:
//
//	GET    /{style}/{resource}?updated_since=<RFC 3339 | epoch ms>  list (style: plain, offset, page, cursor, next, link)
//	POST   /{resource}       create or update a record from a JSON object (Put)
//	DELETE /{resource}/{id}  delete a record
//
// Listings return the visible records with updated_at > updated_since
// (all without it), sorted by (updated_at, id); a resource nothing was put
// in lists empty, as a vendor's would. Other paths answer 404.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if msg := s.checkAuth(r); msg != "" {
		if s.auth.Type == AuthBasic {
			w.Header().Set("WWW-Authenticate", `Basic realm="simulator"`)
		}
		simError(w, http.StatusUnauthorized, msg)
		return
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(segs) == 2 && r.Method == http.MethodGet:
		s.list(w, r, segs[0], segs[1])
	case len(segs) == 1 && segs[0] != "" && r.Method == http.MethodPost:
		s.create(w, r, segs[0])
	case len(segs) == 2 && r.Method == http.MethodDelete:
		if !s.delete(segs[0], segs[1]) {
			simError(w, http.StatusNotFound, fmt.Sprintf("no record %q in %q", segs[1], segs[0]))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(segs) == 2 || (len(segs) == 1 && segs[0] != ""):
		simError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed here", r.Method))
	default:
		simError(w, http.StatusNotFound, "not found; list with GET /{plain|offset|page|cursor|next|link}/{resource}")
	}
}

func (s *Simulator) checkAuth(r *http.Request) string {
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	switch a := s.auth; a.Type {
	case AuthBasic:
		u, p, ok := r.BasicAuth()
		if !ok {
			return "basic authentication required"
		}
		if !eq(u, a.User) || !eq(p, a.Password) {
			return "invalid username or password"
		}
	case AuthBearer:
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			return "bearer token required"
		}
		if !eq(tok, a.Token) {
			return "invalid bearer token"
		}
	case AuthHeader:
		v := r.Header.Get(a.HeaderName)
		if v == "" {
			return fmt.Sprintf("header %s required", a.HeaderName)
		}
		if !eq(v, a.HeaderValue) {
			return fmt.Sprintf("invalid %s", a.HeaderName)
		}
	}
	return ""
}

func (s *Simulator) create(w http.ResponseWriter, r *http.Request, resource string) {
	var fields map[string]any
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil || fields == nil {
		simError(w, http.StatusBadRequest, "the body must be a JSON object")
		return
	}
	writeJSON(w, http.StatusCreated, s.Put(resource, fields))
}

// listQuery is a parsed list request.
type listQuery struct {
	style string
	since time.Time // zero: no lower bound
	limit int
	skip  int      // offset and page shapes
	after *simKey  // cursor shapes
	page  int      // page shape
	base  *url.URL // the request as an absolute URL, for next links
}

// simKey is a position in the (updated, id) order.
type simKey struct {
	updated time.Time
	id      string
}

func (k simKey) token() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(k.updated.UnixMilli(), 10) + "|" + k.id))
}

func parseKey(tok string) (*simKey, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, false
	}
	ms, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil {
		return nil, false
	}
	return &simKey{updated: time.UnixMilli(n).UTC(), id: id}, true
}

func (s *Simulator) list(w http.ResponseWriter, r *http.Request, style, resource string) {
	if !slices.Contains(simStyles, style) {
		simError(w, http.StatusNotFound, fmt.Sprintf("unknown list style %q; use plain, offset, page, cursor, next or link", style))
		return
	}
	s.requests.Add(1)

	s.mu.Lock()
	var fault *Fault
	if res := s.resources[resource]; res != nil && len(res.faults) > 0 {
		f := res.faults[0].fault
		fault = &f
		if res.faults[0].left--; res.faults[0].left == 0 {
			res.faults = res.faults[1:]
		}
	}
	s.mu.Unlock()
	if fault != nil && serveFault(w, r, fault) {
		return
	}

	q, msg := s.parseList(r, style)
	if msg != "" {
		simError(w, http.StatusBadRequest, msg)
		return
	}
	body, link := s.render(resource, q)
	if link != "" {
		w.Header().Set("Link", "<"+link+`>; rel="next"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// serveFault answers with f and reports whether it did; a Fault with only
// a Delay lets the normal answer follow.
func serveFault(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return true // the client gave up; nobody reads an answer
		case <-t.C:
		}
	}
	if f.Status == 0 && f.Body == "" {
		return false
	}
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Body == "" {
		simError(w, status, fmt.Sprintf("simulated fault: %d %s", status, http.StatusText(status)))
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, f.Body)
	return true
}

func (s *Simulator) parseList(r *http.Request, style string) (listQuery, string) {
	v := r.URL.Query()
	q := listQuery{style: style, limit: s.maxLimit}
	if raw := v.Get("updated_since"); raw != "" {
		t, ok := parseSince(raw)
		if !ok {
			return q, "updated_since must be an RFC 3339 time or epoch milliseconds"
		}
		q.since = t
	}
	if style == simPlain {
		return q, "" // one page of everything
	}
	limitParam := "limit"
	if style == simPage {
		limitParam = "per_page"
	}
	if raw := v.Get(limitParam); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return q, limitParam + " must be a positive whole number"
		}
		if n > s.maxLimit {
			// Named "limit" whatever the parameter, as vendors word it.
			return q, fmt.Sprintf("limit must be at most %d", s.maxLimit)
		}
		q.limit = n
	}
	switch style {
	case simOffset:
		if raw := v.Get("offset"); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 0 {
				return q, "offset must be a whole number, 0 or more"
			}
			q.skip = n
		}
	case simPage:
		q.page = 1
		if raw := v.Get("page"); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 {
				return q, "page must be a whole number, 1 or more"
			}
			q.page = n
		}
		q.skip = (q.page - 1) * q.limit
		if q.page > 1 && q.skip/(q.page-1) != q.limit {
			return q, "page is too large"
		}
	case simCursor, simNext, simLink:
		name := "after"
		if style == simCursor {
			name = "cursor"
		}
		if raw := v.Get(name); raw != "" {
			k, ok := parseKey(raw)
			if !ok {
				return q, "invalid " + name
			}
			q.after = k
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		q.base = &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	}
	return q, ""
}

// parseSince reads RFC 3339 with any fraction of a second, or epoch
// milliseconds.
func parseSince(v string) (time.Time, bool) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// render builds a page of resource and, for the next and link shapes, the
// next page's URL.
func (s *Simulator) render(resource string, q listQuery) (body []byte, next string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := s.resources[resource]
	if res == nil {
		// Like a vendor account without such records yet: an empty list.
		res = &simResource{}
	}
	sorted := res.ordered()

	// Keyset positions need no scan: the order is by (updated, id).
	start := sort.Search(len(sorted), func(i int) bool { return sorted[i].updated.After(q.since) })
	if q.after != nil {
		k := *q.after
		start = max(start, sort.Search(len(sorted), func(i int) bool {
			u := sorted[i].updated
			return u.After(k.updated) || (u.Equal(k.updated) && sorted[i].id > k.id)
		}))
	}

	var (
		buf   bytes.Buffer
		n     int
		last  *simRecord
		more  bool
		skip  = q.skip
		limit = q.limit
	)
	if q.style == simPlain {
		limit = len(sorted)
	}
	if k := min(len(sorted)-start, limit); k > 0 {
		buf.Grow(64 + k*(len(sorted[start].raw)+1)) // records of a resource are alike in size
	}
	switch q.style {
	case simOffset, simCursor:
		buf.WriteString(`{"data":[`)
	case simPage:
		buf.WriteString(`{"items":[`)
	case simNext:
		buf.WriteString(`{"results":[`)
	default:
		buf.WriteByte('[')
	}
	for _, rec := range sorted[start:] {
		if rec.hidden {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if n == limit {
			more = true
			break
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		buf.Write(rec.raw)
		n++
		last = rec
	}
	buf.WriteByte(']')

	var nextTok string
	if more && last != nil {
		nextTok = simKey{updated: last.updated, id: last.id}.token()
	}
	if nextTok != "" && q.base != nil {
		u := *q.base
		v := u.Query()
		v.Set("after", nextTok)
		v.Set("limit", strconv.Itoa(q.limit))
		u.RawQuery = v.Encode()
		next = u.String()
	}
	switch q.style {
	case simOffset, simPage:
		fmt.Fprintf(&buf, `,"has_more":%t}`, more)
	case simCursor:
		buf.WriteString(`,"next_cursor":`)
		simkit.WriteJSONString(&buf, nextTok)
		buf.WriteByte('}')
	case simNext:
		buf.WriteString(`,"next":`)
		simkit.WriteJSONString(&buf, next)
		buf.WriteByte('}')
	}
	if q.style != simLink {
		next = ""
	}
	return buf.Bytes(), next
}

// ordered returns the records sorted by (updated, id). Callers hold mu.
func (r *simResource) ordered() []*simRecord {
	if r.dirty || len(r.sorted) != len(r.byID) {
		r.sorted = r.sorted[:0]
		for _, rec := range r.byID {
			r.sorted = append(r.sorted, rec)
		}
		sort.Slice(r.sorted, func(i, j int) bool {
			a, b := r.sorted[i], r.sorted[j]
			if !a.updated.Equal(b.updated) {
				return a.updated.Before(b.updated)
			}
			return a.id < b.id
		})
		r.dirty = false
	}
	return r.sorted
}

func simError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
