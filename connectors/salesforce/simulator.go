package salesforce

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pollwire/pollwire/connectors/internal/simkit"
)

// Simulator defaults.
const (
	// DefaultSimTokenTTL is how long a simulated session lasts: Salesforce's
	// default session timeout.
	DefaultSimTokenTTL = 2 * time.Hour
	// DefaultSimDailyLimit is the simulated org's allowance of requests per
	// rolling 24 hours: Salesforce's base allocation.
	DefaultSimDailyLimit = 100_000
	// SimCursorTTL is how long an unused query locator lives.
	SimCursorTTL = 15 * time.Minute
	// simLimitWindow is the rolling window of the allowance.
	simLimitWindow = 24 * time.Hour
)

// SimOptions configure a Simulator.
type SimOptions struct {
	// Now is the org's clock; default time.Now.
	Now func() time.Time
	// ConsumerKey and Username are the JWT iss and sub the token endpoint
	// accepts; PublicKey verifies the RS256 signature (the connected app's
	// certificate).
	ConsumerKey string
	Username    string
	PublicKey   *rsa.PublicKey
	// Audience is the JWT aud accepted; default the simulator's own URL
	// (scheme and host of the request), which is also the instance_url it
	// hands out.
	Audience string
	// TokenTTL is how long an access token works; default
	// DefaultSimTokenTTL. Data calls with an older token get 401
	// INVALID_SESSION_ID.
	TokenTTL time.Duration
	// DailyLimit is the org's allowance of data requests over a rolling 24
	// hours; default DefaultSimDailyLimit. Beyond it, 403
	// REQUEST_LIMIT_EXCEEDED.
	DailyLimit int
	// MaxBatch caps the records of a query page below the batchSize asked
	// for, as Salesforce may for wide records; default 2000.
	MaxBatch int
}

// Simulator is an in-memory Salesforce org for tests, the demo and
// benchmarks: the JWT bearer token endpoint, SOQL queries with cursors,
// getDeleted, sObject CRUD, Sforce-Limit-Info and the daily allowance. It
// is deterministic given its clock and safe for concurrent use.
type Simulator struct {
	opts SimOptions

	requests      atomic.Int64
	tokenRequests atomic.Int64

	mu       sync.Mutex
	objects  map[string]*simObject // by lower-case sObject name
	sessions map[string]time.Time  // access token → issued
	usage    []time.Time           // counted requests of the rolling window, oldest first
	cursors  map[string]*simCursor
	seq      int64 // ids and cursors
	orgID    string
	userID   string
}

// simObject is one sObject type: its schema, records and deletion log.
type simObject struct {
	schema  *simSchema
	records map[string]*simRecord // by 18-character id
	deleted []simDeletion         // in deletion order
}

type simRecord struct {
	id   string
	vals map[string]any // canonical field name → string, float64, bool, time.Time or nil
}

type simDeletion struct {
	id string
	at time.Time
}

type simCursor struct {
	id      string
	version string   // the API version the query used
	rows    [][]byte // the result, rendered when the query ran
	batch   int
	used    time.Time
}

// NewSimulator returns an org with no records.
func NewSimulator(opts SimOptions) *Simulator {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultSimTokenTTL
	}
	if opts.DailyLimit <= 0 {
		opts.DailyLimit = DefaultSimDailyLimit
	}
	if opts.MaxBatch <= 0 || opts.MaxBatch > MaxBatchSize {
		opts.MaxBatch = MaxBatchSize
	}
	s := &Simulator{opts: opts, objects: map[string]*simObject{}, sessions: map[string]time.Time{}, cursors: map[string]*simCursor{}}
	s.orgID = s.newID("00D")
	s.userID = s.newID("005")
	return s
}

func (s *Simulator) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// Record is a simulated record as the API shows it.
type Record struct {
	Type           string
	ID             string // 18 characters
	CreatedDate    time.Time
	SystemModstamp time.Time
	// Fields holds every field, dates written as Salesforce writes them.
	Fields map[string]any
}

// Create inserts a record of sobject (Contact, Account, Opportunity, Lead,
// Task or a custom X__c) and returns it. Fields are typed as the API types
// them (time.Time is accepted for date and date-time fields); unknown
// fields ending in __c are added to the object. Create panics on what the
// API would refuse (an unknown object or field, a read-only or missing
// required field): in a test that is a mistake in the test.
func (s *Simulator) Create(sobject string, fields map[string]any) Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.create(sobject, fields)
	if err != nil {
		panic("salesforce simulator: Create: " + err.Error())
	}
	return rec
}

