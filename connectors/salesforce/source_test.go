package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
)

// recommendedDates is the datesConfiguration the README recommends.
const recommendedDates = `{"updatedDateField":"SystemModstamp","updatedDateFormat":"yyyy-MM-dd'T'HH:mm:ss.SSSZ",` +
	`"createdDateField":"CreatedDate","createdDateFormat":"yyyy-MM-dd'T'HH:mm:ss.SSSZ"}`

const hubURL = "/hubs/crm/%s?where=SystemModstamp>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}'"

// pollSpec describes one poll of one resource.
type pollSpec struct {
	resource string // hub resource; default contacts
	poller   string // poller JSON; default a hub poller of resource
	config   map[string]string
	since    time.Time // default t0
}

// request compiles an instance for the org as provisioning would and
// returns the Source request of one poll at the org's current time.
func (o *testOrg) request(t testing.TB, ps pollSpec) *source.Request {
	t.Helper()
	if ps.resource == "" {
		ps.resource = "contacts"
	}
	if ps.poller == "" {
		ps.poller = fmt.Sprintf(`{"url":%q,"idField":"Id","pageSize":200,"datesConfiguration":%s}`, fmt.Sprintf(hubURL, ps.resource), recommendedDates)
	}
	if ps.since.IsZero() {
		ps.since = t0
	}
	cfg := map[string]string{
		KeyConsumerKey: testConsumerKey, KeyUsername: testUsername, KeyLoginURL: o.srv.URL, KeyPrivateKey: pkcs1PEM(testKey()),
		connectors.KeyPollerConfiguration: `{"` + ps.resource + `":` + ps.poller + `}`,
	}
	for k, v := range ps.config {
		cfg[k] = v
	}
	settings, err := instances.Compile(Spec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := settings.Poller(ps.resource)
	if !ok {
		t.Fatal("no poller")
	}
	inst := &instances.Instance{ID: 1, ConnectorKey: Key, Config: map[string]string{}, Secrets: map[string]string{}}
	for k, v := range cfg {
		if Spec.IsSecret(k) {
			inst.Secrets[k] = v
		} else {
			inst.Config[k] = v
		}
	}
	return &source.Request{
		Instance: inst, Settings: settings, Poller: p,
		Since: ps.since, Now: o.clk.Now(), ServerLocation: time.UTC,
		Client: &http.Client{Timeout: 5 * time.Second},
	}
}

// collect polls and returns what was emitted.
func collect(ctx context.Context, src *Source, req *source.Request) ([]source.Record, error) {
	var out []source.Record
	err := src.Poll(ctx, req, func(r source.Record) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

func ids(rs []source.Record) []string {
	var out []string
	for _, r := range rs {
		if r.Deleted {
			out = append(out, "-"+r.ID)
		} else {
			out = append(out, gjson.GetBytes(r.Raw, "Id").String())
		}
	}
	return out
}

// requestLog records the requests an org receives.
type requestLog struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (l *requestLog) hook(w http.ResponseWriter, r *http.Request) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r.Clone(context.Background()))
	return false
}

func (l *requestLog) all() []*http.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*http.Request(nil), l.reqs...)
}

