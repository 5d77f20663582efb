package instances_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/registry"
	"github.com/pollwire/pollwire/instances"
)

// fuzzSeedFiles are the instance bodies the other packages test with.
var fuzzSeedFiles = []string{
	"../runtime/api/testdata/*.json",
	"../cmd/pollwire/testdata/*.json",
	"../examples/*.json",
}

// fuzzSeeds reach the corners the files do not: other connectors, the
// string form of the poller configuration, placeholders, odd values.
var fuzzSeeds = []string{
	`{"connector":{"key":"closeio"},"name":"c","configuration":{"username":"k","event.vendor.type":"webhooks","event.notification.enabled":true,"event.notification.callback.url":"http://h/x"}}`,
	`{"element":{"key":"closeio"},"name":"c","configuration":{"username":"k","event.poller.configuration":""}}`,
	`{"connector":{"key":"closeio"},"name":"c","configuration":{"username":"k","event.poller.refresh_interval":"cron:TZ=UTC"}}`,
	`{"connector":{"key":"closeio"},"name":"c","configuration":{"username":"k","event.poller.refresh_interval":"cron:@every 90s"}}`,
	`{"connector":{"key":"closeio"},"name":"c","configuration":{"username":"k","event.poller.configuration":"{\"contacts\":{\"url\":\"/hubs/crm/contacts?t=${epoch:ms}\",\"lookback\":90,\"pageSize\":\"50\"}}"}}`,
	`{"connector":{"key":"hubspot"},"name":"h","configuration":{"authentication.type":"oauth2","oauth.api.key":"id","oauth.api.secret":"s3cr3t","oauth.refresh.token":"r3fr3sh","event.poller.configuration":{"accounts":{"url":"/hubs/crm/accounts","filterByCurrentDate":"true"}}}}`,
	`{"connector":{"key":"rest"},"name":"r","configuration":{"base.url":"https://api.example.com","authentication.type":"header","auth.header.name":"X-Key","auth.header.value":"hv4lue","event.poller.configuration":{"items":{"url":"/items?since=${dateTimeZone:Europe/Paris:yyyy-MM-dd HH:mm}","pagination":{"type":"page","firstPage":0},"datesConfiguration":{"updatedDateField":"meta.updated","updatedDateFormat":"milliseconds","updatedDateTimezone":"Asia/Tokyo"}}}}}`,
	`{"connector":{"key":"salesforce"},"name":"s","configuration":{"oauth.api.key":"k","salesforce.username":"u@x","oauth.private.key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}}`,
	`{"connector":{"key":"closeio"},"name":" c ","tags":null,"disabled":true,"configuration":{"username":"********","password":null,"pagination.max":100,"x":{"a":[1,2]}}}`,
	`{"connector":{"key":"closeio"}}}`,
	`[]`,
	`null`,
}

var fuzzNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// FuzzDecodeInstance feeds arbitrary bodies through the POST path. It must
// never panic; a refused body must be a *ValidationError; an accepted one
// must compile from its stored form, keep its secrets out of Masked, and
// survive the "GET, send back whole with PUT" and empty PATCH round trips.
func FuzzDecodeInstance(f *testing.F) {
	for _, pattern := range fuzzSeedFiles {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	cat := registry.Default()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := instances.DecodeRequest(body)
		if err != nil {
			mustBeValidation(t, err)
			return
		}
		inst, settings, err := instances.New(req, cat, fuzzNow)
		if err != nil {
			mustBeValidation(t, err)
			return
		}
		checkAccepted(t, cat, inst, settings)
	})
}

func mustBeValidation(t *testing.T, err error) {
	t.Helper()
	var ve *instances.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, instances.ErrInvalid) {
		t.Fatalf("error %T %v is not a validation error", err, err)
	}
	if len(ve.Errors) == 0 {
		t.Fatal("validation error lists no problem")
	}
	for _, fe := range ve.Errors {
		if fe.Message == "" {
			t.Fatalf("problem at %q has no message", fe.Path)
		}
	}
}

// plainSecret matches secrets that cannot straddle JSON punctuation, so a
// substring match in the masked JSON can only be a leak.
var plainSecret = regexp.MustCompile(`^[A-Za-z0-9_.-]{6,}$`)

