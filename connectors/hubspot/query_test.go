package hubspot

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors/ceql"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/instances/placeholder"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenSince is the window start of the golden search requests.
var goldenSince = time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)

// TestTranslateGolden renders the first search request of each case, for
// goldenSince and the default page size, and compares it with
// testdata/translate/<case>.json.
func TestTranslateGolden(t *testing.T) {
	cases := []struct{ name, resource, where string }{
		{"contacts-window", "contacts", "lastmodifieddate>='2024-01-02T03:04:05.123Z'"},
		{"contacts-no-where", "contacts", ""},
		{"contacts-window-earlier-than-since", "contacts", "updatedAt > '2024-01-01T00:00:00Z' AND email = 'ann@example.com'"},
		{"contacts-operators", "contacts", "hs_lead_status != 'OPEN' AND num_employees < 50 AND lifecyclestage IN ('lead', 'customer') AND country NOT IN ('FR') AND phone IS NOT NULL"},
		{"contacts-null-and-empty", "contacts", "company IS NULL AND jobtitle = null AND website != '' AND mobilephone = ''"},
		{"accounts-window-and-domain", "accounts", "hs_lastmodifieddate > '${epoch}' AND domain = 'example.com'"},
		{"accounts-or-groups", "accounts", "date_updated >= '2024-01-02T03:04:05Z' AND (industry = 'SOFTWARE' OR industry = 'RETAIL' OR numberofemployees > 1000)"},
		{"opportunities-window-amount", "opportunities", "hs_lastmodifieddate >= 1704164645123 AND amount >= 1000 AND closedate < '2024-12-31'"},
		{"opportunities-created-and-bool", "opportunities", "createdAt >= '2023-06-01' AND hs_is_closed = false AND id > 5000"},
		{"activities-calls", "activities", "hs_lastmodifieddate > '2024-01-02T03:04:05.123+00:00' AND hs_call_direction = 'INBOUND'"},
		{"activities-or-of-ands", "activities", "(hs_call_status = 'COMPLETED' AND hs_call_duration > 60000) OR hs_call_disposition IN ('f240bbac-87c9-4f6e-bf70-924b57d47db7')"},
		{"dedupe-window-in-each-branch", "contacts", "(lastmodifieddate > '2024-01-02' OR lastmodifieddate > '2024-01-03') AND (a_1 = '1' OR a_1 = '2')"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			where := c.where
			if strings.Contains(where, "${") {
				tmpl, err := placeholderExpand(where, goldenSince)
				if err != nil {
					t.Fatal(err)
				}
				where = tmpl
			}
			q, err := Translate(c.resource, where)
			if err != nil {
				t.Fatalf("Translate(%s, %q): %v", c.resource, where, err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false) // keep the where's < and > readable
			enc.SetIndent("", "  ")
			if err := enc.Encode(struct {
				Resource string        `json:"resource"`
				Where    string        `json:"where"`
				Path     string        `json:"path"`
				Request  SearchRequest `json:"request"`
			}{c.resource, where, "/crm/v3/objects/" + q.ObjectType + "/search", q.Request(q.LowerBound(goldenSince), "", DefaultPageSize)}); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			path := filepath.Join("testdata", "translate", c.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from the golden file:\n%s\nwant:\n%s", c.name, got, want)
			}
		})
	}
}

// placeholderExpand expands a where with pollwire's placeholder package, as
// a poll would.
func placeholderExpand(where string, at time.Time) (string, error) {
	tmpl, err := placeholder.Parse(where)
	if err != nil {
		return "", err
	}
	return tmpl.Expand(at, time.UTC), nil
}

