package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/instances/placeholder"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// poller describes the resource a test polls.
type poller struct {
	url         string
	pageSize    int
	pagination  string // JSON, as the instance's Extra holds it
	recordsPath string
	config      map[string]string // instance configuration (auth)
	since       time.Time
	timeout     time.Duration // client timeout; default 5s
}

func (p poller) request(t testing.TB, baseURL string) *source.Request {
	t.Helper()
	tmpl, err := placeholder.Parse(p.url)
	if err != nil {
		t.Fatal(err)
	}
	extra := map[string]string{}
	if p.pagination != "" {
		extra[FieldPagination] = p.pagination
	}
	if p.recordsPath != "" {
		extra[FieldRecordsPath] = p.recordsPath
	}
	timeout := p.timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	return &source.Request{
		Instance:       &instances.Instance{ConnectorKey: Key, Config: p.config},
		Settings:       &instances.Settings{BaseURL: baseURL},
		Poller:         &instances.Poller{Resource: "contacts", URL: tmpl, PageSize: p.pageSize, Extra: extra},
		Since:          p.since,
		Now:            t0.Add(time.Hour),
		ServerLocation: time.UTC,
		Client:         &http.Client{Timeout: timeout},
	}
}

// pollIDs polls and returns the id of every record emitted, in order.
func pollIDs(t testing.TB, ctx context.Context, req *source.Request) ([]string, error) {
	t.Helper()
	var ids []string
	err := New().Poll(ctx, req, func(r source.Record) error {
		if !gjson.ValidBytes(r.Raw) {
			t.Errorf("record is not JSON: %q", r.Raw)
		}
		ids = append(ids, gjson.GetBytes(r.Raw, "id").String())
		return nil
	})
	return ids, err
}

// seed puts n records updated one second apart from t0, plus two sharing
// the last timestamp so (updated_at, id) ordering is exercised. It returns
// the ids in listing order.
func seed(sim *Simulator, n int) []string {
	var ids []string
	for i := 1; i <= n; i++ {
		rec := sim.PutAt("contacts", map[string]any{"name": fmt.Sprintf("c%d", i)}, t0.Add(time.Duration(i)*time.Second))
		ids = append(ids, rec["id"].(string))
	}
	last := t0.Add(time.Duration(n+1) * time.Second)
	sim.PutAt("contacts", map[string]any{"id": "zz_tie"}, last)
	sim.PutAt("contacts", map[string]any{"id": "aa_tie"}, last)
	return append(ids, "aa_tie", "zz_tie")
}

