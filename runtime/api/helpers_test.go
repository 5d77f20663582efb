package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // date time zones in the test bodies, whatever the host has

	"github.com/pollwire/pollwire/connectors/registry"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/api"
	"github.com/pollwire/pollwire/runtime/clock"
	"github.com/pollwire/pollwire/runtime/secrets"
	"github.com/pollwire/pollwire/runtime/store"
)

// Known admin credentials of the test servers.
const (
	testUser = "usr_7c1d5e0b9a3f4e21"
	testOrg  = "org_2b8e6f4a1c9d7e35"
)

// testNow is the fake clock's time: createdDate of every instance.
var testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// testServer is the admin API over real HTTP on loopback, backed by a real
// bbolt store in t.TempDir().
type testServer struct {
	t      *testing.T
	URL    string
	Store  *store.Bolt
	Creds  api.Credentials
	DBPath string
	key    []byte
	srv    *httptest.Server
}

// newTestServer builds the real store (sealed with a fresh master key), the
// built-in connectors and an httptest.Server over api.New. Everything is
// closed on cleanup.
func newTestServer(t *testing.T) *testServer {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{
		t:      t,
		Creds:  api.Credentials{User: testUser, Organization: testOrg},
		DBPath: filepath.Join(t.TempDir(), "pollwire.db"),
		key:    key,
	}
	ts.start()
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) start() {
	ts.t.Helper()
	sealer, err := secrets.NewSealer(ts.key)
	if err != nil {
		ts.t.Fatal(err)
	}
	st, err := store.Open(ts.DBPath, sealer, store.WithLockTimeout(time.Second))
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.Store = st
	ts.srv = httptest.NewServer(api.New(api.Config{
		Store:       st,
		Catalog:     registry.Default(),
		Credentials: ts.Creds,
		Clock:       clock.NewFake(testNow),
	}))
	ts.URL = ts.srv.URL
}

// stop closes the HTTP server and the store; safe to call twice.
func (ts *testServer) stop() {
	if ts.srv != nil {
		ts.srv.Close()
		ts.srv = nil
	}
	if ts.Store != nil {
		if err := ts.Store.Close(); err != nil {
			ts.t.Errorf("close store: %v", err)
		}
		ts.Store = nil
	}
}

// restart closes everything and opens the same file with the same key, as a
// daemon restart does.
func (ts *testServer) restart() {
	ts.t.Helper()
	ts.stop()
	ts.start()
}

// auth is the admin Authorization header; element, if given, adds the
// Element part.
func (ts *testServer) auth(element ...string) string {
	h := "User " + ts.Creds.User + ", Organization " + ts.Creds.Organization
	for _, e := range element {
		h += ", Element " + e
	}
	return h
}

// response is an answer read whole.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value, numbers kept exact.
func (r response) JSON(t *testing.T) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("answer is not JSON (%v): %s", err, r.Body)
	}
	return v
}

// Object decodes the body as a JSON object.
func (r response) Object(t *testing.T) map[string]any {
	t.Helper()
	m, ok := r.JSON(t).(map[string]any)
	if !ok {
		t.Fatalf("answer is not a JSON object: %s", r.Body)
	}
	return m
}

// Array decodes the body as a JSON array.
func (r response) Array(t *testing.T) []any {
	t.Helper()
	a, ok := r.JSON(t).([]any)
	if !ok {
		t.Fatalf("answer is not a JSON array: %s", r.Body)
	}
	return a
}

// do sends one request; authz "" sends no Authorization header.
func (ts *testServer) do(method, path string, body []byte, authz string) response {
	ts.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, ts.URL+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	res, err := ts.srv.Client().Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		ts.t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// admin sends a request with the admin credentials.
func (ts *testServer) admin(method, path string, body []byte) response {
	ts.t.Helper()
	return ts.do(method, path, body, ts.auth())
}

// mustStatus fails the test unless r has status want.
func mustStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body: %s", r.Status, want, r.Body)
	}
}

// create POSTs body and returns the created instance's view.
func (ts *testServer) create(body []byte) map[string]any {
	ts.t.Helper()
	r := ts.admin("POST", api.Base+"/instances", body)
	mustStatus(ts.t, r, http.StatusOK)
	return r.Object(ts.t)
}

// instanceID reads the integer id of an instance view.
func instanceID(t *testing.T, view map[string]any) int64 {
	t.Helper()
	n, ok := view["id"].(json.Number)
	if !ok {
		t.Fatalf("id is %T %v, want a JSON number", view["id"], view["id"])
	}
	id, err := n.Int64()
	if err != nil || id < 1 {
		t.Fatalf("id %s is not a positive integer", n)
	}
	return id
}

// stored reads an instance straight from the store, secrets included.
func (ts *testServer) stored(id int64) *instances.Instance {
	ts.t.Helper()
	inst, err := ts.Store.GetInstance(context.Background(), id)
	if err != nil {
		ts.t.Fatalf("store: %v", err)
	}
	return inst
}

