package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/api"
)

const (
	closeAPIKey   = "api_4ZtQm8RkWx2NvLp7HcYb3J.6sDfGh1KaE9uPoTi5XnBqM"
	closePassword = "Vf3q-Tz8w-Kp2m"
)

func instancePath(id int64) string { return fmt.Sprintf("%s/instances/%d", api.Base, id) }

// configOf returns the configuration of an instance view.
func configOf(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	c, ok := v["configuration"].(map[string]any)
	if !ok {
		t.Fatalf("configuration is %T", v["configuration"])
	}
	return c
}

func TestPatch(t *testing.T) {
	ts := newTestServer(t)
	id := instanceID(t, ts.create(closePolling(t)))

	t.Run("one key changes, the rest and the secrets stay", func(t *testing.T) {
		before := ts.stored(id)
		r := ts.admin("PATCH", instancePath(id), []byte(`{"configuration": {"event.poller.refresh_interval": "5"}}`))
		mustStatus(t, r, http.StatusOK)
		c := configOf(t, r.Object(t))
		if c["event.poller.refresh_interval"] != "5" {
			t.Errorf("refresh_interval %v, want 5", c["event.poller.refresh_interval"])
		}
		if c["username"] != instances.Mask || c["password"] != instances.Mask {
			t.Errorf("secrets not masked: %v %v", c["username"], c["password"])
		}
		after := ts.stored(id)
		if after.Config["event.poller.refresh_interval"] != "5" {
			t.Errorf("stored refresh_interval %q", after.Config["event.poller.refresh_interval"])
		}
		delete(after.Config, "event.poller.refresh_interval")
		if !reflect.DeepEqual(after.Config, before.Config) || !reflect.DeepEqual(after.Secrets, before.Secrets) {
			t.Errorf("other keys changed:\n%v %v\nwant\n%v %v", after.Config, after.Secrets, before.Config, before.Secrets)
		}
		if after.Name != before.Name || !reflect.DeepEqual(after.Tags, before.Tags) || after.Token != before.Token {
			t.Errorf("name, tags or token changed")
		}
	})
	t.Run("the masked value keeps the stored secret", func(t *testing.T) {
		r := ts.admin("PATCH", instancePath(id), []byte(`{"configuration": {"username": "********", "password": "********", "event.notification.callback.url": "https://hooks.northwind-trading.com/v2/close"}}`))
		mustStatus(t, r, http.StatusOK)
		got := ts.stored(id)
		if got.Secrets["username"] != closeAPIKey || got.Secrets["password"] != closePassword {
			t.Errorf("stored secrets %q %q, want the original ones", got.Secrets["username"], got.Secrets["password"])
		}
		if got.Config["event.notification.callback.url"] != "https://hooks.northwind-trading.com/v2/close" {
			t.Errorf("callback URL %q", got.Config["event.notification.callback.url"])
		}
	})
	t.Run("a new secret replaces the stored one", func(t *testing.T) {
		mustStatus(t, ts.admin("PATCH", instancePath(id), []byte(`{"configuration": {"username": "api_rotated.7Hk2Lm"}}`)), http.StatusOK)
		if got := ts.stored(id).Secrets["username"]; got != "api_rotated.7Hk2Lm" {
			t.Errorf("username %q", got)
		}
		mustStatus(t, ts.admin("PATCH", instancePath(id), []byte(`{"configuration": {"username": "`+closeAPIKey+`"}}`)), http.StatusOK)
	})
	t.Run("null removes a key", func(t *testing.T) {
		r := ts.admin("PATCH", instancePath(id), []byte(`{"configuration": {"event.poller.refresh_interval": null, "password": null}}`))
		mustStatus(t, r, http.StatusOK)
		c := configOf(t, r.Object(t))
		if _, ok := c["event.poller.refresh_interval"]; ok {
			t.Error("refresh_interval still in the answer")
		}
		if _, ok := c["password"]; ok {
			t.Error("password still in the answer")
		}
		got := ts.stored(id)
		if _, ok := got.Value("event.poller.refresh_interval"); ok {
			t.Error("refresh_interval still stored")
		}
		if _, ok := got.Value("password"); ok {
			t.Error("password still stored")
		}
		if got.Secrets["username"] != closeAPIKey {
			t.Error("username lost")
		}
	})
	t.Run("name, tags and disabled", func(t *testing.T) {
		r := ts.admin("PATCH", instancePath(id), []byte(`{"name": "close-prod-renamed", "tags": ["a", "b"], "disabled": true}`))
		mustStatus(t, r, http.StatusOK)
		v := r.Object(t)
		if v["name"] != "close-prod-renamed" || !reflect.DeepEqual(v["tags"], []any{"a", "b"}) || v["disabled"] != true {
			t.Errorf("answer %s", r.Body)
		}
		got := ts.stored(id)
		if got.Name != "close-prod-renamed" || !got.Disabled {
			t.Errorf("stored %q disabled=%v", got.Name, got.Disabled)
		}
	})

	invalid := []struct {
		name, body, path string
	}{
		{"bad interval", `{"configuration": {"event.poller.refresh_interval": "fast"}}`, `configuration."event.poller.refresh_interval"`},
		{"removing a required key", `{"configuration": {"username": null}}`, "configuration.username"},
		{"bad poller url", `{"configuration": {"event.poller.configuration": {"contacts": {"url": "contacts"}}}}`, pollerCfg + ".contacts.url"},
		{"connector change", `{"connector": {"key": "hubspot"}}`, "connector.key"},
		{"element change", `{"element": {"key": "salesforce"}}`, "connector.key"},
		{"blank name", `{"name": ""}`, "name"},
		{"not JSON", `{"name": `, ""},
		{"configuration not an object", `{"configuration": "x"}`, "configuration"},
	}
	for _, tt := range invalid {
		t.Run("invalid: "+tt.name, func(t *testing.T) {
			before := ts.stored(id)
			eb := mustError(t, ts.admin("PATCH", instancePath(id), []byte(tt.body)), http.StatusBadRequest)
			if !hasPath(eb, tt.path) {
				t.Errorf("errors %+v do not name %s", eb.Errors, tt.path)
			}
			if after := ts.stored(id); !reflect.DeepEqual(after, before) {
				t.Errorf("stored instance changed:\n%+v\nwant\n%+v", after, before)
			}
		})
	}
}

