package rest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// get fetches path from srv and returns the status, headers and body.
func get(t *testing.T, base, path string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func ids(t *testing.T, body, path string) []string {
	t.Helper()
	if !gjson.Valid(body) {
		t.Fatalf("not JSON: %s", body)
	}
	var out []string
	r := gjson.Parse(body)
	if path != "" {
		r = r.Get(path)
	}
	for _, v := range r.Array() {
		out = append(out, v.Get("id").String())
	}
	return out
}

func TestSimulatorPut(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	sim := NewSimulator(SimOptions{Now: func() time.Time { return now }})

	a := sim.Put("contacts", map[string]any{"name": "Ann", "tags": []any{"x"}})
	if a["id"] != "contacts_1" || a["created_at"] != "2026-03-01T11:00:00.123Z" || a["updated_at"] != "2026-03-01T11:00:00.123Z" {
		t.Errorf("created %v", a)
	}
	if b := sim.Put("contacts", map[string]any{}); b["id"] != "contacts_2" {
		t.Errorf("second id %v", b["id"])
	}
	if d := sim.Put("deals", nil); d["id"] != "deals_1" {
		t.Errorf("ids are per resource: %v", d["id"])
	}
	// A caller-chosen id the counter would produce next is skipped over.
	sim.Put("contacts", map[string]any{"id": "contacts_3"})
	if c := sim.Put("contacts", nil); c["id"] != "contacts_4" {
		t.Errorf("generated id %v collides", c["id"])
	}

	// The returned map is a copy: changing it changes nothing stored.
	a["name"] = "mutated"
	a["tags"].([]any)[0] = "mutated"

	now = now.Add(time.Minute)
	u := sim.Put("contacts", map[string]any{"id": "contacts_1", "email": "ann@example.com", "created_at": "1999-01-01T00:00:00.000Z"})
	want := map[string]any{
		"id": "contacts_1", "name": "Ann", "tags": []any{"x"}, "email": "ann@example.com",
		"created_at": "2026-03-01T11:00:00.123Z", "updated_at": "2026-03-01T11:01:00.123Z",
	}
	if fmt.Sprint(u) != fmt.Sprint(want) {
		t.Errorf("merged:\n got %v\nwant %v", u, want)
	}

	at := time.Date(2020, 1, 2, 3, 4, 5, 6e6, time.UTC)
	n := sim.PutAt("contacts", map[string]any{"id": 42}, at)
	if n["id"] != 42 || n["updated_at"] != "2020-01-02T03:04:05.006Z" || n["created_at"] != "2020-01-02T03:04:05.006Z" {
		t.Errorf("PutAt %v", n)
	}
}

func TestSimulatorShapes(t *testing.T) {
	sim, srv := newSim(t, SimOptions{MaxLimit: 3})
	all := seed(sim, 3) // 5 records
	cases := []struct {
		path      string
		status    int
		records   string // gjson path of the records; "" when the body is the array
		want      []string
		more      string // gjson path and value expected, e.g. has_more=true
		nextLink  bool   // Link header expected
		nextValue string // gjson path of an absolute next URL expected
	}{
		{path: "/plain/contacts", status: 200, want: all},
		{path: "/plain/contacts?limit=1000", status: 200, want: all},
		{path: "/offset/contacts?limit=2", status: 200, records: "data", want: all[:2], more: "has_more=true"},
		{path: "/offset/contacts?limit=2&offset=4", status: 200, records: "data", want: all[4:], more: "has_more=false"},
		{path: "/offset/contacts?offset=2", status: 200, records: "data", want: all[2:], more: "has_more=false"},
		{path: "/page/contacts?per_page=2&page=2", status: 200, records: "items", want: all[2:4], more: "has_more=true"},
		{path: "/page/contacts?per_page=2&page=3", status: 200, records: "items", want: all[4:], more: "has_more=false"},
		{path: "/page/contacts?per_page=2&page=9", status: 200, records: "items", want: nil, more: "has_more=false"},
		{path: "/cursor/contacts?limit=2", status: 200, records: "data", want: all[:2]},
		{path: "/cursor/contacts?updated_since=" + url.QueryEscape(t0.Add(2500*time.Millisecond).Format(time.RFC3339)), status: 200, records: "data", want: all[2:], more: "next_cursor=null"},
		{path: "/next/contacts?limit=2", status: 200, records: "results", want: all[:2], nextValue: "next"},
		{path: "/link/contacts?limit=2", status: 200, want: all[:2], nextLink: true},
		{path: "/link/contacts?limit=3&updated_since=" + url.QueryEscape(t0.Add(1500*time.Millisecond).Format(time.RFC3339Nano)), status: 200, want: all[1:4], nextLink: true},
		{path: "/offset/contacts?limit=4", status: 400},
		{path: "/page/contacts?per_page=4", status: 400},
		{path: "/offset/contacts?limit=0", status: 400},
		{path: "/offset/contacts?offset=-1", status: 400},
		{path: "/page/contacts?page=0", status: 400},
		{path: "/cursor/contacts?cursor=%21%21", status: 400},
		{path: "/offset/contacts?updated_since=yesterday", status: 400},
		{path: "/offset/nothing_yet", status: 200, records: "data", want: nil, more: "has_more=false"},
		{path: "/scroll/contacts", status: 404},
		{path: "/contacts", status: 405},
		{path: "/", status: 404},
		{path: "/a/b/c", status: 404},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			status, hdr, body := get(t, srv.URL, tc.path)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if hdr.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", hdr.Get("Content-Type"))
			}
			if status != 200 {
				if msg := gjson.Get(body, "error").String(); msg == "" {
					t.Errorf("error body without a message: %s", body)
				}
				return
			}
			if got := ids(t, body, tc.records); !slices.Equal(got, tc.want) {
				t.Errorf("records %v, want %v", got, tc.want)
			}
			if tc.more != "" {
				path, value, _ := strings.Cut(tc.more, "=")
				if got := gjson.Get(body, path).Raw; got != value {
					t.Errorf("%s = %s, want %s", path, got, value)
				}
			}
			link := linkNext(hdr["Link"])
			if (link != "") != tc.nextLink {
				t.Errorf("Link %q", hdr.Get("Link"))
			}
			next := gjson.Get(body, tc.nextValue).String()
			if tc.nextValue != "" {
				link = next
			}
			if link != "" && !strings.HasPrefix(link, srv.URL+"/") {
				t.Errorf("next %q is not an absolute URL of the simulator", link)
			}
		})
	}
}