func newSim(t testing.TB, opts SimOptions) (*Simulator, *httptest.Server) {
	t.Helper()
	sim := NewSimulator(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv
}

func TestPollPagination(t *testing.T) {
	const (
		offsetMore = `{"type":"offset","hasMorePath":"has_more"}`
		offsetFull = `{"type":"offset"}`
		pageMore   = `{"type":"page","limitParam":"per_page","hasMorePath":"has_more"}`
		pageFull   = `{"type":"page","pageParam":"page","firstPage":1,"limitParam":"per_page"}`
		cursor     = `{"type":"cursor","cursorPath":"next_cursor"}`
		cursorMore = `{"type":"cursor","cursorParam":"cursor","cursorPath":"next_cursor","hasMorePath":"has_more"}`
		nextBody   = `{"type":"next","nextPath":"next"}`
		nextLink   = `{"type":"next"}`
	)
	// 10 records plus 2 ties: 12 in all.
	cases := []struct {
		name     string
		p        poller
		requests int
	}{
		{"plain/none", poller{url: "/plain/contacts"}, 1},
		{"plain/none explicit", poller{url: "/plain/contacts", pagination: `{"type":"none"}`, pageSize: 3}, 1},
		{"offset has_more/1", poller{url: "/offset/contacts", pagination: offsetMore, recordsPath: "data", pageSize: 1}, 12},
		{"offset has_more/5", poller{url: "/offset/contacts", pagination: offsetMore, recordsPath: "data", pageSize: 5}, 3},
		{"offset has_more/12", poller{url: "/offset/contacts", pagination: offsetMore, recordsPath: "data", pageSize: 12}, 1},
		{"offset has_more/50", poller{url: "/offset/contacts", pagination: offsetMore, recordsPath: "data", pageSize: 50}, 1},
		{"offset full page/5", poller{url: "/offset/contacts", pagination: offsetFull, recordsPath: "data", pageSize: 5}, 3},
		{"offset full page/4", poller{url: "/offset/contacts", pagination: offsetFull, recordsPath: "data", pageSize: 4}, 4},
		{"offset full page/12", poller{url: "/offset/contacts", pagination: offsetFull, recordsPath: "data", pageSize: 12}, 2},
		{"offset no page size", poller{url: "/offset/contacts", pagination: offsetFull, recordsPath: "data"}, 2},
		{"page has_more/1", poller{url: "/page/contacts", pagination: pageMore, recordsPath: "items", pageSize: 1}, 12},
		{"page has_more/5", poller{url: "/page/contacts", pagination: pageMore, recordsPath: "items", pageSize: 5}, 3},
		{"page full page/5", poller{url: "/page/contacts", pagination: pageFull, recordsPath: "items", pageSize: 5}, 3},
		{"page full page/6", poller{url: "/page/contacts", pagination: pageFull, recordsPath: "items", pageSize: 6}, 3},
		{"cursor/1", poller{url: "/cursor/contacts", pagination: cursor, recordsPath: "data", pageSize: 1}, 12},
		{"cursor/5", poller{url: "/cursor/contacts", pagination: cursor, recordsPath: "data", pageSize: 5}, 3},
		{"cursor/12", poller{url: "/cursor/contacts", pagination: cursor, recordsPath: "data", pageSize: 12}, 1},
		{"cursor no page size", poller{url: "/cursor/contacts", pagination: cursor, recordsPath: "data"}, 1},
		{"next body/1", poller{url: "/next/contacts", pagination: nextBody, recordsPath: "results", pageSize: 1}, 12},
		{"next body/5", poller{url: "/next/contacts", pagination: nextBody, recordsPath: "results", pageSize: 5}, 3},
		{"next link/5", poller{url: "/link/contacts", pagination: nextLink, pageSize: 5}, 3},
		{"next link/7", poller{url: "/link/contacts", pagination: nextLink, pageSize: 7}, 2},
		{"next link/12", poller{url: "/link/contacts", pagination: nextLink, pageSize: 12}, 1},
	}
	sim, srv := newSim(t, SimOptions{MaxLimit: 50})
	want := seed(sim, 10)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := sim.Requests()
			got, err := pollIDs(t, context.Background(), tc.p.request(t, srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("records:\n got %v\nwant %v", got, want)
			}
			if n := sim.Requests() - before; n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
		})
	}

	// A cursor API that also says has_more: the flag ends paging even with a
	// cursor in the body.
	t.Run("cursor has_more false stops", func(t *testing.T) {
		var calls int
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			fmt.Fprintf(w, `{"data":[{"id":"r%d"}],"next_cursor":"c%d","has_more":%t}`, calls, calls, calls < 2)
		}))
		defer srv.Close()
		got, err := pollIDs(t, context.Background(), poller{url: "/x", pagination: cursorMore, recordsPath: "data"}.request(t, srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []string{"r1", "r2"}) || calls != 2 {
			t.Errorf("got %v in %d calls", got, calls)
		}
	})
}

