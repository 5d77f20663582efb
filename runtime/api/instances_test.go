package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/api"
)

const pollerCfg = `configuration."event.poller.configuration"`

// TestCreateValidInstances provisions SAP's own Close samples and one body per
// other connector, and checks the answer and both reads show the same
// instance with its secrets masked.
func TestCreateValidInstances(t *testing.T) {
	tests := []struct {
		name      string
		body      func(*testing.T) []byte
		connector string
		secrets   []string // configuration keys that must come back masked
	}{
		// SAP's polling sample, placeholders filled in.
		{"seed close polling", closePolling, "closeio", []string{"username", "password"}},
		// SAP's webhook sample, placeholders filled in; SAP's page has a
		// trailing comma after "event.vendor.type": "webhook", which is
		// invalid JSON, so the testdata file drops that comma and nothing else.
		{"seed close webhook", closeWebhook, "closeio", []string{"username", "password"}},
		{"hubspot private app", hubspotBody, "hubspot", []string{"hubspot.access.token", "event.notification.signature.key"}},
		{"rest bearer, poller configuration as a JSON string", restBody, "rest", []string{"bearer.token"}},
		{"salesforce jwt", salesforceBody, "salesforce", []string{"oauth.private.key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t)
			sent := body(t, tt.body(t))
			var req map[string]any
			if err := json.Unmarshal(sent, &req); err != nil {
				t.Fatal(err)
			}
			sentCfg := req["configuration"].(map[string]any)

			r := ts.admin("POST", api.Base+"/instances", sent)
			mustStatus(t, r, http.StatusOK)
			created := r.Object(t)
			id := instanceID(t, created)
			if tok, _ := created["token"].(string); tok == "" {
				t.Errorf("token %v, want a non-empty string", created["token"])
			}
			elem, _ := created["element"].(map[string]any)
			if elem["key"] != tt.connector || elem["hub"] != "crm" || elem["name"] == "" {
				t.Errorf("element %v, want key %s in hub crm with a name", elem, tt.connector)
			}
			if created["name"] != req["name"] {
				t.Errorf("name %v, want %v", created["name"], req["name"])
			}
			wantTags := req["tags"]
			if wantTags == nil {
				wantTags = []any{}
			}
			if !reflect.DeepEqual(created["tags"], wantTags) {
				t.Errorf("tags %v, want %v", created["tags"], wantTags)
			}
			if created["createdDate"] != testNow.Format(time.RFC3339) {
				t.Errorf("createdDate %v, want %v", created["createdDate"], testNow.Format(time.RFC3339))
			}
			if created["disabled"] != false || created["eventsEnabled"] != true {
				t.Errorf("disabled %v, eventsEnabled %v; want false, true", created["disabled"], created["eventsEnabled"])
			}

			conf, _ := created["configuration"].(map[string]any)
			for _, k := range tt.secrets {
				if conf[k] != instances.Mask {
					t.Errorf("configuration %q = %v, want %q", k, conf[k], instances.Mask)
				}
				if v, _ := sentCfg[k].(string); v != "" && bytes.Contains(r.Body, []byte(jsonString(v))) {
					t.Errorf("the answer contains the secret value of %q", k)
				}
			}
			for k := range sentCfg {
				if _, ok := conf[k]; !ok {
					t.Errorf("configuration lost %q", k)
				}
			}
			if pc, ok := conf["event.poller.configuration"]; ok {
				if _, isObj := pc.(map[string]any); !isObj {
					t.Errorf("event.poller.configuration is %T, want the object", pc)
				}
			}
			// The real values are in the store.
			inst := ts.stored(id)
			for _, k := range tt.secrets {
				if got, want := inst.Secrets[k], fmt.Sprint(sentCfg[k]); got != want {
					t.Errorf("stored secret %q = %q, want %q", k, got, want)
				}
			}

			// GET /instances/{id} and GET /instances show the same thing.
			g := ts.admin("GET", fmt.Sprintf("%s/instances/%d", api.Base, id), nil)
			mustStatus(t, g, http.StatusOK)
			if got := g.Object(t); !reflect.DeepEqual(got, created) {
				t.Errorf("GET /instances/%d =\n%v\nwant the POST answer\n%v", id, got, created)
			}
			l := ts.admin("GET", api.Base+"/instances", nil)
			mustStatus(t, l, http.StatusOK)
			list := l.Array(t)
			if len(list) != 1 || !reflect.DeepEqual(list[0], any(created)) {
				t.Errorf("GET /instances = %v, want [the POST answer]", list)
			}
			for _, k := range tt.secrets {
				v, _ := sentCfg[k].(string)
				if v != "" && (bytes.Contains(g.Body, []byte(jsonString(v))) || bytes.Contains(l.Body, []byte(jsonString(v)))) {
					t.Errorf("a GET answer contains the secret value of %q", k)
				}
			}
		})
	}
}