// TestSimulatorLimitMessage pins the 400 answer vendors word this way.
func TestSimulatorLimitMessage(t *testing.T) {
	_, srv := newSim(t, SimOptions{MaxLimit: 25})
	_, _, body := get(t, srv.URL, "/cursor/contacts?limit=26")
	if got := gjson.Get(body, "error").String(); got != "limit must be at most 25" {
		t.Errorf("error %q", got)
	}
}

// TestSimulatorSameTimestamp pages through records that share one
// updated_at in every shape, one at a time: none may be skipped or repeated.
func TestSimulatorSameTimestamp(t *testing.T) {
	sim, srv := newSim(t, SimOptions{})
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("r%d", 7-i) // put in reverse so order comes from the sort
		sim.PutAt("contacts", map[string]any{"id": id}, t0)
		want = append([]string{id}, want...)
	}
	for _, style := range []struct{ url, pagination, records string }{
		{"/offset/contacts", `{"type":"offset","hasMorePath":"has_more"}`, "data"},
		{"/page/contacts", `{"type":"page","limitParam":"per_page","hasMorePath":"has_more"}`, "items"},
		{"/cursor/contacts", `{"type":"cursor","cursorPath":"next_cursor"}`, "data"},
		{"/next/contacts", `{"type":"next","nextPath":"next"}`, "results"},
		{"/link/contacts", `{"type":"next"}`, ""},
	} {
		t.Run(style.url, func(t *testing.T) {
			p := poller{url: style.url, pagination: style.pagination, recordsPath: style.records, pageSize: 1, since: t0.Add(-time.Second)}
			got, err := pollIDs(t, t.Context(), p.request(t, srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestSimulatorVisibility(t *testing.T) {
	sim, srv := newSim(t, SimOptions{})
	sim.PutAt("contacts", map[string]any{"id": "a"}, t0)
	sim.PutAt("contacts", map[string]any{"id": "b"}, t0.Add(time.Second))
	sim.PutAt("contacts", map[string]any{"id": "c"}, t0.Add(2*time.Second))
	list := func() []string {
		_, _, body := get(t, srv.URL, "/plain/contacts")
		return ids(t, body, "")
	}
	sim.Hide("contacts", "b")
	sim.Hide("contacts", "missing") // no-op
	if got := list(); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("hidden: %v", got)
	}
	// Revealed late, it keeps its place (and updated_at): a poller that has
	// moved past t0+1s only finds it through its lookback.
	sim.Reveal("contacts", "b")
	if got := list(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("revealed: %v", got)
	}
	_, _, body := get(t, srv.URL, "/plain/contacts?updated_since="+strconv.FormatInt(t0.Add(500*time.Millisecond).UnixMilli(), 10))
	if got := ids(t, body, ""); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("since epoch ms: %v", got)
	}
	sim.Delete("contacts", "a")
	sim.Delete("contacts", "missing")
	if got := list(); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("deleted: %v", got)
	}
}

func TestSimulatorHTTPWrites(t *testing.T) {
	sim, srv := newSim(t, SimOptions{Auth: SimAuth{Type: AuthBearer, Token: "t"}})
	do := func(method, path, body, token string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := do("POST", "/contacts", `{"name":"Bo","n":12345678901234567890}`, "t"); status != 201 || gjson.Get(body, "id").String() != "contacts_1" || gjson.Get(body, "n").Raw != "12345678901234567890" {
		t.Errorf("POST: %d %s", status, body)
	}
	if status, _ := do("POST", "/contacts", `[1]`, "t"); status != 400 {
		t.Errorf("POST of an array: %d", status)
	}
	if status, body := do("POST", "/contacts", `{}`, "wrong"); status != 401 || gjson.Get(body, "error").String() != "invalid bearer token" {
		t.Errorf("POST with a wrong token: %d %s", status, body)
	}
	if status, _ := do("DELETE", "/contacts/contacts_1", "", "t"); status != 204 {
		t.Errorf("DELETE: %d", status)
	}
	if status, _ := do("DELETE", "/contacts/contacts_1", "", "t"); status != 404 {
		t.Errorf("DELETE again: %d", status)
	}
	if sim.Requests() != 0 {
		t.Errorf("writes counted as list requests: %d", sim.Requests())
	}
}

func TestSimulatorAuth(t *testing.T) {
	cases := []struct {
		auth SimAuth
		hdr  []string // a request that passes
		bad  []string // one that does not
	}{
		{SimAuth{Type: AuthBasic, User: "u", Password: "p"}, []string{"Authorization", "Basic dTpw"}, []string{"Authorization", "Basic dTp4"}},
		{SimAuth{Type: AuthBearer, Token: "tk"}, []string{"Authorization", "Bearer tk"}, []string{"Authorization", "Basic dTpw"}},
		{SimAuth{Type: AuthHeader, HeaderName: "X-Key", HeaderValue: "v"}, []string{"x-key", "v"}, []string{"X-Other", "v"}},
	}
	for _, tc := range cases {
		t.Run(tc.auth.Type, func(t *testing.T) {
			_, srv := newSim(t, SimOptions{Auth: tc.auth})
			if status, _, body := get(t, srv.URL, "/plain/contacts", tc.hdr...); status != 200 {
				t.Errorf("right credentials: %d %s", status, body)
			}
			status, hdr, body := get(t, srv.URL, "/plain/contacts", tc.bad...)
			if status != 401 || gjson.Get(body, "error").String() == "" {
				t.Errorf("wrong credentials: %d %s", status, body)
			}
			if tc.auth.Type == AuthBasic && hdr.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestSimulatorFaults(t *testing.T) {
	sim, srv := newSim(t, SimOptions{})
	sim.Put("contacts", nil)
	sim.Fail("contacts", 2, Fault{Status: 503, RetryAfter: "7"})
	sim.Fail("contacts", 1, Fault{Body: "not json"})
	sim.Fail("contacts", 0, Fault{Status: 500}) // n <= 0 adds nothing
	sim.Fail("deals", 1, Fault{Status: 500})    // other resources are unaffected

	for i, want := range []struct {
		status int
		retry  string
		body   string
	}{
		{503, "7", `{"error":"simulated fault: 503 Service Unavailable"}`},
		{503, "7", `{"error":"simulated fault: 503 Service Unavailable"}`},
		{200, "", "not json"},
	} {
		status, hdr, body := get(t, srv.URL, "/offset/contacts")
		if status != want.status || hdr.Get("Retry-After") != want.retry || body != want.body {
			t.Errorf("request %d: %d %q %s", i+1, status, hdr.Get("Retry-After"), body)
		}
	}
	if status, _, body := get(t, srv.URL, "/link/contacts"); status != 200 || len(ids(t, body, "")) != 1 {
		t.Errorf("after the faults: %d %s", status, body)
	}
	if sim.Requests() != 4 {
		t.Errorf("Requests() = %d, want 4", sim.Requests())
	}
}

// TestSimulatorConcurrent writes and lists at once, for the race detector.
func TestSimulatorConcurrent(t *testing.T) {
	sim, srv := newSim(t, SimOptions{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				rec := sim.Put("contacts", map[string]any{"w": w, "i": i})
				if i%10 == 0 {
					sim.Hide("contacts", rec["id"].(string))
					sim.Reveal("contacts", rec["id"].(string))
				}
			}
		})
		wg.Go(func() {
			for range 20 {
				resp, err := http.Get(srv.URL + "/cursor/contacts?limit=7")
				if err != nil {
					t.Error(err)
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || !json.Valid(body) {
					t.Errorf("%d %s %v", resp.StatusCode, body, err)
				}
			}
		})
	}
	wg.Wait()
	_, _, body := get(t, srv.URL, "/plain/contacts")
	if n := len(ids(t, body, "")); n != 200 {
		t.Errorf("%d records, want 200", n)
	}
}