// Update changes fields of a record and stamps it; it reports false when
// there is no such record. It panics where Create does.
func (s *Simulator) Update(sobject, id string, fields map[string]any) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.update(sobject, id, fields)
	if errors.Is(err, errNoRecord) {
		return Record{}, false
	}
	if err != nil {
		panic("salesforce simulator: Update: " + err.Error())
	}
	return rec, true
}

// Delete removes a record into the deletion log that getDeleted reads; it
// reports false when there is no such record.
func (s *Simulator) Delete(sobject, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delete(sobject, id) == nil
}

// Get returns a record as stored.
func (s *Simulator) Get(sobject, id string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, _ := s.object(sobject)
	if obj == nil {
		return Record{}, false
	}
	r := obj.records[fullID(id)]
	if r == nil {
		return Record{}, false
	}
	return obj.export(r), true
}

// Requests returns how many data API requests (everything but the token
// endpoint) the simulator has received, refused ones included.
func (s *Simulator) Requests() int { return int(s.requests.Load()) }

// TokenRequests returns how many token exchanges were asked for.
func (s *Simulator) TokenRequests() int { return int(s.tokenRequests.Load()) }

// Usage returns the requests counted in the rolling 24 hours and the
// allowance, as Sforce-Limit-Info reports them.
func (s *Simulator) Usage() (used, limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pruneUsage(s.now()), s.opts.DailyLimit
}

// Spend counts n requests now, as the org's other integrations would.
func (s *Simulator) Spend(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for range n {
		s.usage = append(s.usage, now)
	}
}

// ExpireSessions ends every session, as an administrator revoking them
// would: the next data call of each token gets 401 INVALID_SESSION_ID.
func (s *Simulator) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessions)
}

// The simulator's routes.
var (
	versionPath  = `/services/data/(v\d+\.\d+)`
	routeQuery   = regexp.MustCompile(`^` + versionPath + `/query/?$`)
	routeMore    = regexp.MustCompile(`^` + versionPath + `/query/([A-Za-z0-9]+)-(\d+)$`)
	routeDeleted = regexp.MustCompile(`^` + versionPath + `/sobjects/([A-Za-z0-9_]+)/deleted/?$`)
	routeObject  = regexp.MustCompile(`^` + versionPath + `/sobjects/([A-Za-z0-9_]+)/?$`)
	routeRecord  = regexp.MustCompile(`^` + versionPath + `/sobjects/([A-Za-z0-9_]+)/([A-Za-z0-9]+)$`)
)