func TestPollHubResource(t *testing.T) {
	o := newTestOrg(t, SimOptions{})
	var want []string
	for i := range 5 {
		o.clk.Advance(time.Second)
		want = append(want, o.sim.Create("Contact", map[string]any{"LastName": fmt.Sprint("c", i)}).ID)
	}
	o.clk.Advance(30 * time.Second)
	o.sim.Delete("Contact", want[2])
	o.clk.Advance(2 * time.Minute)
	log := &requestLog{}
	o.intercept(log.hook)

	src := New(WithClock(o.clk.Now))
	req := o.request(t, pollSpec{poller: fmt.Sprintf(`{"url":%q,"idField":"Id","pageSize":50,"datesConfiguration":%s}`,
		fmt.Sprintf(hubURL, "contacts")+" AND LastName != 'c4'", recommendedDates)})
	got, err := collect(context.Background(), src, req)
	if err != nil {
		t.Fatal(err)
	}
	if w := []string{want[0], want[1], want[3], "-" + want[2]}; !slices.Equal(ids(got), w) {
		t.Fatalf("emitted %v, want %v", ids(got), w)
	}
	if r := got[0].Raw; gjson.GetBytes(r, "attributes.type").String() != "Contact" || gjson.GetBytes(r, "CreatedDate").String() != "2026-03-01T12:00:01.000+0000" {
		t.Fatalf("record %s", r)
	}
	del := got[3]
	if !del.DeletedAt.Equal(t0.Add(35*time.Second)) || del.DeletedAt.Location() != time.UTC || gjson.GetBytes(del.Raw, "deletedDate").String() != "2026-03-01T12:00:35.000+0000" {
		t.Fatalf("deletion %+v %s", del, del.Raw)
	}

	reqs := log.all()
	if len(reqs) != 3 || reqs[0].URL.Path != tokenPath {
		t.Fatalf("%d requests", len(reqs))
	}
	soql := reqs[1].URL.Query().Get("q")
	wantSOQL := "SELECT Id, FirstName, LastName, Name, Email, Phone, Title, AccountId, OwnerId, CreatedDate, LastModifiedDate, SystemModstamp " +
		"FROM Contact WHERE SystemModstamp > 2026-03-01T12:00:00Z AND LastName != 'c4' ORDER BY SystemModstamp, Id"
	if soql != wantSOQL || reqs[1].Header.Get("Sforce-Query-Options") != "batchSize=200" || !strings.HasPrefix(reqs[1].Header.Get("Authorization"), "Bearer 00D") {
		t.Fatalf("query %q with %v", soql, reqs[1].Header)
	}
	// The deletion window: the poll's, in whole minutes, at least two wide.
	if q := reqs[2].URL.Query(); reqs[2].URL.Path != DataPath+"/sobjects/Contact/deleted/" ||
		q.Get("start") != "2026-03-01T12:00:00+00:00" || q.Get("end") != "2026-03-01T12:02:35+00:00" {
		t.Fatalf("getDeleted %s", reqs[2].URL)
	}
	if used, limit, at, ok := src.Usage(o.srv.URL + "/"); !ok || used != 2 || limit != DefaultSimDailyLimit || !at.Equal(o.clk.Now()) {
		t.Fatalf("usage %d/%d at %v", used, limit, at)
	}

	// Deletions at or before the window start were in an earlier window.
	got, err = collect(context.Background(), src, o.request(t, pollSpec{since: t0.Add(34 * time.Second)}))
	if err != nil || !slices.Equal(ids(got), []string{"-" + want[2]}) {
		t.Fatalf("window from 12:00:34: %v %v", ids(got), err)
	}
	got, err = collect(context.Background(), src, o.request(t, pollSpec{since: t0.Add(35 * time.Second)}))
	if err != nil || len(got) != 0 {
		t.Fatalf("window from 12:00:35: %v %v", ids(got), err)
	}
}

func TestPollPagesInOrder(t *testing.T) {
	o := newTestOrg(t, SimOptions{MaxBatch: 40})
	var want []string
	for i := range 230 {
		if i%50 == 0 {
			o.clk.Advance(time.Second) // some records share a SystemModstamp
		}
		want = append(want, o.sim.Create("Account", map[string]any{"Name": fmt.Sprint("a", i)}).ID)
	}
	slices.Sort(want) // within a timestamp, by Id
	o.clk.Advance(time.Minute)
	got, err := collect(context.Background(), New(WithClock(o.clk.Now)), o.request(t, pollSpec{resource: "accounts"}))
	if err != nil {
		t.Fatal(err)
	}
	// 230 records in pages of 40, then getDeleted.
	gotIDs := ids(got)
	if len(gotIDs) != 230 || o.sim.Requests() != 7 {
		t.Fatalf("%d records in %d requests", len(gotIDs), o.sim.Requests())
	}
	for i := 1; i < len(got); i++ {
		a, b := gjson.GetBytes(got[i-1].Raw, "SystemModstamp").String(), gjson.GetBytes(got[i].Raw, "SystemModstamp").String()
		if a > b || a == b && gotIDs[i-1] > gotIDs[i] {
			t.Fatalf("records %d and %d out of order", i-1, i)
		}
	}
	slices.Sort(gotIDs)
	if !slices.Equal(gotIDs, want) {
		t.Fatal("records missing or repeated")
	}
}

