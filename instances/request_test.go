package instances_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/pollwire/pollwire/connectors/registry"
	"github.com/pollwire/pollwire/instances"
)

const minimalClose = `{"connector": {"key": "closeio"}, "name": "c", "configuration": {"username": "k"}}`

func TestDecodeRequestOneObject(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"object", minimalClose, true},
		{"object and whitespace", minimalClose + " \n\t", true},
		{"stray closing brace", minimalClose + "}", false},
		{"stray closing bracket", minimalClose + "]", false},
		{"second object", minimalClose + minimalClose, false},
		{"trailing word", minimalClose + " x", false},
		{"trailing comma", minimalClose + ",", false},
		{"array", "[" + minimalClose + "]", false},
		{"invalid UTF-8 in a configuration object", minimalClose[:len(minimalClose)-2] + ", \"x\": {\"\x80\": 1}}}", false},
		{"invalid UTF-8 in the name", "{\"connector\": {\"key\": \"closeio\"}, \"name\": \"\xff\", \"configuration\": {\"username\": \"k\"}}", false},
		{"null", "null", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := instances.DecodeRequest([]byte(tt.body))
			if tt.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.ok {
				if err == nil {
					t.Fatal("accepted")
				}
				mustBeValidation(t, err)
			}
		})
	}
}

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		in    string
		every string // "" for cron schedules
		bad   bool
	}{
		{in: "15", every: "15m0s"},
		{in: "0.5", every: "30s"},
		{in: "30s", every: "30s"},
		{in: "2m", every: "2m0s"},
		{in: "cron:*/5 * * * *"},
		{in: "cron:0 */10 * * * *"},
		{in: "cron:@hourly"},
		{in: "cron:TZ=Europe/Paris 0 9 * * *"},
		{in: "fast", bad: true},
		{in: "0", bad: true},
		{in: "500ms", bad: true},
		{in: "-1", bad: true},
		{in: "NaN", bad: true},
		{in: "", bad: true},
		{in: "cron:not a cron", bad: true},
		{in: "cron:", bad: true},
		{in: "cron:TZ=UTC", bad: true},
		{in: "cron:CRON_TZ=Europe/Paris", bad: true},
		{in: "cron:TZ=Nowhere/Land 0 9 * * *", bad: true},
		{in: "cron:0 0 30 2 *", bad: true}, // February 30th never comes
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, msg := instances.ParseSchedule(tt.in)
			if tt.bad {
				if msg == "" {
					t.Fatalf("accepted: %+v", s)
				}
				return
			}
			if msg != "" {
				t.Fatalf("refused: %s", msg)
			}
			if tt.every != "" && s.Every.String() != tt.every {
				t.Errorf("every %v, want %s", s.Every, tt.every)
			}
			if tt.every == "" && s.Cron == nil {
				t.Error("no cron schedule")
			}
		})
	}
}

// TestMaskedEncodes: a blank poller configuration is valid when nothing
// polls, and the admin API must still be able to show the instance.
func TestMaskedEncodes(t *testing.T) {
	for _, pc := range []string{`""`, `"  "`, `{}`, `" {} "`} {
		t.Run(pc, func(t *testing.T) {
			body := strings.Replace(minimalClose, `"username": "k"`, `"username": "k", "event.poller.configuration": `+pc, 1)
			req, err := instances.DecodeRequest([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			inst, _, err := instances.New(req, registry.Default(), fuzzNow)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := json.Marshal(inst.Masked()); err != nil {
				t.Fatalf("Masked() does not encode: %v", err)
			}
		})
	}
}

func TestHubDefaultsFillTheRecordShape(t *testing.T) {
	cat := registry.Default()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	for _, tc := range []struct {
		connector, id, updated, created, sample string
		creds                                   map[string]string
	}{
		{"closeio", "id", "date_updated", "date_created", "2019-01-15T12:48:23.392000+00:00", map[string]string{"username": "k"}},
		{"salesforce", "Id", "SystemModstamp", "CreatedDate", "2013-05-20T20:49:32.000+0000", map[string]string{"oauth.api.key": "ck", "salesforce.username": "u@x", "oauth.private.key": pemKey}},
		{"hubspot", "id", "updatedAt", "createdAt", "2024-09-11T13:27:39Z", map[string]string{"hubspot.access.token": "t"}},
	} {
		spec, _ := cat.Lookup(tc.connector)
		cfg := map[string]string{"event.poller.configuration": `{"contacts":{"url":"/hubs/crm/contacts"}}`}
		for k, v := range tc.creds {
			cfg[k] = v
		}
		s, err := instances.Compile(spec, cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.connector, err)
		}
		p, _ := s.Poller("contacts")
		if p.IDField != tc.id || p.Updated.Field != tc.updated || p.Created.Field != tc.created {
			t.Fatalf("%s: poller %+v", tc.connector, p)
		}
		if _, err := p.Updated.Parse(tc.sample); err != nil {
			t.Fatalf("%s: default updated format cannot read %q: %v", tc.connector, tc.sample, err)
		}
	}
}
