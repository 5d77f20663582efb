package hubspot

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SimOptions configure a Simulator. Zero limits mean unlimited.
type SimOptions struct {
	// Now is HubSpot's clock: record times, token expiry, index lag and
	// rate-limit windows. Default time.Now.
	Now func() time.Time
	// PrivateAppToken is the bearer token of a private app; empty accepts
	// none.
	PrivateAppToken string
	// ClientID, ClientSecret and RefreshToken are the OAuth app and the
	// installation's first refresh token; empty ClientID refuses every
	// token request.
	ClientID, ClientSecret, RefreshToken string
	// AccessTokenTTL is the lifetime of the access tokens the token
	// endpoint issues. Default 30 minutes, as HubSpot's.
	AccessTokenTTL time.Duration
	// RotateRefreshTokens issues a new refresh token with every access
	// token and voids the old one.
	RotateRefreshTokens bool
	// IndexLag is how long a new or changed record takes to appear in (or
	// change in) search results; listings see it at once.
	IndexLag time.Duration
	// TenSecondlyLimit is the rolling ten-second limit of non-search
	// requests (search is exempt, as on HubSpot).
	TenSecondlyLimit int
	// DailyLimit is the requests allowed per day, reset at midnight in
	// TimeZone.
	DailyLimit int
	// SearchPerSecond is the rolling one-second limit of search requests.
	SearchPerSecond int
	// TimeZone is the account's zone, where the daily limit resets.
	// Default UTC.
	TimeZone *time.Location
	// SendRetryAfter adds a Retry-After header to secondly and ten-secondly
	// refusals (HubSpot documents none).
	SendRetryAfter bool

	// WebhookURL is where every Create, Update and Archive (through the Go
	// API or HTTP) is pushed as a signed v3 webhook, asynchronously and
	// batched. Empty sends none; SetWebhookURL sets it later.
	WebhookURL string
	// WebhookSecret signs the webhooks. Default ClientSecret, as HubSpot
	// signs with the app's client secret.
	WebhookSecret string
	// WebhookDropRate is the share of writes whose webhook events are lost
	// and never sent, drawn from a generator seeded with WebhookSeed.
	WebhookDropRate float64
	WebhookSeed     uint64
	// WebhookRetry are the waits before each retry of a request that failed
	// (no answer, a timeout, or a status other than 2xx and the 400, 401,
	// 403, 404 and 405 HubSpot does not retry). nil means
	// DefaultWebhookRetry; an empty slice, no retries.
	WebhookRetry []time.Duration
	// WebhookBatch is the most events per request: 1 to 100, default 100.
	WebhookBatch int
	// WebhookClient sends the webhooks. Default: a client with a
	// DefaultWebhookTimeout timeout.
	WebhookClient *http.Client
	// WebhookProperties are the properties whose changes send
	// propertyChange events (HubSpot subscribes per property); nil means
	// all of them.
	WebhookProperties []string
	// PortalID and AppID fill the events' portalId and appId. Defaults
	// DefaultPortalID and DefaultAppID.
	PortalID, AppID int64
}

// Object is a CRM record as the Simulator holds it.
type Object struct {
	Type       string
	ID         string
	Properties map[string]string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Archived   bool
	ArchivedAt time.Time
}

// SimFault is an answer the Simulator gives instead of the real one.
type SimFault struct {
	Status     int
	Body       string // sent as is; empty means a HubSpot error body
	RetryAfter string
}

// Simulator is an in-memory HubSpot CRM v3 for tests, the demo and
// benchmarks: object CRUD, listings (archived too), the CRM search with its
// limits and index lag, the OAuth v1 token endpoint, bearer auth, rate
// limits with HubSpot's headers and 429 bodies, HubSpot's error bodies, and
// signed v3 webhooks of every write (SimOptions.WebhookURL). It is
// deterministic given its clock (webhook timing aside) and safe for
// concurrent use.
type Simulator struct {
	opts SimOptions

	hooks *simWebhooks

	requests    atomic.Int64
	searches    atomic.Int64
	throttled   atomic.Int64
	tokenGrants atomic.Int64

	mu      sync.Mutex
	seq     int64
	objects map[string]map[string]*simObject // type → id → object
	refresh string                           // the valid refresh token
	access  map[string]time.Time             // access token → expiry
	tokSeq  int
	corr    int
	faults  []pendingFault
	// rate-limit windows: start times of admitted requests
	searchTimes []time.Time
	tenTimes    []time.Time
	day         string
	dayCount    int
}