func TestSessionShared(t *testing.T) {
	o := newTestOrg(t, SimOptions{})
	o.clk.Advance(time.Second)
	o.sim.Create("Contact", map[string]any{"LastName": "x"})
	o.clk.Advance(time.Minute)
	src := New(WithClock(o.clk.Now))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Two instances, eight polls each, one set of credentials.
			req := o.request(t, pollSpec{})
			req.Instance.ID = int64(1 + i%2)
			if _, err := collect(context.Background(), src, req); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := o.sim.TokenRequests(); n != 1 {
		t.Fatalf("%d token exchanges for one set of credentials", n)
	}
	// Other credentials, other session.
	other := newTestOrg(t, SimOptions{Username: "other@example.com"})
	req := other.request(t, pollSpec{config: map[string]string{KeyUsername: "other@example.com"}})
	if _, err := collect(context.Background(), src, req); err != nil || other.sim.TokenRequests() != 1 {
		t.Fatalf("second org: %v, %d exchanges", err, other.sim.TokenRequests())
	}
}

func TestTokenRenewedOnExpiry(t *testing.T) {
	o := newTestOrg(t, SimOptions{TokenTTL: 10 * time.Minute})
	src := New(WithClock(o.clk.Now))
	o.clk.Advance(time.Minute)
	if _, err := collect(context.Background(), src, o.request(t, pollSpec{})); err != nil {
		t.Fatal(err)
	}
	o.clk.Advance(10 * time.Minute)
	o.sim.Create("Contact", map[string]any{"LastName": "x"})
	got, err := collect(context.Background(), src, o.request(t, pollSpec{}))
	if err != nil || len(got) != 1 {
		t.Fatalf("after expiry: %v %v", ids(got), err)
	}
	if n := o.sim.TokenRequests(); n != 2 {
		t.Fatalf("%d token exchanges, want 2", n)
	}
	// A session that is refused again right after renewal fails the poll.
	o.intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == tokenPath {
			return false
		}
		sfError(w, 401, "INVALID_SESSION_ID", "Session expired or invalid")
		return true
	})
	_, err = collect(context.Background(), src, o.request(t, pollSpec{}))
	var ve *source.VendorError
	if !errors.As(err, &ve) || ve.Status != 401 || !strings.Contains(ve.Message, "INVALID_SESSION_ID") || o.sim.TokenRequests() != 3 {
		t.Fatalf("refused twice: %v (%d exchanges)", err, o.sim.TokenRequests())
	}
}

func TestTokenErrors(t *testing.T) {
	o := newTestOrg(t, SimOptions{})
	cases := []struct {
		name   string
		config map[string]string
		want   string
	}{
		{"wrong key", map[string]string{KeyPrivateKey: pkcs8PEM(otherKey())}, "400 Bad Request: token exchange refused: invalid_grant: invalid assertion"},
		{"wrong consumer key", map[string]string{KeyConsumerKey: "nope"}, "invalid_client_id: client identifier invalid"},
		{"wrong user", map[string]string{KeyUsername: "nobody@example.com"}, "user hasn't approved this consumer"},
		{"login URL not the audience", map[string]string{KeyLoginURL: o.srv.URL + "/"}, ""}, // trailing slash trimmed: accepted
		{"not a key", map[string]string{KeyPrivateKey: "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"}, "not an RSA private key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := o.request(t, pollSpec{})
			for k, v := range tc.config {
				if Spec.IsSecret(k) {
					req.Instance.Secrets[k] = v
				} else {
					req.Instance.Config[k] = v
				}
			}
			before := o.sim.Requests()
			_, err := collect(context.Background(), New(WithClock(o.clk.Now)), req)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if o.sim.Requests() != before {
				t.Fatal("data calls without a token")
			}
		})
	}
	// An instance_url that is not an origin is refused: the token would go
	// there.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"access_token": "t", "instance_url": "ftp://elsewhere"})
	}))
	defer bad.Close()
	req := o.request(t, pollSpec{config: map[string]string{KeyLoginURL: bad.URL}})
	if _, err := collect(context.Background(), New(), req); err == nil || !strings.Contains(err.Error(), "not an http(s) origin") {
		t.Fatalf("bad instance_url: %v", err)
	}
}

// TestTokenExpiryMidPagination: the session ends between two pages of one
// query; the poll renews it, asks for the same page again and emits every
// record once.
func TestTokenExpiryMidPagination(t *testing.T) {
	o := newTestOrg(t, SimOptions{MaxBatch: 50})
	o.clk.Advance(time.Second)
	var want []string
	for i := range 180 {
		want = append(want, o.sim.Create("Lead", map[string]any{"LastName": fmt.Sprint(i), "Company": "Acme"}).ID)
	}
	o.clk.Advance(time.Minute)
	var (
		mu    sync.Mutex
		pages []string // query paths served, in order
	)
	o.intercept(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(r.URL.Path, "/query") {
			pages = append(pages, r.URL.Path)
			if strings.HasSuffix(r.URL.Path, "-100") && strings.Count(strings.Join(pages, " "), "-100") == 1 {
				o.sim.ExpireSessions() // between page 2 and page 3
			}
		}
		return false
	})
	got, err := collect(context.Background(), New(WithClock(o.clk.Now)), o.request(t, pollSpec{resource: "leads"}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("%d records emitted, want the %d once each", len(got), len(want))
	}
	if o.sim.TokenRequests() != 2 || len(pages) != 5 || pages[2] != pages[3] {
		t.Fatalf("%d exchanges, pages %v", o.sim.TokenRequests(), pages)
	}
}

