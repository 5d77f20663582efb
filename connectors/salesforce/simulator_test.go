package salesforce

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tidwall/gjson"
)

func TestSimTokenEndpoint(t *testing.T) {
	o := newTestOrg(t, SimOptions{})
	with := func(k string, v any) jwt.MapClaims {
		c := validClaims(o)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	hs256, err := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims(o)).SignedString([]byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		assertion string
		status    int
		code      string // error, or "" for a token
		desc      string
	}{
		{"accepted", assertion(t, testKey(), validClaims(o)), 200, "", ""},
		{"wrong key", assertion(t, otherKey(), validClaims(o)), 400, "invalid_grant", "invalid assertion"},
		{"HS256", hs256, 400, "invalid_grant", "invalid assertion"},
		{"not a JWT", "not.a.jwt", 400, "invalid_grant", "invalid assertion"},
		{"wrong aud", assertion(t, testKey(), with("aud", "https://login.salesforce.com")), 400, "invalid_grant", "audience is invalid"},
		{"aud as array of two", assertion(t, testKey(), with("aud", []string{o.srv.URL, "x"})), 400, "invalid_grant", "audience is invalid"},
		{"expired", assertion(t, testKey(), with("exp", t0.Add(-time.Minute).Unix())), 400, "invalid_grant", "expired authorization code"},
		{"no exp", assertion(t, testKey(), with("exp", nil)), 400, "invalid_grant", "invalid assertion"},
		{"wrong iss", assertion(t, testKey(), with("iss", "someone-else")), 400, "invalid_client_id", "client identifier invalid"},
		{"wrong sub", assertion(t, testKey(), with("sub", "intruder@example.com")), 400, "invalid_grant", "user hasn't approved this consumer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := o.exchange(t, tc.assertion)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.code == "" {
				res := gjson.GetManyBytes(body, "access_token", "instance_url", "token_type", "id")
				if res[0].String() == "" || res[1].String() != o.srv.URL || res[2].String() != "Bearer" || !strings.HasPrefix(res[3].String(), o.srv.URL+"/id/00D") {
					t.Fatalf("token answer %s", body)
				}
				return
			}
			if got := gjson.GetManyBytes(body, "error", "error_description"); got[0].String() != tc.code || got[1].String() != tc.desc {
				t.Fatalf("error %s, want %s: %s", body, tc.code, tc.desc)
			}
		})
	}
	t.Run("wrong grant type", func(t *testing.T) {
		resp, err := http.PostForm(o.srv.URL+tokenPath, url.Values{"grant_type": {"password"}, "assertion": {"x"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if resp.StatusCode != 400 || e["error"] != "unsupported_grant_type" {
			t.Fatalf("%d %v", resp.StatusCode, e)
		}
	})
	if n := o.sim.TokenRequests(); n != len(cases)+1 {
		t.Errorf("TokenRequests %d, want %d", n, len(cases)+1)
	}
}

func TestSimSessions(t *testing.T) {
	o := newTestOrg(t, SimOptions{TokenTTL: time.Hour})
	const q = "SELECT Id FROM Contact"
	if status, _, body := o.query(t, "", q); status != 401 || errorCode(t, body) != "INVALID_SESSION_ID" {
		t.Fatalf("no token: %d %s", status, body)
	}
	if status, _, body := o.query(t, "00Dbogus!token", q); status != 401 || !strings.Contains(string(body), "Session expired or invalid") {
		t.Fatalf("unknown token: %d %s", status, body)
	}
	tok := o.token(t)
	if status, _, body := o.query(t, tok, q); status != 200 {
		t.Fatalf("fresh token: %d %s", status, body)
	}
	o.clk.Advance(59 * time.Minute)
	if status, _, _ := o.query(t, tok, q); status != 200 {
		t.Fatalf("token refused before its TTL: %d", status)
	}
	o.clk.Advance(time.Minute)
	if status, _, body := o.query(t, tok, q); status != 401 || errorCode(t, body) != "INVALID_SESSION_ID" {
		t.Fatalf("expired token: %d %s", status, body)
	}
	tok = o.token(t)
	o.sim.ExpireSessions()
	if status, _, _ := o.query(t, tok, q); status != 401 {
		t.Fatalf("revoked token: %d", status)
	}
	if used, _ := o.sim.Usage(); used != 2 {
		t.Errorf("%d requests counted; refused sessions must not count", used)
	}
}

// seedContacts creates contacts a minute apart.
func seedContacts(o *testOrg) []Record {
	people := []map[string]any{
		{"FirstName": "Ann", "LastName": "Smith", "Email": "ann@example.com", "Title": "CEO"},
		{"FirstName": "Bob", "LastName": "smithers", "Email": nil, "Title": "CTO"},
		{"FirstName": "Cy", "LastName": "O'Neil", "Email": "cy@example.com", "Birthdate": "1990-05-17"},
		{"LastName": "Dee", "Email": "dee@example.com", "Title": "50% partner"},
	}
	var out []Record
	for _, p := range people {
		o.clk.Advance(time.Minute)
		out = append(out, o.sim.Create("Contact", p))
	}
	return out
}

func TestSimSOQL(t *testing.T) {
	o := newTestOrg(t, SimOptions{})
	tok := o.token(t)
	c := seedContacts(o)
	o.sim.Create("Opportunity", map[string]any{"Name": "Big", "StageName": "Closed Won", "CloseDate": "2026-04-01", "Amount": 5000})
	o.sim.Create("Opportunity", map[string]any{"Name": "Small", "StageName": "Prospecting", "CloseDate": "2026-07-01", "Amount": 50})
	ids := func(rs ...Record) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	second := c[1].SystemModstamp.UTC().Format("2006-01-02T15:04:05Z")
	cases := []struct {
		soql string
		want []string // ids in order; nil with code
		code string
	}{
		{"SELECT Id FROM Contact", ids(c...), ""},
		{"select id, lastname from contact", ids(c...), ""},
		{"SELECT Id FROM Contact WHERE LastName = 'SMITH'", ids(c[0]), ""},
		{"SELECT Id FROM Contact WHERE LastName <> 'smith'", ids(c[1:]...), ""},
		{"SELECT Id FROM Contact WHERE LastName = 'O\\'Neil'", ids(c[2]), ""},
		{"SELECT Id FROM Contact WHERE SystemModstamp > " + second, ids(c[2:]...), ""},
		{"SELECT Id FROM Contact WHERE SystemModstamp >= " + second + " ORDER BY SystemModstamp DESC", ids(c[3], c[2], c[1]), ""},
		{"SELECT Id FROM Contact WHERE CreatedDate > 2026-03-01T12:01:30.5+00:00", ids(c[1:]...), ""},
		{"SELECT Id FROM Contact WHERE Email = null", ids(c[1]), ""},
		{"SELECT Id FROM Contact WHERE Email != null", ids(c[0], c[2], c[3]), ""},
		{"SELECT Id FROM Contact WHERE LastName LIKE 'smi%'", ids(c[0], c[1]), ""},
		{"SELECT Id FROM Contact WHERE LastName LIKE 'smith_rs'", ids(c[1]), ""},
		{"SELECT Id FROM Contact WHERE Title LIKE '50\\% %'", ids(c[3]), ""},
		{"SELECT Id FROM Contact WHERE NOT LastName LIKE 'smi%'", ids(c[2], c[3]), ""},
		{`SELECT Id FROM Contact WHERE (NOT LastName LIKE 'smi%') AND Title = '50\u0025 partner'`, ids(c[3]), ""},
		{"SELECT Id FROM Contact WHERE Email != null AND (NOT Title = 'CEO')", ids(c[2], c[3]), ""},
		{`SELECT Id FROM Contact WHERE LastName = 'O\'NEIL' OR LastName = '\N'`, ids(c[2]), ""},
		{"SELECT Id FROM Contact WHERE Title IN ('CEO', 'cto')", ids(c[0], c[1]), ""},
		{"SELECT Id FROM Contact WHERE Title NOT IN ('CEO')", ids(c[1], c[2], c[3]), ""},
		{"SELECT Id FROM Contact WHERE (Title = 'CEO' OR Title = 'CTO') AND Email != null", ids(c[0]), ""},
		{"SELECT Id FROM Contact WHERE Birthdate < 2000-01-01", ids(c[2]), ""},
		{"SELECT Id FROM Contact WHERE Id = '" + c[2].ID[:15] + "'", ids(c[2]), ""},
		{"SELECT Id FROM Contact ORDER BY LastName DESC LIMIT 2", ids(c[1], c[0]), ""},
		{"SELECT Id FROM Contact ORDER BY Email NULLS LAST, Id", ids(c[0], c[2], c[3], c[1]), ""},
		{"SELECT Id FROM Contact LIMIT 0", []string{}, ""},
		{"SELECT Id FROM Opportunity WHERE Amount > 100", []string{"006"}, ""},
		{"SELECT Id FROM Opportunity WHERE IsClosed = true AND CloseDate < 2026-05-01", []string{"006"}, ""},

		{"SELECT Id FROM Contact WHERE CreatedDate > '2026-01-01T00:00:00Z'", nil, "MALFORMED_QUERY"},
		{"SELECT Id FROM Contact WHERE CreatedDate > 2026-01-01", nil, "MALFORMED_QUERY"},
		{"SELECT Id FROM Contact WHERE Title = 'a' AND Title = 'b' OR Title = 'c'", nil, "MALFORMED_QUERY"},
		{"SELECT Id FROM Contact WHERE NOT Title = 'a' AND Title = 'b'", nil, "MALFORMED_QUERY"},
		{"SELECT Id FROM Contact WHERE Title = 'a' OR NOT Title = 'b'", nil, "MALFORMED_QUERY"},
		{`SELECT Id FROM Contact WHERE Title = '50\% partner'`, nil, "MALFORMED_QUERY"},
		{`SELECT Id FROM Contact WHERE Title = '\u00'`, nil, "MALFORMED_QUERY"},
		{"SELECT Id FROM Contact WHERE", nil, "MALFORMED_QUERY"},
		{"SELECT FROM Contact", nil, "MALFORMED_QUERY"},
		{"SELECT Id, Id FROM Contact", nil, "MALFORMED_QUERY"},
		{"SELECT Id FROM Contact LIMIT -1", nil, "MALFORMED_QUERY"},
		{"SELECT Id FROM Contact WHERE LastName = 'open", nil, "MALFORMED_QUERY"},
		{"SELECT Id FROM Contact WHERE LastName = 'bad \\q escape'", nil, "MALFORMED_QUERY"},
		{"SELECT Id FROM Contact WHERE SystemModstamp > 2026-01-01T00:00", nil, "MALFORMED_QUERY"},
		{"SELECT COUNT() FROM Contact", nil, "MALFORMED_QUERY"},
		{"SELECT Id FROM Contact trailing", nil, "MALFORMED_QUERY"},
		{"SELECT Nope FROM Contact", nil, "INVALID_FIELD"},
		{"SELECT Id FROM Contact WHERE Account.Name = 'x'", nil, "INVALID_FIELD"},
		{"SELECT Id FROM Nope", nil, "INVALID_TYPE"},
		{"SELECT Id FROM Contact WHERE Title > null", nil, "INVALID_QUERY_FILTER_OPERATOR"},
		{"SELECT Id FROM Contact WHERE Title = 3", nil, "INVALID_QUERY_FILTER_OPERATOR"},
		{"SELECT Id FROM Contact WHERE IsDeleted > false", nil, "INVALID_QUERY_FILTER_OPERATOR"},
	}
	for _, tc := range cases {
		t.Run(tc.soql, func(t *testing.T) {
			status, _, body := o.query(t, tok, tc.soql)
			if tc.code != "" {
				if status != 400 || errorCode(t, body) != tc.code {
					t.Fatalf("%d %s, want 400 %s", status, body, tc.code)
				}
				return
			}
			if status != 200 {
				t.Fatalf("%d %s", status, body)
			}
			var got []string
			for _, r := range gjson.GetBytes(body, "records").Array() {
				id := r.Get("Id").String()
				if len(tc.want) > 0 && len(tc.want[0]) == 3 {
					id = id[:3] // only the prefix is checked
				}
				got = append(got, id)
			}
			if tc.want != nil && len(tc.want) > 0 && len(tc.want[0]) == 3 {
				if len(got) != 1 || got[0] != tc.want[0] {
					t.Fatalf("got %v, want one %s record", got, tc.want[0])
				}
				return
			}
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestSimRecordShape(t *testing.T) {
	o := newTestOrg(t, SimOptions{})
	tok := o.token(t)
	o.clk.Advance(1234 * time.Millisecond)
	rec := o.sim.Create("Lead", map[string]any{"FirstName": "Lu", "LastName": "Chen", "Company": "Acme"})
	status, _, body := o.query(t, tok, "SELECT Id, Name, Status, IsConverted, CreatedDate, SystemModstamp, Email FROM Lead")
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	want := fmt.Sprintf(`{"totalSize":1,"done":true,"records":[{"attributes":{"type":"Lead","url":"/services/data/v59.0/sobjects/Lead/%[1]s"},`+
		`"Id":"%[1]s","Name":"Lu Chen","Status":"Open - Not Contacted","IsConverted":false,`+
		`"CreatedDate":"2026-03-01T12:00:01.234+0000","SystemModstamp":"2026-03-01T12:00:01.234+0000","Email":null}]}`, rec.ID)
	if string(body) != want {
		t.Fatalf("query answer\n got %s\nwant %s", body, want)
	}
	if !strings.HasPrefix(rec.ID, "00Q") || len(rec.ID) != 18 || fullID(rec.ID[:15]) != rec.ID {
		t.Fatalf("lead id %q", rec.ID)
	}
}

func TestSimIDs(t *testing.T) {
	// 15- to 18-character examples from Salesforce's documentation.
	for id15, id18 := range map[string]string{
		"001D000000IRFma": "001D000000IRFmaIAH",
		"a00D0000008pQRA": "a00D0000008pQRAIA2",
		"003RO0000035WQg": "003RO0000035WQgYAM",
	} {
		if got := idChecksum(id15); got != id18 {
			t.Errorf("idChecksum(%s) = %s, want %s", id15, got, id18)
		}
	}
	o := newTestOrg(t, SimOptions{})
	prefixes := map[string]string{"Contact": "003", "Account": "001", "Opportunity": "006", "Lead": "00Q", "Task": "00T"}
	required := map[string]map[string]any{
		"Contact": {"LastName": "x"}, "Account": {"Name": "x"}, "Lead": {"LastName": "x", "Company": "y"}, "Task": {},
		"Opportunity": {"Name": "x", "StageName": "Prospecting", "CloseDate": time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)},
	}
	seen := map[string]bool{}
	for obj, prefix := range prefixes {
		for range 100 {
			r := o.sim.Create(obj, required[obj])
			if !strings.HasPrefix(r.ID, prefix) || len(r.ID) != 18 || !isID(r.ID) || seen[strings.ToLower(r.ID)] {
				t.Fatalf("%s id %q (prefix %s, unique ignoring case)", obj, r.ID, prefix)
			}
			seen[strings.ToLower(r.ID)] = true
		}
	}
}

func TestSimCursors(t *testing.T) {
	o := newTestOrg(t, SimOptions{})
	tok := o.token(t)
	var want []string
	for i := range 450 {
		want = append(want, o.sim.Create("Account", map[string]any{"Name": fmt.Sprintf("a%03d", i)}).ID)
	}
	page := func(path string, header ...string) (ids []string, next string, done bool, total int64) {
		t.Helper()
		status, _, body := o.call(t, http.MethodGet, path, tok, nil, header...)
		if status != 200 {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		pg, err := parseQueryPage(body)
		if err != nil {
			t.Fatalf("%s: %v: %s", path, err, body)
		}
		for _, r := range pg.records.Array() {
			ids = append(ids, r.Get("Id").String())
		}
		return ids, pg.next, pg.done, pg.total
	}
	first := DataPath + "/query?q=" + url.QueryEscape("SELECT Id FROM Account ORDER BY Name")
	ids, next, done, total := page(first, "Sforce-Query-Options", "batchSize=200")
	if len(ids) != 200 || done || total != 450 || !strings.HasPrefix(next, DataPath+"/query/01g") || !strings.HasSuffix(next, "-200") {
		t.Fatalf("page 1: %d records, next %q, done %t, total %d", len(ids), next, done, total)
	}
	got := ids
	// A page can be asked for again (a client retrying after an error).
	again, _, _, _ := page(next)
	ids, next2, done, _ := page(next)
	if !slices.Equal(again, ids) || len(ids) != 200 || done || !strings.HasSuffix(next2, "-400") {
		t.Fatalf("page 2: %d records, next %q, done %t", len(ids), next2, done)
	}
	got = append(got, ids...)
	ids, next3, done, _ := page(next2)
	if len(ids) != 50 || !done || next3 != "" {
		t.Fatalf("page 3: %d records, next %q, done %t", len(ids), next3, done)
	}
	if got = append(got, ids...); !slices.Equal(got, want) {
		t.Fatal("pages do not hold the result in order")
	}

	t.Run("batch sizes", func(t *testing.T) {
		for header, n := range map[string]int{"batchSize=50": 200, "batchSize=1000": 450, "batchSize=x": 450, "": 450} {
			ids, _, _, _ := page(first, "Sforce-Query-Options", header)
			if len(ids) != n {
				t.Errorf("%q: page of %d, want %d", header, len(ids), n)
			}
		}
		small := newTestOrg(t, SimOptions{MaxBatch: 7})
		stok := small.token(t)
		for range 10 {
			small.sim.Create("Account", map[string]any{"Name": "x"})
		}
		_, _, body := small.query(t, stok, "SELECT Id FROM Account", "Sforce-Query-Options", "batchSize=200")
		if n := len(gjson.GetBytes(body, "records").Array()); n != 7 || !strings.HasSuffix(gjson.GetBytes(body, "nextRecordsUrl").String(), "-7") {
			t.Fatalf("MaxBatch 7: %s", body)
		}
	})
	t.Run("expired and unknown locators", func(t *testing.T) {
		_, n2, _, _ := page(first, "Sforce-Query-Options", "batchSize=200")
		o.clk.Advance(SimCursorTTL + time.Second)
		for _, path := range []string{n2, DataPath + "/query/01gXXXXXXXXXXXXXXX-200", strings.TrimSuffix(n2, "-200") + "-9999"} {
			status, _, body := o.call(t, http.MethodGet, path, tok, nil)
			if status != 400 || errorCode(t, body) != "INVALID_QUERY_LOCATOR" {
				t.Fatalf("%s: %d %s", path, status, body)
			}
		}
	})
	t.Run("snapshot", func(t *testing.T) {
		// Records change after the query ran; its cursor keeps what it
		// found, where it found it.
		_, next, _, _ := page(first, "Sforce-Query-Options", "batchSize=200")
		o.sim.Update("Account", want[449], map[string]any{"Name": "0 first now"})
		_, next, _, _ = page(next)
		status, _, body := o.call(t, http.MethodGet, next, tok, nil)
		last := gjson.GetBytes(body, "records.49")
		if status != 200 || last.Get("Id").String() != want[449] {
			t.Fatalf("%d %s", status, body)
		}
		fresh, _, _, _ := page(first)
		if fresh[0] != want[449] {
			t.Fatal("a new query does not see the rename")
		}
	})
}

func TestSimLimits(t *testing.T) {
	o := newTestOrg(t, SimOptions{DailyLimit: 5, TokenTTL: 100 * time.Hour})
	tok := o.token(t)
	for i := 1; i <= 5; i++ {
		status, h, body := o.query(t, tok, "SELECT Id FROM Contact")
		if status != 200 || h.Get("Sforce-Limit-Info") != fmt.Sprintf("api-usage=%d/5", i) {
			t.Fatalf("request %d: %d %q %s", i, status, h.Get("Sforce-Limit-Info"), body)
		}
		o.clk.Advance(time.Hour)
	}
	status, h, body := o.query(t, tok, "SELECT Id FROM Contact")
	if status != 403 || errorCode(t, body) != "REQUEST_LIMIT_EXCEEDED" || h.Get("Sforce-Limit-Info") != "api-usage=5/5" ||
		!strings.Contains(string(body), "TotalRequests Limit exceeded.") {
		t.Fatalf("over the allowance: %d %q %s", status, h.Get("Sforce-Limit-Info"), body)
	}
	// The window rolls: 24 hours after the first request, one is free again.
	o.clk.Advance(19 * time.Hour)
	if status, h, _ := o.query(t, tok, "SELECT Id FROM Contact"); status != 200 || h.Get("Sforce-Limit-Info") != "api-usage=5/5" {
		t.Fatalf("after the oldest request aged out: %d %q", status, h.Get("Sforce-Limit-Info"))
	}
	if status, _, _ := o.query(t, tok, "SELECT Id FROM Contact"); status != 403 {
		t.Fatalf("the allowance should be spent again: %d", status)
	}
	o.clk.Advance(25 * time.Hour)
	o.sim.Spend(4)
	if used, limit := o.sim.Usage(); used != 4 || limit != 5 {
		t.Fatalf("Usage after Spend: %d/%d", used, limit)
	}
	if _, h, _ := o.query(t, tok, "SELECT Id FROM Contact"); h.Get("Sforce-Limit-Info") != "api-usage=5/5" {
		t.Fatalf("Sforce-Limit-Info %q", h.Get("Sforce-Limit-Info"))
	}
}

func TestSimGetDeleted(t *testing.T) {
	o := newTestOrg(t, SimOptions{})
	tok := o.token(t)
	var gone []Record
	for i := range 3 {
		r := o.sim.Create("Contact", map[string]any{"LastName": fmt.Sprint(i)})
		o.clk.Advance(90 * time.Second)
		if !o.sim.Delete("Contact", r.ID) {
			t.Fatal("Delete")
		}
		gone = append(gone, r)
	}
	if o.sim.Delete("Contact", gone[0].ID) {
		t.Fatal("deleting twice succeeded")
	}
	// Deletions at 12:01:30, 12:03:00 and 12:04:30.
	get := func(start, end string) (int, []byte) {
		path := DataPath + "/sobjects/Contact/deleted/?start=" + url.QueryEscape(start) + "&end=" + url.QueryEscape(end)
		status, _, body := o.call(t, http.MethodGet, path, tok, nil)
		return status, body
	}
	cases := []struct {
		start, end string
		want       []string
	}{
		{"2026-03-01T12:00:00+00:00", "2026-03-01T12:10:00+00:00", []string{gone[0].ID, gone[1].ID, gone[2].ID}},
		// Seconds are ignored: 12:01:45 is 12:01:00, so 12:01:30 is in.
		{"2026-03-01T12:01:45Z", "2026-03-01T12:04:59Z", []string{gone[0].ID, gone[1].ID}},
		{"2026-03-01T12:02:00.000+0000", "2026-03-01T12:05:00Z", []string{gone[1].ID, gone[2].ID}},
		{"2026-03-01T13:00:00+01:00", "2026-03-01T12:03:00Z", []string{gone[0].ID}},
	}
	for _, tc := range cases {
		status, body := get(tc.start, tc.end)
		if status != 200 {
			t.Fatalf("%s..%s: %d %s", tc.start, tc.end, status, body)
		}
		pg, err := parseDeleted(body)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range pg.records {
			got = append(got, d.id)
			if !strings.HasSuffix(d.date, ".000+0000") || d.at.Second() != 30 && d.at.Second() != 0 {
				t.Errorf("deletedDate %q", d.date)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s..%s: %v, want %v", tc.start, tc.end, got, tc.want)
		}
		if e, _ := ParseTime(tc.end); !pg.latestCovered.Equal(e.Truncate(time.Minute)) {
			t.Errorf("latestDateCovered %v for end %s", pg.latestCovered, tc.end)
		}
	}
	for _, bad := range [][2]string{
		{"2026-03-01T12:00:00Z", "2026-03-01T12:01:59Z"}, // a minute once the seconds go
		{"2026-03-01T12:05:00Z", "2026-03-01T12:00:00Z"},
		{"2026-02-10T00:00:00Z", "2026-03-01T12:00:00Z"}, // more than 15 days back
		{"yesterday", "2026-03-01T12:00:00Z"},
		{"2026-03-01", "2026-03-01T12:10:00Z"},
	} {
		if status, body := get(bad[0], bad[1]); status != 400 || errorCode(t, body) != "INVALID_REPLICATION_DATE" {
			t.Errorf("%v: %d %s", bad, status, body)
		}
	}
	// A '+' left unescaped arrives as a space.
	path := DataPath + "/sobjects/Contact/deleted/?start=2026-03-01T12:00:00+00:00&end=2026-03-01T12:10:00+00:00"
	if status, _, body := o.call(t, http.MethodGet, path, tok, nil); status != 400 {
		t.Errorf("unescaped +: %d %s", status, body)
	}
}

func TestSimCRUD(t *testing.T) {
	o := newTestOrg(t, SimOptions{})
	tok := o.token(t)
	status, _, body := o.call(t, http.MethodPost, DataPath+"/sobjects/Contact/", tok, map[string]any{"LastName": "Ng", "Email": "ng@example.com", "Score__c": 7})
	id := gjson.GetBytes(body, "id").String()
	if status != 201 || !gjson.GetBytes(body, "success").Bool() || !strings.HasPrefix(id, "003") {
		t.Fatalf("create: %d %s", status, body)
	}
	rec, ok := o.sim.Get("Contact", id)
	if !ok || rec.Fields["Score__c"] != 7.0 || rec.Fields["Name"] != "Ng" || rec.Fields["CreatedDate"] != "2026-03-01T12:00:00.000+0000" {
		t.Fatalf("stored %+v", rec)
	}
	o.clk.Advance(time.Minute)
	if status, _, body := o.call(t, http.MethodPatch, DataPath+"/sobjects/Contact/"+id, tok, map[string]any{"FirstName": "Al"}); status != 204 {
		t.Fatalf("update: %d %s", status, body)
	}
	status, _, body = o.call(t, http.MethodGet, DataPath+"/sobjects/Contact/"+id[:15], tok, nil)
	if status != 200 || gjson.GetBytes(body, "Name").String() != "Al Ng" || gjson.GetBytes(body, "SystemModstamp").String() != "2026-03-01T12:01:00.000+0000" ||
		gjson.GetBytes(body, "CreatedDate").String() != "2026-03-01T12:00:00.000+0000" {
		t.Fatalf("read after update: %d %s", status, body)
	}
	if status, _, _ := o.call(t, http.MethodDelete, DataPath+"/sobjects/Contact/"+id, tok, nil); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{http.MethodGet, "/sobjects/Contact/" + id, nil, 404, "NOT_FOUND"},
		{http.MethodDelete, "/sobjects/Contact/" + id, nil, 404, "NOT_FOUND"},
		{http.MethodPost, "/sobjects/Contact/", map[string]any{"FirstName": "x"}, 400, "REQUIRED_FIELD_MISSING"},
		{http.MethodPost, "/sobjects/Contact/", map[string]any{"LastName": "x", "SystemModstamp": "2020-01-01T00:00:00Z"}, 400, "INVALID_FIELD_FOR_INSERT_UPDATE"},
		{http.MethodPost, "/sobjects/Contact/", map[string]any{"LastName": "x", "Nickname": "y"}, 400, "INVALID_FIELD"},
		{http.MethodPost, "/sobjects/Opportunity/", map[string]any{"Name": "x", "StageName": "y", "CloseDate": "soon"}, 400, "JSON_PARSER_ERROR"},
		{http.MethodPost, "/sobjects/Widget/", map[string]any{"Name": "x"}, 400, "INVALID_TYPE"},
		{http.MethodPut, "/sobjects/Contact/" + id, nil, 405, "METHOD_NOT_ALLOWED"},
		{http.MethodGet, "/nothing/here", nil, 404, "NOT_FOUND"},
	} {
		status, _, body := o.call(t, tc.method, DataPath+tc.path, tok, tc.body)
		if status != tc.status || errorCode(t, body) != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, status, body, tc.status, tc.code)
		}
	}
	// Derived fields follow their sources, as Salesforce computes them.
	opp := o.sim.Create("Opportunity", map[string]any{"Name": "x", "StageName": "Prospecting", "CloseDate": "2026-05-01"})
	opp, _ = o.sim.Update("Opportunity", opp.ID, map[string]any{"StageName": "Closed Won"})
	if opp.Fields["IsClosed"] != true || opp.Fields["IsWon"] != true {
		t.Fatalf("opportunity %+v", opp.Fields)
	}
	if _, ok := o.sim.Update("Opportunity", "006000000000000AAA", map[string]any{"Name": "y"}); ok {
		t.Fatal("Update of a missing record reported success")
	}
}