type pendingFault struct {
	fault SimFault
	left  int
}

type simObject struct {
	typ, id    string
	props      map[string]string // includes the built-in properties
	created    time.Time
	updated    time.Time
	archived   bool
	archivedAt time.Time
	// versions is what search sees: snapshots and when each becomes
	// visible. The index lags writes by IndexLag.
	versions []simVersion
}

type simVersion struct {
	visible time.Time
	props   map[string]string
	// dates holds the date properties as epoch ms, parsed once: searches
	// compare and sort on them for every record.
	dates   map[string]int64
	updated time.Time
}

// NewSimulator returns an empty Simulator.
func NewSimulator(opts SimOptions) *Simulator {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = 30 * time.Minute
	}
	if opts.TimeZone == nil {
		opts.TimeZone = time.UTC
	}
	return &Simulator{
		opts: opts, seq: 1000, objects: map[string]map[string]*simObject{},
		refresh: opts.RefreshToken, access: map[string]time.Time{},
		hooks: newSimWebhooks(&opts),
	}
}

// instant formats t as HubSpot does (Java's ISO instant): milliseconds
// when there are any, none when they are zero.
func instant(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

func (s *Simulator) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// Create adds a record of objectType (contacts, companies, deals, calls,
// emails, meetings, notes or tasks) and returns it. Empty values are not
// stored, as on HubSpot. It panics on an unknown type: a test's mistake.
func (s *Simulator) Create(objectType string, props map[string]string) Object {
	info := mustType(objectType)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.seq++
	o := &simObject{typ: objectType, id: strconv.FormatInt(s.seq, 10), props: map[string]string{}, created: now, updated: now}
	s.write(o, info, props)
	if s.objects[objectType] == nil {
		s.objects[objectType] = map[string]*simObject{}
	}
	s.objects[objectType][o.id] = o
	s.notify("creation", o, props)
	return o.export()
}

// Update merges props into a live record (an empty value clears the
// property) and returns it; false when there is no such live record. Its
// modification time moves to now, and at least a millisecond past the last
// one, since HubSpot's writes to one record are ordered.
func (s *Simulator) Update(objectType, id string, props map[string]string) (Object, bool) {
	info := mustType(objectType)
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.objects[objectType][id]
	if o == nil || o.archived {
		return Object{}, false
	}
	o.updated = later(s.now(), o.updated)
	s.write(o, info, props)
	s.notify("propertyChange", o, props)
	return o.export(), true
}

// Archive moves a live record to the recycle bin (DELETE on HubSpot): it
// leaves search at once and shows in the archived listing with archivedAt.
func (s *Simulator) Archive(objectType, id string) (Object, bool) {
	info := mustType(objectType)
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.objects[objectType][id]
	if o == nil || o.archived {
		return Object{}, false
	}
	o.updated = later(s.now(), o.updated)
	o.archived, o.archivedAt = true, o.updated
	o.props[info.modified] = instant(o.updated)
	o.versions = nil
	s.notify("deletion", o, nil)
	return o.export(), true
}

// Get returns a record, live or archived.
func (s *Simulator) Get(objectType, id string) (Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.objects[objectType][id]
	if o == nil {
		return Object{}, false
	}
	return o.export(), true
}

func later(now, prev time.Time) time.Time {
	if now.After(prev) {
		return now
	}
	return prev.Add(time.Millisecond)
}

func mustType(objectType string) objectInfo {
	info, ok := objectTypes[objectType]
	if !ok {
		panic(fmt.Sprintf("hubspot simulator: unknown object type %q", objectType))
	}
	return info
}

// write applies props and the built-in properties, and queues the new
// version for the search index. Callers hold mu.
func (s *Simulator) write(o *simObject, info objectInfo, props map[string]string) {
	for k, v := range props {
		if v == "" {
			delete(o.props, k)
		} else {
			o.props[k] = v
		}
	}
	o.props["hs_object_id"] = o.id
	o.props[info.created] = instant(o.created)
	o.props[info.modified] = instant(o.updated)
	snap := make(map[string]string, len(o.props))
	dates := map[string]int64{}
	for k, v := range o.props {
		snap[k] = v
		if dateProperties[k] {
			if ms, ok := instantMillis(v); ok {
				dates[k] = ms
			}
		}
	}
	o.versions = append(o.versions, simVersion{visible: s.now().Add(s.opts.IndexLag), props: snap, dates: dates, updated: o.updated})
}

// indexed returns the version search sees now, dropping older ones; nil
// while the record is not (yet) in the index. Callers hold mu.
func (o *simObject) indexed(now time.Time) *simVersion {
	for i := len(o.versions) - 1; i >= 0; i-- {
		if !o.versions[i].visible.After(now) {
			o.versions = o.versions[i:]
			return &o.versions[0]
		}
	}
	return nil
}

func (o *simObject) export() Object {
	props := make(map[string]string, len(o.props))
	for k, v := range o.props {
		props[k] = v
	}
	return Object{Type: o.typ, ID: o.id, Properties: props, CreatedAt: o.created, UpdatedAt: o.updated, Archived: o.archived, ArchivedAt: o.archivedAt}
}

// Fail makes the next n API requests (not token requests) answer with f.
func (s *Simulator) Fail(n int, f SimFault) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, pendingFault{fault: f, left: n})
}