// TestPollCompiledInstance goes through instances.Compile, so the
// pagination object of instance.json reaches the Source as configured.
func TestPollCompiledInstance(t *testing.T) {
	sim, srv := newSim(t, SimOptions{Auth: SimAuth{Type: AuthHeader, HeaderName: "X-Api-Key", HeaderValue: "k1"}})
	want := seed(sim, 4)
	cfg := map[string]string{
		"base.url":          srv.URL + "/",
		KeyAuthType:         AuthHeader,
		KeyHeaderName:       "X-Api-Key",
		KeyHeaderValue:      "k1",
		"event.vendor.type": "polling",
		"event.poller.configuration": `{"contacts":{"url":"/page/contacts","pageSize":2,"recordsPath":"items",` +
			`"pagination":{"type":"page","limitParam":"per_page","hasMorePath":"has_more"},` +
			`"datesConfiguration":{"updatedDateField":"updated_at"}}}`,
	}
	settings, err := instances.Compile(Spec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := settings.Poller("contacts")
	if !ok {
		t.Fatal("no contacts poller")
	}
	req := &source.Request{
		Instance: &instances.Instance{ConnectorKey: Key, Config: map[string]string{KeyAuthType: AuthHeader, KeyHeaderName: "X-Api-Key"}, Secrets: map[string]string{KeyHeaderValue: "k1"}},
		Settings: settings, Poller: p, Since: t0, Now: t0, ServerLocation: time.UTC, Client: srv.Client(),
	}
	got, err := pollIDs(t, context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if sim.Requests() != 3 {
		t.Errorf("%d requests, want 3 pages of 2", sim.Requests())
	}
}

func TestPollAuth(t *testing.T) {
	cases := []struct {
		name         string
		auth         SimAuth
		right, wrong map[string]string
		secret       string // must not leak into errors
	}{
		{"none", SimAuth{Type: AuthNone}, map[string]string{}, nil, ""},
		{"basic", SimAuth{Type: AuthBasic, User: "api_key_1", Password: "pw-1"},
			map[string]string{KeyAuthType: AuthBasic, KeyUsername: "api_key_1", KeyPassword: "pw-1"},
			map[string]string{KeyAuthType: AuthBasic, KeyUsername: "api_key_1", KeyPassword: "nope"}, "pw-1"},
		{"basic empty password", SimAuth{Type: AuthBasic, User: "closekey"},
			map[string]string{KeyAuthType: AuthBasic, KeyUsername: "closekey"},
			map[string]string{KeyAuthType: AuthBasic, KeyUsername: "otherkey"}, "closekey"},
		{"bearer", SimAuth{Type: AuthBearer, Token: "tok-123"},
			map[string]string{KeyAuthType: AuthBearer, KeyBearerToken: "tok-123"},
			map[string]string{KeyAuthType: AuthBearer, KeyBearerToken: "tok-999"}, "tok-123"},
		{"bearer missing", SimAuth{Type: AuthBearer, Token: "tok-123"},
			map[string]string{KeyAuthType: AuthBearer, KeyBearerToken: "tok-123"},
			map[string]string{}, "tok-123"},
		{"header", SimAuth{Type: AuthHeader, HeaderName: "X-API-Key", HeaderValue: "hv-1"},
			map[string]string{KeyAuthType: AuthHeader, KeyHeaderName: "x-api-key", KeyHeaderValue: "hv-1"},
			map[string]string{KeyAuthType: AuthHeader, KeyHeaderName: "X-API-Key", KeyHeaderValue: "hv-2"}, "hv-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv := newSim(t, SimOptions{Auth: tc.auth})
			want := seed(sim, 3)
			p := poller{url: "/cursor/contacts", pagination: `{"type":"cursor","cursorPath":"next_cursor"}`, recordsPath: "data", pageSize: 2, config: tc.right}
			got, err := pollIDs(t, context.Background(), p.request(t, srv.URL))
			if err != nil {
				t.Fatalf("right credentials: %v", err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
			if tc.wrong == nil {
				return
			}
			p.config = tc.wrong
			_, err = pollIDs(t, context.Background(), p.request(t, srv.URL))
			var ve *source.VendorError
			if !errors.As(err, &ve) || ve.Status != http.StatusUnauthorized {
				t.Fatalf("wrong credentials: got %v, want a 401 VendorError", err)
			}
			if ve.Message == "" || strings.Contains(ve.Message, "simulated") {
				t.Errorf("message %q is not the vendor's", ve.Message)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error leaks the credential: %v", err)
			}
		})
	}
}

// TestPollWindow checks that the window start reaches the vendor: records
// updated at or before Since are not returned.
func TestPollWindow(t *testing.T) {
	since := t0.Add(10 * time.Second)
	sim, srv := newSim(t, SimOptions{})
	sim.PutAt("contacts", map[string]any{"id": "before"}, since.Add(-time.Second))
	sim.PutAt("contacts", map[string]any{"id": "at"}, since)
	sim.PutAt("contacts", map[string]any{"id": "just_after"}, since.Add(time.Millisecond))
	sim.PutAt("contacts", map[string]any{"id": "after"}, since.Add(time.Minute))
	want := []string{"just_after", "after"}

	cases := []struct{ name, url string }{
		{"literal RFC 3339", "/offset/contacts?updated_since=" + url.QueryEscape(since.Format(time.RFC3339Nano))},
		{"literal epoch ms", "/offset/contacts?updated_since=" + strconv.FormatInt(since.UnixMilli(), 10)},
		{"placeholder gmtDate", "/offset/contacts?updated_since=${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}"},
		{"placeholder epoch", "/offset/contacts?updated_since=${epoch}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := poller{url: tc.url, pagination: `{"type":"offset","hasMorePath":"has_more"}`, recordsPath: "data", pageSize: 1, since: since}
			got, err := pollIDs(t, context.Background(), p.request(t, srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestPollRecordsPath(t *testing.T) {
	sim, srv := newSim(t, SimOptions{})
	seed(sim, 2)
	bodies := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/null":
			fmt.Fprint(w, `{"data":null,"has_more":false}`)
		case "/nested":
			fmt.Fprint(w, "\xEF\xBB\xBF"+`{"response":{"page":{"rows":[{"id":"n1"},{"id":"n2"}]}}}`)
		case "/modifier":
			fmt.Fprint(w, `{"data":[{"id":"m1"},{"id":"m2"}]}`)
		case "/no-flag":
			fmt.Fprint(w, `{"data":[{"id":"f1"}]}`)
		}
	}))
	defer bodies.Close()

	cases := []struct {
		name, base, url, path, pagination string
		want                              []string
		err                               string
	}{
		{"missing path", srv.URL, "/plain/contacts", "data", "", nil, `recordsPath "data" is not in the response`},
		{"path to a boolean", srv.URL, "/offset/contacts", "has_more", "", nil, `recordsPath "has_more" is a boolean, not an array`},
		{"object body without path", srv.URL, "/offset/contacts", "", "", nil, "the response is an object, not an array of records; set recordsPath"},
		{"null records", bodies.URL, "/null", "data", `{"type":"offset","hasMorePath":"has_more"}`, nil, ""},
		{"nested path after a BOM", bodies.URL, "/nested", "response.page.rows", "", []string{"n1", "n2"}, ""},
		{"modifier path", bodies.URL, "/modifier", "data|@reverse", "", []string{"m2", "m1"}, ""},
		{"missing has-more flag", bodies.URL, "/no-flag", "data", `{"type":"offset","hasMorePath":"meta.more"}`, nil, `hasMorePath "meta.more" is not in the response`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := poller{url: tc.url, recordsPath: tc.path, pagination: tc.pagination, pageSize: 10}
			got, err := pollIDs(t, context.Background(), p.request(t, tc.base))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
				return
			}
			var ve *source.VendorError
			if !errors.As(err, &ve) || ve.Status != http.StatusOK || !strings.Contains(ve.Message, tc.err) {
				t.Fatalf("got %v, want a VendorError with status 200 saying %q", err, tc.err)
			}
			if len(got) != 0 {
				t.Errorf("emitted %v from a bad page", got)
			}
		})
	}
}

func TestPollFaults(t *testing.T) {
	cursorPoller := poller{url: "/cursor/contacts", pagination: `{"type":"cursor","cursorPath":"next_cursor"}`, recordsPath: "data", pageSize: 2}
	cases := []struct {
		name    string
		faults  []Fault
		p       func(p poller) poller
		ctx     func() (context.Context, context.CancelFunc)
		ok      bool          // all records, no error
		status  int           // of the VendorError, when not ok
		msg     string        // in the VendorError's message
		limited bool          // errors.Is(err, source.ErrRateLimited)
		retry   time.Duration // the VendorError's RetryAfter
		minTime time.Duration // the poll waited at least this
		maxTime time.Duration // and at most this
		calls   int           // list requests made
	}{
		{name: "500 with the vendor's message", faults: []Fault{{Status: 500, Body: `{"error":{"message":"database on fire"}}`}},
			status: 500, msg: "database on fire", calls: 1},
		{name: "500 with errors[0].message", faults: []Fault{{Status: 502, Body: `{"errors":[{"message":"upstream gone"}]}`}},
			status: 502, msg: "upstream gone", calls: 1},
		{name: "500 with an HTML page", faults: []Fault{{Status: 500, Body: "<html>\n<h1>Oops</h1></html>"}},
			status: 500, msg: "<html> <h1>Oops</h1></html>", calls: 1},
		{name: "404 simulated", faults: []Fault{{Status: 404}}, status: 404, msg: "simulated fault: 404 Not Found", calls: 1},
		{name: "429 Retry-After 1 then success", faults: []Fault{{Status: 429, RetryAfter: "1"}},
			ok: true, minTime: time.Second, calls: 7},
		{name: "429 on a later page retries that page", faults: []Fault{{}, {}, {Status: 429, RetryAfter: "0"}, {Status: 429, RetryAfter: "0"}},
			ok: true, calls: 8},
		{name: "503 Retry-After 0 then success", faults: []Fault{{Status: 503, RetryAfter: "0"}}, ok: true, calls: 7},
		{name: "503 without Retry-After is a fault", faults: []Fault{{Status: 503}}, status: 503, calls: 1},
		{name: "429 Retry-After 120 is not waited", faults: []Fault{{Status: 429, RetryAfter: "120", Body: `{"message":"slow down"}`}},
			status: 429, msg: "slow down", limited: true, retry: 120 * time.Second, maxTime: 2 * time.Second, calls: 1},
		{name: "429 without Retry-After", faults: []Fault{{Status: 429}}, status: 429, limited: true, maxTime: 2 * time.Second, calls: 1},
		{name: "429 HTTP date beyond 30s", faults: []Fault{{Status: 429, RetryAfter: time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}},
			status: 429, limited: true, maxTime: 2 * time.Second, calls: 1},
		{name: "429 four times gives up after 3 retries", faults: []Fault{{Status: 429, RetryAfter: "0"}, {Status: 429, RetryAfter: "0"}, {Status: 429, RetryAfter: "0"}, {Status: 429, RetryAfter: "0"}},
			status: 429, limited: true, msg: "simulated fault", calls: 4},
		{name: "429 wait longer than the poll's deadline", faults: []Fault{{Status: 429, RetryAfter: "5"}},
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 2*time.Second)
			},
			status: 429, limited: true, retry: 5 * time.Second, maxTime: time.Second, calls: 1},
		{name: "slow answer, client timeout", faults: []Fault{{Delay: 3 * time.Second}},
			p:      func(p poller) poller { p.timeout = 200 * time.Millisecond; return p },
			status: 0, msg: "timeout after 200ms", maxTime: 2 * time.Second, calls: 1},
		{name: "slow answer, poll deadline", faults: []Fault{{Delay: 3 * time.Second}},
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 200*time.Millisecond)
			},
			status: 0, msg: "timeout after", maxTime: 2 * time.Second, calls: 1},
		{name: "invalid JSON", faults: []Fault{{Status: 200, Body: `{"data": [`}},
			status: 200, msg: "invalid JSON in response: unexpected end of JSON input", calls: 1},
		{name: "invalid JSON, not JSON at all", faults: []Fault{{Body: `<html>maintenance</html>`}},
			status: 200, msg: "invalid JSON in response: invalid character '<'", calls: 1},
		{name: "empty body", faults: []Fault{{Status: 200, Body: " "}}, status: 200, msg: "invalid JSON in response: empty body", calls: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv := newSim(t, SimOptions{})
			want := seed(sim, 10) // 12 records: 6 pages of 2
			for _, f := range tc.faults {
				sim.Fail("contacts", 1, f)
			}
			p := cursorPoller
			if tc.p != nil {
				p = tc.p(p)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			start := time.Now()
			got, err := pollIDs(t, ctx, p.request(t, srv.URL))
			took := time.Since(start)

			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("got %v, want %v", got, want)
				}
			} else {
				var ve *source.VendorError
				if !errors.As(err, &ve) {
					t.Fatalf("got %v, want a VendorError", err)
				}
				if ve.Status != tc.status || !strings.Contains(ve.Message, tc.msg) {
					t.Errorf("got status %d message %q, want %d containing %q", ve.Status, ve.Message, tc.status, tc.msg)
				}
				if ve.Method != http.MethodGet || !strings.HasPrefix(ve.URL, srv.URL+"/cursor/contacts") {
					t.Errorf("error names %s %s", ve.Method, ve.URL)
				}
				if got := errors.Is(err, source.ErrRateLimited); got != tc.limited {
					t.Errorf("rate limited = %v, want %v (%v)", got, tc.limited, err)
				}
				if tc.limited && !source.IsRateLimited(err) {
					t.Errorf("IsRateLimited(%v) = false", err)
				}
				if ve.RetryAfter != tc.retry && tc.retry != 0 {
					t.Errorf("RetryAfter = %s, want %s", ve.RetryAfter, tc.retry)
				}
			}
			if took < tc.minTime {
				t.Errorf("took %s, want at least %s", took, tc.minTime)
			}
			if tc.maxTime > 0 && took > tc.maxTime {
				t.Errorf("took %s, want at most %s", took, tc.maxTime)
			}
			if sim.Requests() != tc.calls {
				t.Errorf("%d requests, want %d", sim.Requests(), tc.calls)
			}
		})
	}
}