func TestPut(t *testing.T) {
	ts := newTestServer(t)
	created := ts.create(closePolling(t))
	id := instanceID(t, created)

	t.Run("GET, edit, PUT back whole keeps the secrets", func(t *testing.T) {
		g := ts.admin("GET", instancePath(id), nil)
		mustStatus(t, g, http.StatusOK)
		v := g.Object(t)
		configOf(t, v)["event.poller.refresh_interval"] = "10"
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		r := ts.admin("PUT", instancePath(id), b)
		mustStatus(t, r, http.StatusOK)
		got := ts.stored(id)
		if got.Secrets["username"] != closeAPIKey || got.Secrets["password"] != closePassword {
			t.Errorf("secrets %q %q, want the original ones", got.Secrets["username"], got.Secrets["password"])
		}
		if got.Config["event.poller.refresh_interval"] != "10" {
			t.Errorf("refresh_interval %q", got.Config["event.poller.refresh_interval"])
		}
		if got.Token != created["token"] {
			t.Error("PUT changed the token")
		}
	})
	t.Run("PUT replaces configuration, tags and name", func(t *testing.T) {
		b := []byte(`{
			"connector": {"key": "closeio"},
			"name": "close-webhooks-only",
			"configuration": {
				"username": "********",
				"event.notification.enabled": "true",
				"event.notification.callback.url": "https://hooks.northwind-trading.com/pollwire/close",
				"event.vendor.type": "webhook"
			}
		}`)
		r := ts.admin("PUT", instancePath(id), b)
		mustStatus(t, r, http.StatusOK)
		v := r.Object(t)
		if v["name"] != "close-webhooks-only" || !reflect.DeepEqual(v["tags"], []any{}) {
			t.Errorf("name %v tags %v", v["name"], v["tags"])
		}
		got := ts.stored(id)
		for _, gone := range []string{"password", "event.poller.configuration", "event.poller.refresh_interval"} {
			if _, ok := got.Value(gone); ok {
				t.Errorf("%q survived the PUT", gone)
			}
		}
		if got.Secrets["username"] != closeAPIKey {
			t.Errorf("username %q, want the stored one kept through the mask", got.Secrets["username"])
		}
		if got.Config["event.vendor.type"] != "webhook" {
			t.Errorf("vendor type %q", got.Config["event.vendor.type"])
		}
	})
	invalid := []struct {
		name, body, path string
	}{
		{"connector change", `{"connector": {"key": "hubspot"}, "name": "x", "configuration": {"hubspot.access.token": "pat-1"}}`, "connector.key"},
		{"missing name", `{"configuration": {"username": "********"}}`, "name"},
		{"missing configuration", `{"name": "x"}`, "configuration"},
		{"missing username", `{"name": "x", "configuration": {"event.vendor.type": "webhook"}}`, "configuration.username"},
		{"ftp callback", `{"name": "x", "configuration": {"username": "********", "event.notification.enabled": true, "event.notification.callback.url": "ftp://x.example/y", "event.vendor.type": "webhook"}}`, `configuration."event.notification.callback.url"`},
	}
	for _, tt := range invalid {
		t.Run("invalid: "+tt.name, func(t *testing.T) {
			before := ts.stored(id)
			eb := mustError(t, ts.admin("PUT", instancePath(id), []byte(tt.body)), http.StatusBadRequest)
			if !hasPath(eb, tt.path) {
				t.Errorf("errors %+v do not name %s", eb.Errors, tt.path)
			}
			if after := ts.stored(id); !reflect.DeepEqual(after, before) {
				t.Errorf("stored instance changed")
			}
		})
	}
}

