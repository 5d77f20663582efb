package closeio

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
)

// hubURL is the seed's poller URL for resource (activities filter on
// date_created, the only date Close filters them by).
func hubURL(resource string) string {
	field := "date_updated"
	if resource == ResourceActivities {
		field = "date_created"
	}
	return "/hubs/crm/" + resource + "?where=" + field + ">'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX}'"
}

type pollOpts struct {
	key      string // API key; default the simulator's
	url      string // default hubURL(resource)
	pageSize int
	timeout  time.Duration
}

// request builds the poll of resource the way the engine does, from an
// instance configuration compiled by package instances.
func request(t testing.TB, baseURL, resource string, since time.Time, o pollOpts) *source.Request {
	t.Helper()
	if o.key == "" {
		o.key = DefaultSimAPIKey
	}
	if o.url == "" {
		o.url = hubURL(resource)
	}
	if o.timeout == 0 {
		o.timeout = 5 * time.Second
	}
	pc := map[string]any{"url": o.url, "datesConfiguration": map[string]any{
		"updatedDateField": "date_updated", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
		"createdDateField": "date_created", "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
	}}
	if o.pageSize > 0 {
		pc["pageSize"] = o.pageSize
	}
	pcJSON, _ := json.Marshal(map[string]any{resource: pc})
	cfg := map[string]string{
		"username": o.key, "password": "", "base.url": baseURL,
		"event.vendor.type": "polling", "event.poller.configuration": string(pcJSON),
	}
	settings, err := instances.Compile(Spec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := settings.Poller(resource)
	if !ok {
		t.Fatalf("no poller %s", resource)
	}
	return &source.Request{
		Instance:       &instances.Instance{ConnectorKey: Key, Secrets: map[string]string{"username": o.key, "password": ""}},
		Settings:       settings,
		Poller:         p,
		Since:          since,
		Now:            since.Add(time.Hour),
		ServerLocation: time.UTC,
		Client:         &http.Client{Timeout: o.timeout},
	}
}

// result is what a poll emitted.
type result struct {
	ids     []string          // records' ids, in order
	deleted map[string]string // deleted id → DeletedAt (RFC 3339)
	raws    [][]byte
}

func pollAll(t testing.TB, src *Source, req *source.Request) (result, error) {
	t.Helper()
	r := result{deleted: map[string]string{}}
	err := src.Poll(context.Background(), req, func(rec source.Record) error {
		if !gjson.ValidBytes(rec.Raw) {
			t.Errorf("record is not JSON: %q", rec.Raw)
		}
		r.raws = append(r.raws, rec.Raw)
		if rec.Deleted {
			if _, dup := r.deleted[rec.ID]; dup {
				t.Errorf("deletion of %s emitted twice", rec.ID)
			}
			r.deleted[rec.ID] = rec.DeletedAt.Format(time.RFC3339Nano)
			return nil
		}
		r.ids = append(r.ids, gjson.GetBytes(rec.Raw, "id").String())
		return nil
	})
	return r, err
}

// distinct returns ids sorted without repeats.
func distinct(ids []string) []string { return slices.Compact(slices.Sorted(slices.Values(ids))) }

// TestPollResources polls every hub resource over a window: records
// changed after the window start come out (once each), older ones do not,
// and the deletions of the window come from the event log.
func TestPollResources(t *testing.T) {
	for _, res := range []string{ResourceContacts, ResourceAccounts, ResourceOpportunities, ResourceActivities} {
		t.Run(res, func(t *testing.T) {
			sim, srv, clk := newTestSim(t, SimOptions{})
			q, _ := Translate(res, "")
			typ := q.ObjectType
			// Before the window: created, and one deleted.
			var old []string
			for range 3 {
				old = append(old, sim.Create(typ, nil)["id"].(string))
				clk.Add(10 * time.Second)
			}
			if err := sim.Delete(typ, old[2]); err != nil {
				t.Fatal(err)
			}
			clk.Add(2 * time.Minute)
			since := clk.Now()
			// In the window: created, updated, deleted.
			clk.Add(3 * time.Minute) // past the minute of since: leads compare to the minute
			var fresh []string
			for range 12 {
				fresh = append(fresh, sim.Create(typ, nil)["id"].(string))
				clk.Add(1500 * time.Millisecond)
			}
			if _, err := sim.Update(typ, old[0], map[string]any{"note": "changed"}); err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Second)
			if err := sim.Delete(typ, fresh[3]); err != nil {
				t.Fatal(err)
			}
			if err := sim.Delete(typ, old[1]); err != nil {
				t.Fatal(err)
			}
			deletedAt := clk.Now().Format(time.RFC3339Nano)

			got, err := pollAll(t, New(), request(t, srv.URL+"/api/v1", res, since, pollOpts{pageSize: 5}))
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Concat(fresh[:3], fresh[4:])
			if res != ResourceActivities { // an update does not move an activity's date_created
				want = append(want, old[0])
			}
			if !slices.Equal(distinct(got.ids), distinct(want)) {
				t.Errorf("records %v\nwant %v", got.ids, want)
			}
			if len(got.ids) != len(want) {
				t.Errorf("%d records emitted for %d changes: %v", len(got.ids), len(want), got.ids)
			}
			wantDel := map[string]string{fresh[3]: deletedAt, old[1]: deletedAt}
			if fmt.Sprint(got.deleted) != fmt.Sprint(wantDel) {
				t.Errorf("deletions %v, want %v (not %s, deleted before the window)", got.deleted, wantDel, old[2])
			}
			for _, raw := range got.raws {
				if gjson.GetBytes(raw, "action").String() == "deleted" {
					continue
				}
				// The seed's datesConfiguration reads what is emitted.
				for _, f := range []instances.DateField{compiledPoller(t, res).Updated, compiledPoller(t, res).Created} {
					if _, err := f.Parse(gjson.GetBytes(raw, f.Field).String()); err != nil {
						t.Errorf("%s of %s: %v", f.Field, raw, err)
					}
				}
			}
		})
	}
}

