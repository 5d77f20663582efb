package salesforce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pollwire/pollwire/connectors/internal/vendorio"
	"github.com/pollwire/pollwire/connectors/source"
)

// APIVersion is the REST API version pollwire calls and the simulator
// serves.
const APIVersion = "v59.0"

// DataPath is the root of the REST API on an instance.
const DataPath = "/services/data/" + APIVersion

// Query batch sizes Salesforce accepts in Sforce-Query-Options.
const (
	MinBatchSize = 200
	MaxBatchSize = 2000
)

// Deletion window limits of getDeleted.
const (
	// deletedMaxAge is how far back getDeleted looks: 15 days.
	deletedMaxAge = 15 * 24 * time.Hour
	// deletedMinSpan: the start must precede the end by more than a
	// minute, and both are read without their seconds.
	deletedMinSpan = 2 * time.Minute
	// deletedAgeMargin keeps a clamped start inside the 15 days when
	// Salesforce's clock is a little ahead of ours.
	deletedAgeMargin = 10 * time.Minute
)

// Source is the Salesforce connector's vendor logic: JWT bearer auth, SOQL
// queries paged through nextRecordsUrl, deletions through getDeleted, and
// the org's API allowance. It keeps the access tokens (one per set of
// credentials, shared by every instance using them) and what it learnt of
// each org's allowance; it is safe for concurrent use.
type Source struct {
	now      func() time.Time
	pauseFor time.Duration

	mu       sync.Mutex
	sessions map[string]*session // by credentials.key()
	orgs     map[string]*org     // by the origin data calls go to
}

var _ source.Source = (*Source)(nil)

// Option configures a Source.
type Option func(*Source)

// WithClock sets the clock that dates JWT assertions and pauses (tests use
// a fake one; it must agree with the engine's). Default time.Now.
func WithClock(now func() time.Time) Option { return func(s *Source) { s.now = now } }

// WithPauseFor sets how long a spent allowance pauses polling before the
// next look (default DefaultPauseFor).
func WithPauseFor(d time.Duration) Option { return func(s *Source) { s.pauseFor = d } }

// New returns the Salesforce connector's Source.
func New(opts ...Option) *Source {
	s := &Source{now: time.Now, pauseFor: DefaultPauseFor, sessions: map[string]*session{}, orgs: map[string]*org{}}
	for _, o := range opts {
		o(s)
	}
	if s.pauseFor <= 0 {
		s.pauseFor = DefaultPauseFor
	}
	return s
}

func (s *Source) session(c credentials) *session {
	k := c.key()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[k]
	if ss == nil {
		ss = newSession(c)
		s.sessions[k] = ss
	}
	return ss
}