func checkAccepted(t *testing.T, cat connectors.Catalog, inst *instances.Instance, settings *instances.Settings) {
	t.Helper()
	if settings == nil || inst.Token == "" || inst.Name == "" || inst.Tags == nil {
		t.Fatalf("accepted instance incomplete: %+v settings %v", inst, settings)
	}
	spec, ok := cat.Lookup(inst.ConnectorKey)
	if !ok {
		t.Fatalf("accepted unknown connector %q", inst.ConnectorKey)
	}
	again, err := inst.Settings(cat)
	if err != nil {
		t.Fatalf("accepted instance does not compile from its stored form: %v", err)
	}
	if again.Schedule.Text != settings.Schedule.Text || len(again.Pollers) != len(settings.Pollers) ||
		again.CallbackURL != settings.CallbackURL || again.VendorType != settings.VendorType {
		t.Fatalf("settings differ when compiled again:\n%+v\n%+v", again, settings)
	}

	for k := range inst.Config {
		if spec.IsSecret(k) {
			t.Fatalf("secret key %q stored as plain configuration", k)
		}
	}
	for k := range inst.Secrets {
		if !spec.IsSecret(k) {
			t.Fatalf("plain key %q stored as a secret", k)
		}
	}
	masked := inst.Masked()
	if len(masked) != len(inst.Config)+len(inst.Secrets) {
		t.Fatalf("Masked has %d keys, want %d", len(masked), len(inst.Config)+len(inst.Secrets))
	}
	for k := range inst.Secrets {
		if masked[k] != instances.Mask {
			t.Fatalf("Masked()[%q] = %v, want the mask", k, masked[k])
		}
	}
	plain := map[string]any{}
	for k, v := range inst.Config {
		got, err := json.Marshal(masked[k])
		if err != nil {
			t.Fatalf("Masked()[%q] does not encode: %v", k, err)
		}
		if normalize(k, string(got), true) != normalize(k, v, false) {
			t.Fatalf("Masked()[%q] = %s, want the stored %q", k, got, v)
		}
		plain[k] = masked[k]
	}
	out, err := json.Marshal(masked)
	if err != nil {
		t.Fatalf("Masked() does not encode: %v", err)
	}
	plainOut, _ := json.Marshal(plain)
	for k, s := range inst.Secrets {
		if plainSecret.MatchString(s) && bytes.Contains(out, []byte(s)) && !bytes.Contains(plainOut, []byte(s)) {
			t.Fatalf("Masked() shows the secret %q of %q: %s", s, k, out)
		}
	}

	// GET → PUT whole: the admin API's view, sent back, changes nothing.
	view, err := json.Marshal(map[string]any{
		"id": inst.ID, "token": inst.Token, "name": inst.Name, "tags": inst.Tags,
		"element":       map[string]any{"key": inst.ConnectorKey, "name": spec.Name, "hub": spec.Hub},
		"configuration": masked, "disabled": inst.Disabled, "eventsEnabled": settings.NotificationsEnabled,
		"valid": true, "createdDate": inst.CreatedAt, "updatedDate": inst.UpdatedAt,
	})
	if err != nil {
		t.Fatal(err)
	}
	req, err := instances.DecodeRequest(view)
	if err != nil {
		t.Fatalf("the instance's own view does not decode: %v\n%s", err, view)
	}
	put, _, err := instances.Replace(inst, req, cat, fuzzNow)
	if err != nil {
		t.Fatalf("PUT of the instance's own view refused: %v\n%s", err, view)
	}
	sameInstance(t, "PUT of its view", put, inst)

	empty, err := instances.DecodeRequest([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	patched, _, err := instances.Patch(inst, empty, cat, fuzzNow)
	if err != nil {
		t.Fatalf("empty PATCH refused: %v", err)
	}
	sameInstance(t, "empty PATCH", patched, inst)
}

// sameInstance compares what a user can set, with configuration values
// normalized as the admin API shows them.
func sameInstance(t *testing.T, what string, got, want *instances.Instance) {
	t.Helper()
	if got.Name != want.Name || got.Token != want.Token || got.Disabled != want.Disabled ||
		got.ConnectorKey != want.ConnectorKey || !reflect.DeepEqual(got.Tags, want.Tags) {
		t.Fatalf("%s changed the instance:\n%+v\nwant\n%+v", what, got, want)
	}
	if len(got.Config) != len(want.Config) || !reflect.DeepEqual(got.Secrets, want.Secrets) {
		t.Fatalf("%s changed the configuration:\n%v %v\nwant\n%v %v", what, got.Config, got.Secrets, want.Config, want.Secrets)
	}
	for k, v := range want.Config {
		if normalize(k, got.Config[k], false) != normalize(k, v, false) {
			t.Fatalf("%s changed %q from %q to %q", what, k, v, got.Config[k])
		}
	}
}

// normalize returns a configuration value as the admin API encodes it:
// the poller configuration as compact JSON, anything else as a JSON string.
// encoded says v is already JSON.
func normalize(key, v string, encoded bool) string {
	if encoded {
		return v
	}
	var b []byte
	if key == connectors.KeyPollerConfiguration && json.Valid([]byte(v)) {
		b, _ = json.Marshal(json.RawMessage(v))
	} else {
		b, _ = json.Marshal(v)
	}
	return string(b)
}