// compiledPoller is the poller of res as instances compiles it (for its
// date fields).
func compiledPoller(t testing.TB, res string) *instances.Poller {
	return request(t, "http://x", res, t0, pollOpts{}).Poller
}

// TestPollEveryRecordOnceAcrossPages pages opportunities and leads of
// distinct dates in every page size: each record exactly once.
func TestPollEveryRecordOnceAcrossPages(t *testing.T) {
	for _, res := range []string{ResourceOpportunities, ResourceAccounts, ResourceActivities, ResourceContacts} {
		sim, srv, clk := newTestSim(t, SimOptions{})
		q, _ := Translate(res, "")
		var want []string
		step := 2 * time.Second
		if res == ResourceAccounts {
			step = time.Minute // distinct at Close's minute precision for leads
		}
		clk.Add(time.Minute)
		for range 23 {
			want = append(want, sim.Create(q.ObjectType, nil)["id"].(string))
			clk.Add(step)
		}
		for _, size := range []int{1, 2, 5, 7, 22, 23, 100} {
			got, err := pollAll(t, New(), request(t, srv.URL, res, t0, pollOpts{pageSize: size}))
			if err != nil {
				t.Fatalf("%s/%d: %v", res, size, err)
			}
			if !slices.Equal(got.ids, want) {
				t.Errorf("%s/%d: records\n %v\nwant %v", res, size, got.ids, want)
			}
		}
	}
}

// TestPollSameDateBuckets pages records sharing dates (same second, same
// minute for leads): every one is read, boundaries may be read twice.
func TestPollSameDateBuckets(t *testing.T) {
	for _, res := range []string{ResourceOpportunities, ResourceAccounts} {
		sim, srv, _ := newTestSim(t, SimOptions{})
		q, _ := Translate(res, "")
		var want []string
		for i := range 40 {
			at := t0.Add(time.Duration(i/8) * time.Minute).Add(time.Duration(i%3) * time.Millisecond) // buckets of 8
			want = append(want, sim.Create(q.ObjectType, map[string]any{"date_created": at})["id"].(string))
		}
		got, err := pollAll(t, New(), request(t, srv.URL, res, t0.Add(-time.Hour), pollOpts{pageSize: 5}))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(distinct(got.ids), distinct(want)) {
			t.Errorf("%s: %d distinct of %d records", res, len(distinct(got.ids)), len(want))
		}
		if len(got.ids) > 2*len(want) {
			t.Errorf("%s: %d reads for %d records", res, len(got.ids), len(want))
		}
	}
}