// ExpireAccessTokens ends every access token issued so far: the next
// request with one gets 401 EXPIRED_AUTHENTICATION.
func (s *Simulator) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	for t := range s.access {
		s.access[t] = now
	}
}

// RefreshToken returns the refresh token the token endpoint accepts now.
func (s *Simulator) RefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refresh
}

// Requests returns how many API requests (not token requests) were
// served, refusals included.
func (s *Simulator) Requests() int { return int(s.requests.Load()) }

// Searches returns how many search requests were answered 200.
func (s *Simulator) Searches() int { return int(s.searches.Load()) }

// Throttled returns how many requests were refused with 429.
func (s *Simulator) Throttled() int { return int(s.throttled.Load()) }

// TokenGrants returns how many access tokens the token endpoint issued.
func (s *Simulator) TokenGrants() int { return int(s.tokenGrants.Load()) }

// ServeHTTP answers:
//
//	POST   /oauth/v1/token                       grant_type=refresh_token (form)
//	POST   /crm/v3/objects/{type}/search          filterGroups, sorts, properties, limit (≤200), after (offset; 10,000 results at most)
//	GET    /crm/v3/objects/{type}?limit=&after=&archived=&properties=   listing by id (limit ≤100)
//	POST   /crm/v3/objects/{type}                 {"properties":{…}} → 201
//	GET    /crm/v3/objects/{type}/{id}
//	PATCH  /crm/v3/objects/{type}/{id}            {"properties":{…}}
//	DELETE /crm/v3/objects/{type}/{id}            archive → 204
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == TokenPath {
		s.token(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/crm/v3/objects/")
	if !ok {
		s.fail(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "Not found: "+r.URL.Path)
		return
	}
	s.requests.Add(1)
	if s.fault(w) {
		return
	}
	privateApp, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	typ := segs[0]
	if _, known := objectTypes[typ]; !known {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf("Unable to infer object type from: %s", typ))
		return
	}
	search := len(segs) == 2 && segs[1] == "search"
	if !s.admit(w, search, privateApp) {
		return
	}
	switch {
	case search && r.Method == http.MethodPost:
		s.search(w, r, typ)
	case len(segs) == 1 && r.Method == http.MethodGet:
		s.list(w, r, typ)
	case len(segs) == 1 && r.Method == http.MethodPost:
		props, ok := s.readProperties(w, r)
		if ok {
			o := s.Create(typ, props)
			s.writeObject(w, http.StatusCreated, o)
		}
	case len(segs) == 2 && r.Method == http.MethodGet:
		o, ok := s.Get(typ, segs[1])
		if !ok || o.Archived {
			s.fail(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "resource not found")
			return
		}
		s.writeObject(w, http.StatusOK, o)
	case len(segs) == 2 && r.Method == http.MethodPatch:
		props, ok := s.readProperties(w, r)
		if !ok {
			return
		}
		o, ok := s.Update(typ, segs[1], props)
		if !ok {
			s.fail(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "resource not found")
			return
		}
		s.writeObject(w, http.StatusOK, o)
	case len(segs) == 2 && r.Method == http.MethodDelete:
		if _, exists := s.Get(typ, segs[1]); !exists {
			s.fail(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "resource not found")
			return
		}
		s.Archive(typ, segs[1]) // archiving twice is a no-op, as on HubSpot
		w.WriteHeader(http.StatusNoContent)
	default:
		s.fail(w, http.StatusMethodNotAllowed, "VALIDATION_ERROR", fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path))
	}
}