func TestPollCanceled(t *testing.T) {
	sim, srv := newSim(t, SimOptions{})
	seed(sim, 2)
	t.Run("during a request", func(t *testing.T) {
		sim.Fail("contacts", 1, Fault{Delay: 5 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := pollIDs(t, ctx, poller{url: "/plain/contacts"}.request(t, srv.URL))
		var ve *source.VendorError
		if !errors.Is(err, context.Canceled) || errors.As(err, &ve) {
			t.Fatalf("got %v, want context.Canceled and no vendor fault", err)
		}
	})
	t.Run("during a Retry-After wait", func(t *testing.T) {
		sim.Fail("contacts", 1, Fault{Status: 429, RetryAfter: "20"})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := pollIDs(t, ctx, poller{url: "/plain/contacts"}.request(t, srv.URL))
		if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
			t.Fatalf("got %v after %s, want context.Canceled at once", err, time.Since(start))
		}
	})
}

func TestPollEmitError(t *testing.T) {
	sim, srv := newSim(t, SimOptions{})
	seed(sim, 10)
	stop := errors.New("outbox full")
	var n int
	p := poller{url: "/offset/contacts", pagination: `{"type":"offset","hasMorePath":"has_more"}`, recordsPath: "data", pageSize: 2}
	err := New().Poll(context.Background(), p.request(t, srv.URL), func(source.Record) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("got %v, want emit's error", err)
	}
	if n != 3 || sim.Requests() != 2 {
		t.Errorf("emitted %d records in %d requests after the error; want 3 in 2", n, sim.Requests())
	}
}

// TestPollRequest checks what goes on the wire: the poller URL's own query
// is kept as written, pagination parameters are added or replaced, and the
// fixed headers are sent.
func TestPollRequest(t *testing.T) {
	var (
		mu      sync.Mutex
		queries []string
		headers http.Header
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.Path+"?"+r.URL.RawQuery)
		headers = r.Header.Clone()
		mu.Unlock()
		off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		fmt.Fprintf(w, `{"rows":[{"id":"r%d"}],"more":%t}`, off, off == 0)
	}))
	defer srv.Close()
	p := poller{
		url:         "/api/x?where=date_updated>'2026-01-01'&offset=9&limit=5&sort=a%2Bb",
		pagination:  `{"type":"offset","hasMorePath":"more"}`,
		recordsPath: "rows", pageSize: 3,
	}
	got, err := pollIDs(t, context.Background(), p.request(t, srv.URL+"/base"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"r0", "r1"}) {
		t.Errorf("records %v", got)
	}
	want := []string{
		"/base/api/x?where=date_updated>'2026-01-01'&sort=a%2Bb&offset=0&limit=3",
		"/base/api/x?where=date_updated>'2026-01-01'&sort=a%2Bb&offset=1&limit=3",
	}
	if !slices.Equal(queries, want) {
		t.Errorf("requests:\n got %q\nwant %q", queries, want)
	}
	if headers.Get("Accept") != "application/json" || headers.Get("User-Agent") != "pollwire" || headers.Get("Authorization") != "" {
		t.Errorf("headers %v", headers)
	}
}