// TestPollSkipLimit: a window deeper than Close's _skip maximum is split
// at the last date read, without losing records that share it; a single
// date with more records than _skip reaches is an error, not a silent loss.
func TestPollSkipLimit(t *testing.T) {
	sim, srv, _ := newTestSim(t, SimOptions{MaxSkip: 10})
	src := New()
	src.MaxSkip = 10
	var want []string
	for i := range 60 {
		at := t0.Add(time.Duration(i) * time.Second)
		if i >= 20 && i < 28 {
			at = t0.Add(20 * time.Second) // 8 records share a second
		}
		want = append(want, sim.Create(TypeOpportunity, map[string]any{"date_created": at})["id"].(string))
	}
	before := sim.Requests()
	got, err := pollAll(t, src, request(t, srv.URL, ResourceOpportunities, t0.Add(-time.Minute), pollOpts{pageSize: 5}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(distinct(got.ids), distinct(want)) || len(got.ids) > len(want)+15 {
		t.Errorf("%d reads, %d distinct of %d records", len(got.ids), len(distinct(got.ids)), len(want))
	}
	t.Logf("60 records in pages of 5: %d requests", sim.Requests()-before)

	// 20 records on one date: _skip would have to pass 10.
	for range 20 {
		sim.Create(TypeOpportunity, map[string]any{"date_created": t0.Add(time.Hour)})
	}
	_, err = pollAll(t, src, request(t, srv.URL, ResourceOpportunities, t0.Add(-time.Minute), pollOpts{pageSize: 5}))
	var ve *source.VendorError
	if !errors.As(err, &ve) || !strings.Contains(ve.Message, "share date_updated") {
		t.Errorf("a date deeper than _skip: %v", err)
	}

	// A URL sent as written pages with plain offsets and stops at _skip's end.
	_, err = pollAll(t, src, request(t, srv.URL, "deals", t0, pollOpts{pageSize: 5,
		url: "/opportunity/?_order_by=date_updated"}))
	if !errors.As(err, &ve) || !strings.Contains(ve.Message, "_skip over 10") {
		t.Errorf("as written past _skip: %v", err)
	}
}

// TestPollRecordsChangingWhilePaging updates and deletes records already
// read while a poll pages on. Plain offsets would skip the records shifted
// back; the poll must not.
func TestPollRecordsChangingWhilePaging(t *testing.T) {
	cases := []struct {
		name   string
		change func(sim *Simulator, ids []string)
	}{
		{"an earlier record updated", func(sim *Simulator, ids []string) {
			_, _ = sim.Update(TypeOpportunity, ids[0], map[string]any{"note": "moved"})
		}},
		{"an earlier record deleted", func(sim *Simulator, ids []string) { _ = sim.Delete(TypeOpportunity, ids[1]) }},
		// ids[3] and ids[4] share a second, the boundary of the first page.
		{"a record of the boundary date updated", func(sim *Simulator, ids []string) {
			_, _ = sim.Update(TypeOpportunity, ids[3], map[string]any{"note": "moved"})
		}},
		{"the boundary record deleted", func(sim *Simulator, ids []string) { _ = sim.Delete(TypeOpportunity, ids[4]) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeNow{t: t0.Add(time.Hour)}
			sim := NewSimulator(SimOptions{Now: clk.Now})
			var ids []string
			for i := range 12 {
				at := t0.Add(time.Duration(i) * time.Second)
				if i == 4 {
					at = t0.Add(3 * time.Second)
				}
				ids = append(ids, sim.Create(TypeOpportunity, map[string]any{"date_created": at})["id"].(string))
			}
			var pages atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sim.ServeHTTP(w, r)
				if strings.HasSuffix(r.URL.Path, "/opportunity/") && pages.Add(1) == 1 {
					clk.Add(time.Second)
					tc.change(sim, ids) // after the first page of 5 was read
				}
			}))
			defer srv.Close()
			got, err := pollAll(t, New(), request(t, srv.URL, ResourceOpportunities, t0.Add(-time.Minute), pollOpts{pageSize: 5}))
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if _, deleted := got.deleted[id]; !deleted && !slices.Contains(got.ids, id) {
					t.Errorf("record %s was neither read nor reported deleted (read %v)", id, got.ids)
				}
			}
		})
	}
}