// fault answers with the next queued fault, if any.
func (s *Simulator) fault(w http.ResponseWriter) bool {
	s.mu.Lock()
	if len(s.faults) == 0 {
		s.mu.Unlock()
		return false
	}
	f := s.faults[0].fault
	if s.faults[0].left--; s.faults[0].left == 0 {
		s.faults = s.faults[1:]
	}
	s.mu.Unlock()
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Status == http.StatusTooManyRequests {
		s.throttled.Add(1)
	}
	if f.Body == "" {
		s.fail(w, f.Status, "SIMULATED", fmt.Sprintf("simulated fault: %d %s", f.Status, http.StatusText(f.Status)))
		return true
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, f.Body)
	return true
}

// authenticate checks the bearer token: the private app's, or an access
// token the token endpoint issued and that has not expired.
func (s *Simulator) authenticate(w http.ResponseWriter, r *http.Request) (privateApp, ok bool) {
	auth := r.Header.Get("Authorization")
	tok, found := strings.CutPrefix(auth, "Bearer ")
	if !found {
		tok, found = strings.CutPrefix(auth, "bearer ")
	}
	if found && s.opts.PrivateAppToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.PrivateAppToken)) == 1 {
		return true, true
	}
	s.mu.Lock()
	exp, issued := s.access[tok]
	s.mu.Unlock()
	now := s.opts.Now()
	switch {
	case found && issued && now.Before(exp):
		return false, true
	case found && issued:
		ago := int(math.Ceil(now.Sub(exp).Seconds()))
		s.failContext(w, http.StatusUnauthorized, "EXPIRED_AUTHENTICATION",
			fmt.Sprintf("The OAuth token used to make this call expired %d second(s) ago.", ago),
			map[string][]string{"expire time": {instant(exp)}})
	default:
		s.fail(w, http.StatusUnauthorized, "INVALID_AUTHENTICATION",
			"Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
	}
	return false, false
}

// admit applies the rate limits and sets HubSpot's rate-limit headers. The
// daily headers go to private apps only, as HubSpot documents; search
// answers carry no rolling-limit headers (search has its own limit).
func (s *Simulator) admit(w http.ResponseWriter, search, privateApp bool) bool {
	o := &s.opts
	now := s.opts.Now()
	s.mu.Lock()
	if o.DailyLimit > 0 {
		if day := now.In(o.TimeZone).Format("2006-01-02"); day != s.day {
			s.day, s.dayCount = day, 0
		}
	}
	s.searchTimes = within(s.searchTimes, now.Add(-time.Second))
	s.tenTimes = within(s.tenTimes, now.Add(-10*time.Second))
	var policy, msg string
	var retry time.Duration
	switch {
	case o.DailyLimit > 0 && s.dayCount >= o.DailyLimit:
		policy, msg = "DAILY", "You have reached your daily limit."
	case search && o.SearchPerSecond > 0 && len(s.searchTimes) >= o.SearchPerSecond:
		policy, msg = "SECONDLY", "You have reached your secondly limit."
		retry = s.searchTimes[0].Add(time.Second).Sub(now)
	case !search && o.TenSecondlyLimit > 0 && len(s.tenTimes) >= o.TenSecondlyLimit:
		policy, msg = "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."
		retry = s.tenTimes[0].Add(10 * time.Second).Sub(now)
	default:
		s.dayCount++
		if search {
			s.searchTimes = append(s.searchTimes, now)
		} else {
			s.tenTimes = append(s.tenTimes, now)
		}
	}
	h := w.Header()
	if o.DailyLimit > 0 && privateApp {
		h.Set(headerDaily, strconv.Itoa(o.DailyLimit))
		h.Set(headerDailyRemaining, strconv.Itoa(max(o.DailyLimit-s.dayCount, 0)))
	}
	if !search && o.TenSecondlyLimit > 0 {
		h.Set(headerMax, strconv.Itoa(o.TenSecondlyLimit))
		h.Set(headerRemaining, strconv.Itoa(max(o.TenSecondlyLimit-len(s.tenTimes), 0)))
		h.Set(headerInterval, "10000")
	}
	s.corr++
	corr := correlationID(s.corr)
	s.mu.Unlock()
	if policy == "" {
		return true
	}
	s.throttled.Add(1)
	if o.SendRetryAfter && retry > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
	}
	writeJSON(w, http.StatusTooManyRequests, map[string]string{
		"status": "error", "message": msg, "errorType": "RATE_LIMIT",
		"correlationId": corr, "policyName": policy, "requestId": corr,
	})
	return false
}

