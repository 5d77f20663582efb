package api_test

import (
	"bytes"
	"net/http"
	"os"
	"reflect"
	"testing"

	"github.com/pollwire/pollwire/runtime/api"
)

const signatureKey = "whsec_c2lnbmluZy1rZXktZm9yLXRlc3RzLW9ubHk="

func TestInstancesSurviveRestart(t *testing.T) {
	ts := newTestServer(t)
	created := ts.create(body(t, closePolling(t), cfg("event.notification.signature.key", signatureKey)))
	id := instanceID(t, created)
	before := ts.stored(id)

	ts.restart()

	g := ts.admin("GET", instancePath(id), nil)
	mustStatus(t, g, http.StatusOK)
	if got := g.Object(t); !reflect.DeepEqual(got, created) {
		t.Errorf("after restart GET =\n%v\nwant\n%v", got, created)
	}
	if after := ts.stored(id); !reflect.DeepEqual(after, before) {
		t.Errorf("after restart the store holds\n%+v\nwant\n%+v", after, before)
	}
	if list := ts.admin("GET", api.Base+"/instances", nil).Array(t); len(list) != 1 {
		t.Errorf("%d instances after restart, want 1", len(list))
	}
	// The token still works after the restart.
	mustStatus(t, ts.do("DELETE", api.Base+"/instances/enabled", nil, ts.auth(created["token"].(string))), http.StatusOK)
}

func TestSecretsNotInFile(t *testing.T) {
	ts := newTestServer(t)
	ts.create(body(t, closePolling(t), cfg("event.notification.signature.key", signatureKey)))
	hs := ts.create(hubspotBody(t))
	// A PATCH rewrites the record; the secrets must stay sealed.
	mustStatus(t, ts.admin("PATCH", instancePath(instanceID(t, hs)), []byte(`{"configuration": {"event.poller.refresh_interval": "3m"}}`)), http.StatusOK)
	ts.stop()

	raw, err := os.ReadFile(ts.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{
		closeAPIKey,
		closePassword,
		signatureKey,
		"pat-eu1-3f9c2b7e-81d4-4a6f-9e2c-5b7d1a0c8e34", // hubspot.access.token
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",       // hubspot's signature key
	} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the bbolt file contains the secret %q", secret)
		}
	}
	// The check above would pass on an empty or unreadable file: plain
	// values must be there.
	for _, plain := range []string{"close-prod-contacts", "hubspot-eu", "https://hooks.northwind-trading.com/pollwire/close"} {
		if !bytes.Contains(raw, []byte(plain)) {
			t.Errorf("the bbolt file lacks the plain value %q", plain)
		}
	}
}
