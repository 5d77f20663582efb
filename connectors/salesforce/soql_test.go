package salesforce

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/ceql"
	"github.com/pollwire/pollwire/instances"
)

// since is the window start of the golden translations.
var since = time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)

func TestTranslateGolden(t *testing.T) {
	const (
		contactFields = "Id, FirstName, LastName, Name, Email, Phone, Title, AccountId, OwnerId, CreatedDate, LastModifiedDate, SystemModstamp"
		accountFields = "Id, Name, Type, Industry, Phone, Website, OwnerId, CreatedDate, LastModifiedDate, SystemModstamp"
		oppFields     = "Id, Name, AccountId, StageName, Amount, CloseDate, Probability, IsClosed, IsWon, OwnerId, CreatedDate, LastModifiedDate, SystemModstamp"
		leadFields    = "Id, FirstName, LastName, Name, Company, Email, Phone, Status, IsConverted, OwnerId, CreatedDate, LastModifiedDate, SystemModstamp"
		taskFields    = "Id, Subject, Status, Priority, ActivityDate, WhoId, WhatId, OwnerId, IsClosed, CreatedDate, LastModifiedDate, SystemModstamp"
		order         = " ORDER BY SystemModstamp, Id"
	)
	cases := []struct {
		resource, where, want string
	}{
		// Every resource, with the window start alone.
		{"contacts", "", "SELECT " + contactFields + " FROM Contact WHERE SystemModstamp > 2024-01-02T03:04:05Z" + order},
		{"accounts", "", "SELECT " + accountFields + " FROM Account WHERE SystemModstamp > 2024-01-02T03:04:05Z" + order},
		{"opportunities", "", "SELECT " + oppFields + " FROM Opportunity WHERE SystemModstamp > 2024-01-02T03:04:05Z" + order},
		{"leads", "", "SELECT " + leadFields + " FROM Lead WHERE SystemModstamp > 2024-01-02T03:04:05Z" + order},
		{"activities", "", "SELECT " + taskFields + " FROM Task WHERE SystemModstamp > 2024-01-02T03:04:05Z" + order},

		// The CEQL's own bound: the placeholder expansion (same as since)…
		{"contacts", "SystemModstamp > '2024-01-02T03:04:05.123456Z'",
			"SELECT " + contactFields + " FROM Contact WHERE SystemModstamp > 2024-01-02T03:04:05Z" + order},
		// …an earlier fixed date wins, its >= kept…
		{"accounts", "LastModifiedDate >= '2023-12-31T00:00:00+01:00'",
			"SELECT " + accountFields + " FROM Account WHERE SystemModstamp >= 2023-12-30T23:00:00Z" + order},
		// …a later one does not…
		{"leads", "SystemModstamp > '2025-01-01'",
			"SELECT " + leadFields + " FROM Lead WHERE SystemModstamp > 2024-01-02T03:04:05Z" + order},
		// …and of several the earliest counts, epoch milliseconds too.
		{"leads", "SystemModstamp > '2025-01-01' AND lastmodifieddate > 1704164600000",
			"SELECT " + leadFields + " FROM Lead WHERE SystemModstamp > 2024-01-02T03:03:20Z" + order},

		// Other clauses, typed the way SOQL types them.
		{"contacts", "SystemModstamp > '2024-01-02T03:04:05Z' AND Email != null AND LastName = 'O''Neil'",
			"SELECT " + contactFields + " FROM Contact WHERE SystemModstamp > 2024-01-02T03:04:05Z AND Email != null AND LastName = 'O\\'Neil'" + order},
		{"opportunities", "Amount >= 1000.50 AND IsWon = true AND StageName IN ('Closed Won', 'Negotiation/Review') AND CloseDate < '2024-06-30'",
			"SELECT " + oppFields + " FROM Opportunity WHERE SystemModstamp > 2024-01-02T03:04:05Z AND Amount >= 1000.50 AND IsWon = true AND " +
				"StageName IN ('Closed Won', 'Negotiation/Review') AND CloseDate < 2024-06-30" + order},
		{"leads", "(Status = 'Open' OR Status = 'Working') AND Company LIKE 'Acme%' AND Email NOT LIKE '%@example.com'",
			"SELECT " + leadFields + " FROM Lead WHERE SystemModstamp > 2024-01-02T03:04:05Z AND (Status = 'Open' OR Status = 'Working') AND " +
				"Company LIKE 'Acme%' AND (NOT Email LIKE '%@example.com')" + order},
		{"activities", "Status NOT IN ('Completed') AND WhoId IS NOT NULL AND ActivityDate IS NULL",
			"SELECT " + taskFields + " FROM Task WHERE SystemModstamp > 2024-01-02T03:04:05Z AND Status NOT IN ('Completed') AND WhoId != null AND ActivityDate = null" + order},
		{"contacts", "Title = 'VP' OR (Title = 'CEO' AND Department__c = 'Exec')",
			"SELECT " + contactFields + " FROM Contact WHERE SystemModstamp > 2024-01-02T03:04:05Z AND (Title = 'VP' OR (Title = 'CEO' AND Department__c = 'Exec'))" + order},
		// Numbers in plain decimal notation: SOQL has no exponents.
		{"opportunities", "Amount > -1.5e3 AND Probability <= 2.5E1",
			"SELECT " + oppFields + " FROM Opportunity WHERE SystemModstamp > 2024-01-02T03:04:05Z AND Amount > -1500 AND Probability <= 25" + order},
		// Date-times: unquoted, whole seconds, rounded away from the bound.
		{"accounts", "CreatedDate < '2024-03-01T10:00:00.250Z' AND CreatedDate > '2024-02-01T10:00:00.250Z' AND Renewal_Date__c = '2024-05-01'",
			"SELECT " + accountFields + " FROM Account WHERE SystemModstamp > 2024-01-02T03:04:05Z AND CreatedDate < 2024-03-01T10:00:01Z AND " +
				"CreatedDate > 2024-02-01T10:00:00Z AND Renewal_Date__c = 2024-05-01" + order},
		// Strings are escaped for SOQL; a SystemModstamp upper bound is a
		// plain clause.
		{"contacts", `Description__c = 'back\slash ''quote'' tab	end' AND SystemModstamp < '2024-02-01T00:00:00Z'`,
			"SELECT " + contactFields + ` FROM Contact WHERE SystemModstamp > 2024-01-02T03:04:05Z AND Description__c = 'back\\slash \'quote\' tab\tend' AND SystemModstamp < 2024-02-01T00:00:00Z` + order},
		{"accounts", "Name = 'bell\a and 100% ''pure'''",
			"SELECT " + accountFields + ` FROM Account WHERE SystemModstamp > 2024-01-02T03:04:05Z AND Name = 'bell\u0007 and 100% \'pure\''` + order},
		{"accounts", "Account.Owner.Name = 'x'",
			"SELECT " + accountFields + " FROM Account WHERE SystemModstamp > 2024-01-02T03:04:05Z AND Account.Owner.Name = 'x'" + order},
	}
	for _, tc := range cases {
		t.Run(tc.resource+" "+tc.where, func(t *testing.T) {
			q, err := Translate(tc.resource, tc.where)
			if err != nil {
				t.Fatal(err)
			}
			if got := q.SOQL(since); got != tc.want {
				t.Fatalf("SOQL\n got %s\nwant %s", got, tc.want)
			}
			if err := ValidateQuery(tc.resource, tc.where); err != nil {
				t.Fatal(err)
			}
			// Every translation is a statement the simulator's SOQL reads.
			if _, err := parseSOQL(q.SOQL(since)); err != nil {
				t.Fatalf("the simulator refuses the translation: %v", err)
			}
		})
	}
}