// within drops the times not after cutoff.
func within(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(cutoff) {
		i++
	}
	return ts[i:]
}

func correlationID(n int) string {
	return fmt.Sprintf("%08x-5e1a-4000-8000-%012x", n, n)
}

// token is POST /oauth/v1/token with grant_type=refresh_token.
func (s *Simulator) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.fail(w, http.StatusMethodNotAllowed, "VALIDATION_ERROR", "use POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.tokenError(w, "BAD_REQUEST", "the body must be application/x-www-form-urlencoded")
		return
	}
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.PostForm.Get("grant_type") != "refresh_token":
		s.tokenError(w, "BAD_GRANT_TYPE", "grant_type must be refresh_token (the simulator does not do authorization codes)")
	case s.opts.ClientID == "" || !eq(r.PostForm.Get("client_id"), s.opts.ClientID):
		s.tokenError(w, "BAD_CLIENT_ID", "missing or unknown client id")
	case !eq(r.PostForm.Get("client_secret"), s.opts.ClientSecret):
		s.tokenError(w, "BAD_CLIENT_SECRET", "missing or invalid client secret")
	case s.refresh == "" || !eq(r.PostForm.Get("refresh_token"), s.refresh):
		s.tokenError(w, "BAD_REFRESH_TOKEN", "missing or unknown refresh token")
	default:
		s.tokSeq++
		access := fmt.Sprintf("sim-access-%d", s.tokSeq)
		s.access[access] = s.opts.Now().Add(s.opts.AccessTokenTTL)
		if s.opts.RotateRefreshTokens {
			s.refresh = fmt.Sprintf("sim-refresh-%d", s.tokSeq)
		}
		s.tokenGrants.Add(1)
		writeJSON(w, http.StatusOK, map[string]any{
			"token_type": "bearer", "access_token": access, "refresh_token": s.refresh,
			"expires_in": int64(math.Ceil(s.opts.AccessTokenTTL.Seconds())),
		})
	}
}

// tokenError is the token endpoint's error body, which differs from the
// API's: the status field names the problem. Callers hold mu.
func (s *Simulator) tokenError(w http.ResponseWriter, status, msg string) {
	s.corr++
	writeJSON(w, http.StatusBadRequest, map[string]string{"status": status, "message": msg, "correlationId": correlationID(s.corr)})
}

