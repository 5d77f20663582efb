package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors/hubspot"
	"github.com/pollwire/pollwire/runtime/engine"
)

// TestHubSpotWebhooksEndToEnd: the HubSpot simulator pushes signed v3
// webhooks for every create, update and archive to the instance's intake
// URL (configured in the app, as HubSpot does); each change reaches the
// callback once.
func TestHubSpotWebhooksEndToEnd(t *testing.T) {
	sim := hubspot.NewSimulator(hubspot.SimOptions{
		PrivateAppToken: "pat", WebhookSecret: "app-client-secret",
		WebhookRetry: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond},
	})
	vendor := httptest.NewServer(sim)
	defer vendor.Close()
	sink := &eventSink{events: map[string]int{}}
	callback := httptest.NewServer(sink)
	defer callback.Close()
	d, err := Start(context.Background(), Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), UserSecret: "u-secret", OrgSecret: "o-secret",
		AllowPrivateCallbacks: true, Out: io.Discard, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	e := &e2e{t: t, base: "http://" + d.Addr()}
	var inst struct {
		ID      int64  `json:"id"`
		Message string `json:"message"`
	}
	if st := e.do("POST", "/elements/api-v2/instances", map[string]any{
		"connector": map[string]any{"key": "hubspot"}, "name": "hs-hooks",
		"configuration": map[string]any{
			"hubspot.access.token": "pat", "base.url": vendor.URL,
			"event.webhook.signature.key": "app-client-secret",
			"event.vendor.type":           "webhook", "event.notification.enabled": "true",
			"event.notification.callback.url": callback.URL,
		},
	}, &inst); st != 200 {
		t.Fatalf("provision: %d %s", st, inst.Message)
	}
	sim.SetWebhookURL(e.base + engine.IntakePath("hubspot", inst.ID))

	want := map[string]bool{}
	key := func(o hubspot.Object, at time.Time) string {
		return o.ID + "@" + at.UTC().Format(time.RFC3339Nano)
	}
	var ids []hubspot.Object
	for i := 0; i < 60; i++ {
		typ := []string{"contacts", "companies", "deals"}[i%3]
		o := sim.Create(typ, map[string]string{"name": fmt.Sprint("n", i)})
		ids = append(ids, o)
		want[key(o, o.UpdatedAt)] = true
		time.Sleep(time.Millisecond) // distinct millisecond stamps
	}
	for i, o := range ids {
		switch i % 3 {
		case 0:
			a, _ := sim.Archive(o.Type, o.ID)
			want[o.ID+"@DELETED"] = true
			_ = a
		case 1:
			u, _ := sim.Update(o.Type, o.ID, map[string]string{"name": fmt.Sprint("edited ", i)})
			want[key(u, u.UpdatedAt)] = true
		}
		time.Sleep(time.Millisecond)
	}
	if err := sim.FlushWebhooks(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sent, delivered, _ := sim.Webhooks(); sent == 0 || delivered != sent {
		t.Fatalf("HubSpot sent %d webhook requests, %d delivered", sent, delivered)
	}
	deliveredOnce(t, sink, want)
}