// TestLocatorLostRestartsQuery: a query locator that expires mid-poll makes
// the poll run the query again from the start, once.
func TestLocatorLostRestartsQuery(t *testing.T) {
	o := newTestOrg(t, SimOptions{MaxBatch: 50})
	o.clk.Advance(time.Second)
	var want []string
	for i := range 120 {
		want = append(want, o.sim.Create("Contact", map[string]any{"LastName": fmt.Sprint(i)}).ID)
	}
	o.clk.Advance(time.Minute)
	losses := 1
	o.intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/query/") && losses > 0 {
			losses--
			sfError(w, 400, "INVALID_QUERY_LOCATOR", "invalid query locator")
			return true
		}
		return false
	})
	got, err := collect(context.Background(), New(WithClock(o.clk.Now)), o.request(t, pollSpec{}))
	if err != nil {
		t.Fatal(err)
	}
	// The first page comes twice; the engine drops what a poll repeats.
	if w := append(append([]string(nil), want[:50]...), want...); !slices.Equal(ids(got), w) {
		t.Fatalf("emitted %d records", len(got))
	}
	losses = 2
	_, err = collect(context.Background(), New(WithClock(o.clk.Now)), o.request(t, pollSpec{}))
	var ve *source.VendorError
	if !errors.As(err, &ve) || ve.Status != 400 || !strings.Contains(ve.Message, "INVALID_QUERY_LOCATOR") {
		t.Fatalf("lost twice: %v", err)
	}
}

func TestRequestLimitPauses(t *testing.T) {
	o := newTestOrg(t, SimOptions{DailyLimit: 10, TokenTTL: 72 * time.Hour})
	src := New(WithClock(o.clk.Now))
	o.clk.Advance(time.Second)
	o.sim.Create("Contact", map[string]any{"LastName": "waiting"})
	o.clk.Advance(time.Minute)
	o.sim.Spend(10) // the org's other integrations used it all
	_, err := collect(context.Background(), src, o.request(t, pollSpec{}))
	var pe *source.PausedError
	if !errors.As(err, &pe) || !pe.Until.Equal(o.clk.Now().Add(time.Hour)) || !strings.Contains(pe.Reason, "REQUEST_LIMIT_EXCEEDED") ||
		!strings.Contains(pe.Reason, "api-usage=10/10") {
		t.Fatalf("spent allowance: %v", err)
	}
	first := pe.Until
	// Until the re-check, no request is made at all.
	before := o.sim.Requests()
	o.clk.Advance(30 * time.Minute)
	if _, err := collect(context.Background(), src, o.request(t, pollSpec{})); !errors.As(err, &pe) || !pe.Until.Equal(first) || o.sim.Requests() != before {
		t.Fatalf("while paused: %v, %d requests", err, o.sim.Requests()-before)
	}
	// At the re-check Salesforce still refuses (24 hours roll slowly): one
	// request, another hour.
	o.clk.Advance(30 * time.Minute)
	if _, err := collect(context.Background(), src, o.request(t, pollSpec{})); !errors.As(err, &pe) || !pe.Until.Equal(first.Add(time.Hour)) || o.sim.Requests() != before+1 {
		t.Fatalf("at the re-check: %v", err)
	}
	o.clk.Advance(24 * time.Hour)
	got, err := collect(context.Background(), src, o.request(t, pollSpec{}))
	if err != nil || len(got) != 1 {
		t.Fatalf("after the reset: %v %v", ids(got), err)
	}

	t.Run("concurrent requests only throttle", func(t *testing.T) {
		o := newTestOrg(t, SimOptions{})
		o.intercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == tokenPath {
				return false
			}
			sfError(w, 403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentRequests (Concurrent API Requests) Limit exceeded.")
			return true
		})
		_, err := collect(context.Background(), New(WithClock(o.clk.Now)), o.request(t, pollSpec{}))
		if !source.IsRateLimited(err) || errors.As(err, &pe) {
			t.Fatalf("concurrent limit: %v", err)
		}
	})
}