// Usage returns the latest Sforce-Limit-Info reading of the org whose
// data calls go to origin (the token's instance_url, or base.url), and
// when it was taken; ok is false before any.
func (s *Source) Usage(origin string) (used, limit int64, at time.Time, ok bool) {
	s.mu.Lock()
	o := s.orgs[strings.TrimRight(origin, "/")]
	s.mu.Unlock()
	if o == nil {
		return 0, 0, time.Time{}, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last.used, o.last.max, o.lastAt, o.last.max > 0
}

func (s *Source) org(origin string) *org {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[origin]
	if o == nil {
		o = &org{}
		s.orgs[origin] = o
	}
	return o
}

// Poll fetches the window's changes: for a /hubs/crm/{resource} poller, a
// SOQL query on SystemModstamp (every page) and then the deletions of the
// window from getDeleted; for any other poller URL, that path (a query or
// queryAll resource) as written, every page. Records are emitted raw, as
// Salesforce sent them; deletions as Deleted records carrying the id and
// deletedDate.
//
// A spent API allowance returns a *source.PausedError; a 401 renews the
// token and retries the same page once.
func (s *Source) Poll(ctx context.Context, req *source.Request, emit func(source.Record) error) error {
	p, err := s.newPoll(req)
	if err != nil {
		return err
	}
	return p.run(ctx, emit)
}

// poll is one run of Poll.
type poll struct {
	src    *Source
	req    *source.Request
	client *http.Client
	sess   *session
	// base is base.url, which overrides the token's instance_url for data
	// calls; "" uses instance_url.
	base      *url.URL
	query     *Query // nil for a poller URL sent as written
	path      string // that URL, expanded
	deletions bool
	batch     int // Sforce-Query-Options batchSize; 0 for Salesforce's default

	tok *token
	org *org
}

func (s *Source) newPoll(req *source.Request) (*poll, error) {
	if req.Settings == nil || req.Poller == nil || req.Poller.URL == nil {
		return nil, errors.New("salesforce: request without settings or poller URL")
	}
	creds, err := credentialsOf(req.Instance)
	if err != nil {
		return nil, err
	}
	p := &poll{src: s, req: req, client: req.Client, sess: s.session(creds)}
	if p.client == nil {
		p.client = http.DefaultClient
	}
	if b := strings.TrimSpace(req.Settings.BaseURL); b != "" {
		u, err := url.Parse(strings.TrimRight(b, "/"))
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("salesforce: base.url %q is not an absolute URL", b)
		}
		p.base = u
	}
	if n := req.Poller.PageSize; n > 0 {
		p.batch = min(max(n, MinBatchSize), MaxBatchSize)
	}
	loc := req.ServerLocation
	if loc == nil {
		loc = time.UTC
	}
	expanded := req.Poller.URL.Expand(req.Since, loc)
	res := req.Poller.Resource
	if req.Poller.HubResource == "" {
		if !strings.HasPrefix(expanded, "/") {
			return nil, fmt.Errorf("salesforce: resource %s: url %q must be a path such as %s/query?q=…", res, expanded, DataPath)
		}
		p.path = expanded
		return p, nil
	}
	// The engine's defaults do not fit Salesforce records; failing here
	// names the fix instead of a vague unreadable-record error, or worse,
	// every record of the lookback reported again at each poll.
	if req.Poller.IDField == "" || req.Poller.IDField == "id" {
		return nil, fmt.Errorf(`salesforce: resource %s: Salesforce records carry their id in "Id": set "idField": "Id"`, res)
	}
	if req.Poller.FilterByUpdatedDate && req.Poller.Updated.Field == "" {
		return nil, fmt.Errorf(`salesforce: resource %s: set datesConfiguration.updatedDateField to "SystemModstamp" (format "yyyy-MM-dd'T'HH:mm:ss.SSSZ"): without an updated date every record of the lookback would be reported again`, res)
	}
	where := ""
	if _, rawQuery, ok := strings.Cut(expanded, "?"); ok {
		vals, err := url.ParseQuery(rawQuery)
		if err != nil {
			return nil, fmt.Errorf("salesforce: resource %s: the query string does not parse: %w", res, err)
		}
		where = vals.Get("where")
	}
	q, err := Translate(req.Poller.HubResource, where)
	if err != nil {
		return nil, fmt.Errorf("salesforce: resource %s: %w", res, err)
	}
	fields, err := parseFields(req.Poller.Extra[FieldFields])
	if err != nil {
		return nil, fmt.Errorf("salesforce: resource %s: %s: %w", res, FieldFields, err)
	}
	q = q.WithFields(fields)
	p.query = &q
	p.deletions = req.Poller.Extra[FieldDeletions] != "false"
	return p, nil
}