// TestPollNotAdvancing feeds pagination that would loop forever.
func TestPollNotAdvancing(t *testing.T) {
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cursor":
			fmt.Fprint(w, `{"data":[{"id":1}],"next":"same"}`)
		case "/cursor-cycle":
			// a → b → a
			next := "a"
			if r.URL.Query().Get("cursor") == "a" {
				next = "b"
			}
			fmt.Fprintf(w, `{"data":[{"id":1}],"next":%q}`, next)
		case "/next":
			fmt.Fprintf(w, `{"data":[{"id":1}],"next":%q}`, srvURL+"/next?page=2")
		case "/link":
			w.Header().Set("Link", `</link?page=2>; rel="next"`)
			fmt.Fprint(w, `[{"id":1}]`)
		case "/offset":
			fmt.Fprint(w, `{"data":[],"has_more":true}`)
		case "/elsewhere":
			fmt.Fprint(w, `{"data":[{"id":1}],"next":"https://attacker.example/steal"}`)
		case "/downgrade":
			fmt.Fprintf(w, `{"data":[{"id":1}],"next":%q}`, strings.Replace(srvURL, "http:", "https:", 1)+"/x")
		}
	}))
	defer srv.Close()
	srvURL = srv.URL
	cases := []struct{ name, url, pagination, msg string }{
		{"same cursor", "/cursor", `{"type":"cursor","cursorPath":"next"}`, `cursor "same" came back twice`},
		{"cursor cycle", "/cursor-cycle", `{"type":"cursor","cursorPath":"next"}`, `cursor "a" came back twice`},
		{"same next URL", "/next", `{"type":"next","nextPath":"next"}`, "next page " + srv.URL + "/next?page=2 came back twice"},
		{"same Link", "/link", `{"type":"next"}`, "came back twice"},
		{"offset with an empty page", "/offset", `{"type":"offset","hasMorePath":"has_more"}`, "offset=0 returned no records but has_more is true"},
		{"next on another host", "/elsewhere", `{"type":"next","nextPath":"next"}`, "is not on base.url's origin"},
		{"next on another scheme", "/downgrade", `{"type":"next","nextPath":"next"}`, "is not on base.url's origin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := poller{url: tc.url, pagination: tc.pagination, recordsPath: "data", pageSize: 1}
			if tc.url == "/link" {
				p.recordsPath = ""
			}
			_, err := pollIDs(t, context.Background(), p.request(t, srv.URL))
			var ve *source.VendorError
			if !errors.As(err, &ve) || !strings.Contains(ve.Message, tc.msg) {
				t.Fatalf("got %v, want a VendorError saying %q", err, tc.msg)
			}
		})
	}
}

