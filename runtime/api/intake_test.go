package api_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/pollwire/pollwire/connectors/registry"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/api"
	"github.com/pollwire/pollwire/runtime/clock"
	"github.com/pollwire/pollwire/runtime/delivery"
	"github.com/pollwire/pollwire/runtime/engine"
	"github.com/pollwire/pollwire/runtime/secrets"
	"github.com/pollwire/pollwire/runtime/store"
)

// failingEngine cannot store anything.
type failingEngine struct{ calls int }

func (f *failingEngine) Apply(*instances.Instance, *instances.Settings) {}
func (f *failingEngine) Remove(int64)                                   {}
func (f *failingEngine) Pollers(int64) []engine.PollerStatus            { return nil }
func (f *failingEngine) RunNow(int64, string) error                     { return engine.ErrNoPoller }
func (f *failingEngine) Redeliver([]delivery.Delivery)                  {}
func (f *failingEngine) AcceptWebhook(context.Context, *instances.Instance, *instances.Settings, []source.Change) (int, error) {
	f.calls++
	return 0, errors.New("disk full")
}

// acceptAll verifies anything.
type acceptAll struct{}

func (acceptAll) Verify(*source.WebhookRequest) error { return nil }
func (acceptAll) Changes(*source.WebhookRequest) ([]source.Change, error) {
	return []source.Change{{Resource: "contacts", Type: "UPDATED", ObjectID: "x"}}, nil
}

// TestIntakeAnswers5xxWhenTheStoreFails: the vendor must retry when the
// events are not durable.
func TestIntakeAnswers5xxWhenTheStoreFails(t *testing.T) {
	sealer, _ := secrets.NewSealer(make([]byte, 32))
	st, err := store.Open(filepath.Join(t.TempDir(), "p.db"), sealer)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	req, err := instances.DecodeRequest([]byte(`{"connector":{"key":"rest"},"name":"r","configuration":{"base.url":"https://api.example.com"}}`))
	if err != nil {
		t.Fatal(err)
	}
	inst, _, err := instances.New(req, registry.Default(), clock.Real().Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateInstance(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	inst.Config["event.notification.enabled"] = "true"
	inst.Config["event.notification.callback.url"] = "https://cb.example.com/h"
	inst.Config["event.poller.configuration"] = `{"contacts":{"url":"/c","datesConfiguration":{"updatedDateField":"u"}}}`
	if err := st.UpdateInstance(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	eng := &failingEngine{}
	srv := httptest.NewServer(api.New(api.Config{
		Store: st, Catalog: registry.Default(), Credentials: api.Credentials{User: "u", Organization: "o"},
		Engine: eng, Webhooks: map[string]source.Webhook{"rest": acceptAll{}},
	}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+engine.IntakePath("rest", inst.ID), "application/json", bytes.NewReader([]byte(`{}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || eng.calls != 1 {
		t.Fatalf("status %d, Retry-After %q, engine calls %d; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), eng.calls)
	}
}