// TestKnownSpentBudget: a reading that leaves fewer requests than a poll
// needs pauses before any call; an old reading does not.
func TestKnownSpentBudget(t *testing.T) {
	o := newTestOrg(t, SimOptions{DailyLimit: 100})
	src := New(WithClock(o.clk.Now), WithPauseFor(20*time.Minute))
	o.clk.Advance(time.Minute)
	o.sim.Spend(97)
	if _, err := collect(context.Background(), src, o.request(t, pollSpec{})); err != nil {
		t.Fatal(err) // 99/100 after its two requests
	}
	before := o.sim.Requests()
	o.clk.Advance(time.Minute)
	_, err := collect(context.Background(), src, o.request(t, pollSpec{}))
	var pe *source.PausedError
	if !errors.As(err, &pe) || !pe.Until.Equal(t0.Add(21*time.Minute)) || !strings.Contains(pe.Reason, "api-usage=99/100") || o.sim.Requests() != before {
		t.Fatalf("known spent: %v (%d requests)", err, o.sim.Requests()-before)
	}
	// Without deletions a poll needs one request, which is left.
	req := o.request(t, pollSpec{poller: fmt.Sprintf(`{"url":%q,"idField":"Id","deletions":false,"datesConfiguration":%s}`, fmt.Sprintf(hubURL, "contacts"), recommendedDates)})
	if _, err := collect(context.Background(), src, req); err != nil || o.sim.Requests() != before+1 {
		t.Fatalf("one request left: %v", err)
	}
	o.clk.Advance(20 * time.Minute)
	_, err = collect(context.Background(), src, o.request(t, pollSpec{}))
	if !errors.As(err, &pe) || o.sim.Requests() != before+2 {
		t.Fatalf("a stale reading should let the poll ask: %v", err)
	}
}

func TestDeletionWindow(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 30, 45, 0, time.UTC)
	cases := []struct {
		since, start time.Time
	}{
		{now.Add(-10 * time.Minute), time.Date(2026, 3, 1, 12, 20, 0, 0, time.UTC)},
		{now.Add(-61 * time.Second), time.Date(2026, 3, 1, 12, 28, 0, 0, time.UTC)}, // widened to two whole minutes
		{now, time.Date(2026, 3, 1, 12, 28, 0, 0, time.UTC)},
		{now.Add(-30 * 24 * time.Hour), time.Date(2026, 2, 14, 12, 40, 0, 0, time.UTC)}, // 15 days back, less a margin
	}
	for _, tc := range cases {
		start, end := deletionWindow(tc.since, now)
		if !start.Equal(tc.start) || !end.Equal(now) {
			t.Errorf("since %v: %v..%v, want %v..%v", tc.since, start, end, tc.start, now)
		}
		if end.Truncate(time.Minute).Sub(start) <= time.Minute || now.Sub(start) > deletedMaxAge {
			t.Errorf("since %v: span %v..%v refused by getDeleted", tc.since, start, end)
		}
	}
}

func TestPollRefusesBadAnswers(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"next off the instance", `{"done":false,"totalSize":2,"nextRecordsUrl":"https://evil.example/services/data/v59.0/query/01g-1","records":[{"Id":"1"}]}`, "access token is only sent there"},
		{"done false without next", `{"done":false,"totalSize":2,"records":[]}`, "no nextRecordsUrl"},
		{"no done", `{"totalSize":0,"records":[]}`, "no done flag"},
		{"records not an array", `{"done":true,"records":{}}`, "no records array"},
		{"not JSON", `<html>maintenance</html>`, "invalid JSON"},
		{"next repeats", `{"done":false,"nextRecordsUrl":"/services/data/v59.0/query/01gA-1","records":[]}`, "came back twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := newTestOrg(t, SimOptions{})
			o.intercept(func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.Contains(r.URL.Path, "/query") {
					return false
				}
				writeRaw(w, 200, []byte(tc.body))
				return true
			})
			_, err := collect(context.Background(), New(WithClock(o.clk.Now)), o.request(t, pollSpec{}))
			var ve *source.VendorError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("vendor error arrays", func(t *testing.T) {
		o := newTestOrg(t, SimOptions{})
		o.intercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == tokenPath {
				return false
			}
			w.Header().Set("Sforce-Limit-Info", "api-usage=42/5000")
			sfError(w, 400, "INVALID_FIELD", "No such column 'Title' on entity 'Contact'")
			return true
		})
		src := New(WithClock(o.clk.Now))
		_, err := collect(context.Background(), src, o.request(t, pollSpec{}))
		var ve *source.VendorError
		if !errors.As(err, &ve) || ve.Status != 400 || ve.Message != "INVALID_FIELD: No such column 'Title' on entity 'Contact'" ||
			!strings.Contains(ve.URL, "/services/data/v59.0/query?q=SELECT") {
			t.Fatalf("%#v", err)
		}
		if u, _ := src.org(o.srv.URL).usage(); u.used != 42 {
			t.Fatalf("error answers' Sforce-Limit-Info not read: %+v", u)
		}
	})
}