func TestPollBodyTooLarge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/declared" {
			w.Header().Set("Content-Length", strconv.Itoa(MaxBodySize+1))
			w.WriteHeader(http.StatusOK)
			return // the client must refuse before reading
		}
		// Chunked, so only reading tells the size.
		chunk := []byte("[" + strings.Repeat(`1,`, 1<<19))
		for written := 0; written <= MaxBodySize; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			chunk[0] = ','
		}
	}))
	defer srv.Close()
	for _, path := range []string{"/declared", "/streamed"} {
		t.Run(path, func(t *testing.T) {
			// 64 MiB under -race on a loaded machine takes a while: the test is
			// about the size limit, not speed.
			_, err := pollIDs(t, context.Background(), poller{url: path, timeout: time.Minute}.request(t, srv.URL))
			var ve *source.VendorError
			if !errors.As(err, &ve) || ve.Status != 200 || !strings.Contains(ve.Message, "larger than 64 MiB") {
				t.Fatalf("got %v, want a too-large VendorError", err)
			}
		})
	}
}

func TestPollConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		p    poller
		base string
		msg  string
	}{
		{"bad pagination", poller{url: "/x", pagination: `{"type":"scroll"}`}, "http://h", `type "scroll" is not one of`},
		{"bad auth type", poller{url: "/x", config: map[string]string{KeyAuthType: "oauth"}}, "http://h", `authentication.type "oauth"`},
		{"relative base", poller{url: "/x"}, "h/api", "is not an absolute URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pollIDs(t, context.Background(), tc.p.request(t, tc.base))
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %q", err, tc.msg)
			}
		})
	}
}