func TestTranslateUnsupported(t *testing.T) {
	cases := []struct {
		resource, where, clause string // clause "" for a syntax error
	}{
		{"contacts", "SystemModstamp > 'yesterday'", "SystemModstamp > 'yesterday'"},
		{"contacts", "LastModifiedDate >= true", "LastModifiedDate >= true"},
		{"contacts", "CreatedDate > 'soon'", "CreatedDate > 'soon'"},
		{"contacts", "CreatedDate = '2024-01-01T00:00:00.5Z'", "CreatedDate = '2024-01-01T00:00:00.5Z'"},
		{"opportunities", "CloseDate > false", "CloseDate > false"},
		{"contacts", "Email > null", "Email > null"},
		{"contacts", "Email IN ('a', null)", "Email IN ('a', null)"},
		{"contacts", "`first name` = 'Ann'", "`first name` = 'Ann'"},
		{"contacts", "a___b = 1", "a___b = 1"},
		{"contacts", "Title = 'x' OR bad_ IS NULL", "bad_ IS NULL"},
		{"opportunities", "Amount > 1e999", "Amount > 1e999"},
		{"contacts", "Title = ", ""},
	}
	for _, tc := range cases {
		t.Run(tc.where, func(t *testing.T) {
			_, err := Translate(tc.resource, tc.where)
			var u *ceql.Unsupported
			var se *ceql.SyntaxError
			switch {
			case tc.clause == "":
				if !errors.As(err, &se) {
					t.Fatalf("got %v, want a syntax error", err)
				}
			case !errors.As(err, &u) || u.Clause == nil:
				t.Fatalf("got %v, want *ceql.Unsupported", err)
			default:
				if got, _ := ceql.Parse(tc.clause); got.String() != u.Clause.String() {
					t.Fatalf("clause %q, want %q (%v)", u.Clause, tc.clause, err)
				}
			}
			if ValidateQuery(tc.resource, tc.where) == nil {
				t.Fatal("ValidateQuery accepts it")
			}
		})
	}
	if _, err := Translate("deals", ""); !errors.Is(err, ErrUnknownResource) {
		t.Fatalf("unknown resource: %v", err)
	}
}

