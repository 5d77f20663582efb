package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
)

func TestPollSearchesTheWindowOldestFirst(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
	old := e.sim.Create("contacts", map[string]string{"email": "old@example.com"})
	e.clk.Advance(time.Minute)
	since := e.clk.Now()
	a := e.sim.Create("contacts", map[string]string{"email": "a@example.com"}) // exactly at since: GTE reads it
	e.clk.Advance(time.Second)
	b := e.sim.Create("contacts", map[string]string{"email": "b@example.com", "company": "Acme"})
	e.clk.Advance(time.Second)
	e.sim.Update("contacts", old.ID, map[string]string{"firstname": "Old"}) // changed in the window: now the newest
	e.sim.Create("companies", map[string]string{"name": "not a contact"})
	e.clk.Advance(time.Second)

	inst, s := e.instance(1, privateApp("pat"), map[string]any{"contacts": hubPoller("contacts", "lastmodifieddate>='${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}'")})
	recs, err := e.poll(e.request(inst, s, "contacts", since))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(t, recs), []string{a.ID, b.ID, old.ID}; !slices.Equal(got, want) {
		t.Fatalf("emitted %v, want %v", got, want)
	}
	r := gjson.ParseBytes(recs[1].Raw)
	if r.Get("properties.email").String() != "b@example.com" || r.Get("createdAt").String() == "" || r.Get("updatedAt").String() == "" || r.Get("archived").Type != gjson.False {
		t.Fatalf("raw record: %s", recs[1].Raw)
	}
	// One search, with the window as an epoch-ms GTE bound, sorted on the
	// contacts' modified property, properties named; then the archived listing.
	reqs := e.requests()
	if len(reqs) != 2 || reqs[0].Method != "POST" || reqs[0].Path != "/crm/v3/objects/contacts/search" || reqs[0].Auth != "Bearer pat" {
		t.Fatalf("requests %+v", reqs)
	}
	body := gjson.ParseBytes(reqs[0].Body)
	if body.Get("filterGroups.0.filters.0.propertyName").String() != "lastmodifieddate" || body.Get("filterGroups.0.filters.0.operator").String() != "GTE" ||
		body.Get("filterGroups.0.filters.0.value").String() != fmt.Sprint(since.UnixMilli()) ||
		body.Get("sorts.0.propertyName").String() != "lastmodifieddate" || body.Get("sorts.0.direction").String() != "ASCENDING" ||
		body.Get("limit").Int() != DefaultPageSize || !slices.Contains(toStrings(body.Get("properties")), "email") {
		t.Fatalf("search body %s", reqs[0].Body)
	}
	if reqs[1].Method != "GET" || reqs[1].Path != "/crm/v3/objects/contacts" || !strings.Contains(reqs[1].Query, "archived=true") || !strings.Contains(reqs[1].Query, "limit=100") {
		t.Fatalf("archived listing request %+v", reqs[1])
	}
}

func toStrings(r gjson.Result) []string {
	var out []string
	for _, v := range r.Array() {
		out = append(out, v.String())
	}
	return out
}