// jsonString is s as it appears inside a JSON string (PEM keys have newlines).
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// TestCreateElementSpelling accepts Cloud Elements' "element" for "connector"
// and a whole SAP answer's element object.
func TestCreateElementSpelling(t *testing.T) {
	ts := newTestServer(t)
	b := body(t, closePolling(t),
		set("connector", remove),
		set("element", map[string]any{"id": 146, "key": "closeio", "name": "Close.io Beta", "hub": "crm"}))
	v := ts.create(b)
	if v["element"].(map[string]any)["key"] != "closeio" {
		t.Fatalf("element %v, want closeio", v["element"])
	}
}

// TestBlankPollerConfiguration: a webhook instance may carry an empty poller
// configuration, and every answer about it must still be JSON.
func TestBlankPollerConfiguration(t *testing.T) {
	ts := newTestServer(t)
	v := ts.create(body(t, closeWebhook(t), cfg("event.poller.configuration", "")))
	id := instanceID(t, v)
	if got := configOf(t, v)["event.poller.configuration"]; got != "" {
		t.Errorf("event.poller.configuration %v, want the empty string", got)
	}
	mustStatus(t, ts.admin("GET", instancePath(id), nil), http.StatusOK)
	ts.admin("GET", instancePath(id), nil).Object(t)
	ts.admin("GET", api.Base+"/instances", nil).Array(t)
}