// TestProvisioningValidatesQuery goes through instances.Compile: the spec's
// ValidateQuery refuses an untranslatable poller URL with its path.
func TestProvisioningValidatesQuery(t *testing.T) {
	cfg := map[string]string{
		KeyConsumerKey: testConsumerKey, KeyUsername: testUsername, KeyPrivateKey: pkcs8PEM(testKey()),
		connectors.KeyPollerConfiguration: `{"contacts":{"url":"/hubs/crm/contacts?where=SystemModstamp>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}' AND Email > null","idField":"Id"}}`,
	}
	_, err := instances.Compile(Spec, cfg)
	if err == nil || !strings.Contains(err.Error(), `"event.poller.configuration".contacts.url`) || !strings.Contains(err.Error(), `cannot translate "Email > null"`) {
		t.Fatalf("compile: %v", err)
	}
	cfg[connectors.KeyPollerConfiguration] = `{"contacts":{"url":"/hubs/crm/contacts?where=SystemModstamp>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}' AND Email != null",` +
		`"idField":"Id","fields":["Id","Email"],"deletions":false}}`
	s, err := instances.Compile(Spec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Poller("contacts"); p.HubResource != "contacts" || p.Extra[FieldDeletions] != "false" || p.Extra[FieldFields] != `["Id","Email"]` {
		t.Fatalf("poller %+v", p)
	}
	cfg[connectors.KeyPollerConfiguration] = `{"contacts":{"url":"/hubs/crm/contacts","fields":"Id, Bad Field"}}`
	if _, err := instances.Compile(Spec, cfg); err == nil || !strings.Contains(err.Error(), "fields") {
		t.Fatalf("bad fields: %v", err)
	}
	cfg[KeyPrivateKey] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
	cfg[connectors.KeyPollerConfiguration] = `{"contacts":{"url":"/hubs/crm/contacts"}}`
	if _, err := instances.Compile(Spec, cfg); err == nil || !strings.Contains(err.Error(), KeyPrivateKey) {
		t.Fatalf("bad key: %v", err)
	}
}

func TestWithFields(t *testing.T) {
	for res, obj := range map[string]string{"contacts": "Contact", "accounts": "Account", "opportunities": "Opportunity", "leads": "Lead", "activities": "Task", "deals": ""} {
		if Object(res) != obj || (obj != "" && DefaultFields(res)[0] != "Id") {
			t.Errorf("%s: %q %v", res, Object(res), DefaultFields(res))
		}
	}
	if len(Spec.Resources) != len(objects) {
		t.Errorf("Spec.Resources %v and the sObject map differ", Spec.Resources)
	}
	q, _ := Translate("contacts", "")
	f, err := parseFields("Email, id ,Custom__c, Email")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(q.WithFields(f).Fields, ",")
	if got != "Email,id,Custom__c,CreatedDate,SystemModstamp" {
		t.Fatalf("fields %s", got)
	}
	for _, bad := range []string{"[1,2]", "Id,", "Id;Name", `["Id","a b"]`} {
		if _, err := parseFields(bad); err == nil {
			t.Errorf("parseFields(%q) accepted", bad)
		}
	}
}

func TestDecimal(t *testing.T) {
	for in, want := range map[string]string{
		"42": "42", "-1.50": "-1.50", "1.50e3": "1500", "1.5E+3": "1500", "25e-4": "0.0025", "-2.5e-1": "-0.25",
		"12.345e1": "123.45", "0e5": "0", "007e1": "70", "1e64": "1" + strings.Repeat("0", 64),
	} {
		if got, ok := decimal(in); !ok || got != want {
			t.Errorf("decimal(%s) = %s, want %s", in, got, want)
		}
	}
	if _, ok := decimal("1e65"); ok {
		t.Error("1e65 accepted")
	}
}