func TestPollerURLAsWritten(t *testing.T) {
	o := newTestOrg(t, SimOptions{})
	a := o.sim.Create("Contact", map[string]any{"LastName": "a", "Email": "a@example.com"})
	o.sim.Create("Contact", map[string]any{"LastName": "b"})
	o.clk.Advance(time.Minute)
	raw := DataPath + "/query?q=SELECT+Id,Email,SystemModstamp+FROM+Contact+WHERE+Email!=null+AND+SystemModstamp>${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}"
	poller := fmt.Sprintf(`{"url":%q,"idField":"Id","datesConfiguration":%s}`, raw, recommendedDates)
	got, err := collect(context.Background(), New(WithClock(o.clk.Now)), o.request(t, pollSpec{poller: poller, since: t0.Add(-time.Second)}))
	if err != nil || !slices.Equal(ids(got), []string{a.ID}) || gjson.GetBytes(got[0].Raw, "Email").String() != "a@example.com" {
		t.Fatalf("%v %v", ids(got), err)
	}
}

func TestBaseURLOverridesInstanceURL(t *testing.T) {
	o := newTestOrg(t, SimOptions{})
	o.clk.Advance(time.Second)
	o.sim.Create("Contact", map[string]any{"LastName": "a"})
	o.clk.Advance(time.Minute)
	var proxied int
	var mu sync.Mutex
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		proxied++
		mu.Unlock()
		o.sim.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	req := o.request(t, pollSpec{config: map[string]string{connectors.KeyBaseURL: proxy.URL + "/"}})
	got, err := collect(context.Background(), New(WithClock(o.clk.Now)), req)
	if err != nil || len(got) != 1 || proxied != 2 {
		t.Fatalf("%v %v, %d calls through base.url", ids(got), err, proxied)
	}
}

func TestPollerMisconfigured(t *testing.T) {
	o := newTestOrg(t, SimOptions{})
	// An explicit lower-case id field can never match Salesforce records.
	bad := fmt.Sprintf(`{"url":%q,"idField":"id","datesConfiguration":%s}`, fmt.Sprintf(hubURL, "contacts"), recommendedDates)
	if _, err := collect(context.Background(), New(), o.request(t, pollSpec{poller: bad})); err == nil || !strings.Contains(err.Error(), `set "idField": "Id"`) || o.sim.Requests()+o.sim.TokenRequests() != 0 {
		t.Errorf("%s: %v", bad, err)
	}
	// Left unsaid, the id and date fields come from the connector's hub
	// defaults (connectors.HubDefaults), so the bare URL polls.
	bare := fmt.Sprintf(`{"url":%q}`, fmt.Sprintf(hubURL, "contacts"))
	if _, err := collect(context.Background(), New(), o.request(t, pollSpec{poller: bare})); err != nil {
		t.Errorf("%s with hub defaults: %v", bare, err)
	}
	req := o.request(t, pollSpec{})
	delete(req.Instance.Config, KeyUsername)
	if _, err := collect(context.Background(), New(), req); !errors.Is(err, ErrCredentials) {
		t.Errorf("no user name: %v", err)
	}
}

func TestParseLimitInfo(t *testing.T) {
	for v, want := range map[string]usage{
		"api-usage=18/5000":                                            {18, 5000},
		"api-usage=10018/100000; api-bursts=1/750":                     {10018, 100000},
		" per-app-api-usage=17/250(appName=x); api-usage = 25 / 5000 ": {25, 5000},
	} {
		if got, ok := parseLimitInfo(v); !ok || got != want {
			t.Errorf("%q: %+v %t", v, got, ok)
		}
	}
	for _, v := range []string{"", "api-usage=18", "api-usage=x/5000", "api-usage=1/0", "api-usage=-1/5"} {
		if _, ok := parseLimitInfo(v); ok {
			t.Errorf("%q accepted", v)
		}
	}
}