func TestPollDeletionsCascade(t *testing.T) {
	sim, srv, clk := newTestSim(t, SimOptions{})
	lead := sim.Create(TypeLead, nil)["id"].(string)
	c1 := sim.Create(TypeContact, map[string]any{"lead_id": lead})["id"].(string)
	o1 := sim.Create(TypeOpportunity, map[string]any{"lead_id": lead})["id"].(string)
	a1 := sim.Create(TypeActivity, map[string]any{"lead_id": lead, "_type": "Email"})["id"].(string)
	clk.Add(time.Minute)
	since := clk.Now()
	clk.Add(1234567 * time.Microsecond)
	if err := sim.Delete(TypeLead, lead); err != nil {
		t.Fatal(err)
	}
	at := clk.Now()
	for res, id := range map[string]string{ResourceAccounts: lead, ResourceContacts: c1, ResourceOpportunities: o1, ResourceActivities: a1} {
		var recs []source.Record
		err := New().Poll(context.Background(), request(t, srv.URL, res, since, pollOpts{}), func(r source.Record) error {
			recs = append(recs, r)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", res, err)
		}
		if len(recs) != 1 || !recs[0].Deleted || recs[0].ID != id || !recs[0].DeletedAt.Equal(at) ||
			gjson.GetBytes(recs[0].Raw, "object_id").String() != id || gjson.GetBytes(recs[0].Raw, "action").String() != "deleted" {
			t.Errorf("%s: %+v, want the deletion of %s at %v", res, recs, id, at)
		}
	}
}

func TestPollAsWritten(t *testing.T) {
	sim, srv, clk := newTestSim(t, SimOptions{})
	var want []string
	for range 9 {
		want = append(want, sim.Create(TypeOpportunity, nil)["id"].(string))
		clk.Add(time.Second)
	}
	got, err := pollAll(t, New(), request(t, srv.URL+"/api/v1/", "deals", t0.Add(-time.Hour), pollOpts{pageSize: 4,
		url: "/opportunity/?_order_by=date_updated&date_updated__gte=${gmtDate:yyyy-MM-dd'T'HH:mm:ss}&_limit=999"}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.ids, want) || len(got.deleted) != 0 {
		t.Errorf("as written: %v %v", got.ids, got.deleted)
	}
}

// faulty serves fault for the first n requests, the simulator afterwards.
func faulty(sim *Simulator, n int, fault http.HandlerFunc) *httptest.Server {
	var calls atomic.Int32
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= int32(n) {
			fault(w, r)
			return
		}
		sim.ServeHTTP(w, r)
	}))
}