// ServeHTTP answers:
//
//	POST   /services/oauth2/token                        JWT bearer exchange
//	GET    /services/data/v59.0/query?q=SOQL              first page (Sforce-Query-Options: batchSize=N)
//	GET    /services/data/v59.0/query/{locator}-{offset}  next pages
//	GET    /services/data/v59.0/sobjects/{Type}/deleted/?start=&end=
//	POST   /services/data/v59.0/sobjects/{Type}/          create → {"id", "success", "errors"}
//	GET    /services/data/v59.0/sobjects/{Type}/{Id}      read
//	PATCH  /services/data/v59.0/sobjects/{Type}/{Id}      update → 204
//	DELETE /services/data/v59.0/sobjects/{Type}/{Id}      delete → 204
//
// Any vNN.N version is served. Data calls need Authorization: Bearer
// <token>, count against the allowance and carry Sforce-Limit-Info.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == tokenPath {
		s.tokenRequests.Add(1)
		s.serveToken(w, r)
		return
	}
	s.requests.Add(1)
	if !strings.HasPrefix(r.URL.Path, "/services/data/") {
		sfError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	if code := s.authorize(r); code != "" {
		sfError(w, http.StatusUnauthorized, code, "Session expired or invalid")
		return
	}
	if !s.count(w) {
		sfError(w, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
		return
	}
	p, get := r.URL.Path, r.Method == http.MethodGet
	if m := routeQuery.FindStringSubmatch(p); m != nil && get {
		s.serveQuery(w, r, m[1])
	} else if m := routeMore.FindStringSubmatch(p); m != nil && get {
		s.serveMore(w, m[2], m[3])
	} else if m := routeDeleted.FindStringSubmatch(p); m != nil && get {
		s.serveDeleted(w, r, m[2])
	} else if m := routeObject.FindStringSubmatch(p); m != nil && r.Method == http.MethodPost {
		s.serveCreate(w, r, m[2])
	} else if m := routeRecord.FindStringSubmatch(p); m != nil && !routeDeleted.MatchString(p) {
		s.serveRecord(w, r, m[1], m[2], m[3])
	} else if routeQuery.MatchString(p) || routeMore.MatchString(p) || routeDeleted.MatchString(p) || routeObject.MatchString(p) {
		sfError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", fmt.Sprintf("HTTP Method '%s' not allowed here", r.Method))
	} else {
		sfError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
}

// authorize checks the bearer token; it returns the error code, or "".
func (s *Simulator) authorize(r *http.Request) string {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "OAuth ")
	}
	if !ok || tok == "" {
		return "INVALID_SESSION_ID"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	issued, found := s.sessions[tok]
	if !found {
		return "INVALID_SESSION_ID"
	}
	if !s.now().Before(issued.Add(s.opts.TokenTTL)) {
		delete(s.sessions, tok)
		return "INVALID_SESSION_ID"
	}
	return ""
}

// count counts a request against the rolling allowance and sets
// Sforce-Limit-Info; it reports false when the allowance is spent (the
// refused request does not count).
func (s *Simulator) count(w http.ResponseWriter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	used := s.pruneUsage(now)
	ok := used < s.opts.DailyLimit
	if ok {
		s.usage = append(s.usage, now)
		used++
	}
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", used, s.opts.DailyLimit))
	return ok
}

// pruneUsage drops requests older than the window and returns the count.
func (s *Simulator) pruneUsage(now time.Time) int {
	cut := now.Add(-simLimitWindow)
	i := sort.Search(len(s.usage), func(i int) bool { return s.usage[i].After(cut) })
	if i > 0 {
		s.usage = append(s.usage[:0], s.usage[i:]...)
	}
	return len(s.usage)
}

func (s *Simulator) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "must use HTTP POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	if r.PostForm.Get("grant_type") != grantType {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	}
	assertion := r.PostForm.Get("assertion")
	if assertion == "" || s.opts.PublicKey == nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid assertion")
		return
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return s.opts.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.opts.Now), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "expired authorization code")
		return
	case err != nil:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid assertion")
		return
	}
	origin := requestOrigin(r)
	aud := s.opts.Audience
	if aud == "" {
		aud = origin
	}
	iss, _ := claims.GetIssuer()
	sub, _ := claims.GetSubject()
	auds, _ := claims.GetAudience()
	switch {
	case iss != s.opts.ConsumerKey:
		oauthError(w, http.StatusBadRequest, "invalid_client_id", "client identifier invalid")
		return
	case len(auds) != 1 || auds[0] != aud:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "audience is invalid")
		return
	case sub != s.opts.Username:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "user hasn't approved this consumer")
		return
	}
	tok := s.orgID[:15] + "!" + randomToken()
	s.mu.Lock()
	s.sessions[tok] = s.now()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tok,
		"scope":        "api",
		"instance_url": origin,
		"id":           origin + "/id/" + s.orgID + "/" + s.userID,
		"token_type":   "Bearer",
	})
}

func requestOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func randomToken() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._"
	b := make([]byte, 96)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}

func (s *Simulator) serveQuery(w http.ResponseWriter, r *http.Request, version string) {
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" {
		sfError(w, http.StatusBadRequest, "MALFORMED_QUERY", "A query string has to be specified")
		return
	}
	stmt, err := parseSOQL(q)
	if err != nil {
		soqlFail(w, err)
		return
	}
	batch := batchSize(r.Header.Get("Sforce-Query-Options"))
	s.mu.Lock()
	cur, err := s.run(stmt, version, min(batch, s.opts.MaxBatch))
	if err != nil {
		s.mu.Unlock()
		soqlFail(w, err)
		return
	}
	body := s.page(cur, 0)
	s.mu.Unlock()
	writeRaw(w, http.StatusOK, body)
}

// batchSize reads Sforce-Query-Options; Salesforce takes 200 to 2000 and
// uses its default (2000) otherwise.
func batchSize(h string) int {
	for part := range strings.SplitSeq(h, ",") {
		name, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "batchSize") {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return min(max(n, MinBatchSize), MaxBatchSize)
		}
	}
	return MaxBatchSize
}