// TestPollConcurrent runs polls of one Source in parallel with writes to the
// vendor, for the race detector; each poll must still see a consistent
// prefix of the records it pages through.
func TestPollConcurrent(t *testing.T) {
	sim, srv := newSim(t, SimOptions{})
	want := seed(sim, 30)
	src := New()
	var wg sync.WaitGroup
	for i := range 4 {
		p := poller{url: "/cursor/contacts", pagination: `{"type":"cursor","cursorPath":"next_cursor"}`, recordsPath: "data", pageSize: 1 + i}
		req := p.request(t, srv.URL)
		wg.Go(func() {
			var ids []string
			err := src.Poll(context.Background(), req, func(r source.Record) error {
				ids = append(ids, gjson.GetBytes(r.Raw, "id").String())
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			// Writes land after the seeded records, so those come first.
			if len(ids) < len(want) || !slices.Equal(ids[:len(want)], want) {
				t.Errorf("poll %d: got %v", i, ids)
			}
		})
	}
	for i := range 20 {
		sim.PutAt("contacts", map[string]any{"id": fmt.Sprintf("new_%02d", i)}, t0.Add(time.Hour))
	}
	wg.Wait()
}

func TestWithQuery(t *testing.T) {
	u, _ := url.Parse("https://h/x?a=1&limit=9&b=%2B&limit=8&c")
	cases := []struct {
		kv   []string
		want string
	}{
		{[]string{"limit", "3"}, "a=1&b=%2B&c&limit=3"},
		{[]string{"limit", ""}, "a=1&limit=9&b=%2B&limit=8&c"},
		{[]string{"cursor", "a b&c", "limit", "2"}, "a=1&b=%2B&c&cursor=a+b%26c&limit=2"},
	}
	for _, tc := range cases {
		if got := withQuery(u, tc.kv...).RawQuery; got != tc.want {
			t.Errorf("withQuery(%v) = %q, want %q", tc.kv, got, tc.want)
		}
	}
	if u.RawQuery != "a=1&limit=9&b=%2B&limit=8&c" {
		t.Errorf("withQuery changed its argument: %q", u.RawQuery)
	}
}

func TestResolveNext(t *testing.T) {
	base, _ := url.Parse("https://api.example.com/v1")
	current, _ := url.Parse("https://api.example.com/v1/contacts?page=1")
	cases := []struct {
		nextPath bool // from the body (else a Link header)
		ref      string
		want     string // "" for an error
	}{
		{true, "https://api.example.com/v1/contacts?page=2", "https://api.example.com/v1/contacts?page=2"},
		{true, "/contacts?page=2", "https://api.example.com/v1/contacts?page=2"},
		{true, "/v1/contacts?page=2", "https://api.example.com/v1/contacts?page=2"},
		{true, "?page=2", "https://api.example.com/v1/contacts?page=2"},
		{true, "HTTPS://API.example.com/v1/x", "https://API.example.com/v1/x"},
		{false, "/v1/contacts?page=2", "https://api.example.com/v1/contacts?page=2"},
		{false, "contacts?page=2", "https://api.example.com/v1/contacts?page=2"},
		{true, "https://other.example.com/v1/contacts", ""},
		{true, "http://api.example.com/v1/contacts", ""},
		{true, "//other.example.com/x", ""},
		{true, "https://api.example.com:8443/v1", ""},
		{true, "%zz", ""},
	}
	for _, tc := range cases {
		p := &poll{base: base}
		if tc.nextPath {
			p.pg.NextPath = "next"
		}
		u, err := p.resolveNext(current, tc.ref)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("resolveNext(%q) = %s, want an error", tc.ref, u)
		case tc.want != "" && (err != nil || u.String() != tc.want):
			t.Errorf("resolveNext(%q) = %v, %v; want %s", tc.ref, u, err, tc.want)
		}
	}
}

func TestLinkNext(t *testing.T) {
	cases := []struct {
		header []string
		want   string
	}{
		{[]string{`<https://a/x?page=2>; rel="next", <https://a/x?page=9>; rel="last"`}, "https://a/x?page=2"},
		{[]string{`<https://a/x?page=9>; rel="last", <https://a/x?page=2>; rel="next"`}, "https://a/x?page=2"},
		{[]string{`<https://a/x?page=1>; rel="prev"`, `<https://a/x?page=2>; rel=next`}, "https://a/x?page=2"},
		{[]string{`<https://a/x?ids=1,2>; title="a, b"; rel="prev next"`}, "https://a/x?ids=1,2"},
		{[]string{`<https://a/x>; REL="Next"`}, "https://a/x"},
		{[]string{`<https://a/x>; rel="nextpage"`}, ""},
		{[]string{`https://a/x; rel="next"`}, ""},
		{[]string{`<https://a/x; rel="next"`}, ""},
		{nil, ""},
	}
	for _, tc := range cases {
		if got := linkNext(tc.header); got != tc.want {
			t.Errorf("linkNext(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	u, _ := url.Parse("https://user:pw@h/x?api_key=s1&page=2&Access-Token=s2&sig=s3&q=a")
	got := redact(u)
	for _, secret := range []string{"user", "pw", "s1", "s2", "s3"} {
		if strings.Contains(got, secret) {
			t.Errorf("redact = %s, leaks %q", got, secret)
		}
	}
	if want := "https://h/x?api_key=REDACTED&page=2&Access-Token=REDACTED&sig=REDACTED&q=a"; got != want {
		t.Errorf("redact = %s, want %s", got, want)
	}
}

func TestVendorMessage(t *testing.T) {
	cases := []struct{ body, want string }{
		{`{"message":"m"}`, "m"},
		{`{"error":"e","error_description":"d"}`, "e"},
		{`{"error":{"message":"em","code":3}}`, "em"},
		{`{"errors":[{"message":"first"},{"message":"second"}]}`, "first"},
		{`{"detail":"problem detail","title":"t"}`, "problem detail"},
		{`{"message":"  "}`, `{"message":"  "}`},
		{``, "empty response body"},
		{"bad\x00gateway\n", "bad gateway"},
		{strings.Repeat("x", 300), strings.Repeat("x", 200) + "…"},
		{"\xff\xfe", "\uFFFD"},
	}
	for _, tc := range cases {
		if got := vendorMessage([]byte(tc.body)); got != tc.want {
			t.Errorf("vendorMessage(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}

// BenchmarkPoll polls 1,000 records in pages of 100 from the simulator.
func BenchmarkPoll(b *testing.B) {
	sim, srv := newSim(b, SimOptions{MaxLimit: 100})
	for i := range 1000 {
		sim.PutAt("contacts", map[string]any{"name": fmt.Sprintf("contact %d", i), "email": fmt.Sprintf("c%d@example.com", i), "score": i}, t0.Add(time.Duration(i)*time.Millisecond))
	}
	p := poller{url: "/cursor/contacts", pagination: `{"type":"cursor","cursorPath":"next_cursor"}`, recordsPath: "data", pageSize: 100}
	req := p.request(b, srv.URL)
	src := New()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := src.Poll(context.Background(), req, func(source.Record) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != 1000 {
			b.Fatalf("%d records", n)
		}
	}
}