func TestPollResourcesMapToObjectTypes(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
	objects := map[string]string{"contacts": "contacts", "accounts": "companies", "opportunities": "deals", "activities": "calls"}
	want := map[string]string{}
	for res, typ := range objects {
		want[res] = e.sim.Create(typ, map[string]string{}).ID
	}
	tasks := e.sim.Create("tasks", map[string]string{"hs_task_subject": "x"}).ID
	e.clk.Advance(time.Second)
	pollers := map[string]any{"tasks": map[string]any{"url": "/hubs/crm/activities", "objectType": "tasks", "deletions": false}}
	for res := range objects {
		pollers[res] = hubPoller(res, "")
	}
	inst, s := e.instance(1, privateApp("pat"), pollers)
	for res := range objects {
		recs, err := e.poll(e.request(inst, s, res, t0.Add(-time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(t, recs); len(got) != 1 || got[0] != want[res] {
			t.Errorf("%s emitted %v, want [%s]", res, got, want[res])
		}
	}
	before := len(e.requests())
	recs, err := e.poll(e.request(inst, s, "tasks", t0.Add(-time.Minute)))
	if err != nil || len(recs) != 1 || ids(t, recs)[0] != tasks {
		t.Fatalf("tasks: %v %v", ids(t, recs), err)
	}
	if n := len(e.requests()) - before; n != 1 {
		t.Fatalf("deletions: false still listed archived tasks (%d requests)", n)
	}
}

// TestPollSeeksPastTheSearchCap: 12,000 changes in one window, in pages of
// 200 — past the 10,000 results one search can page through — and runs of
// records sharing one millisecond longer than a page.
func TestPollSeeksPastTheSearchCap(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
	since := e.clk.Now()
	var want []string
	for i := 0; i < 12_000; i++ {
		want = append(want, e.sim.Create("deals", map[string]string{"dealname": fmt.Sprint(i)}).ID)
		if i%1000 != 999 { // a thousand deals share each millisecond
			continue
		}
		e.clk.Advance(time.Millisecond)
	}
	inst, s := e.instance(1, privateApp("pat"), map[string]any{"opportunities": map[string]any{"url": "/hubs/crm/opportunities", "pageSize": 200, "deletions": false}})
	recs, err := e.poll(e.request(inst, s, "opportunities", since))
	if err != nil {
		t.Fatal(err)
	}
	got := ids(t, recs)
	if len(got) != len(want) {
		t.Fatalf("emitted %d records, want %d", len(got), len(want))
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatal("emitted records differ from the deals created")
	}
	for _, r := range e.requests() {
		if r.Status != 200 {
			t.Fatalf("a request failed: %+v", r)
		}
		if after := gjson.GetBytes(r.Body, "after").Int(); after+200 > SearchResultCap {
			t.Fatalf("a search paged to after=%d", after)
		}
	}
}

func TestPollRefusesMoreThanASearchOfOneMillisecond(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
	for i := 0; i < SearchResultCap+1; i++ {
		e.sim.Create("contacts", nil)
	}
	inst, s := e.instance(1, privateApp("pat"), map[string]any{"contacts": map[string]any{"url": "/hubs/crm/contacts", "pageSize": 200}})
	_, err := e.poll(e.request(inst, s, "contacts", t0))
	var ve *source.VendorError
	if !errors.Is(err, ErrSameMillisecond) || !errors.As(err, &ve) {
		t.Fatalf("err = %v, want ErrSameMillisecond in a VendorError", err)
	}
	for _, r := range e.requests() {
		if r.Status != 200 {
			t.Fatalf("the poll went past the cap: %+v", r)
		}
	}
}

// TestPollDoesNotSkipWhenRecordsChangeWhilePaging: a record already read
// is modified between two pages. With offset paging every later record
// would shift back one place and one would be skipped; seeking skips none.
func TestPollDoesNotSkipWhenRecordsChangeWhilePaging(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
	var want []string
	for i := 0; i < 10; i++ {
		want = append(want, e.sim.Create("contacts", nil).ID)
		e.clk.Advance(time.Millisecond)
	}
	var once sync.Once
	e.setHook(func(r *http.Request) {
		if r.URL.Path == "/crm/v3/objects/contacts/search" && len(e.requests()) == 1 {
			once.Do(func() {
				e.clk.Advance(time.Millisecond)
				e.sim.Update("contacts", want[0], map[string]string{"firstname": "moved"})
			})
		}
	})
	inst, s := e.instance(1, privateApp("pat"), map[string]any{"contacts": map[string]any{"url": "/hubs/crm/contacts", "pageSize": 3}})
	recs, err := e.poll(e.request(inst, s, "contacts", t0))
	if err != nil {
		t.Fatal(err)
	}
	got := ids(t, recs)
	// want[0] twice: read, then read again after its change (a new change,
	// which the engine reports once more).
	if exp := append(append([]string(nil), want...), want[0]); !slices.Equal(got, exp) {
		t.Fatalf("emitted %v, want %v", got, exp)
	}
}

func TestPollReportsArchivedRecordsAsDeletions(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
	early := e.sim.Create("companies", map[string]string{"name": "early"})
	e.sim.Archive("companies", early.ID)
	e.clk.Advance(time.Minute)
	since := e.clk.Now()
	var archived []Object
	for i := 0; i < 150; i++ { // two pages of the archived listing
		o := e.sim.Create("companies", map[string]string{"name": fmt.Sprint(i)})
		e.clk.Advance(time.Millisecond)
		if i%2 == 0 {
			o, _ = e.sim.Archive("companies", o.ID)
			archived = append(archived, o)
		}
	}
	inst, s := e.instance(1, privateApp("pat"), map[string]any{"accounts": hubPoller("accounts", "")})
	recs, err := e.poll(e.request(inst, s, "accounts", since))
	if err != nil {
		t.Fatal(err)
	}
	var dels []source.Record
	for _, r := range recs {
		if r.Deleted {
			dels = append(dels, r)
		}
	}
	if len(recs)-len(dels) != 75 || len(dels) != len(archived) {
		t.Fatalf("%d live and %d deleted records, want 75 and %d", len(recs)-len(dels), len(dels), len(archived))
	}
	for i, d := range dels {
		o := archived[i]
		if d.ID != o.ID || !d.DeletedAt.Equal(o.ArchivedAt) || gjson.GetBytes(d.Raw, "id").String() != o.ID || !gjson.GetBytes(d.Raw, "archived").Bool() {
			t.Fatalf("deletion %d: %+v (%s), want %s archived at %v", i, d, d.Raw, o.ID, o.ArchivedAt)
		}
	}
}

func TestPollOAuthRenewsAndStoresRotatedRefreshTokens(t *testing.T) {
	e := newEnv(t, SimOptions{ClientID: "cid", ClientSecret: "csec", RefreshToken: "r0", AccessTokenTTL: 10 * time.Minute, RotateRefreshTokens: true})
	for i := 0; i < 5; i++ {
		e.sim.Create("contacts", nil)
		e.clk.Advance(time.Millisecond)
	}
	inst, s := e.instance(7, oauth("cid", "csec", "r0"), map[string]any{"contacts": map[string]any{"url": "/hubs/crm/contacts", "pageSize": 2}})
	var saved []string
	save := func(_ context.Context, m map[string]string) error {
		saved = append(saved, m[KeyRefreshToken])
		inst = inst.Clone()
		inst.Secrets[KeyRefreshToken] = m[KeyRefreshToken] // as the engine does
		return nil
	}
	poll := func() []source.Record {
		t.Helper()
		req := e.request(inst, s, "contacts", t0)
		req.SaveSecrets = save
		recs, err := e.poll(req)
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	if n := len(poll()); n != 5 {
		t.Fatalf("first poll emitted %d", n)
	}
	if e.sim.TokenGrants() != 1 || !slices.Equal(saved, []string{e.sim.RefreshToken()}) {
		t.Fatalf("grants %d, saved %v, simulator's token %s", e.sim.TokenGrants(), saved, e.sim.RefreshToken())
	}
	// Within the lifetime: no new token.
	e.clk.Advance(5 * time.Minute)
	poll()
	if e.sim.TokenGrants() != 1 {
		t.Fatalf("a valid token was refreshed: %d grants", e.sim.TokenGrants())
	}
	// Close to the end of its lifetime: renewed before HubSpot refuses it.
	e.clk.Advance(4*time.Minute + 30*time.Second)
	poll()
	if e.sim.TokenGrants() != 2 || e.count("POST", "/search", 401) != 0 || len(saved) != 2 || saved[1] != e.sim.RefreshToken() {
		t.Fatalf("renewal before expiry: %d grants, %d 401s, saved %v", e.sim.TokenGrants(), e.count("POST", "/search", 401), saved)
	}
	// HubSpot ends the token early: one 401, one refresh, the page again.
	e.sim.ExpireAccessTokens()
	if n := len(poll()); n != 5 {
		t.Fatalf("poll after revocation emitted %d", n)
	}
	if e.sim.TokenGrants() != 3 || e.count("POST", "/search", 401) != 1 || len(saved) != 3 {
		t.Fatalf("after revocation: %d grants, %d 401s, saved %v", e.sim.TokenGrants(), e.count("POST", "/search", 401), saved)
	}
	// A user who provisions new credentials gets a new token source.
	inst = inst.Clone()
	inst.Secrets[KeyRefreshToken] = "not-valid"
	req := e.request(inst, s, "contacts", t0)
	_, err := e.poll(req)
	var ve *source.VendorError
	if !errors.As(err, &ve) || ve.Status != 400 || !strings.Contains(ve.Message, "BAD_REFRESH_TOKEN") || !strings.HasSuffix(ve.URL, TokenPath) {
		t.Fatalf("poll with an unknown refresh token: %v", err)
	}
}

func TestPollKeepsARotatedTokenWhenItCannotBeStored(t *testing.T) {
	e := newEnv(t, SimOptions{ClientID: "cid", ClientSecret: "csec", RefreshToken: "r0", RotateRefreshTokens: true})
	e.sim.Create("contacts", nil)
	inst, s := e.instance(7, oauth("cid", "csec", "r0"), map[string]any{"contacts": hubPoller("contacts", "")})
	fail := true
	var saved string
	req := e.request(inst, s, "contacts", t0)
	req.SaveSecrets = func(_ context.Context, m map[string]string) error {
		if fail {
			return errors.New("disk full")
		}
		saved = m[KeyRefreshToken]
		return nil
	}
	recs, err := e.poll(req)
	if err == nil || !strings.Contains(err.Error(), "disk full") || len(recs) != 1 {
		t.Fatalf("poll with a failing store: %v (%d records)", err, len(recs))
	}
	// The old refresh token is void now; the Source goes on with the new one
	// from memory and stores it as soon as the store works.
	fail = false
	if _, err := e.poll(req); err != nil {
		t.Fatal(err)
	}
	if saved == "" || saved != e.sim.RefreshToken() || e.sim.TokenGrants() != 1 {
		t.Fatalf("saved %q, simulator's %q, grants %d", saved, e.sim.RefreshToken(), e.sim.TokenGrants())
	}
}

func TestPollPrivateAppRefused(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
	inst, s := e.instance(1, privateApp("wrong"), map[string]any{"contacts": hubPoller("contacts", "")})
	_, err := e.poll(e.request(inst, s, "contacts", t0))
	var ve *source.VendorError
	if !errors.As(err, &ve) || ve.Status != 401 || !strings.Contains(ve.Message, "INVALID_AUTHENTICATION") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("err = %v", err)
	}
}

func TestPollPacesSearchesBelowTheAccountLimit(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat", SearchPerSecond: 5})
	for i := 0; i < 40; i++ {
		e.sim.Create("contacts", nil)
		e.clk.Advance(time.Millisecond)
	}
	// Two instances on one token share the account's search pace.
	a, s := e.instance(1, privateApp("pat"), map[string]any{"contacts": map[string]any{"url": "/hubs/crm/contacts", "pageSize": 2, "deletions": false}})
	b, _ := e.instance(2, privateApp("pat"), nil)
	start := e.clk.Now()
	var wg sync.WaitGroup
	for _, inst := range []*instances.Instance{a, b} {
		req := e.request(a, s, "contacts", t0)
		req.Instance = inst // b's own configuration has no pollers; a's poller serves both
		wg.Add(1)
		go func() {
			defer wg.Done()
			if recs, err := e.poll(req); err != nil || len(recs) != 40 {
				t.Errorf("instance %d: %d records, %v", inst.ID, len(recs), err)
			}
		}()
	}
	wg.Wait()
	searches := e.count("POST", "/search", 0)
	if e.sim.Throttled() != 0 || searches < 40 {
		t.Fatalf("%d searches, %d refused", searches, e.sim.Throttled())
	}
	if min := time.Duration(searches-1) * time.Second / DefaultSearchPerSecond; e.clk.Now().Sub(start) < min {
		t.Fatalf("%d searches in %v: faster than %d a second", searches, e.clk.Now().Sub(start), DefaultSearchPerSecond)
	}
}

func TestPollSlowsDownBeforeTheTenSecondlyLimit(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat", TenSecondlyLimit: 10})
	for i := 0; i < 60; i++ {
		o := e.sim.Create("contacts", nil)
		e.sim.Archive("contacts", o.ID)
		e.clk.Advance(time.Millisecond)
	}
	// A listing written as HubSpot's own path, 2 per page: 30 GETs against
	// a limit of 10 per 10 s.
	inst, s := e.instance(1, privateApp("pat"), map[string]any{"archived": map[string]any{
		"url": "/crm/v3/objects/contacts?archived=true", "pageSize": 2, "datesConfiguration": map[string]any{"updatedDateField": "archivedAt"},
	}})
	recs, err := e.poll(e.request(inst, s, "archived", t0))
	if err != nil || len(recs) != 60 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if e.sim.Throttled() != 0 {
		t.Fatalf("%d requests refused: the headers did not slow the poll down", e.sim.Throttled())
	}
	if e.clk.Slept() < 20*time.Second {
		t.Fatalf("slept %v for 30 requests at 9 per 10 s", e.clk.Slept())
	}
}

func TestPollRetriesSecondlyRefusals(t *testing.T) {
	body := func(policy string) string {
		return `{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","correlationId":"c","policyName":"` + policy + `"}`
	}
	t.Run("retried after the wait", func(t *testing.T) {
		e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
		e.sim.Create("contacts", nil)
		e.sim.Fail(1, SimFault{Status: 429, Body: body("TEN_SECONDLY_ROLLING"), RetryAfter: "3"})
		e.sim.Fail(1, SimFault{Status: 429, Body: body("SECONDLY")})
		inst, s := e.instance(1, privateApp("pat"), map[string]any{"contacts": hubPoller("contacts", "")})
		recs, err := e.poll(e.request(inst, s, "contacts", t0))
		if err != nil || len(recs) != 1 {
			t.Fatalf("%d records, %v", len(recs), err)
		}
		if e.clk.Slept() < 4*time.Second {
			t.Fatalf("slept %v, want Retry-After 3 s plus 1 s for SECONDLY", e.clk.Slept())
		}
	})
	t.Run("given up after the retries", func(t *testing.T) {
		e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
		e.sim.Fail(MaxRateLimitRetries+1, SimFault{Status: 429, Body: body("SECONDLY")})
		inst, s := e.instance(1, privateApp("pat"), map[string]any{"contacts": hubPoller("contacts", "")})
		_, err := e.poll(e.request(inst, s, "contacts", t0))
		if !source.IsRateLimited(err) || !errors.Is(err, source.ErrRateLimited) {
			t.Fatalf("err = %v", err)
		}
		if n := e.sim.Requests(); n != MaxRateLimitRetries+1 {
			t.Fatalf("%d requests", n)
		}
	})
	t.Run("a long wait is left to the schedule", func(t *testing.T) {
		e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
		e.sim.Fail(1, SimFault{Status: 429, Body: body("TEN_SECONDLY_ROLLING"), RetryAfter: "120"})
		inst, s := e.instance(1, privateApp("pat"), map[string]any{"contacts": hubPoller("contacts", "")})
		_, err := e.poll(e.request(inst, s, "contacts", t0))
		var ve *source.VendorError
		if !errors.Is(err, source.ErrRateLimited) || !errors.As(err, &ve) || ve.RetryAfter != 2*time.Minute || e.clk.Slept() != 0 {
			t.Fatalf("err = %v, slept %v", err, e.clk.Slept())
		}
	})
}

func TestPollPausesOnASpentDailyLimit(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat", DailyLimit: 3})
	e.sim.Create("contacts", nil)
	inst, s := e.instance(1, privateApp("pat"), map[string]any{"contacts": hubPoller("contacts", "")})
	other, _ := e.instance(2, privateApp("pat"), nil)
	// Search + archived listing: 2 of 3.
	if _, err := e.poll(e.request(inst, s, "contacts", t0)); err != nil {
		t.Fatal(err)
	}
	// The third request's answer says 0 remaining: the listing after it is
	// not made.
	_, err := e.poll(e.request(inst, s, "contacts", t0))
	var pe *source.PausedError
	midnight := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	if !errors.As(err, &pe) || !pe.Until.Equal(midnight) || !strings.Contains(pe.Reason, "Daily-Remaining: 0") || !strings.Contains(pe.Reason, "midnight UTC") {
		t.Fatalf("err = %v, want a pause until %v", err, midnight)
	}
	if e.sim.Requests() != 3 || e.sim.Throttled() != 0 {
		t.Fatalf("%d requests, %d refused", e.sim.Requests(), e.sim.Throttled())
	}
	// Another instance of the same account pauses without asking.
	req := e.request(inst, s, "contacts", t0)
	req.Instance = other
	if _, err := e.poll(req); !errors.As(err, &pe) || e.sim.Requests() != 3 {
		t.Fatalf("other instance: %v after %d requests", err, e.sim.Requests())
	}
	e.clk.Set(midnight.Add(time.Second))
	if recs, err := e.poll(e.request(inst, s, "contacts", t0)); err != nil || len(recs) != 1 {
		t.Fatalf("after the reset: %d records, %v", len(recs), err)
	}
}

func TestPollPausesOnADailyRefusalUntilMidnightInTheAccountZone(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	// OAuth answers carry no daily headers: the refusal is the only sign.
	e := newEnv(t, SimOptions{ClientID: "c", ClientSecret: "s", RefreshToken: "r", DailyLimit: 1, TimeZone: la})
	cfg := oauth("c", "s", "r")
	inst, s := e.instance(1, cfg, map[string]any{"contacts": hubPoller("contacts", "")})
	_, err = e.poll(e.request(inst, s, "contacts", t0))
	var pe *source.PausedError
	if !errors.As(err, &pe) || !pe.Until.Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) || !strings.Contains(pe.Reason, "429 DAILY") {
		t.Fatalf("err = %v", err)
	}
	// The instance said nothing of its zone: refused again after UTC's
	// midnight, the Source tries hourly instead of waiting another day.
	e.clk.Set(pe.Until.Add(time.Second))
	_, err = e.poll(e.request(inst, s, "contacts", t0))
	if !errors.As(err, &pe) || !pe.Until.Equal(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)) || !strings.Contains(pe.Reason, "trying hourly") {
		t.Fatalf("second refusal: %v", err)
	}
	// Configured with the account's zone, it waits for that midnight.
	cfg[KeyTimeZone] = "America/Los_Angeles"
	inst2, s2 := e.instance(2, cfg, map[string]any{"contacts": hubPoller("contacts", "")})
	e2 := e.src
	e.src = NewWithOptions(Options{Now: e.clk.Now, Sleep: e.clk.Sleep})
	defer func() { e.src = e2 }()
	_, err = e.poll(e.request(inst2, s2, "contacts", t0))
	if !errors.As(err, &pe) || !pe.Until.Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, la)) {
		t.Fatalf("with the zone configured: %v", err)
	}
}