func (p *poll) run(ctx context.Context, emit func(source.Record) error) error {
	tok, err := p.sess.get(ctx, p.src, p.client)
	if err != nil {
		return err
	}
	p.tok = tok
	p.org = p.src.org(p.origin().String())
	calls := int64(1)
	if p.deletions {
		calls++
	}
	if pe := p.org.admit(p.src.now(), calls, p.src.pauseFor); pe != nil {
		return pe
	}

	first := p.path
	if p.query != nil {
		first = DataPath + "/query?q=" + url.QueryEscape(p.query.SOQL(p.req.Since))
	}
	// A query locator can expire between pages (Salesforce keeps them for
	// a limited time, and a renewed session may not see the old ones). The
	// query is then run again from the start once: the records already
	// emitted come again, and the engine drops what it has seen in this
	// poll.
	for restarted := false; ; restarted = true {
		err := p.pages(ctx, first, emit)
		if errors.Is(err, errLocatorLost) && !restarted {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	if p.deletions {
		return p.deleted(ctx, emit)
	}
	return nil
}

// errLocatorLost is returned by pages when a queryMore answers
// INVALID_QUERY_LOCATOR.
var errLocatorLost = errors.New("salesforce: query locator no longer valid")

// pages follows a query from ref through every nextRecordsUrl until done.
func (p *poll) pages(ctx context.Context, ref string, emit func(source.Record) error) error {
	each := func(raw []byte) error { return emit(source.Record{Raw: raw}) }
	seen := map[string]bool{}
	for n := 1; ; n++ {
		resp, err := p.get(ctx, ref, true)
		if err != nil {
			if n > 1 && errors.Is(err, errLocatorLost) {
				return err
			}
			return unwrapLocator(err)
		}
		pg, err := parseQueryPage(resp.body)
		if err != nil {
			return p.vendorError(ref, resp.status, err.Error())
		}
		if _, err := pg.each(each); err != nil {
			return err
		}
		if pg.done {
			return nil
		}
		if seen[pg.next] {
			return p.vendorError(ref, resp.status, fmt.Sprintf("%v: nextRecordsUrl %q came back twice", ErrResponse, vendorio.Clip(pg.next, 200)))
		}
		seen[pg.next] = true
		if n >= MaxPages {
			return p.vendorError(ref, resp.status, fmt.Sprintf("the query did not end after %d pages", MaxPages))
		}
		ref = pg.next
	}
}

// unwrapLocator turns a lost locator on a first page (a query, not a
// queryMore) back into the plain vendor error it is.
func unwrapLocator(err error) error {
	var le *locatorError
	if errors.As(err, &le) {
		return le.VendorError
	}
	return err
}

// locatorError is an INVALID_QUERY_LOCATOR answer.
type locatorError struct{ *source.VendorError }

func (e *locatorError) Unwrap() []error { return []error{e.VendorError, errLocatorLost} }

// deleted emits the window's deletions from getDeleted.
//
// getDeleted reads its start and end without their seconds and wants them
// more than a minute apart, at most 15 days back. The window asked for is
// therefore the poll's window widened to whole minutes (and to a span of
// two), and only deletions after the poll's window start are emitted: an
// earlier one was in an earlier window, whose seen ids the engine may have
// forgotten. A deletion in the last partial minute before the poll is
// found by the next poll, whose window start the lookback (at least a
// minute) puts before it.
func (p *poll) deleted(ctx context.Context, emit func(source.Record) error) error {
	start, end := deletionWindow(p.req.Since, p.req.Now)
	ref := DataPath + "/sobjects/" + p.query.Object + "/deleted/?start=" + url.QueryEscape(isoMinute(start)) + "&end=" + url.QueryEscape(isoMinute(end))
	resp, err := p.get(ctx, ref, false)
	if err != nil {
		return unwrapLocator(err)
	}
	pg, err := parseDeleted(resp.body)
	if err != nil {
		return p.vendorError(ref, resp.status, err.Error())
	}
	for _, d := range pg.records {
		if !d.at.After(p.req.Since) {
			continue
		}
		if err := emit(source.Record{Deleted: true, ID: d.id, DeletedAt: d.at, Raw: d.raw}); err != nil {
			return err
		}
	}
	return nil
}

// deletionWindow is the getDeleted span for a poll window from since to
// now (see deleted).
func deletionWindow(since, now time.Time) (start, end time.Time) {
	end = now.UTC()
	start = since.UTC().Truncate(time.Minute)
	if latest := end.Truncate(time.Minute).Add(-deletedMinSpan); start.After(latest) {
		start = latest
	}
	if earliest := end.Add(-deletedMaxAge + deletedAgeMargin).Truncate(time.Minute); start.Before(earliest) {
		// Deletions older than 15 days are gone from Salesforce's log; the
		// changes of a longer outage are still found by the query.
		start = earliest
	}
	return start, end
}

// isoMinute writes t as getDeleted's examples do (2013-05-05T00:00:00+00:00).
func isoMinute(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-07:00") }

// origin is where data calls go: base.url, or the token's instance_url.
func (p *poll) origin() *url.URL {
	if p.base != nil {
		return p.base
	}
	u, _ := url.Parse(p.tok.instanceURL) // checked when the token came
	return u
}

// target resolves a path (ours or a nextRecordsUrl) against the origin. An
// absolute nextRecordsUrl must stay on it: the token goes with every page.
func (p *poll) target(ref string) (*url.URL, error) {
	origin := p.origin()
	r, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("%q is not a valid URL", vendorio.Clip(ref, 200))
	}
	if r.IsAbs() || r.Host != "" {
		if !strings.EqualFold(r.Scheme, origin.Scheme) || !strings.EqualFold(r.Host, origin.Host) {
			return nil, fmt.Errorf("%s is not on %s://%s; the access token is only sent there", shortURL(r), origin.Scheme, origin.Host)
		}
		return r, nil
	}
	if !strings.HasPrefix(ref, "/") {
		return nil, fmt.Errorf("%q is not a path from the instance root", vendorio.Clip(ref, 200))
	}
	return url.Parse(strings.TrimRight(origin.String(), "/") + ref)
}

// get makes one data call with the session's token, renewing the token
// and retrying once when Salesforce answers 401. Every answer's
// Sforce-Limit-Info is recorded; REQUEST_LIMIT_EXCEEDED for the org's
// total becomes a *source.PausedError.
func (p *poll) get(ctx context.Context, ref string, isQuery bool) (*response, error) {
	for renewed := false; ; renewed = true {
		u, err := p.target(ref)
		if err != nil {
			return nil, p.vendorError(ref, 0, err.Error())
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, p.vendorError(ref, 0, err.Error())
		}
		req.Header["Accept"] = acceptJSON
		req.Header["User-Agent"] = userAgent
		req.Header.Set("Authorization", "Bearer "+p.tok.access)
		if isQuery && p.batch > 0 {
			req.Header.Set("Sforce-Query-Options", "batchSize="+strconv.Itoa(p.batch))
		}
		resp, err := doRequest(ctx, p.client, req, 0)
		if err != nil {
			return nil, err
		}
		if u, ok := parseLimitInfo(resp.header.Get("Sforce-Limit-Info")); ok {
			p.org.observe(u, p.src.now())
		}
		if resp.status >= 200 && resp.status < 300 {
			return resp, nil
		}
		errs := parseErrors(resp.body)
		msg := errorsMessage(errs, resp.body)
		switch {
		case resp.status == http.StatusUnauthorized && !renewed:
			// The session expired or was revoked: one new token, the same
			// page again. The token is shared, so other polls move to the
			// new one as well.
			bad := p.tok
			p.sess.invalidate(bad)
			tok, err := p.sess.get(ctx, p.src, p.client)
			if err != nil {
				return nil, fmt.Errorf("renewing the session after %s: %w", msg, err)
			}
			p.tok = tok
			continue
		case hasCode(errs, "REQUEST_LIMIT_EXCEEDED"):
			return nil, p.limitExceeded(ref, resp.status, errs, msg)
		case hasCode(errs, "INVALID_QUERY_LOCATOR"):
			return nil, &locatorError{p.vendorError(ref, resp.status, msg)}
		}
		return nil, p.vendorError(ref, resp.status, msg)
	}
}

// limitExceeded handles REQUEST_LIMIT_EXCEEDED. Salesforce uses the code
// for two limits: the org's total over 24 hours (TotalRequests), which
// pauses the instance, and long-running concurrent requests, which pass in
// seconds and only throttle this poll.
func (p *poll) limitExceeded(ref string, status int, errs []apiError, msg string) error {
	for _, e := range errs {
		if e.Code == "REQUEST_LIMIT_EXCEEDED" && strings.Contains(strings.ToLower(e.Message), "concurrent") {
			return fmt.Errorf("%w (%w)", p.vendorError(ref, status, msg), source.ErrRateLimited)
		}
	}
	now := p.src.now()
	until := now.Add(p.src.pauseFor)
	reading := ""
	if u, ok := p.org.usage(); ok {
		reading = fmt.Sprintf(", api-usage=%d/%d", u.used, u.max)
	}
	reason := fmt.Sprintf("Salesforce API allowance spent (%s%s); the allowance is a rolling 24 hours, re-checking at %s",
		msg, reading, until.UTC().Format(time.RFC3339))
	p.org.spend(until, reason)
	return &source.PausedError{Until: until, Reason: reason}
}

func (p *poll) vendorError(ref string, status int, msg string) *source.VendorError {
	u := ref
	if t, err := p.target(ref); err == nil {
		u = shortURL(t)
	}
	return &source.VendorError{Status: status, Method: http.MethodGet, URL: vendorio.Clip(u, 500), Message: msg}
}

// parseFields reads the `fields` poller setting: a JSON array of field
// names or a comma-separated list. Empty means the defaults.
func parseFields(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	var names []string
	if strings.HasPrefix(v, "[") {
		if err := jsonStrings(v, &names); err != nil {
			return nil, errors.New("must be a list of field names or a comma-separated string")
		}
	} else {
		for f := range strings.SplitSeq(v, ",") {
			names = append(names, strings.TrimSpace(f))
		}
	}
	seen := map[string]bool{}
	out := names[:0]
	for _, f := range names {
		if !fieldName.MatchString(f) {
			return nil, fmt.Errorf("%q is not a Salesforce field name", f)
		}
		if k := strings.ToLower(f); !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("names no field")
	}
	return out, nil
}