func TestCreateInvalid(t *testing.T) {
	tests := []struct {
		name string
		body func(t *testing.T) []byte
		path string // must be among the errors' paths; "" is the body itself
	}{
		{"not JSON", raw(`connector=closeio&name=x`), ""},
		{"empty body", raw(``), ""},
		{"JSON null", raw(`null`), ""},
		{"JSON array", raw(`[{"connector": {"key": "closeio"}}]`), ""},
		{"JSON string", raw(`"closeio"`), ""},
		{"trailing garbage", appendRaw(closePolling, ` {"name": "again"}`), ""},
		{"trailing closing brace", appendRaw(closePolling, `}`), ""},
		{"invalid UTF-8", raw("{\"connector\": {\"key\": \"closeio\"}, \"name\": \"close-\xff\", \"configuration\": {\"username\": \"k\"}}"), ""},
		{"truncated", func(t *testing.T) []byte { b := closePolling(t); return b[:len(b)/2] }, ""},
		{"missing connector", edited(closePolling, set("connector", remove)), "connector.key"},
		{"connector without key", edited(closePolling, set("connector", map[string]any{"name": "closeio"})), "connector.key"},
		{"connector key not a string", edited(closePolling, set("connector", map[string]any{"key": 7})), "connector.key"},
		{"unknown connector", edited(closePolling, set("connector", map[string]any{"key": "pipedrive"})), "connector.key"},
		{"element and connector disagree", edited(closePolling, set("element", map[string]any{"key": "hubspot"})), "element.key"},
		{"unknown top-level field", edited(closePolling, set("configurations", map[string]any{})), "configurations"},
		{"missing name", edited(closePolling, set("name", remove)), "name"},
		{"name not a string", edited(closePolling, set("name", 42)), "name"},
		{"blank name", edited(closePolling, set("name", "   ")), "name"},
		{"name too long", edited(closePolling, set("name", strings.Repeat("n", instances.MaxNameLength+1))), "name"},
		{"tags not strings", edited(closePolling, set("tags", []any{1, 2})), "tags"},
		{"tags not an array", edited(closePolling, set("tags", "sales")), "tags"},
		{"blank tag", edited(closePolling, set("tags", []any{"sales", " "})), "tags[1]"},
		{"disabled not a boolean", edited(closePolling, set("disabled", "no")), "disabled"},
		{"missing configuration", edited(closePolling, set("configuration", remove)), "configuration"},
		{"configuration not an object", edited(closePolling, set("configuration", "username=abc")), "configuration"},
		{"configuration an array", edited(closePolling, set("configuration", []any{"username"})), "configuration"},
		{"closeio without username", edited(closePolling, cfg("username", remove)), "configuration.username"},
		{"closeio with empty username", edited(closePolling, cfg("username", "")), "configuration.username"},
		{"ftp callback URL", edited(closePolling, cfg("event.notification.callback.url", "ftp://files.northwind-trading.com/drop")), `configuration."event.notification.callback.url"`},
		{"callback URL without host", edited(closePolling, cfg("event.notification.callback.url", "https:///hooks/close")), `configuration."event.notification.callback.url"`},
		{"relative callback URL", edited(closePolling, cfg("event.notification.callback.url", "/hooks/close")), `configuration."event.notification.callback.url"`},
		{"callback URL with credentials", edited(closePolling, cfg("event.notification.callback.url", "https://bob:pw@hooks.northwind-trading.com/x")), `configuration."event.notification.callback.url"`},
		{"notifications enabled without callback URL", edited(closePolling, cfg("event.notification.callback.url", remove)), `configuration."event.notification.callback.url"`},
		{"notifications enabled not a boolean", edited(closePolling, cfg("event.notification.enabled", "yes")), `configuration."event.notification.enabled"`},
		{"refresh interval fast", edited(closePolling, cfg("event.poller.refresh_interval", "fast")), `configuration."event.poller.refresh_interval"`},
		{"refresh interval 0", edited(closePolling, cfg("event.poller.refresh_interval", "0")), `configuration."event.poller.refresh_interval"`},
		{"refresh interval 500ms", edited(closePolling, cfg("event.poller.refresh_interval", "500ms")), `configuration."event.poller.refresh_interval"`},
		{"refresh interval negative", edited(closePolling, cfg("event.poller.refresh_interval", -5)), `configuration."event.poller.refresh_interval"`},
		{"refresh interval bad cron", edited(closePolling, cfg("event.poller.refresh_interval", "cron:not a cron")), `configuration."event.poller.refresh_interval"`},
		{"refresh interval cron TZ without schedule", edited(closePolling, cfg("event.poller.refresh_interval", "cron:TZ=Europe/Paris")), `configuration."event.poller.refresh_interval"`},
		{"refresh interval cron that never fires", edited(closePolling, cfg("event.poller.refresh_interval", "cron:0 0 30 2 *")), `configuration."event.poller.refresh_interval"`},
		{"unknown event key", edited(closePolling, cfg("event.poller.refreshInterval", "5")), `configuration."event.poller.refreshInterval"`},
		{"retry count not a number", edited(closePolling, cfg("event.notification.retry.count", "three")), `configuration."event.notification.retry.count"`},
		{"retry count negative", edited(closePolling, cfg("event.notification.retry.count", -1)), `configuration."event.notification.retry.count"`},
		{"retry count too large", edited(closePolling, cfg("event.notification.retry.count", 101)), `configuration."event.notification.retry.count"`},
		{"batch size 0", edited(closePolling, cfg("event.notification.batch.size", 0)), `configuration."event.notification.batch.size"`},
		{"batch size fractional", edited(closePolling, cfg("event.notification.batch.size", 2.5)), `configuration."event.notification.batch.size"`},
		{"retry interval words", edited(closePolling, cfg("event.notification.retry.interval", "soon")), `configuration."event.notification.retry.interval"`},
		{"retry interval under 1s", edited(closePolling, cfg("event.notification.retry.interval", "10ms")), `configuration."event.notification.retry.interval"`},
		{"vendor type bogus", edited(closePolling, cfg("event.vendor.type", "push")), `configuration."event.vendor.type"`},
		{"webhook vendor type for salesforce", edited(salesforceBody, cfg("event.vendor.type", "webhook")), `configuration."event.vendor.type"`},
		{"webhooks for rest without a signature key", edited(restBody, cfg("event.vendor.type", "webhooks")), `configuration."event.webhook.signature.key"`},
		{"poller start not RFC 3339", edited(closePolling, cfg("event.poller.start", "2026-01-02 15:04")), `configuration."event.poller.start"`},
		{"poller configuration invalid JSON string", edited(closePolling, cfg("event.poller.configuration", `{"contacts": {"url": "/hubs/crm/contacts"}`)), pollerCfg},
		{"poller configuration an array", edited(closePolling, cfg("event.poller.configuration", []any{map[string]any{"url": "/hubs/crm/contacts"}})), pollerCfg},
		{"poller configuration a number", edited(closePolling, cfg("event.poller.configuration", 15)), pollerCfg},
		{"polling without poller configuration", edited(closePolling, cfg("event.poller.configuration", remove)), pollerCfg},
		{"resource not an object", edited(closePolling, cfg("event.poller.configuration", map[string]any{"contacts": "/hubs/crm/contacts"})), pollerCfg + ".contacts"},
		{"bad resource name", edited(closePolling, cfg("event.poller.configuration", map[string]any{"my contacts": map[string]any{"url": "/hubs/crm/contacts"}})), pollerCfg + `."my contacts"`},
		{"resource without url", edited(closePolling, poller("contacts", "url", remove)), pollerCfg + ".contacts.url"},
		{"url not a string", edited(closePolling, poller("contacts", "url", 5)), pollerCfg + ".contacts.url"},
		{"url not starting with /", edited(closePolling, poller("contacts", "url", "https://api.close.com/api/v1/contact/")), pollerCfg + ".contacts.url"},
		{"unknown placeholder", edited(closePolling, poller("contacts", "url", "/hubs/crm/contacts?where=date_updated>'${nope}'")), pollerCfg + ".contacts.url"},
		{"unterminated placeholder", edited(closePolling, poller("contacts", "url", "/hubs/crm/contacts?where=date_updated>'${gmtDate:yyyy-MM-dd")), pollerCfg + ".contacts.url"},
		{"bad date pattern in placeholder", edited(closePolling, poller("contacts", "url", "/hubs/crm/contacts?where=date_updated>'${gmtDate:yyyy-MM-dd'T'HH:mm:bb}'")), pollerCfg + ".contacts.url"},
		{"hub resource the connector lacks", edited(closePolling, poller("contacts", "url", "/hubs/crm/widgets?where=date_updated>'${gmtDate:yyyy-MM-dd}'")), pollerCfg + ".contacts.url"},
		{"wrong hub", edited(closePolling, poller("contacts", "url", "/hubs/marketing/contacts")), pollerCfg + ".contacts.url"},
		{"hubs path on the rest connector", edited(restBody, cfg("event.poller.configuration", map[string]any{"invoices": map[string]any{"url": "/hubs/crm/contacts", "datesConfiguration": map[string]any{"updatedDateField": "updated_at"}}})), pollerCfg + ".invoices.url"},
		{"rest url without updatedDateField", edited(restBody, cfg("event.poller.configuration", map[string]any{"invoices": map[string]any{"url": "/invoices"}})), pollerCfg + ".invoices.datesConfiguration.updatedDateField"},
		{"idField empty", edited(closePolling, poller("contacts", "idField", "")), pollerCfg + ".contacts.idField"},
		{"datesConfiguration not an object", edited(closePolling, poller("contacts", "datesConfiguration", "date_updated")), pollerCfg + ".contacts.datesConfiguration"},
		{"bad updatedDateFormat letter", edited(closePolling, dates("contacts", "updatedDateFormat", "yyyy-MM-dd'T'HH:mm:ss.bbbbbb")), pollerCfg + ".contacts.datesConfiguration.updatedDateFormat"},
		{"unterminated quote in createdDateFormat", edited(closePolling, dates("contacts", "createdDateFormat", "yyyy-MM-dd'T")), pollerCfg + ".contacts.datesConfiguration.createdDateFormat"},
		{"unknown timezone", edited(closePolling, dates("contacts", "updatedDateTimezone", "Mars/Olympus_Mons")), pollerCfg + ".contacts.datesConfiguration.updatedDateTimezone"},
		{"date field not a string", edited(closePolling, dates("contacts", "updatedDateField", 3)), pollerCfg + ".contacts.datesConfiguration.updatedDateField"},
		{"unknown datesConfiguration field", edited(closePolling, dates("contacts", "updatedDateFeild", "date_updated")), pollerCfg + ".contacts.datesConfiguration.updatedDateFeild"},
		{"unknown poller field", edited(closePolling, poller("contacts", "pagesize", 50)), pollerCfg + ".contacts.pagesize"},
		{"rest field on closeio", edited(closePolling, poller("contacts", "recordsPath", "data")), pollerCfg + ".contacts.recordsPath"},
		{"pageSize 0", edited(closePolling, poller("contacts", "pageSize", 0)), pollerCfg + ".contacts.pageSize"},
		{"pageSize fractional", edited(closePolling, poller("contacts", "pageSize", 10.5)), pollerCfg + ".contacts.pageSize"},
		{"pageSize not a number", edited(closePolling, poller("contacts", "pageSize", "lots")), pollerCfg + ".contacts.pageSize"},
		{"negative lookback", edited(closePolling, poller("contacts", "lookback", "-1m")), pollerCfg + ".contacts.lookback"},
		{"negative lookback seconds", edited(closePolling, poller("contacts", "lookback", -30)), pollerCfg + ".contacts.lookback"},
		{"lookback over a day", edited(closePolling, poller("contacts", "lookback", "25h")), pollerCfg + ".contacts.lookback"},
		{"negative pollDelay", edited(closePolling, poller("contacts", "pollDelay", -1)), pollerCfg + ".contacts.pollDelay"},
		{"filterByUpdatedDate not a boolean", edited(closePolling, poller("contacts", "filterByUpdatedDate", "maybe")), pollerCfg + ".contacts.filterByUpdatedDate"},
		{"rest without base.url", edited(restBody, cfg("base.url", remove)), `configuration."base.url"`},
		{"rest base.url not http", edited(restBody, cfg("base.url", "file:///etc/passwd")), `configuration."base.url"`},
		{"rest bearer without token", edited(restBody, cfg("bearer.token", remove)), `configuration."bearer.token"`},
		{"rest unknown auth type", edited(restBody, cfg("authentication.type", "kerberos")), `configuration."authentication.type"`},
		{"rest bad pagination type", edited(restBody, cfg("event.poller.configuration", map[string]any{"invoices": map[string]any{"url": "/invoices", "pagination": map[string]any{"type": "scroll"}, "datesConfiguration": map[string]any{"updatedDateField": "updated_at"}}})), pollerCfg + ".invoices.pagination"},
		{"hubspot private app without token", edited(hubspotBody, cfg("hubspot.access.token", remove)), `configuration."hubspot.access.token"`},
		{"hubspot oauth2 missing refresh token", edited(hubspotBody, cfg("hubspot.access.token", remove), cfg("authentication.type", "oauth2"), cfg("oauth.api.key", "8d3e2f1a-5b6c-4d7e-9f80-1a2b3c4d5e6f"), cfg("oauth.api.secret", "c0ffee00-1234-4abc-8def-0123456789ab")), `configuration."oauth.refresh.token"`},
		{"salesforce bad PEM key", edited(salesforceBody, cfg("oauth.private.key", "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n")), `configuration."oauth.private.key"`},
		{"salesforce key not PEM", edited(salesforceBody, cfg("oauth.private.key", "MIIEowIBAAKCAQEA")), `configuration."oauth.private.key"`},
		{"salesforce without username", edited(salesforceBody, cfg("salesforce.username", remove)), `configuration."salesforce.username"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t)
			r := ts.admin("POST", api.Base+"/instances", tt.body(t))
			eb := mustError(t, r, http.StatusBadRequest)
			if len(eb.Errors) == 0 {
				t.Fatalf("no errors listed: %s", r.Body)
			}
			if !hasPath(eb, tt.path) {
				t.Errorf("errors %+v do not name %s", eb.Errors, tt.path)
			}
			for _, fe := range eb.Errors {
				if fe.Message == "" {
					t.Errorf("error at %q has no message", fe.Path)
				}
			}
			ts.mustBeEmpty(t)
		})
	}
	if len(tests) < 30 {
		t.Fatalf("only %d invalid bodies", len(tests))
	}
}

// raw is a body written out whole.
func raw(s string) func(*testing.T) []byte {
	return func(*testing.T) []byte { return []byte(s) }
}

// appendRaw is a valid body followed by more bytes.
func appendRaw(base func(*testing.T) []byte, tail string) func(*testing.T) []byte {
	return func(t *testing.T) []byte { return append(base(t), tail...) }
}

// edited is a valid body with edits.
func edited(base func(*testing.T) []byte, edits ...edit) func(*testing.T) []byte {
	return func(t *testing.T) []byte { return body(t, base(t), edits...) }
}
