package api_test

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/pollwire/pollwire/runtime/api"
)

func TestListElements(t *testing.T) {
	ts := newTestServer(t)
	r := ts.admin("GET", api.Base+"/elements", nil)
	mustStatus(t, r, http.StatusOK)
	var keys []any
	for _, e := range r.Array(t) {
		el := e.(map[string]any)
		keys = append(keys, el["key"])
		if el["hub"] != "crm" || el["name"] == "" || el["polling"] != true {
			t.Errorf("element %v: want hub crm, a name and polling", el)
		}
	}
	if want := []any{"closeio", "hubspot", "rest", "salesforce"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("element keys %v, want %v", keys, want)
	}
}

func TestElementMetadata(t *testing.T) {
	ts := newTestServer(t)
	r := ts.admin("GET", api.Base+"/elements/closeio/metadata", nil)
	mustStatus(t, r, http.StatusOK)
	md := r.Object(t)
	if md["key"] != "closeio" || md["webhooks"] != true {
		t.Errorf("metadata %v", md)
	}
	if res, _ := md["resources"].([]any); len(res) == 0 {
		t.Error("no pollable resources listed")
	}
	byKey := map[string]map[string]any{}
	for _, c := range md["configuration"].([]any) {
		ck := c.(map[string]any)
		byKey[ck["key"].(string)] = ck
	}
	user := byKey["username"]
	if user == nil || user["secret"] != true || user["required"] != true {
		t.Errorf("username %v, want a required secret", user)
	}
	if pw := byKey["password"]; pw == nil || pw["secret"] != true {
		t.Errorf("password %v, want a secret", pw)
	}
	for key, def := range map[string]string{
		"event.poller.refresh_interval":     "15",
		"event.notification.retry.count":    "3",
		"event.notification.retry.interval": "5m",
		"event.notification.batch.size":     "10",
		"event.vendor.type":                 "polling",
		"event.notification.enabled":        "false",
	} {
		if got := byKey[key]; got == nil || got["defaultValue"] != def {
			t.Errorf("%s: %v, want default %q", key, got, def)
		}
	}
	for _, key := range []string{"base.url", "event.notification.callback.url", "event.poller.configuration", "event.poller.start"} {
		if byKey[key] == nil {
			t.Errorf("common key %s missing", key)
		}
	}
	if sig := byKey["event.notification.signature.key"]; sig == nil || sig["secret"] != true {
		t.Errorf("signature key %v, want a secret", sig)
	}
	var fields []string
	for _, f := range md["pollerFields"].([]any) {
		fields = append(fields, f.(map[string]any)["key"].(string))
	}
	for _, want := range []string{"url", "idField", "datesConfiguration", "pageSize", "lookback"} {
		found := false
		for _, f := range fields {
			found = found || f == want
		}
		if !found {
			t.Errorf("poller field %s missing from %v", want, fields)
		}
	}

	t.Run("rest lists its own poller fields", func(t *testing.T) {
		r := ts.admin("GET", api.Base+"/elements/rest/metadata", nil)
		mustStatus(t, r, http.StatusOK)
		found := false
		for _, f := range r.Object(t)["pollerFields"].([]any) {
			found = found || f.(map[string]any)["key"] == "pagination"
		}
		if !found {
			t.Error("rest metadata lacks the pagination field")
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		mustError(t, ts.admin("GET", api.Base+"/elements/pipedrive/metadata", nil), http.StatusNotFound)
	})
}
