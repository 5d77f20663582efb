package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testClock is a manual clock whose Sleep moves it: code under test that
// waits for a rate limit finishes at once, and the simulator sees the time
// it waited.
type testClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func newTestClock(t time.Time) *testClock { return &testClock{now: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *testClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept += d
	return nil
}

func (c *testClock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

// seen is one request the simulator answered.
type seen struct {
	Method, Path, Query string
	Body                []byte
	Status              int
	Auth                string
}

// env is a simulator on loopback, recording requests, and a Source on the
// same clock.
type env struct {
	t   *testing.T
	clk *testClock
	sim *Simulator
	srv *httptest.Server
	src *Source

	mu   sync.Mutex
	log  []seen
	hook func(r *http.Request) // runs before the simulator answers
}

func newEnv(t *testing.T, opts SimOptions) *env {
	t.Helper()
	e := &env{t: t, clk: newTestClock(t0)}
	if opts.Now == nil {
		opts.Now = e.clk.Now
	}
	e.sim = NewSimulator(opts)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		e.mu.Lock()
		hook := e.hook
		e.mu.Unlock()
		if hook != nil {
			hook(r)
		}
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		e.sim.ServeHTTP(rec, r)
		e.mu.Lock()
		e.log = append(e.log, seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, Status: rec.status, Auth: r.Header.Get("Authorization")})
		e.mu.Unlock()
	}))
	t.Cleanup(e.srv.Close)
	e.src = NewWithOptions(Options{Now: e.clk.Now, Sleep: e.clk.Sleep})
	return e
}

func (e *env) setHook(h func(r *http.Request)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hook = h
}

func (e *env) requests() []seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]seen(nil), e.log...)
}

// count counts recorded requests matching method, a path suffix and status
// (0: any).
func (e *env) count(method, pathSuffix string, status int) int {
	n := 0
	for _, s := range e.requests() {
		if s.Method == method && strings.HasSuffix(s.Path, pathSuffix) && (status == 0 || s.Status == status) {
			n++
		}
	}
	return n
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// instance is a HubSpot instance of the env with cfg (plain values) and
// pollers (resource → poller object).
func (e *env) instance(id int64, cfg map[string]string, pollers map[string]any) (*instances.Instance, *instances.Settings) {
	e.t.Helper()
	all := map[string]string{"base.url": e.srv.URL}
	for k, v := range cfg {
		all[k] = v
	}
	if pollers != nil {
		pc, err := json.Marshal(pollers)
		if err != nil {
			e.t.Fatal(err)
		}
		all["event.poller.configuration"] = string(pc)
	}
	s, err := instances.Compile(Spec, all)
	if err != nil {
		e.t.Fatalf("compile: %v", err)
	}
	inst := &instances.Instance{ID: id, ConnectorKey: Key, Config: map[string]string{}, Secrets: map[string]string{}}
	for k, v := range all {
		if Spec.IsSecret(k) {
			inst.Secrets[k] = v
		} else {
			inst.Config[k] = v
		}
	}
	return inst, s
}

func privateApp(token string) map[string]string {
	return map[string]string{KeyAuthType: AuthPrivateApp, KeyAccessToken: token}
}

func oauth(id, secret, refresh string) map[string]string {
	return map[string]string{KeyAuthType: AuthOAuth2, KeyClientID: id, KeyClientSecret: secret, KeyRefreshToken: refresh}
}

func hubPoller(resource, where string) map[string]any {
	u := "/hubs/crm/" + resource
	if where != "" {
		u += "?where=" + where
	}
	return map[string]any{"url": u, "datesConfiguration": map[string]any{"updatedDateField": "updatedAt", "createdDateField": "createdAt"}}
}

// request is one poll of resource over [since, clock now].
func (e *env) request(inst *instances.Instance, s *instances.Settings, resource string, since time.Time) *source.Request {
	e.t.Helper()
	p, ok := s.Poller(resource)
	if !ok {
		e.t.Fatalf("no poller %s", resource)
	}
	return &source.Request{Instance: inst, Settings: s, Poller: p, Since: since, Now: e.clk.Now(), ServerLocation: time.UTC, Client: e.srv.Client()}
}

// poll runs a poll and returns what it emitted.
func (e *env) poll(req *source.Request) ([]source.Record, error) {
	var out []source.Record
	err := e.src.Poll(context.Background(), req, func(r source.Record) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// ids returns the ids of records (search results by their id field,
// deletions by ID), in order.
func ids(t *testing.T, recs []source.Record) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		if r.Deleted {
			out = append(out, "-"+r.ID)
			continue
		}
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(r.Raw, &v); err != nil || v.ID == "" {
			t.Fatalf("record is not a HubSpot object: %s (%v)", r.Raw, err)
		}
		out = append(out, v.ID)
	}
	return out
}