func TestTranslateRefusesWhatSearchCannotSay(t *testing.T) {
	cases := []struct {
		name, resource, where string
		clause, reason        string // substrings of the *ceql.Unsupported
	}{
		{"LIKE", "contacts", "email LIKE '%@example.com'", "email LIKE", "no pattern match"},
		{"NOT LIKE", "contacts", "lastmodifieddate > '2024-01-01' AND email NOT LIKE 'a%'", "NOT LIKE", "no pattern match"},
		{"null ordering", "contacts", "email > null", "email > null", "only = and !="},
		{"null in IN", "contacts", "email IN ('a', null)", "IN", "IS NULL"},
		{"not a date", "contacts", "lastmodifieddate > 'yesterday'", "lastmodifieddate", "date"},
		{"date property with a word", "opportunities", "closedate < 'soon'", "closedate", "date"},
		{"not a property name", "contacts", "`First Name` = 'Ann'", "First Name", "not a HubSpot property name"},
		{"uppercase name", "contacts", "Email = 'x'", "Email", "lowercase"},
		{"six groups", "contacts", "a = '1' OR a = '2' OR a = '3' OR a = '4' OR a = '5' OR a = '6'", "", "filter groups"},
		{"AND of ORs past five groups", "contacts", "(a = '1' OR a = '2' OR a = '3') AND (b = '1' OR b = '2')", "", "more than 5 filter groups"},
		{"six filters and the bound", "contacts", "a = '1' AND b = '2' AND c = '3' AND d = '4' AND e = '5' AND f = '6'", "", "7 filters"},
		{"nineteen filters", "contacts", "(a='1' AND b='1' AND c='1' AND d='1') OR (a='2' AND b='2' AND c='2' AND d='2') OR (a='3' AND b='3' AND c='3' AND d='3') OR (a='4' AND b='4' AND c='4')", "", "in all"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Translate(c.resource, c.where)
			var u *ceql.Unsupported
			if !errors.As(err, &u) {
				t.Fatalf("Translate(%q) = %v, want *ceql.Unsupported", c.where, err)
			}
			clause := ""
			if u.Clause != nil {
				clause = u.Clause.String()
			}
			if !strings.Contains(clause, c.clause) || !strings.Contains(u.Reason, c.reason) {
				t.Fatalf("Unsupported{Clause: %q, Reason: %q}, want clause with %q and reason with %q", clause, u.Reason, c.clause, c.reason)
			}
			if err := ValidateQuery(c.resource, c.where); err == nil || !strings.Contains(err.Error(), "cannot translate") {
				t.Fatalf("ValidateQuery: %v", err)
			}
		})
	}
	if _, err := Translate("tickets", ""); err == nil || !strings.Contains(err.Error(), "no hub resource") {
		t.Fatalf("unknown resource: %v", err)
	}
	var se *ceql.SyntaxError
	if _, err := Translate("contacts", "email = "); !errors.As(err, &se) {
		t.Fatalf("syntax error: %v", err)
	}
}

func TestTranslateLimitsAtTheEdge(t *testing.T) {
	// Five groups of five filters would be 30 with the bounds; five groups
	// of two (15 with the bounds) are fine, as are five filters and the
	// bound in one group.
	five := "(a='1' AND b='1') OR (a='2' AND b='2') OR (a='3' AND b='3') OR (a='4' AND b='4') OR (a='5' AND b='5')"
	if q, err := Translate("contacts", five); err != nil || len(q.Groups) != 5 {
		t.Fatalf("five groups of two: %v %+v", err, q.Groups)
	}
	if _, err := Translate("contacts", "a='1' AND b='2' AND c='3' AND d='4' AND e='5'"); err != nil {
		t.Fatalf("five filters and the bound: %v", err)
	}
}

// TestProvisioningRefusesUntranslatableWhere checks the Spec hook end to
// end: instances.Compile names the poller URL and the clause.
func TestProvisioningRefusesUntranslatableWhere(t *testing.T) {
	cfg := map[string]string{
		KeyAccessToken:               "pat",
		"event.poller.configuration": `{"contacts":{"url":"/hubs/crm/contacts?where=lastmodifieddate>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}' AND email LIKE '%25@x.com'"}}`,
	}
	_, err := instances.Compile(Spec, cfg)
	if err == nil || !strings.Contains(err.Error(), "event.poller.configuration") || !strings.Contains(err.Error(), "email LIKE") {
		t.Fatalf("Compile: %v", err)
	}
	cfg["event.poller.configuration"] = `{"contacts":{"url":"/hubs/crm/contacts?where=lastmodifieddate>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}' AND email = 'a@x.com'"},
		"calls":{"url":"/hubs/crm/activities","objectType":"tasks","properties":["hs_task_body"],"deletions":false}}`
	if _, err := instances.Compile(Spec, cfg); err != nil {
		t.Fatalf("Compile of a valid configuration: %v", err)
	}
	cfg["event.poller.configuration"] = `{"calls":{"url":"/hubs/crm/activities","objectType":"tickets","properties":"Bad Name"}}`
	_, err = instances.Compile(Spec, cfg)
	if err == nil || !strings.Contains(err.Error(), "objectType") || !strings.Contains(err.Error(), "properties") {
		t.Fatalf("Compile with bad resource fields: %v", err)
	}
	cfg = map[string]string{KeyAccessToken: "pat", KeyTimeZone: "Mars/Olympus"}
	if _, err := instances.Compile(Spec, cfg); err == nil || !strings.Contains(err.Error(), KeyTimeZone) {
		t.Fatalf("Compile with a bad zone: %v", err)
	}
}