func (s *Simulator) readProperties(w http.ResponseWriter, r *http.Request) (map[string]string, bool) {
	var body struct {
		Properties map[string]flexString `json:"properties"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil || body.Properties == nil {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", `Invalid input JSON: the body must be {"properties": {...}}`)
		return nil, false
	}
	props := make(map[string]string, len(body.Properties))
	for k, v := range body.Properties {
		props[k] = string(v)
	}
	return props, true
}

// flexString takes a JSON string, number or boolean as its text, as
// HubSpot takes property and filter values.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9') || string(b) == "true" || string(b) == "false") {
		*f = flexString(b)
		return nil
	}
	return fmt.Errorf("must be a string, number or boolean")
}

type simFilter struct {
	PropertyName string       `json:"propertyName"`
	Operator     string       `json:"operator"`
	Value        *flexString  `json:"value"`
	HighValue    *flexString  `json:"highValue"`
	Values       []flexString `json:"values"`
}

type simSearch struct {
	FilterGroups []struct {
		Filters []simFilter `json:"filters"`
	} `json:"filterGroups"`
	Sorts      []json.RawMessage `json:"sorts"`
	Properties []string          `json:"properties"`
	Limit      *int              `json:"limit"`
	After      *flexString       `json:"after"`
	Query      string            `json:"query"`
}

var simOperators = map[string]bool{
	"EQ": true, "NEQ": true, "LT": true, "LTE": true, "GT": true, "GTE": true, "BETWEEN": true,
	"IN": true, "NOT_IN": true, "HAS_PROPERTY": true, "NOT_HAS_PROPERTY": true,
	"CONTAINS_TOKEN": true, "NOT_CONTAINS_TOKEN": true,
}

// search is POST /crm/v3/objects/{type}/search.
func (s *Simulator) search(w http.ResponseWriter, r *http.Request, typ string) {
	var req simSearch
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(&req); err != nil {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "Invalid input JSON: "+err.Error())
		return
	}
	if msg := validateSearch(&req); msg != "" {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", msg)
		return
	}
	limit := 10
	if req.Limit != nil {
		limit = *req.Limit
	}
	offset := 0
	if req.After != nil && *req.After != "" {
		n, err := strconv.Atoi(string(*req.After))
		if err != nil || n < 0 {
			s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "after must be an integer")
			return
		}
		offset = n
	}
	if offset+limit > SearchResultCap {
		s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR",
			fmt.Sprintf("There was a problem with the request. Search results are limited to %d; after=%d with limit=%d reaches past them.", SearchResultCap, offset, limit))
		return
	}
	sortProp, desc := "", false
	if len(req.Sorts) == 1 {
		sortProp, desc = parseSort(req.Sorts[0])
	}

	info := objectTypes[typ]
	s.mu.Lock()
	now := s.opts.Now()
	type hit struct {
		o   *simObject
		v   *simVersion
		key sortKey
	}
	var hits []hit
	for _, o := range s.objects[typ] {
		if o.archived {
			continue
		}
		v := o.indexed(now)
		if v == nil || !matchGroups(req.FilterGroups, v) {
			continue
		}
		hits = append(hits, hit{o: o, v: v, key: keyOf(v, sortProp)})
	}
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		if sortProp != "" {
			switch {
			case a.key.has != b.key.has:
				return a.key.has // records without the property come last
			case a.key.has:
				if c := a.key.compare(b.key); c != 0 {
					return (c < 0) != desc
				}
			}
		}
		return idLess(a.o.id, b.o.id)
	})
	total := len(hits)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"total":%d,"results":[`, total)
	end := min(offset+limit, total)
	for i := offset; i < end; i++ {
		if i > offset {
			buf.WriteByte(',')
		}
		h := hits[i]
		renderObject(&buf, h.o, h.v.props, h.v.updated, req.Properties, info)
	}
	buf.WriteByte(']')
	if end < total {
		fmt.Fprintf(&buf, `,"paging":{"next":{"after":"%d","link":"?after=%d"}}`, end, end)
	}
	buf.WriteByte('}')
	s.mu.Unlock()
	s.searches.Add(1)
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// validateSearch applies HubSpot's documented limits to a search body.
func validateSearch(req *simSearch) string {
	if req.Limit != nil && (*req.Limit < 1 || *req.Limit > MaxSearchLimit) {
		return fmt.Sprintf("limit must be between 1 and %d", MaxSearchLimit)
	}
	if len(req.FilterGroups) > MaxFilterGroups {
		return fmt.Sprintf("Too many filter groups (%d); the maximum is %d.", len(req.FilterGroups), MaxFilterGroups)
	}
	if len(req.Sorts) > 1 {
		return "Only one sort is allowed."
	}
	total := 0
	for _, g := range req.FilterGroups {
		if len(g.Filters) > MaxFiltersPerGroup {
			return fmt.Sprintf("Too many filters in a group (%d); the maximum is %d.", len(g.Filters), MaxFiltersPerGroup)
		}
		total += len(g.Filters)
		for _, f := range g.Filters {
			if f.PropertyName == "" {
				return "a filter has no propertyName"
			}
			if !simOperators[f.Operator] {
				return fmt.Sprintf("Unknown operator %q.", f.Operator)
			}
			switch f.Operator {
			case "HAS_PROPERTY", "NOT_HAS_PROPERTY":
			case "IN", "NOT_IN":
				if len(f.Values) == 0 {
					return fmt.Sprintf("%s on %s needs values", f.Operator, f.PropertyName)
				}
			case "BETWEEN":
				if f.Value == nil || f.HighValue == nil {
					return fmt.Sprintf("BETWEEN on %s needs value and highValue", f.PropertyName)
				}
			default:
				if f.Value == nil {
					return fmt.Sprintf("%s on %s needs a value", f.Operator, f.PropertyName)
				}
			}
		}
	}
	if total > MaxFilters {
		return fmt.Sprintf("Too many filters (%d); the maximum is %d.", total, MaxFilters)
	}
	return ""
}

func parseSort(raw json.RawMessage) (prop string, desc bool) {
	var s struct {
		PropertyName string `json:"propertyName"`
		Direction    string `json:"direction"`
	}
	if json.Unmarshal(raw, &s) == nil {
		return s.PropertyName, strings.EqualFold(s.Direction, "DESCENDING")
	}
	var name string
	if json.Unmarshal(raw, &name) == nil {
		if n, ok := strings.CutPrefix(name, "-"); ok {
			return n, true
		}
		return name, false
	}
	return "", false
}

// sortKey is a record's value of the sort property, read once per search.
type sortKey struct {
	has  bool
	kind int // 0 epoch ms, 1 number, 2 text
	n    float64
	s    string
}

func keyOf(v *simVersion, prop string) sortKey {
	if prop == "" {
		return sortKey{}
	}
	if ms, ok := v.dates[prop]; ok {
		return sortKey{has: true, kind: 0, n: float64(ms)}
	}
	val, ok := v.props[prop]
	if !ok || val == "" {
		return sortKey{}
	}
	if f, err := strconv.ParseFloat(val, 64); err == nil {
		return sortKey{has: true, kind: 1, n: f}
	}
	return sortKey{has: true, kind: 2, s: strings.ToLower(val)}
}

func (a sortKey) compare(b sortKey) int {
	switch {
	case a.kind != b.kind:
		return a.kind - b.kind
	case a.kind == 2:
		return strings.Compare(a.s, b.s)
	case a.n < b.n:
		return -1
	case a.n > b.n:
		return 1
	}
	return 0
}

func matchGroups(groups []struct {
	Filters []simFilter `json:"filters"`
}, v *simVersion) bool {
	if len(groups) == 0 {
		return true
	}
	for _, g := range groups {
		all := true
		for _, f := range g.Filters {
			if !f.match(v) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (f *simFilter) match(ver *simVersion) bool {
	v, has := ver.props[f.PropertyName]
	has = has && v != ""
	val := ""
	if f.Value != nil {
		val = string(*f.Value)
	}
	compareValues := func(prop, stored, with string) int {
		if ms, ok := ver.dates[prop]; ok {
			if wm, ok := instantMillis(with); ok {
				return cmpInt(ms, wm)
			}
		}
		return compareValues(prop, stored, with)
	}
	switch f.Operator {
	case "HAS_PROPERTY":
		return has
	case "NOT_HAS_PROPERTY":
		return !has
	case "EQ":
		return has && compareValues(f.PropertyName, v, val) == 0
	case "NEQ":
		return !has || compareValues(f.PropertyName, v, val) != 0
	case "LT":
		return has && compareValues(f.PropertyName, v, val) < 0
	case "LTE":
		return has && compareValues(f.PropertyName, v, val) <= 0
	case "GT":
		return has && compareValues(f.PropertyName, v, val) > 0
	case "GTE":
		return has && compareValues(f.PropertyName, v, val) >= 0
	case "BETWEEN":
		return has && compareValues(f.PropertyName, v, val) >= 0 && compareValues(f.PropertyName, v, string(*f.HighValue)) <= 0
	case "IN", "NOT_IN":
		in := false
		for _, x := range f.Values {
			if has && compareValues(f.PropertyName, v, string(x)) == 0 {
				in = true
				break
			}
		}
		return in == (f.Operator == "IN")
	case "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN":
		return (has && containsToken(v, val)) == (f.Operator == "CONTAINS_TOKEN")
	}
	return false
}

// compareValues compares a stored value with a filter value: as instants
// for date properties, as numbers when both are numbers, else as text
// without case (HubSpot's string filters ignore case).
func compareValues(prop, a, b string) int {
	if dateProperties[prop] {
		am, aok := instantMillis(a)
		bm, bok := instantMillis(b)
		if aok && bok {
			return cmpInt(am, bm)
		}
	}
	if af, err := strconv.ParseFloat(a, 64); err == nil {
		if bf, err := strconv.ParseFloat(b, 64); err == nil {
			switch {
			case af < bf:
				return -1
			case af > bf:
				return 1
			}
			return 0
		}
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

func instantMillis(s string) (int64, bool) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UnixMilli(), err == nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// containsToken matches pattern (with * wildcards) against the words of v.
func containsToken(v, pattern string) bool {
	pattern = strings.ToLower(pattern)
	for _, tok := range strings.FieldsFunc(strings.ToLower(v), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f || r == '@' || r == '.' || r == '_' || r == '-')
	}) {
		if glob(pattern, tok) {
			return true
		}
	}
	return false
}

// glob matches s against a pattern whose only wildcard is *.
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b) // numeric ids without leading zeros
	}
	return a < b
}

// list is GET /crm/v3/objects/{type}: live or archived records by id.
func (s *Simulator) list(w http.ResponseWriter, r *http.Request, typ string) {
	q := r.URL.Query()
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ListLimit {
			s.fail(w, http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf("limit must be between 1 and %d", ListLimit))
			return
		}
		limit = n
	}
	archived := q.Get("archived") == "true"
	var props []string
	if v := q.Get("properties"); v != "" {
		props = strings.Split(v, ",")
	}
	after := q.Get("after")
	info := objectTypes[typ]
	s.mu.Lock()
	var objs []*simObject
	for _, o := range s.objects[typ] {
		if o.archived == archived && (after == "" || idLess(after, o.id)) {
			objs = append(objs, o)
		}
	}
	sort.Slice(objs, func(i, j int) bool { return idLess(objs[i].id, objs[j].id) })
	var buf bytes.Buffer
	buf.WriteString(`{"results":[`)
	n := min(limit, len(objs))
	for i := 0; i < n; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		renderObject(&buf, objs[i], objs[i].props, objs[i].updated, props, info)
	}
	buf.WriteByte(']')
	if n < len(objs) {
		next := objs[n-1].id
		link := url.Values{"after": {next}, "limit": {strconv.Itoa(limit)}}
		if archived {
			link.Set("archived", "true")
		}
		fmt.Fprintf(&buf, `,"paging":{"next":{"after":%q,"link":%q}}`, next, "/crm/v3/objects/"+typ+"?"+link.Encode())
	}
	buf.WriteByte('}')
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// renderObject writes a record as HubSpot's v3 API does: the requested
// properties (null when unset) or the type's defaults, always with the id
// and the two dates. Callers hold mu.
func renderObject(buf *bytes.Buffer, o *simObject, props map[string]string, updated time.Time, want []string, info objectInfo) {
	if len(want) == 0 {
		want = info.defaults
	}
	out := make(map[string]*string, len(want)+3)
	for _, p := range append([]string{"hs_object_id", info.created, info.modified}, want...) {
		if v, ok := props[p]; ok {
			out[p] = &v
		} else {
			out[p] = nil
		}
	}
	body := struct {
		ID         string             `json:"id"`
		Properties map[string]*string `json:"properties"`
		CreatedAt  string             `json:"createdAt"`
		UpdatedAt  string             `json:"updatedAt"`
		Archived   bool               `json:"archived"`
		ArchivedAt string             `json:"archivedAt,omitempty"`
	}{ID: o.id, Properties: out, CreatedAt: instant(o.created), UpdatedAt: instant(updated), Archived: o.archived}
	if o.archived {
		body.ArchivedAt = instant(o.archivedAt)
	}
	b, _ := json.Marshal(body)
	buf.Write(b)
}

func (s *Simulator) writeObject(w http.ResponseWriter, status int, o Object) {
	s.mu.Lock()
	so := s.objects[o.Type][o.ID]
	var buf bytes.Buffer
	renderObject(&buf, so, so.props, so.updated, keys(so.props), objectTypes[o.Type])
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fail writes HubSpot's error body.
func (s *Simulator) fail(w http.ResponseWriter, status int, category, msg string) {
	s.failContext(w, status, category, msg, nil)
}

func (s *Simulator) failContext(w http.ResponseWriter, status int, category, msg string, context map[string][]string) {
	s.mu.Lock()
	s.corr++
	corr := correlationID(s.corr)
	s.mu.Unlock()
	body := map[string]any{"status": "error", "message": msg, "correlationId": corr, "category": category}
	if context != nil {
		body["context"] = context
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