func TestPollVendorFaults(t *testing.T) {
	cases := []struct {
		name  string
		fault SimFault
		want  string
	}{
		{"500 with HubSpot's body", SimFault{Status: 500, Body: `{"status":"error","message":"internal error","correlationId":"x","category":"INTERNAL_ERROR"}`}, "500 Internal Server Error: internal error (INTERNAL_ERROR)"},
		{"invalid JSON", SimFault{Status: 200, Body: `{"results": [`}, "invalid JSON"},
		{"no results", SimFault{Status: 200, Body: `{"total": 0}`}, `no "results" array`},
		{"result without id", SimFault{Status: 200, Body: `{"results":[{"properties":{}}]}`}, "has no id"},
		{"result without a date", SimFault{Status: 200, Body: `{"results":[{"id":"1","properties":{}}]}`}, "nor updatedAt is a date"},
		{"HTML error page", SimFault{Status: 503, Body: `<html>down</html>`}, "503 Service Unavailable: <html>down</html>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
			e.sim.Fail(1, c.fault)
			inst, s := e.instance(1, privateApp("pat"), map[string]any{"contacts": hubPoller("contacts", "")})
			_, err := e.poll(e.request(inst, s, "contacts", t0))
			var ve *source.VendorError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), c.want) || source.IsRateLimited(err) {
				t.Fatalf("err = %v, want a VendorError with %q", err, c.want)
			}
		})
	}
}