// run executes a statement into a new cursor. Callers hold mu.
func (s *Simulator) run(q *simQuery, version string, batch int) (*simCursor, error) {
	obj, err := s.object(q.object)
	if err != nil {
		return nil, err
	}
	if err := q.bind(obj.schema); err != nil {
		return nil, err
	}
	recs := make([]*simRecord, 0, len(obj.records))
	for _, r := range obj.records {
		if match(q.where, r.vals) {
			recs = append(recs, r)
		}
	}
	// Insertion order (ids grow) is the order of a query without ORDER BY.
	sort.Slice(recs, func(i, j int) bool { return recs[i].id < recs[j].id })
	orderRecords(recs, q.orderBy)
	if q.limit >= 0 && len(recs) > q.limit {
		recs = recs[:q.limit]
	}
	cur := &simCursor{id: s.newID("01g"), version: version, batch: batch, used: s.now()}
	for _, r := range recs {
		cur.rows = append(cur.rows, obj.render(r, q.fields, version))
	}
	s.pruneCursors()
	s.cursors[cur.id] = cur
	return cur, nil
}

// page renders the cursor's page from offset. Callers hold mu.
func (s *Simulator) page(cur *simCursor, offset int) []byte {
	end := min(offset+cur.batch, len(cur.rows))
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"totalSize":%d,"done":%t,`, len(cur.rows), end >= len(cur.rows))
	if end < len(cur.rows) {
		fmt.Fprintf(&b, `"nextRecordsUrl":"/services/data/%s/query/%s-%d",`, cur.version, cur.id, end)
	}
	b.WriteString(`"records":[`)
	for i, row := range cur.rows[offset:end] {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(row)
	}
	b.WriteString("]}")
	cur.used = s.now()
	return b.Bytes()
}

func (s *Simulator) pruneCursors() {
	now := s.now()
	for id, c := range s.cursors {
		if now.Sub(c.used) > SimCursorTTL {
			delete(s.cursors, id)
		}
	}
}

func (s *Simulator) serveMore(w http.ResponseWriter, locator, offset string) {
	n, err := strconv.Atoi(offset)
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cursors[locator]
	if cur != nil && s.now().Sub(cur.used) > SimCursorTTL {
		delete(s.cursors, locator)
		cur = nil
	}
	if cur == nil || err != nil || n < 0 || n > len(cur.rows) {
		sfError(w, http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator")
		return
	}
	writeRaw(w, http.StatusOK, s.page(cur, n))
}

// serveDeleted answers getDeleted. Like Salesforce it reads start and end
// without their seconds, wants start more than a minute before end and no
// more than 15 days back, and reports deletions from start (inclusive) to
// end (exclusive).
func (s *Simulator) serveDeleted(w http.ResponseWriter, r *http.Request, sobject string) {
	q := r.URL.Query()
	start, err1 := parseISO(q.Get("start"))
	end, err2 := parseISO(q.Get("end"))
	if err1 != nil || err2 != nil {
		sfError(w, http.StatusBadRequest, "INVALID_REPLICATION_DATE", "start and end must be ISO 8601 date-times such as 2013-05-05T00:00:00+00:00")
		return
	}
	start, end = start.Truncate(time.Minute), end.Truncate(time.Minute)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	switch {
	case end.Sub(start) <= time.Minute:
		sfError(w, http.StatusBadRequest, "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate by more than one minute")
		return
	case start.Before(now.Add(-deletedMaxAge)):
		sfError(w, http.StatusBadRequest, "INVALID_REPLICATION_DATE", "startDate cannot be more than 15 days ago")
		return
	}
	obj, err := s.object(sobject)
	if err != nil {
		soqlFail(w, &soqlError{code: "NOT_FOUND", msg: "The requested resource does not exist"})
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"deletedRecords":[`)
	n := 0
	for _, d := range obj.deleted {
		if d.at.Before(start) || !d.at.Before(end) {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%q,"deletedDate":%q}`, d.id, d.at.Format(TimeFormat))
		n++
	}
	earliest := now.Add(-deletedMaxAge).Truncate(time.Minute)
	fmt.Fprintf(&b, `],"earliestDateAvailable":%q,"latestDateCovered":%q}`, earliest.Format(TimeFormat), end.Format(TimeFormat))
	writeRaw(w, http.StatusOK, b.Bytes())
}

// parseISO reads getDeleted's parameters. A "+" left unescaped in the
// query string arrives as a space and is refused, as Salesforce refuses it.
func parseISO(v string) (time.Time, error) {
	if strings.ContainsRune(v, ' ') {
		return time.Time{}, errors.New("space in date-time")
	}
	t, dateOnly, ok := parseDateTime(v)
	if !ok || dateOnly {
		return time.Time{}, errors.New("not a date-time")
	}
	return t, nil
}

func (s *Simulator) serveCreate(w http.ResponseWriter, r *http.Request, sobject string) {
	fields, ok := readFields(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	rec, err := s.create(sobject, fields)
	s.mu.Unlock()
	if err != nil {
		soqlFail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": rec.ID, "success": true, "errors": []any{}})
}

func (s *Simulator) serveRecord(w http.ResponseWriter, r *http.Request, version, sobject, id string) {
	switch r.Method {
	case http.MethodGet:
		s.mu.Lock()
		obj, err := s.object(sobject)
		var body []byte
		if err == nil {
			if rec := obj.records[fullID(id)]; rec != nil {
				body = obj.render(rec, obj.schema.order, version)
			}
		}
		s.mu.Unlock()
		if body == nil {
			sfError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
			return
		}
		writeRaw(w, http.StatusOK, body)
	case http.MethodPatch:
		fields, ok := readFields(w, r)
		if !ok {
			return
		}
		s.mu.Lock()
		_, err := s.update(sobject, id, fields)
		s.mu.Unlock()
		if err != nil {
			soqlFail(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		s.mu.Lock()
		err := s.delete(sobject, id)
		s.mu.Unlock()
		if err != nil {
			soqlFail(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		sfError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", fmt.Sprintf("HTTP Method '%s' not allowed. Allowed are GET,PATCH,DELETE", r.Method))
	}
}

func readFields(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil || fields == nil {
		sfError(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "The request body must be a JSON object")
		return nil, false
	}
	return fields, true
}

// errNoRecord is the simulator's NOT_FOUND.
var errNoRecord = &soqlError{code: "NOT_FOUND", msg: "The requested resource does not exist"}

// object returns an sObject type, creating a custom one (X__c) on first
// use. Callers hold mu.
func (s *Simulator) object(name string) (*simObject, error) {
	k := strings.ToLower(name)
	if o := s.objects[k]; o != nil {
		return o, nil
	}
	sch := standardSchema(name)
	if sch == nil {
		return nil, &soqlError{code: "INVALID_TYPE", msg: fmt.Sprintf("sObject type '%s' is not supported.", name)}
	}
	o := &simObject{schema: sch, records: map[string]*simRecord{}}
	s.objects[k] = o
	return o, nil
}

// create inserts a record. Callers hold mu.
func (s *Simulator) create(sobject string, fields map[string]any) (Record, error) {
	obj, err := s.object(sobject)
	if err != nil {
		return Record{}, err
	}
	vals, err := obj.schema.convert(fields, true)
	if err != nil {
		return Record{}, err
	}
	for _, f := range obj.schema.required {
		if vals[f] == nil {
			return Record{}, &soqlError{code: "REQUIRED_FIELD_MISSING", msg: fmt.Sprintf("Required fields are missing: [%s]", f)}
		}
	}
	now := s.now()
	rec := &simRecord{id: s.newID(obj.schema.prefix), vals: map[string]any{}}
	for _, f := range obj.schema.order {
		rec.vals[f] = nil
	}
	for k, v := range obj.schema.defaults {
		rec.vals[k] = v
	}
	for k, v := range vals {
		rec.vals[k] = v
	}
	rec.vals["Id"] = rec.id
	rec.vals["IsDeleted"] = false
	if rec.vals["OwnerId"] == nil {
		rec.vals["OwnerId"] = s.userID
	}
	rec.vals["CreatedById"], rec.vals["LastModifiedById"] = s.userID, s.userID
	rec.vals["CreatedDate"], rec.vals["LastModifiedDate"], rec.vals["SystemModstamp"] = now, now, now
	obj.schema.derive(rec.vals)
	obj.records[rec.id] = rec
	return obj.export(rec), nil
}

// update changes a record. Callers hold mu.
func (s *Simulator) update(sobject, id string, fields map[string]any) (Record, error) {
	obj, err := s.object(sobject)
	if err != nil {
		return Record{}, err
	}
	rec := obj.records[fullID(id)]
	if rec == nil {
		return Record{}, errNoRecord
	}
	vals, err := obj.schema.convert(fields, false)
	if err != nil {
		return Record{}, err
	}
	for k, v := range vals {
		rec.vals[k] = v
	}
	now := s.now()
	rec.vals["LastModifiedDate"], rec.vals["SystemModstamp"] = now, now
	obj.schema.derive(rec.vals)
	return obj.export(rec), nil
}

// delete moves a record to the deletion log. Callers hold mu.
func (s *Simulator) delete(sobject, id string) error {
	obj, err := s.object(sobject)
	if err != nil {
		return err
	}
	full := fullID(id)
	if obj.records[full] == nil {
		return errNoRecord
	}
	delete(obj.records, full)
	obj.deleted = append(obj.deleted, simDeletion{id: full, at: s.now()})
	return nil
}

// export copies a record out for Go callers. Callers hold mu.
func (o *simObject) export(r *simRecord) Record {
	out := Record{Type: o.schema.object, ID: r.id, Fields: make(map[string]any, len(r.vals))}
	out.CreatedDate, _ = r.vals["CreatedDate"].(time.Time)
	out.SystemModstamp, _ = r.vals["SystemModstamp"].(time.Time)
	for k, v := range r.vals {
		if t, ok := v.(time.Time); ok {
			v = t.Format(TimeFormat)
		}
		out.Fields[k] = v
	}
	return out
}

// render writes a record as the API shows it: attributes first, then the
// fields asked for, in that order.
func (o *simObject) render(r *simRecord, fields []string, version string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"attributes":{"type":%q,"url":"/services/data/%s/sobjects/%s/%s"}`, o.schema.object, version, o.schema.object, r.id)
	for _, f := range fields {
		b.WriteByte(',')
		k, _ := json.Marshal(f)
		b.Write(k)
		b.WriteByte(':')
		switch v := r.vals[f].(type) {
		case time.Time:
			b.WriteString(`"` + v.Format(TimeFormat) + `"`)
		default:
			j, err := json.Marshal(v)
			if err != nil {
				j = []byte("null")
			}
			b.Write(j)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

// newID makes a Salesforce-style id: the key prefix, a 12-character body
// and the 3-character case checksum of the 18-character form. Callers hold
// mu, or own s.
func (s *Simulator) newID(prefix string) string {
	s.seq++
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	body := []byte("8d0000000000")
	for i, n := len(body)-1, s.seq; n > 0 && i >= 3; i, n = i-1, n/62 {
		body[i] = digits[n%62]
	}
	return idChecksum(prefix + string(body))
}

// idChecksum appends the 3-character suffix that makes a 15-character id
// case-insensitively unique: one letter per 5 characters, whose bits say
// which of them are upper case.
func idChecksum(id15 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	suffix := make([]byte, 3)
	for chunk := 0; chunk < 3; chunk++ {
		v := 0
		for i := 0; i < 5; i++ {
			if c := id15[chunk*5+i]; c >= 'A' && c <= 'Z' {
				v |= 1 << i
			}
		}
		suffix[chunk] = alphabet[v]
	}
	return id15 + string(suffix)
}

// fullID returns the 18-character form of an id given in either form.
func fullID(id string) string {
	if len(id) == 15 && isID(id) {
		return idChecksum(id)
	}
	return id
}

// soqlFail answers a refused query or write.
func soqlFail(w http.ResponseWriter, err error) {
	var se *soqlError
	if !errors.As(err, &se) {
		sfError(w, http.StatusInternalServerError, "UNKNOWN_EXCEPTION", err.Error())
		return
	}
	status := http.StatusBadRequest
	if se.code == "NOT_FOUND" {
		status = http.StatusNotFound
	}
	// Query and write errors carry the fields at fault (none here).
	writeJSON(w, status, []map[string]any{{"message": se.msg, "errorCode": se.code, "fields": []string{}}})
}

// sfError writes the REST API's error array, as Salesforce answers a bad
// session or a spent allowance: [{"message": …, "errorCode": …}].
func sfError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, []map[string]string{{"message": msg, "errorCode": code}})
}

// oauthError writes the token endpoint's error object.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	simkit.WriteJSON(w, status, "application/json;charset=UTF-8", v)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	simkit.WriteRaw(w, status, "application/json;charset=UTF-8", b)
}
