package hubspot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// Limits of one poll.
const (
	// MaxPages is how many pages one poll follows before it gives up on a
	// pagination that does not end.
	MaxPages = 100_000
	// MaxRateLimitRetries is how many times a request refused for the
	// secondly or ten-secondly limit is made again after waiting.
	MaxRateLimitRetries = 5
	// MaxRetryWait is the longest wait a poll sits out itself; a longer one
	// is left to the engine's schedule (source.ErrRateLimited).
	MaxRetryWait = 30 * time.Second
	// ListLimit is the page size of object listings (the archived records):
	// HubSpot's largest for GET /crm/v3/objects/{type}.
	ListLimit = 100

	// idleCredentials is how long a token source or account nobody polled
	// is kept: instances come and go, the Source stays.
	idleCredentials = 48 * time.Hour
)

// Options tune a Source. The zero value is production's.
type Options struct {
	// Now is the clock of token lifetimes, pacing and the daily reset.
	// Default time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends. Default: a timer. Tests pass one
	// that moves a fake clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// SearchPerSecond spaces the searches of one account. Default
	// DefaultSearchPerSecond.
	SearchPerSecond int
}

// Source is the HubSpot connector's vendor logic. It holds, across polls
// and instances, the OAuth token source of each instance and the rate-limit
// state of each account, and is safe for concurrent use.
type Source struct {
	now             func() time.Time
	sleep           func(ctx context.Context, d time.Duration) error
	searchPerSecond int

	mu       sync.Mutex
	tokens   map[tokenKey]*tokenSource
	accounts map[string]*accountEntry
	zones    map[string]*time.Location
}

// tokenKey identifies an instance's OAuth credentials without the refresh
// token, which HubSpot may rotate.
type tokenKey struct {
	instance int64
	base     string
	clientID string
	secret   string // a hash of the client secret
}

type accountEntry struct {
	acct     *account
	lastUsed time.Time
}

var _ source.Source = (*Source)(nil)

// New returns the HubSpot connector's Source.
func New() *Source { return NewWithOptions(Options{}) }