func TestPollEmitErrorStopsThePoll(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
	e.sim.Create("contacts", nil)
	inst, s := e.instance(1, privateApp("pat"), map[string]any{"contacts": hubPoller("contacts", "")})
	stop := errors.New("stop")
	err := e.src.Poll(context.Background(), e.request(inst, s, "contacts", t0), func(source.Record) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("err = %v", err)
	}
}

func TestPollRawJSONSurvivesTheEngine(t *testing.T) {
	// The raw records are whole JSON objects the engine can read with its
	// idField and date fields.
	e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
	e.sim.Create("contacts", map[string]string{"email": `quote"and\backslash`})
	inst, s := e.instance(1, privateApp("pat"), map[string]any{"contacts": hubPoller("contacts", "")})
	recs, err := e.poll(e.request(inst, s, "contacts", t0))
	if err != nil || len(recs) != 1 {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(recs[0].Raw, &v); err != nil || cap(recs[0].Raw) != len(recs[0].Raw) {
		t.Fatalf("raw %s: %v (cap %d)", recs[0].Raw, err, cap(recs[0].Raw))
	}
	if _, err := s.Pollers[0].Updated.Parse(gjson.GetBytes(recs[0].Raw, s.Pollers[0].Updated.Field).String()); err != nil {
		t.Fatalf("updatedAt does not parse as configured: %v", err)
	}
}
