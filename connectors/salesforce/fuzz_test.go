package salesforce

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// FuzzQueryPage feeds arbitrary answers to everything that reads what
// Salesforce sends: query pages, getDeleted answers, error arrays,
// Sforce-Limit-Info and dates. Nothing may panic, and what is accepted
// must keep the promises the poll relies on.
func FuzzQueryPage(f *testing.F) {
	for _, s := range []string{
		`{"totalSize":2,"done":true,"records":[{"attributes":{"type":"Contact","url":"/services/data/v59.0/sobjects/Contact/0038d0000000001AAA"},"Id":"0038d0000000001AAA","SystemModstamp":"2026-03-01T12:00:00.000+0000"},{"Id":"x"}]}`,
		`{"totalSize":3222,"done":false,"nextRecordsUrl":"/services/data/v59.0/query/01gRO0000016PIAYA2-500","records":[]}`,
		`{"done":false,"records":[]}`,
		`{"done":"true","records":null}`,
		`{"deletedRecords":[{"id":"a00D0000008pQRAIA2","deletedDate":"2013-05-07T22:07:19.000+0000"}],"earliestDateAvailable":"2013-05-03T15:57:00.000+0000","latestDateCovered":"2013-05-08T21:20:00.000+0000"}`,
		`{"deletedRecords":[{"id":"","deletedDate":"x"}]}`,
		`[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`,
		`[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED","fields":[]}]`,
		`{"error":"invalid_grant","error_description":"audience is invalid"}`,
		`[[[[[[[[[[`,
		"\xef\xbb\xbf{}",
		``,
	} {
		f.Add([]byte(s), "api-usage=18/5000")
	}
	f.Add([]byte(`{"records":[],"done":true}`), "api-usage=10018/100000; api-bursts=1/750")
	f.Fuzz(func(t *testing.T, body []byte, limitInfo string) {
		orig := string(body)
		if pg, err := parseQueryPage(body); err == nil {
			if !pg.done && pg.next == "" {
				t.Fatal("an unfinished page without a next page was accepted")
			}
			_, err := pg.each(func(raw []byte) error {
				if !gjson.ValidBytes(raw) {
					t.Fatalf("record %q is not JSON", raw)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		} else if !errors.Is(err, ErrResponse) {
			t.Fatalf("error %v does not wrap ErrResponse", err)
		}
		if d, err := parseDeleted(body); err == nil {
			for _, r := range d.records {
				if r.id == "" || r.at.IsZero() && r.date == "" || !gjson.ValidBytes(r.raw) {
					t.Fatalf("deletion %+v accepted", r)
				}
			}
		}
		errs := parseErrors(body)
		if msg := errorsMessage(errs, body); msg == "" {
			t.Fatal("empty error message")
		}
		_, _ = parseLimitInfo(limitInfo)
		_, _ = ParseTime(limitInfo)
		if string(body) != orig {
			t.Fatal("the parsers wrote into the body")
		}
	})
}

// fuzzOrg is an org with records of every standard object, shared by the
// FuzzSOQL runs.
func fuzzOrg() *Simulator {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := NewSimulator(SimOptions{Now: func() time.Time { return now }})
	s.Create("Contact", map[string]any{"FirstName": "Ann", "LastName": "Smith", "Email": "ann@example.com", "Birthdate": "1990-01-02"})
	s.Create("Contact", map[string]any{"LastName": "O'Neil", "Email": nil, "Title": "50% off"})
	s.Create("Account", map[string]any{"Name": "Acme", "AnnualRevenue": 1.5e6})
	s.Create("Opportunity", map[string]any{"Name": "Big", "StageName": "Closed Won", "CloseDate": "2026-04-01", "Amount": 5000})
	s.Create("Lead", map[string]any{"LastName": "Chen", "Company": "Acme"})
	s.Create("Task", map[string]any{"Subject": "Call", "Status": "Completed"})
	return s
}

// FuzzSOQL feeds arbitrary statements to the simulator's SOQL: parse,
// type-check against the object and evaluate on its records. Nothing may
// panic; refusals are Salesforce error codes; accepted statements run.
func FuzzSOQL(f *testing.F) {
	for _, s := range []string{
		"SELECT Id FROM Contact",
		"SELECT Id, Name, Email FROM Contact WHERE SystemModstamp > 2024-01-02T03:04:05Z AND Email != null ORDER BY SystemModstamp, Id",
		"SELECT Id FROM Contact WHERE LastName = 'O\\'Neil' OR (Title LIKE '50\\% %' AND NOT Email = null)",
		"SELECT Id FROM Opportunity WHERE Amount >= 1000.50 AND IsWon = true AND StageName IN ('Closed Won', 'x') AND CloseDate < 2024-06-30",
		"SELECT Id FROM Task WHERE Status NOT IN ('Completed') AND WhoId != null ORDER BY Subject DESC NULLS LAST LIMIT 10",
		"SELECT Id FROM Lead WHERE CreatedDate > 2026-03-01T12:01:30.5+01:00",
		"SELECT Id FROM Contact WHERE CreatedDate > '2026-01-01T00:00:00Z'",
		"SELECT Id FROM Contact WHERE a = 1 AND b = 2 OR c = 3",
		"SELECT COUNT() FROM Contact",
		"select id from contact where ((((Name = 'x'))))",
		"SELECT Id FROM Contact WHERE NOT NOT NOT Name = 'x'",
		"SELECT Id FROM Contact LIMIT 99999999999999999999",
		"SELECT Id FROM Custom__c WHERE Name LIKE '%_\\_%'",
		"SELECT",
		"",
	} {
		f.Add(s)
	}
	sim := fuzzOrg()
	f.Fuzz(func(t *testing.T, soql string) {
		q, err := parseSOQL(soql)
		if err != nil {
			var se *soqlError
			if !errors.As(err, &se) || se.code == "" || se.msg == "" {
				t.Fatalf("refusal %v is not a Salesforce error", err)
			}
			return
		}
		sim.mu.Lock()
		defer sim.mu.Unlock()
		obj := sim.objects[strings.ToLower(q.object)]
		if obj == nil {
			return // INVALID_TYPE for the simulator; custom objects are made by writes
		}
		if err := q.bind(obj.schema); err != nil {
			var se *soqlError
			if !errors.As(err, &se) {
				t.Fatalf("bind: %v", err)
			}
			return
		}
		var recs []*simRecord
		for _, r := range obj.records {
			if match(q.where, r.vals) {
				recs = append(recs, r)
			}
		}
		orderRecords(recs, q.orderBy)
		for _, r := range recs {
			if b := obj.render(r, q.fields, APIVersion); !gjson.ValidBytes(b) {
				t.Fatalf("rendered %q", b)
			}
		}
	})
}

// FuzzTranslate checks that whatever CEQL Translate accepts becomes a
// statement Salesforce's grammar (the simulator's) reads.
func FuzzTranslate(f *testing.F) {
	for _, s := range []string{
		"SystemModstamp > '2024-01-02T03:04:05.123456Z'",
		"LastModifiedDate >= '2023-12-31T00:00:00+01:00' AND Email != null AND LastName = 'O''Neil'",
		"(Status = 'Open' OR Status = 'Working') AND Company LIKE 'Acme%' AND Email NOT LIKE '%@example.com'",
		"Status NOT IN ('Completed') AND WhoId IS NOT NULL AND ActivityDate IS NULL",
		"CreatedDate < '2024-03-01T10:00:00.250Z' AND Renewal_Date__c = '2024-05-01' AND Amount > -1.5e3",
		`Description__c = 'back\slash ''quote'' tab	end'`,
		"Title = 'VP' OR (Title = 'CEO' AND Department__c = 'Exec')",
	} {
		f.Add(s)
	}
	since := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, where string) {
		q, err := Translate("contacts", where)
		if err != nil {
			return
		}
		soql := q.SOQL(since)
		if _, err := parseSOQL(soql); err != nil {
			t.Fatalf("CEQL %q became SOQL the grammar refuses:\n%s\n%v", where, soql, err)
		}
	})
}