// NewWithOptions returns a Source with its clock, sleep or search pace
// replaced.
func NewWithOptions(o Options) *Source {
	s := &Source{
		now: o.Now, sleep: o.Sleep, searchPerSecond: o.SearchPerSecond,
		tokens: map[tokenKey]*tokenSource{}, accounts: map[string]*accountEntry{}, zones: map[string]*time.Location{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sleep == nil {
		s.sleep = vendorio.Sleep
	}
	if s.searchPerSecond <= 0 {
		s.searchPerSecond = DefaultSearchPerSecond
	}
	return s
}

// Poll emits the window's changes of a /hubs/crm/{resource} poller: the
// search results modified since the window start, oldest first, then the
// records archived since then as deletions. Any other poller URL is listed
// as written (GET, following paging.next.after). A spent daily limit
// returns a *source.PausedError; nothing read before it counts, so no
// change is lost.
func (s *Source) Poll(ctx context.Context, req *source.Request, emit func(source.Record) error) error {
	p, err := s.newPoll(req)
	if err != nil {
		return err
	}
	// A token HubSpot rotated during an earlier poll whose save failed.
	p.saveRotated(ctx)
	switch {
	case p.query != nil:
		err = p.search(ctx, emit)
		if err == nil && p.deletions {
			err = p.archived(ctx, emit)
		}
	default:
		err = p.list(ctx, emit)
	}
	if err == nil && p.saveErr != nil {
		// The poll itself worked, and the rotated token is in memory; but
		// the store must learn it before a restart needs it.
		err = p.saveErr
	}
	return err
}

// poll is one run of Poll: the request's configuration resolved once.
type poll struct {
	s      *Source
	req    *source.Request
	client *http.Client
	base   string
	acct   *account
	zone   *time.Location
	bearer string       // private-app token
	ts     *tokenSource // OAuth
	// query is the translated hub query; nil for a path sent as written.
	query     *Query
	rawPath   string
	deletions bool
	limit     int
	since     time.Time
	saveErr   error
}

func (s *Source) newPoll(req *source.Request) (*poll, error) {
	if req.Instance == nil || req.Settings == nil || req.Poller == nil || req.Poller.URL == nil {
		return nil, errors.New("hubspot: request without instance, settings or poller URL")
	}
	p := &poll{s: s, req: req, since: req.Since, deletions: true}
	if req.Client != nil {
		p.client = req.Client
	} else {
		p.client = defaultClient
	}
	p.base = strings.TrimRight(req.Settings.BaseURL, "/")
	if p.base == "" {
		p.base = DefaultBaseURL
	}
	if u, err := url.Parse(p.base); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("hubspot: base.url %q is not an absolute URL", p.base)
	}
	value := func(k string) string { v, _ := req.Instance.Value(k); return strings.TrimSpace(v) }
	zone, err := s.zone(value(KeyTimeZone))
	if err != nil {
		return nil, err
	}
	p.zone = zone

	var acctKey string
	switch t := value(KeyAuthType); t {
	case "", AuthPrivateApp:
		p.bearer = value(KeyAccessToken)
		if p.bearer == "" {
			return nil, fmt.Errorf("hubspot: %s is required for authentication.type private-app", KeyAccessToken)
		}
		acctKey = credentialKey("private-app", p.base, p.bearer)
	case AuthOAuth2:
		id, secret, refresh := value(KeyClientID), value(KeyClientSecret), value(KeyRefreshToken)
		if id == "" || secret == "" || refresh == "" {
			return nil, fmt.Errorf("hubspot: %s, %s and %s are required for authentication.type oauth2", KeyClientID, KeyClientSecret, KeyRefreshToken)
		}
		p.ts = s.tokenSource(req.Instance.ID, p.base, id, secret, refresh)
		acctKey = p.ts.account
	default:
		return nil, fmt.Errorf("hubspot: authentication.type %q is not one of private-app, oauth2", t)
	}
	p.acct = s.account(acctKey)

	p.limit = req.Poller.PageSize
	if p.limit <= 0 {
		p.limit = DefaultPageSize
	}
	loc := req.ServerLocation
	if loc == nil {
		loc = time.UTC
	}
	expanded := req.Poller.URL.Expand(req.Since, loc)
	res := req.Poller.HubResource
	if res == "" {
		p.rawPath = expanded
		return p, nil
	}
	var where string
	if _, rawQuery, ok := strings.Cut(expanded, "?"); ok {
		vals, err := url.ParseQuery(rawQuery)
		if err != nil {
			return nil, fmt.Errorf("hubspot: resource %s: the query string does not parse: %w", req.Poller.Resource, err)
		}
		where = vals.Get("where")
	}
	extra, err := parseProperties(req.Poller.Extra[FieldProperties])
	if err != nil {
		return nil, fmt.Errorf("hubspot: resource %s: %s: %w", req.Poller.Resource, FieldProperties, err)
	}
	q, err := translate(res, req.Poller.Extra[FieldObjectType], where, extra)
	if err != nil {
		return nil, fmt.Errorf("hubspot: resource %s: %w", req.Poller.Resource, err)
	}
	p.query = &q
	p.limit = min(p.limit, MaxSearchLimit)
	p.deletions = req.Poller.Extra[FieldDeletions] != "false"
	return p, nil
}

// credentialKey names an account by hashed credentials, so secrets never sit
// in map keys or memory dumps longer than needed.
func credentialKey(kind string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return kind + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}

// tokenSource returns the instance's OAuth token source, creating it, or
// replacing it when the configured refresh token is neither the one it
// started from nor one HubSpot rotated to (the user changed credentials).
func (s *Source) tokenSource(instance int64, base, clientID, secret, refresh string) *tokenSource {
	key := tokenKey{instance: instance, base: base, clientID: clientID, secret: credentialKey("secret", secret)}
	s.mu.Lock()
	ts := s.tokens[key]
	s.mu.Unlock()
	if ts != nil && ts.accepts(refresh) {
		return ts
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.tokens[key]; cur != nil && cur != ts && cur.accepts(refresh) {
		return cur // another poller of the instance replaced it first
	}
	ts = newTokenSource(base+TokenPath, clientID, secret, refresh, credentialKey("oauth2", base, clientID, refresh), s.now)
	s.sweepLocked()
	s.tokens[key] = ts
	return ts
}

// account returns the rate-limit state of an account, creating it.
func (s *Source) account(key string) *account {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.accounts[key]
	if e == nil {
		s.sweepLocked()
		e = &accountEntry{acct: newAccount(s.searchPerSecond)}
		s.accounts[key] = e
	}
	e.lastUsed = s.now()
	return e.acct
}

// sweepLocked forgets credentials nobody polled for a while, so a
// long-running daemon does not keep every deleted instance's state.
func (s *Source) sweepLocked() {
	cutoff := s.now().Add(-idleCredentials)
	for k, e := range s.accounts {
		if e.lastUsed.Before(cutoff) {
			e.acct.mu.Lock()
			paused := e.acct.pausedUntil.After(s.now())
			e.acct.mu.Unlock()
			if !paused {
				delete(s.accounts, k)
			}
		}
	}
	for k, ts := range s.tokens {
		// A token source refreshing right now holds its lock for a whole
		// HTTP exchange, and is in use: not waited for, not dropped.
		if !ts.mu.TryLock() {
			continue
		}
		idle := ts.lastUsed.Before(cutoff) && ts.pending == ""
		ts.mu.Unlock()
		if idle {
			delete(s.tokens, k)
		}
	}
}

// zone loads (once) the account's time zone.
func (s *Source) zone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if loc, ok := s.zones[name]; ok {
		return loc, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("hubspot: %s: unknown time zone %q", KeyTimeZone, name)
	}
	s.zones[name] = loc
	return loc, nil
}

// search emits every record the query finds modified since the window
// start, oldest first.
//
// It pages by seeking rather than by offset: after each page the next
// search starts again at the last modification time read (GTE, skipping
// the records already read at that millisecond). HubSpot's `after` is an
// offset into a result set that changes while it is read — a record
// modified mid-poll leaves its place and shifts every later one back, so an
// offset would skip one — and it cannot pass the 10,000th result. Seeking
// has neither problem. Offsets remain for the one case seeking cannot
// handle: a page whose records all share the bound's millisecond.
func (p *poll) search(ctx context.Context, emit func(source.Record) error) error {
	q := p.query
	lower := q.LowerBound(p.since)
	lowerMS := lower.UnixMilli()
	lastMS := lowerMS
	// atLast holds the ids read whose time is lastMS: a search from lastMS
	// returns them again.
	atLast := map[string]struct{}{}
	var after string
	read := 0 // results read since the current search started
	path := "/crm/v3/objects/" + url.PathEscape(q.ObjectType) + "/search"
	for pages := 1; ; pages++ {
		body, err := json.Marshal(q.Request(time.UnixMilli(lowerMS), after, p.limit))
		if err != nil {
			return err
		}
		resp, err := p.call(ctx, "POST", path, "", body, true)
		if err != nil {
			return err
		}
		pg, err := parseSearchPage(resp.body, q.DateProperty)
		if err != nil {
			return p.vendorError("POST", path, resp.status, err.Error())
		}
		for _, r := range pg.records {
			ms := r.modified.UnixMilli()
			switch {
			case ms > lastMS:
				lastMS = ms
				clear(atLast)
				atLast[r.id] = struct{}{}
			case ms == lastMS:
				if _, dup := atLast[r.id]; dup {
					continue
				}
				atLast[r.id] = struct{}{}
			}
			// ms < lastMS cannot come from an ascending search; emitted
			// all the same, without moving the seek position.
			if err := emit(source.Record{Raw: r.raw}); err != nil {
				return err
			}
		}
		read += len(pg.records)
		if pg.next == "" {
			return nil
		}
		if len(pg.records) == 0 {
			return p.vendorError("POST", path, resp.status, "an empty search page says more follow")
		}
		if pages >= MaxPages {
			return p.vendorError("POST", path, resp.status, fmt.Sprintf("search did not end after %d pages", MaxPages))
		}
		if lastMS > lowerMS {
			lowerMS, after, read = lastMS, "", 0
			continue
		}
		if read+p.limit > SearchResultCap {
			ve := p.vendorError("POST", path, resp.status, fmt.Sprintf(
				"more than %d %s share the modification time %s, and HubSpot search pages no further than %d results",
				SearchResultCap-p.limit, q.ObjectType, time.UnixMilli(lastMS).UTC().Format(time.RFC3339Nano), SearchResultCap))
			return fmt.Errorf("%w (%w)", ve, ErrSameMillisecond)
		}
		after = pg.next
	}
}

// archived emits the records archived after the window start as
// deletions. HubSpot does not document the listing's order (it pages by
// object id, not by archivedAt), so every archived record is listed and
// filtered here; HubSpot keeps them 90 days.
func (p *poll) archived(ctx context.Context, emit func(source.Record) error) error {
	q := p.query
	path := "/crm/v3/objects/" + url.PathEscape(q.ObjectType)
	params := url.Values{"archived": {"true"}, "limit": {strconv.Itoa(ListLimit)}, "properties": {strings.Join(q.Properties, ",")}}
	seen := map[string]bool{}
	for pages := 1; ; pages++ {
		resp, err := p.call(ctx, "GET", path, params.Encode(), nil, false)
		if err != nil {
			return err
		}
		pg, err := parseArchivedPage(resp.body)
		if err != nil {
			return p.vendorError("GET", path, resp.status, err.Error())
		}
		for _, r := range pg.records {
			if !r.modified.After(p.since) {
				continue
			}
			if err := emit(source.Record{Raw: r.raw, Deleted: true, ID: r.id, DeletedAt: r.modified}); err != nil {
				return err
			}
		}
		if pg.next == "" {
			return nil
		}
		if seen[pg.next] || pages >= MaxPages {
			return p.vendorError("GET", path, resp.status, fmt.Sprintf("the archived listing does not advance: after=%q", vendorio.Clip(pg.next, 100)))
		}
		seen[pg.next] = true
		params.Set("after", pg.next)
	}
}

// list GETs a poller path written in HubSpot's own terms (relative to
// base.url) and follows paging.next.after; its records are "results".
func (p *poll) list(ctx context.Context, emit func(source.Record) error) error {
	path, rawQuery, _ := strings.Cut(p.rawPath, "?")
	params, err := url.ParseQuery(rawQuery)
	if err != nil {
		return fmt.Errorf("hubspot: resource %s: the query string does not parse: %w", p.req.Poller.Resource, err)
	}
	if p.req.Poller.PageSize > 0 {
		params.Set("limit", strconv.Itoa(p.req.Poller.PageSize))
	}
	seen := map[string]bool{}
	for pages := 1; ; pages++ {
		resp, err := p.call(ctx, "GET", path, params.Encode(), nil, false)
		if err != nil {
			return err
		}
		pg, err := parseListPage(resp.body)
		if err != nil {
			return p.vendorError("GET", path, resp.status, err.Error())
		}
		for _, r := range pg.records {
			if err := emit(source.Record{Raw: r.raw}); err != nil {
				return err
			}
		}
		if pg.next == "" {
			return nil
		}
		if seen[pg.next] || pages >= MaxPages {
			return p.vendorError("GET", path, resp.status, fmt.Sprintf("the listing does not advance: after=%q", vendorio.Clip(pg.next, 100)))
		}
		seen[pg.next] = true
		params.Set("after", pg.next)
	}
}

// saveRotated stores a refresh token HubSpot rotated. A failed save keeps
// the token pending (and in memory, so polling goes on) and fails the poll
// at its end, so the status shows it until a save succeeds.
func (p *poll) saveRotated(ctx context.Context) {
	if p.ts == nil {
		return
	}
	rt := p.ts.takePending()
	if rt == "" {
		return
	}
	if p.req.SaveSecrets == nil {
		return // nowhere to store it: memory only, as the contract allows
	}
	if err := p.req.SaveSecrets(ctx, map[string]string{KeyRefreshToken: rt}); err != nil {
		p.ts.putPending(rt)
		p.saveErr = fmt.Errorf("hubspot: storing the rotated refresh token: %w", err)
		return
	}
	p.saveErr = nil
}