func TestPollErrors(t *testing.T) {
	sim, srv, _ := newTestSim(t, SimOptions{MaxLimit: 50})
	sim.Create(TypeOpportunity, nil)
	fixed := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}
	}
	cases := []struct {
		name    string
		base    string
		opts    pollOpts
		fault   http.HandlerFunc
		status  int
		message string
	}{
		{name: "401", opts: pollOpts{key: "wrong"}, status: 401, message: "Unauthorized"},
		{name: "400 _limit", opts: pollOpts{pageSize: 80}, status: 400, message: "Invalid _limit: the maximum is 50."},
		{name: "400 field-errors", fault: fixed(400, `{"errors":["Bad query."],"field-errors":{"query":"Unknown field."}}`), status: 400, message: "Bad query.; query: Unknown field."},
		{name: "500", fault: fixed(500, `{"error":"Internal server error"}`), status: 500, message: "Internal server error"},
		{name: "502 html", fault: fixed(502, "<html>bad gateway</html>"), status: 502, message: "<html>bad gateway</html>"},
		{name: "invalid JSON", fault: fixed(200, `{"data": [`), status: 200, message: "invalid JSON"},
		{name: "no has_more", fault: fixed(200, `{"data": []}`), status: 200, message: `"has_more" is missing`},
		{name: "data not an array", fault: fixed(200, `{"data": {}, "has_more": false}`), status: 200, message: "not an array"},
		{name: "has_more forever", fault: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"data": [], "has_more": true}`)
		}, status: 200, message: "does not advance"},
		{name: "timeout", opts: pollOpts{timeout: 100 * time.Millisecond}, fault: func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, status: 0, message: "timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := srv.URL
			if tc.fault != nil {
				fs := faulty(sim, 1000, tc.fault)
				defer fs.Close()
				base = fs.URL
			}
			_, err := pollAll(t, New(), request(t, base, ResourceOpportunities, t0, tc.opts))
			var ve *source.VendorError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v, want a *source.VendorError", err)
			}
			if ve.Status != tc.status || !strings.Contains(ve.Message, tc.message) || !strings.HasPrefix(ve.URL, base+"/opportunity/?") {
				t.Errorf("got %d %q at %s, want %d %q", ve.Status, ve.Message, ve.URL, tc.status, tc.message)
			}
			if source.IsRateLimited(err) {
				t.Error("reported as rate limited")
			}
		})
	}
	// The event log's errors fail the poll too.
	fs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/event/") {
			fmt.Fprint(w, `{"data":[{"object_id":"x","date_updated":"yesterday"}],"cursor_next":null}`)
			return
		}
		sim.ServeHTTP(w, r)
	}))
	defer fs.Close()
	if _, err := pollAll(t, New(), request(t, fs.URL, ResourceOpportunities, t0, pollOpts{pageSize: 10})); err == nil || !strings.Contains(err.Error(), "not a date") {
		t.Errorf("bad event: %v", err)
	}
}

func TestPollRetryAfter(t *testing.T) {
	sim, _, _ := newTestSim(t, SimOptions{})
	want := sim.Create(TypeOpportunity, nil)["id"].(string)
	tooMany := func(retryAfter string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"message":"API call count exceeded","rate_reset":0.2}}`)
		}
	}
	// Short waits are waited out, on the same page.
	for name, fault := range map[string]http.HandlerFunc{"Retry-After": tooMany("1"), "rate_reset body": tooMany("")} {
		srv := faulty(sim, 1, fault)
		start := time.Now()
		got, err := pollAll(t, New(), request(t, srv.URL, ResourceOpportunities, t0.Add(-time.Minute), pollOpts{}))
		srv.Close()
		if err != nil || !slices.Equal(got.ids, []string{want}) {
			t.Errorf("%s: %v %v", name, got.ids, err)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("%s: retried after %s, before the wait", name, d)
		}
	}
	// A long wait is the engine's: ErrRateLimited at once.
	srv := faulty(sim, 1, tooMany("120"))
	defer srv.Close()
	start := time.Now()
	_, err := pollAll(t, New(), request(t, srv.URL, ResourceOpportunities, t0, pollOpts{}))
	var ve *source.VendorError
	if !errors.Is(err, source.ErrRateLimited) || !errors.As(err, &ve) || ve.Status != 429 || ve.RetryAfter != 2*time.Minute {
		t.Errorf("Retry-After 120: %v", err)
	}
	if time.Since(start) > time.Second {
		t.Error("waited for a Retry-After beyond MaxRetryWait")
	}
	// Three refusals in a row are the engine's too.
	srv4 := faulty(sim, 4, tooMany("0"))
	defer srv4.Close()
	if _, err := pollAll(t, New(), request(t, srv4.URL, ResourceOpportunities, t0, pollOpts{})); !source.IsRateLimited(err) {
		t.Errorf("4 refusals: %v", err)
	}
}

// TestSharedKeyStaysUnderTheLimit: three instances share one API key and
// poll a backlog at once against a limit of 20 requests per 2 s per
// endpoint group. The Source paces them from the RateLimit header: at most
// one 429 in all (none expected), and every record reaches every instance.
// Real time: the limiter waits for real resets.
func TestSharedKeyStaysUnderTheLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for real rate-limit windows")
	}
	sim := NewSimulator(SimOptions{RateLimit: 20, RateWindow: 2 * time.Second})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	start := time.Now()
	var want []string
	for range 120 {
		want = append(want, sim.Create(TypeOpportunity, nil)["id"].(string))
	}
	src := New()
	var wg sync.WaitGroup
	results := make([]result, 3)
	errs := make([]error, 3)
	for i := range 3 {
		wg.Go(func() {
			results[i], errs[i] = pollAll(t, src, request(t, srv.URL, ResourceOpportunities, start.Add(-time.Hour), pollOpts{pageSize: 10}))
		})
	}
	wg.Wait()
	for i := range 3 {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		if !slices.Equal(distinct(results[i].ids), distinct(want)) {
			t.Errorf("instance %d: %d of %d records", i, len(distinct(results[i].ids)), len(want))
		}
	}
	if sim.Throttled() > 1 {
		t.Errorf("%d requests refused with 429, want at most 1", sim.Throttled())
	}
	t.Logf("%d requests, %d throttled, %s", sim.Requests(), sim.Throttled(), time.Since(start).Round(time.Millisecond))
}