// mustBeEmpty fails unless neither the API nor the store has any instance.
func (ts *testServer) mustBeEmpty(t *testing.T) {
	t.Helper()
	r := ts.admin("GET", api.Base+"/instances", nil)
	mustStatus(t, r, http.StatusOK)
	if a := r.Array(t); len(a) != 0 {
		t.Fatalf("GET /instances lists %d instances, want none", len(a))
	}
	all, err := ts.Store.ListInstances(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 0 {
		t.Fatalf("the store holds %d instances, want none", len(all))
	}
}

// readTestdata returns the bytes of testdata/name.
func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit changes a decoded instance.json body.
type edit func(t *testing.T, top map[string]any)

// remove, as a value of set, cfg, poller or dates, deletes the field.
var remove = new(int)

func put(m map[string]any, k string, v any) {
	if v == remove {
		delete(m, k)
		return
	}
	m[k] = v
}

// object returns m[k] as an object, creating it when missing.
func object(t *testing.T, m map[string]any, k string) map[string]any {
	t.Helper()
	if m[k] == nil {
		m[k] = map[string]any{}
	}
	o, ok := m[k].(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, not an object", k, m[k])
	}
	return o
}

// set sets a top-level field.
func set(k string, v any) edit {
	return func(t *testing.T, top map[string]any) { put(top, k, v) }
}

// cfg sets a configuration key.
func cfg(k string, v any) edit {
	return func(t *testing.T, top map[string]any) { put(object(t, top, "configuration"), k, v) }
}

// poller sets a field of a resource's poller configuration.
func poller(resource, field string, v any) edit {
	return func(t *testing.T, top map[string]any) {
		pc := object(t, object(t, top, "configuration"), "event.poller.configuration")
		put(object(t, pc, resource), field, v)
	}
}

// dates sets a field of a resource's datesConfiguration.
func dates(resource, field string, v any) edit {
	return func(t *testing.T, top map[string]any) {
		pc := object(t, object(t, top, "configuration"), "event.poller.configuration")
		put(object(t, object(t, pc, resource), "datesConfiguration"), field, v)
	}
}

// body decodes base, applies edits and encodes the result.
func body(t *testing.T, base []byte, edits ...edit) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(base))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		t.Fatalf("base body: %v", err)
	}
	for _, e := range edits {
		e(t, top)
	}
	b, err := json.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Valid bodies the tests start from.
func closePolling(t *testing.T) []byte { return readTestdata(t, "seed-close-polling.json") }
func closeWebhook(t *testing.T) []byte { return readTestdata(t, "seed-close-webhook.json") }
func hubspotBody(t *testing.T) []byte  { return readTestdata(t, "hubspot-polling.json") }
func restBody(t *testing.T) []byte     { return readTestdata(t, "rest-polling.json") }

// salesforceBody is a valid Salesforce instance; its private key is made
// at run time so no key lives in the repository.
func salesforceBody(t *testing.T) []byte {
	t.Helper()
	return body(t, []byte(`{
		"connector": {"key": "salesforce"},
		"name": "sfdc-prod",
		"configuration": {
			"oauth.api.key": "3MVG9fe4g9fhX0E5VnZr8bKq2LmTn7Wx.Yc4dJh6Ga1sPo0QiUe3RtBvKl5MzN",
			"salesforce.username": "integration@northwind-trading.com",
			"event.notification.enabled": "true",
			"event.notification.callback.url": "https://hooks.northwind-trading.com/pollwire/salesforce",
			"event.poller.configuration": {"contacts": {"url": "/hubs/crm/contacts"}}
		}
	}`), cfg("oauth.private.key", testRSAKey(t)))
}

var rsaKey = sync.OnceValues(func() (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})), nil
})

func testRSAKey(t *testing.T) string {
	t.Helper()
	k, err := rsaKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// errorBody is the admin API's error answer.
type errorBody struct {
	RequestID string                 `json:"requestId"`
	Message   string                 `json:"message"`
	Errors    []instances.FieldError `json:"errors"`
}

// mustError checks that r is a JSON error answer with status and a
// requestId, and returns it.
func mustError(t *testing.T, r response, status int) errorBody {
	t.Helper()
	mustStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var eb errorBody
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("error body is not {requestId, message, errors}: %v: %s", err, r.Body)
	}
	if eb.RequestID == "" {
		t.Errorf("error body has no requestId: %s", r.Body)
	}
	if eb.Message == "" {
		t.Errorf("error body has no message: %s", r.Body)
	}
	return eb
}

// hasPath reports whether the errors name path.
func hasPath(eb errorBody, path string) bool {
	for _, fe := range eb.Errors {
		if fe.Path == path {
			return true
		}
	}
	return false
}