func TestEnabledAndDelete(t *testing.T) {
	ts := newTestServer(t)
	id := instanceID(t, ts.create(closePolling(t)))
	other := instanceID(t, ts.create(closeWebhook(t)))

	r := ts.admin("DELETE", instancePath(id)+"/enabled", nil)
	mustStatus(t, r, http.StatusOK)
	if r.Object(t)["disabled"] != true || !ts.stored(id).Disabled {
		t.Fatalf("DELETE enabled: %s", r.Body)
	}
	g := ts.admin("GET", instancePath(id), nil)
	if g.Object(t)["disabled"] != true {
		t.Errorf("GET shows %s", g.Body)
	}
	r = ts.admin("PUT", instancePath(id)+"/enabled", nil)
	mustStatus(t, r, http.StatusOK)
	if r.Object(t)["disabled"] != false || ts.stored(id).Disabled {
		t.Fatalf("PUT enabled: %s", r.Body)
	}
	// Toggling keeps the secrets.
	if got := ts.stored(id).Secrets["username"]; got != closeAPIKey {
		t.Errorf("username %q after toggling", got)
	}

	r = ts.admin("DELETE", instancePath(id), nil)
	mustStatus(t, r, http.StatusOK)
	mustError(t, ts.admin("GET", instancePath(id), nil), http.StatusNotFound)
	mustError(t, ts.admin("DELETE", instancePath(id), nil), http.StatusNotFound)
	mustError(t, ts.admin("PUT", instancePath(id)+"/enabled", nil), http.StatusNotFound)
	list := ts.admin("GET", api.Base+"/instances", nil).Array(t)
	if len(list) != 1 || instanceID(t, list[0].(map[string]any)) != other {
		t.Fatalf("after delete the list is %v, want only instance %d", list, other)
	}
	// Ids are not reused.
	if next := instanceID(t, ts.create(closePolling(t))); next <= other {
		t.Errorf("new id %d, want above %d", next, other)
	}
}
