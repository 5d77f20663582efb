package closeio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeNow is a settable clock for the simulator.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeNow) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeNow) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestSim(t testing.TB, o SimOptions) (*Simulator, *httptest.Server, *fakeNow) {
	t.Helper()
	clk := &fakeNow{t: t0}
	if o.Now == nil {
		o.Now = clk.Now
	}
	sim := NewSimulator(o)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv, clk
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (a answer) json(path string) gjson.Result { return gjson.Get(a.body, path) }

func (a answer) ids(path string) []string {
	var out []string
	for _, v := range gjson.Get(a.body, path).Array() {
		out = append(out, v.Get("id").String())
	}
	return out
}

// call makes a request as key (none when key is "-").
func call(t testing.TB, method, target, key string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "-" {
		req.SetBasicAuth(key, "")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !gjson.ValidBytes(b) {
		t.Fatalf("%s %s: body is not JSON: %q", method, target, b)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func get(t testing.TB, srv *httptest.Server, path string) answer {
	t.Helper()
	return call(t, http.MethodGet, srv.URL+path, DefaultSimAPIKey, nil)
}

func TestSimulatorAuth(t *testing.T) {
	_, srv, _ := newTestSim(t, SimOptions{})
	for _, tc := range []struct {
		name, key, pass string
		noAuth          bool
		want            int
	}{
		{name: "no auth", noAuth: true, want: 401},
		{name: "wrong key", key: "nope", want: 401},
		{name: "password set", key: DefaultSimAPIKey, pass: "x", want: 401},
		{name: "api key", key: DefaultSimAPIKey, want: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, prefix := range []string{"", "/api/v1"} {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+prefix+"/lead/", nil)
				if !tc.noAuth {
					req.SetBasicAuth(tc.key, tc.pass)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Fatalf("%s: status %d, want %d: %s", prefix, resp.StatusCode, tc.want, b)
				}
				if tc.want == 401 && string(b) != `{"error":"Unauthorized"}` {
					t.Fatalf("401 body %s", b)
				}
			}
		})
	}
}

var (
	objectDate = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$`)
	eventDate  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$`)
)

func TestSimulatorCreateShapes(t *testing.T) {
	sim, _, _ := newTestSim(t, SimOptions{})
	for typ, prefix := range idPrefix {
		o := sim.Create(typ, map[string]any{"name": "x"})
		id, _ := o["id"].(string)
		if !regexp.MustCompile("^" + prefix + "[0-9A-Za-z]{43}$").MatchString(id) {
			t.Errorf("%s id %q", typ, id)
		}
		for _, f := range []string{"date_created", "date_updated"} {
			if s, _ := o[f].(string); !objectDate.MatchString(s) {
				t.Errorf("%s %s = %q", typ, f, o[f])
			}
		}
		if typ != TypeLead {
			lead, _ := o["lead_id"].(string)
			if !strings.HasPrefix(lead, "lead_") {
				t.Errorf("%s without lead_id got lead_id %q", typ, lead)
			}
		}
	}
	lead := sim.Create(TypeLead, nil)
	c := sim.Create(TypeContact, map[string]any{"lead_id": lead["id"]})
	if c["lead_id"] != lead["id"] {
		t.Errorf("contact lead_id %v, want %v", c["lead_id"], lead["id"])
	}
	// Deterministic: a second simulator makes the same ids.
	sim2, _, _ := newTestSim(t, SimOptions{})
	a, b := NewSimulator(SimOptions{Now: func() time.Time { return t0 }}).Create(TypeLead, nil), sim2.Create(TypeLead, nil)
	if a["id"] != b["id"] {
		t.Errorf("ids differ between simulators: %v %v", a["id"], b["id"])
	}
}

func TestSimulatorLeadQuery(t *testing.T) {
	sim, srv, clk := newTestSim(t, SimOptions{})
	var ids []string
	for i := range 4 { // 12:00:00, 12:00:40, 12:01:20, 12:02:00
		ids = append(ids, sim.Create(TypeLead, map[string]any{"status_label": []string{"Potential", "Won"}[i%2]})["id"].(string))
		clk.Add(40 * time.Second)
	}
	list := func(query string) answer {
		return get(t, srv, "/lead/?"+url.Values{"query": {query}}.Encode())
	}
	cases := []struct {
		query string
		want  []string
	}{
		// Minute precision: seconds in the query are dropped.
		{`date_updated>="2026-03-01T12:00:50" sort:date_updated`, ids},
		{`date_updated>="2026-03-01T12:01" sort:date_updated`, ids[2:]},
		{`date_updated > "2026-03-01T12:00" sort:date_updated`, ids[2:]},
		{`date_updated<"2026-03-01T12:01" sort:date_updated`, ids[:2]},
		{`date_updated<="2026-03-01T12:01" sort:date_updated`, ids[:3]},
		{`sort:-date_updated`, []string{ids[3], ids[2], ids[1], ids[0]}},
		{`status:"won" sort:date_updated`, []string{ids[1], ids[3]}},
		{`date_created>="2026-03-01T12:02" sort:date_created`, ids[3:]},
	}
	for _, tc := range cases {
		a := list(tc.query)
		if a.status != 200 || !slices.Equal(a.ids("data"), tc.want) {
			t.Errorf("%s: %d %v, want %v (%s)", tc.query, a.status, a.ids("data"), tc.want, a.body)
		}
		if a.json("total_results").Int() != int64(len(tc.want)) {
			t.Errorf("%s: total_results %s", tc.query, a.json("total_results"))
		}
	}
	// X-TZ-Offset: a time without an offset is the client's local time.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/lead/?"+url.Values{"query": {`date_updated>="2026-03-01T13:01"`}}.Encode(), nil)
	req.SetBasicAuth(DefaultSimAPIKey, "")
	req.Header.Set("X-TZ-Offset", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := len(gjson.GetBytes(b, "data").Array()); n != 2 {
		t.Errorf("X-TZ-Offset 1: %d leads, want 2: %s", n, b)
	}
	for _, bad := range []string{`name:"x"`, `date_updated>="yesterday"`, `sort:name`, `date_updated>="2026`} {
		if a := list(bad); a.status != 400 || a.json("error").String() == "" {
			t.Errorf("query %s: %d %s, want 400 with error", bad, a.status, a.body)
		}
	}
	if a := get(t, srv, "/lead/?date_updated__gte=2026-03-01"); a.status != 400 {
		t.Errorf("leads with date_updated__gte: %d, want 400 (leads filter through query)", a.status)
	}
}

func TestSimulatorOpportunityAndActivityFilters(t *testing.T) {
	sim, srv, clk := newTestSim(t, SimOptions{})
	var opps, acts []string
	for i := range 4 {
		opps = append(opps, sim.Create(TypeOpportunity, map[string]any{"status_type": []string{"active", "won", "lost", "won"}[i]})["id"].(string))
		acts = append(acts, sim.Create(TypeActivity, nil)["id"].(string))
		clk.Add(time.Second)
	}
	// Updating the first opportunity moves it to the end of date_updated,
	// not of date_created.
	clk.Add(time.Second)
	if _, err := sim.Update(TypeOpportunity, opps[0], map[string]any{"note": "x"}); err != nil {
		t.Fatal(err)
	}
	moved := []string{opps[1], opps[2], opps[3], opps[0]}
	cases := []struct {
		path string
		want []string
	}{
		{"/opportunity/?_order_by=date_updated", moved},
		{"/opportunity/?_order_by=-date_updated", []string{opps[0], opps[3], opps[2], opps[1]}},
		{"/opportunity/?_order_by=date_created", opps},
		{"/opportunity/?_order_by=date_updated&date_updated__gte=2026-03-01T12:00:02", []string{opps[2], opps[3], opps[0]}},
		{"/opportunity/?_order_by=date_updated&date_updated__gt=2026-03-01T12:00:02", []string{opps[3], opps[0]}},
		{"/opportunity/?_order_by=date_updated&date_updated__lt=2026-03-01T12:00:02", []string{opps[1]}},
		{"/opportunity/?_order_by=date_updated&date_updated__gte=2026-03-01T12:00:02.000001%2B00:00", []string{opps[3], opps[0]}},
		{"/opportunity/?_order_by=date_updated&status_type=won", []string{opps[1], opps[3]}},
		{"/opportunity/?_order_by=date_updated&status_type__in=won,lost", []string{opps[1], opps[2], opps[3]}},
		{"/activity/?_order_by=date_created&date_created__gt=2026-03-01T12:00:01", acts[2:]},
		{"/activity/?_order_by=date_created&date_created__lt=2026-03-01T12:00:01", acts[:1]},
	}
	for _, tc := range cases {
		a := get(t, srv, tc.path)
		if a.status != 200 || !slices.Equal(a.ids("data"), tc.want) {
			t.Errorf("%s: %d %v, want %v (%s)", tc.path, a.status, a.ids("data"), tc.want, a.body)
		}
	}
	for _, bad := range []string{
		"/activity/?date_updated__gt=2026-03-01T12:00:00", // Close has no such filter
		"/opportunity/?colour=red",
		"/opportunity/?_order_by=colour",
		"/opportunity/?date_updated__gte=soon",
	} {
		if a := get(t, srv, bad); a.status != 400 || a.json("error").String() == "" {
			t.Errorf("%s: %d %s, want 400 with error", bad, a.status, a.body)
		}
	}
}

func TestSimulatorPagingAndFields(t *testing.T) {
	sim, srv, clk := newTestSim(t, SimOptions{MaxLimit: 5, MaxSkip: 7})
	var want []string
	for range 9 {
		want = append(want, sim.Create(TypeOpportunity, nil)["id"].(string))
		clk.Add(time.Millisecond)
	}
	var got []string
	for skip := 0; ; skip += 3 {
		a := get(t, srv, fmt.Sprintf("/opportunity/?_order_by=date_updated&_limit=3&_skip=%d", skip))
		if a.status != 200 {
			t.Fatalf("skip %d: %d %s", skip, a.status, a.body)
		}
		got = append(got, a.ids("data")...)
		if !a.json("has_more").Bool() {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %v, want %v", got, want)
	}
	for path, field := range map[string]string{
		"/opportunity/?_limit=6":            "_limit",
		"/opportunity/?_limit=0":            "_limit",
		"/opportunity/?_limit=3&_skip=8":    "_skip",
		"/opportunity/?_skip=-1":            "_skip",
		"/event/?_limit=51":                 "_limit",
		"/event/?object_type=lead&_skip=10": "_skip",
	} {
		a := get(t, srv, path)
		if a.status != 400 || !strings.Contains(a.json("error").String(), field) {
			t.Errorf("%s: %d %s, want 400 about %s", path, a.status, a.body, field)
		}
	}
	a := get(t, srv, "/opportunity/?_limit=1&_fields=id,status_type")
	if got := a.json("data.0").Map(); len(got) != 2 || got["status_type"].String() != "active" {
		t.Errorf("_fields=id,status_type: %s", a.json("data.0").Raw)
	}
}

// search posts an Advanced Filtering body.
func search(t testing.TB, srv *httptest.Server, body any) answer {
	t.Helper()
	return call(t, http.MethodPost, srv.URL+"/api/v1/data/search/", DefaultSimAPIKey, body)
}

func TestSimulatorSearch(t *testing.T) {
	sim, srv, clk := newTestSim(t, SimOptions{})
	var ids []string
	for i := range 7 {
		ids = append(ids, sim.Create(TypeContact, map[string]any{"title": fmt.Sprintf("t%d", i)})["id"].(string))
		clk.Add(time.Second)
	}
	sim.Create(TypeLead, nil) // leads are not contacts
	// Move the first contact to the end of date_updated.
	if _, err := sim.Update(TypeContact, ids[0], map[string]any{"title": "CEO"}); err != nil {
		t.Fatal(err)
	}
	moved := append(slices.Clone(ids[1:]), ids[0])
	sortAsc := []any{map[string]any{"direction": "asc", "field": map[string]any{"type": "regular_field", "object_type": "contact", "field_name": "date_updated"}}}
	query := func(extra ...any) map[string]any {
		return map[string]any{"type": "and", "queries": append([]any{map[string]any{"type": "object_type", "object_type": "contact"}}, extra...)}
	}
	since := func(v string) any {
		return map[string]any{"type": "field_condition",
			"field":     map[string]any{"type": "regular_field", "object_type": "contact", "field_name": "date_updated"},
			"condition": map[string]any{"type": "moment_range", "on_or_after": map[string]any{"type": "fixed_utc", "value": v}}}
	}

	// Default rows: only __object_type and id.
	a := search(t, srv, map[string]any{"query": query(), "sort": sortAsc})
	if a.status != 200 || !slices.Equal(a.ids("data"), moved) || a.json("cursor").Type != gjson.Null {
		t.Fatalf("search: %d %s", a.status, a.body)
	}
	if row := a.json("data.0").Map(); len(row) != 2 || row["__object_type"].String() != "contact" {
		t.Errorf("default row %s", a.json("data.0").Raw)
	}
	// _fields per object type.
	a = search(t, srv, map[string]any{"query": query(), "sort": sortAsc, "_fields": map[string]any{"contact": []string{"id", "title", "date_updated"}}})
	if row := a.json("data.6"); row.Get("title").String() != "CEO" || !objectDate.MatchString(row.Get("date_updated").String()) {
		t.Errorf("row with _fields %s", row.Raw)
	}
	// A date range, paged with the cursor.
	var got []string
	body := map[string]any{"query": query(since("2026-03-01T12:00:02+00:00")), "sort": sortAsc, "_limit": 2, "include_counts": true}
	for pages := 0; ; pages++ {
		a := search(t, srv, body)
		if a.status != 200 || pages > 10 {
			t.Fatalf("page %d: %d %s", pages, a.status, a.body)
		}
		if a.json("count.total").Int() != 6 {
			t.Errorf("count %s", a.json("count").Raw)
		}
		got = append(got, a.ids("data")...)
		if a.json("cursor").Type == gjson.Null {
			break
		}
		body["cursor"] = a.json("cursor").String()
	}
	if want := append(slices.Clone(ids[2:]), ids[0]); !slices.Equal(got, want) {
		t.Errorf("paged %v, want %v", got, want)
	}
	// A term condition.
	a = search(t, srv, map[string]any{"query": query(map[string]any{"type": "field_condition",
		"field":     map[string]any{"type": "regular_field", "object_type": "contact", "field_name": "title"},
		"condition": map[string]any{"type": "term", "values": []any{"t3", "t5"}}})})
	if got := slices.Sorted(slices.Values(a.ids("data"))); !slices.Equal(got, slices.Sorted(slices.Values([]string{ids[3], ids[5]}))) {
		t.Errorf("term: %s", a.body)
	}
	for name, bad := range map[string]any{
		"no object type": map[string]any{"query": map[string]any{"type": "match_all"}},
		"limit":          map[string]any{"query": query(), "_limit": 101},
		"cursor":         map[string]any{"query": query(), "cursor": "zz"},
		"condition":      map[string]any{"query": query(map[string]any{"type": "field_condition", "field": map[string]any{"type": "regular_field", "object_type": "contact", "field_name": "x"}, "condition": map[string]any{"type": "regex"}})},
		"not an object":  []int{1},
	} {
		if a := search(t, srv, bad); a.status != 400 || !a.json("field-errors").IsObject() || a.json("errors").Raw != "[]" {
			t.Errorf("%s: %d %s, want 400 with field-errors", name, a.status, a.body)
		}
	}
}

func TestSimulatorEventLog(t *testing.T) {
	sim, srv, clk := newTestSim(t, SimOptions{})
	lead := sim.Create(TypeLead, nil)["id"].(string)
	clk.Add(time.Second)
	c1 := sim.Create(TypeContact, map[string]any{"lead_id": lead})["id"].(string)
	c2 := sim.Create(TypeContact, map[string]any{"lead_id": lead})["id"].(string)
	o1 := sim.Create(TypeOpportunity, map[string]any{"lead_id": lead})["id"].(string)
	a1 := sim.Create(TypeActivity, map[string]any{"lead_id": lead, "_type": "Call"})["id"].(string)
	other := sim.Create(TypeContact, nil)["id"].(string)
	clk.Add(time.Second)
	if err := sim.Delete(TypeContact, other); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	if err := sim.Delete(TypeLead, lead); err != nil {
		t.Fatal(err)
	}
	if err := sim.Delete(TypeLead, lead); err == nil {
		t.Fatal("deleting a deleted lead succeeded")
	}

	a := get(t, srv, "/event/?object_type=contact&action=deleted")
	if a.status != 200 {
		t.Fatalf("%d %s", a.status, a.body)
	}
	var objs []string
	for _, e := range a.json("data").Array() {
		objs = append(objs, e.Get("object_id").String())
		if !eventDate.MatchString(e.Get("date_updated").String()) || e.Get("action").String() != "deleted" || e.Get("data").Type != gjson.Null {
			t.Errorf("event %s", e.Raw)
		}
	}
	// Newest first: the cascade's two contacts (same time, by id), then the other.
	cascade := []string{c1, c2}
	slices.Sort(cascade)
	slices.Reverse(cascade)
	if want := append(cascade, other); !slices.Equal(objs, want) {
		t.Errorf("deleted contacts %v, want %v", objs, want)
	}
	for typ, id := range map[string]string{"lead": lead, "opportunity": o1, "activity.call": a1} {
		a := get(t, srv, "/event/?action=deleted&object_type="+typ)
		if a.json("data.#").Int() != 1 || a.json("data.0.object_id").String() != id || a.json("data.0.lead_id").String() != lead {
			t.Errorf("deleted %s: %s", typ, a.body)
		}
	}
	// date_updated__gte keeps the last second only.
	a = get(t, srv, "/event/?object_type=contact&action=deleted&date_updated__gte=2026-03-01T12:00:03")
	if a.json("data.#").Int() != 2 {
		t.Errorf("since 12:00:03: %s", a.body)
	}
	// Cursor paging, 2 at a time, over every event: the date range goes
	// with the cursor.
	var all []string
	params := url.Values{"_limit": {"2"}, "date_updated__gte": {"2026-03-01T12:00:01"}}
	for pages := 0; ; pages++ {
		a := get(t, srv, "/event/?"+params.Encode())
		if a.status != 200 || pages > 20 {
			t.Fatalf("page %d: %d %s", pages, a.status, a.body)
		}
		for _, e := range a.json("data").Array() {
			all = append(all, e.Get("id").String())
		}
		if a.json("cursor_next").Type == gjson.Null {
			break
		}
		params = url.Values{"_limit": {"2"}, "_cursor": {a.json("cursor_next").String()}}
	}
	// 6 created at 12:00:01 (the 4 children, the other contact and its new
	// lead), 1 deleted at 12:00:02, 5 deleted at 12:00:03 (the lead's 4
	// children and the lead).
	if len(all) != 6+1+5 || len(slices.Compact(slices.Sorted(slices.Values(all)))) != len(all) {
		t.Errorf("paged %d events (%v), want 12 distinct", len(all), all)
	}
	for _, bad := range []string{"/event/?object_type=lead", "/event/?action=deleted", "/event/?colour=red", "/event/?_cursor=zz"} {
		if a := get(t, srv, bad); a.status != 400 {
			t.Errorf("%s: %d, want 400", bad, a.status)
		}
	}
	// Events older than 30 days are gone.
	clk.Add(31 * 24 * time.Hour)
	if a := get(t, srv, "/event/?object_type=contact&action=deleted"); a.json("data.#").Int() != 0 {
		t.Errorf("events past retention: %s", a.body)
	}
}

func TestSimulatorRateLimit(t *testing.T) {
	sim, srv, clk := newTestSim(t, SimOptions{RateLimit: 3, RateWindow: 10 * time.Second})
	for i := 1; i <= 3; i++ {
		a := get(t, srv, "/lead/")
		want := fmt.Sprintf("limit=3, remaining=%d, reset=10", 3-i)
		if a.status != 200 || a.header.Get("RateLimit") != want {
			t.Fatalf("request %d: %d RateLimit %q, want %q", i, a.status, a.header.Get("RateLimit"), want)
		}
	}
	clk.Add(6500 * time.Millisecond)
	a := get(t, srv, "/api/v1/lead/") // the same endpoint group under the prefix
	if a.status != 429 || a.header.Get("Retry-After") != "4" || a.header.Get("RateLimit") != "limit=3, remaining=0, reset=3.5" ||
		a.json("error.rate_reset").Float() != 3.5 || a.json("error.message").String() == "" {
		t.Fatalf("4th request: %d %v %s", a.status, a.header, a.body)
	}
	// Another endpoint group has its own budget.
	if a := get(t, srv, "/opportunity/"); a.status != 200 || a.header.Get("RateLimit") != "limit=3, remaining=2, reset=10" {
		t.Errorf("other group: %d %q", a.status, a.header.Get("RateLimit"))
	}
	clk.Add(3500 * time.Millisecond)
	if a := get(t, srv, "/lead/"); a.status != 200 || a.header.Get("RateLimit") != "limit=3, remaining=2, reset=10" {
		t.Errorf("after the window: %d %q", a.status, a.header.Get("RateLimit"))
	}
	if sim.Throttled() != 1 || sim.Requests() != 6 {
		t.Errorf("throttled %d of %d requests, want 1 of 6", sim.Throttled(), sim.Requests())
	}
	// Unlimited: no header.
	_, srv2, _ := newTestSim(t, SimOptions{})
	if a := get(t, srv2, "/lead/"); a.header.Get("RateLimit") != "" {
		t.Errorf("unlimited simulator sent RateLimit %q", a.header.Get("RateLimit"))
	}
}

func TestSimulatorHTTPMutations(t *testing.T) {
	sim, srv, clk := newTestSim(t, SimOptions{})
	base := srv.URL + "/api/v1"
	a := call(t, http.MethodPost, base+"/lead/", DefaultSimAPIKey, map[string]any{"name": "Acme"})
	lead := a.json("id").String()
	if a.status != 200 || a.json("name").String() != "Acme" || !strings.HasPrefix(lead, "lead_") {
		t.Fatalf("create lead: %d %s", a.status, a.body)
	}
	a = call(t, http.MethodPost, base+"/contact/", DefaultSimAPIKey, map[string]any{"lead_id": lead, "name": "Ann"})
	contact := a.json("id").String()
	if a.status != 200 || a.json("lead_id").String() != lead {
		t.Fatalf("create contact: %d %s", a.status, a.body)
	}
	if a := call(t, http.MethodPost, base+"/contact/", DefaultSimAPIKey, map[string]any{"lead_id": "lead_nope"}); a.status != 400 || a.json("field-errors.lead_id").String() == "" {
		t.Errorf("contact of an unknown lead: %d %s", a.status, a.body)
	}
	if a := call(t, http.MethodPost, base+"/contact/", DefaultSimAPIKey, "not an object"); a.status != 400 {
		t.Errorf("bad body: %d %s", a.status, a.body)
	}
	clk.Add(time.Minute)
	a = call(t, http.MethodPut, base+"/contact/"+contact+"/", DefaultSimAPIKey, map[string]any{"title": "CTO", "date_updated": "2000-01-01"})
	if a.status != 200 || a.json("title").String() != "CTO" || a.json("name").String() != "Ann" || a.json("date_updated").String() != "2026-03-01T12:01:00.000000+00:00" {
		t.Fatalf("update: %d %s", a.status, a.body)
	}
	if a := call(t, http.MethodGet, base+"/contact/"+contact+"/", DefaultSimAPIKey, nil); a.json("title").String() != "CTO" {
		t.Errorf("get: %s", a.body)
	}
	clk.Add(time.Second)
	if a := call(t, http.MethodDelete, base+"/lead/"+lead+"/", DefaultSimAPIKey, nil); a.status != 200 || a.body != "{}" {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		if a := call(t, m, base+"/contact/"+contact+"/", DefaultSimAPIKey, map[string]any{}); a.status != 404 {
			t.Errorf("%s of a deleted contact: %d", m, a.status)
		}
	}
	ev := get(t, srv, "/event/?object_type=contact&object_id="+contact)
	var actions []string
	for _, e := range ev.json("data").Array() {
		actions = append(actions, e.Get("action").String())
	}
	if !slices.Equal(actions, []string{"deleted", "updated", "created"}) {
		t.Errorf("contact events %v", actions)
	}
	if got := ev.json(`data.1.changed_fields`).Raw; got != `["title","date_updated"]` {
		t.Errorf("changed_fields %s", got)
	}
	if a := call(t, http.MethodPatch, base+"/lead/", DefaultSimAPIKey, nil); a.status != 405 {
		t.Errorf("PATCH: %d", a.status)
	}
	if a := get(t, srv, "/nothing/"); a.status != 404 {
		t.Errorf("unknown path: %d", a.status)
	}
	if _, err := sim.Update(TypeLead, "lead_nope", nil); err == nil {
		t.Error("Update of an unknown lead succeeded")
	}
}
