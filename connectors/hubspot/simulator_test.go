package hubspot

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// api calls the env's simulator directly.
func (e *env) api(method, path, token, body string) (int, http.Header, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (e *env) grant(form url.Values) (int, string) {
	e.t.Helper()
	resp, err := e.srv.Client().PostForm(e.srv.URL+TokenPath, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSimulatorObjectsAndListings(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
	st, _, body := e.api("POST", "/crm/v3/objects/contacts", "pat", `{"properties":{"email":"ann@example.com","firstname":"Ann","hs_lead_status":7}}`)
	if st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	id := gjson.Get(body, "id").String()
	if id == "" || gjson.Get(body, "properties.email").String() != "ann@example.com" || gjson.Get(body, "properties.hs_lead_status").String() != "7" ||
		gjson.Get(body, "createdAt").String() != "2026-03-01T12:00:00Z" || gjson.Get(body, "archived").Bool() {
		t.Fatalf("created object: %s", body)
	}
	e.clk.Advance(1500 * time.Millisecond)
	st, _, body = e.api("PATCH", "/crm/v3/objects/contacts/"+id, "pat", `{"properties":{"firstname":"Anne"}}`)
	if st != 200 || gjson.Get(body, "properties.firstname").String() != "Anne" || gjson.Get(body, "updatedAt").String() != "2026-03-01T12:00:01.500Z" ||
		gjson.Get(body, "properties.lastmodifieddate").String() != "2026-03-01T12:00:01.500Z" {
		t.Fatalf("patch: %d %s", st, body)
	}
	for i := 0; i < 4; i++ {
		e.sim.Create("contacts", map[string]string{"email": fmt.Sprintf("c%d@example.com", i)})
	}
	// Listing by id, two per page.
	var got []string
	after := ""
	for pages := 0; pages < 10; pages++ {
		st, _, body = e.api("GET", "/crm/v3/objects/contacts?limit=2&after="+after, "pat", "")
		if st != 200 {
			t.Fatalf("list: %d %s", st, body)
		}
		for _, r := range gjson.Get(body, "results").Array() {
			got = append(got, r.Get("id").String())
		}
		if after = gjson.Get(body, "paging.next.after").String(); after == "" {
			break
		}
	}
	if strings.Join(got, ",") != "1001,1002,1003,1004,1005" {
		t.Fatalf("listed %v", got)
	}
	// DELETE archives: gone from GET and the live listing, in the archived one.
	e.clk.Advance(time.Second)
	if st, _, body = e.api("DELETE", "/crm/v3/objects/contacts/"+id, "pat", ""); st != 204 {
		t.Fatalf("delete: %d %s", st, body)
	}
	if st, _, body = e.api("GET", "/crm/v3/objects/contacts/"+id, "pat", ""); st != 404 || gjson.Get(body, "category").String() != "OBJECT_NOT_FOUND" {
		t.Fatalf("get archived: %d %s", st, body)
	}
	_, _, body = e.api("GET", "/crm/v3/objects/contacts?archived=true&limit=100", "pat", "")
	if res := gjson.Get(body, "results").Array(); len(res) != 1 || res[0].Get("id").String() != id || !res[0].Get("archived").Bool() ||
		res[0].Get("archivedAt").String() != "2026-03-01T12:00:02.500Z" {
		t.Fatalf("archived listing: %s", body)
	}
	if _, _, body = e.api("GET", "/crm/v3/objects/contacts?limit=100", "pat", ""); gjson.Get(body, "results.#").Int() != 4 {
		t.Fatalf("live listing after archive: %s", body)
	}
	for _, c := range []struct{ method, path, body, category string }{
		{"GET", "/crm/v3/objects/contacts?limit=101", "", "VALIDATION_ERROR"},
		{"GET", "/crm/v3/objects/widgets", "", "VALIDATION_ERROR"},
		{"POST", "/crm/v3/objects/contacts", `{"nope":`, "VALIDATION_ERROR"},
		{"PATCH", "/crm/v3/objects/contacts/999", `{"properties":{}}`, "OBJECT_NOT_FOUND"},
	} {
		st, _, body := e.api(c.method, c.path, "pat", c.body)
		if st < 400 || gjson.Get(body, "status").String() != "error" || gjson.Get(body, "category").String() != c.category || gjson.Get(body, "correlationId").String() == "" {
			t.Errorf("%s %s: %d %s, want a HubSpot %s error", c.method, c.path, st, body, c.category)
		}
	}
}

func TestSimulatorSearch(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
	e.sim.Create("deals", map[string]string{"dealname": "Alpha deal", "amount": "100", "dealstage": "won"})
	e.clk.Advance(time.Second)
	e.sim.Create("deals", map[string]string{"dealname": "beta", "amount": "25", "dealstage": "lost"})
	e.clk.Advance(time.Second)
	e.sim.Create("deals", map[string]string{"dealname": "Gamma deal", "amount": "7"})
	search := func(body string) (int, string) {
		st, _, b := e.api("POST", "/crm/v3/objects/deals/search", "pat", body)
		return st, b
	}
	idsOf := func(body string) string {
		var out []string
		for _, r := range gjson.Get(body, "results").Array() {
			out = append(out, r.Get("id").String())
		}
		return strings.Join(out, ",")
	}
	ms := func(t time.Time) string { return fmt.Sprint(t.UnixMilli()) }
	cases := []struct{ name, body, want string }{
		{"all, by id", `{}`, "1001,1002,1003"},
		{"numbers compare as numbers", `{"filterGroups":[{"filters":[{"propertyName":"amount","operator":"GT","value":"20"}]}]}`, "1001,1002"},
		{"EQ ignores case", `{"filterGroups":[{"filters":[{"propertyName":"dealstage","operator":"EQ","value":"WON"}]}]}`, "1001"},
		{"NEQ includes unset", `{"filterGroups":[{"filters":[{"propertyName":"dealstage","operator":"NEQ","value":"won"}]}]}`, "1002,1003"},
		{"IN", `{"filterGroups":[{"filters":[{"propertyName":"dealstage","operator":"IN","values":["won","lost"]}]}]}`, "1001,1002"},
		{"NOT_HAS_PROPERTY", `{"filterGroups":[{"filters":[{"propertyName":"dealstage","operator":"NOT_HAS_PROPERTY"}]}]}`, "1003"},
		{"CONTAINS_TOKEN wildcard", `{"filterGroups":[{"filters":[{"propertyName":"dealname","operator":"CONTAINS_TOKEN","value":"gam*"}]}]}`, "1003"},
		{"groups are ORed", `{"filterGroups":[{"filters":[{"propertyName":"amount","operator":"EQ","value":"7"}]},{"filters":[{"propertyName":"dealstage","operator":"EQ","value":"lost"}]}]}`, "1002,1003"},
		{"date GTE epoch ms", `{"filterGroups":[{"filters":[{"propertyName":"hs_lastmodifieddate","operator":"GTE","value":"` + ms(t0.Add(time.Second)) + `"}]}]}`, "1002,1003"},
		{"sort descending", `{"sorts":[{"propertyName":"amount","direction":"DESCENDING"}]}`, "1001,1002,1003"},
		{"sort ascending", `{"sorts":[{"propertyName":"amount","direction":"ASCENDING"}]}`, "1003,1002,1001"},
	}
	for _, c := range cases {
		st, body := search(c.body)
		if st != 200 || idsOf(body) != c.want {
			t.Errorf("%s: %d %s, want ids %s", c.name, st, body, c.want)
		}
	}
	// Properties asked for come back, null when unset; paging by offset.
	st, body := search(`{"properties":["dealstage","nope"],"limit":2,"sorts":[{"propertyName":"hs_lastmodifieddate","direction":"ASCENDING"}]}`)
	if st != 200 || gjson.Get(body, "total").Int() != 3 || gjson.Get(body, "paging.next.after").String() != "2" ||
		gjson.Get(body, "results.0.properties.dealstage").String() != "won" || gjson.Get(body, "results.0.properties.nope").Type != gjson.Null ||
		!gjson.Get(body, "results.0.properties.hs_lastmodifieddate").Exists() || gjson.Get(body, "results.0.properties.amount").Exists() {
		t.Fatalf("first page: %d %s", st, body)
	}
	st, body = search(`{"limit":2,"after":"2"}`)
	if st != 200 || idsOf(body) != "1003" || gjson.Get(body, "paging").Exists() {
		t.Fatalf("last page: %d %s", st, body)
	}
	refused := []struct{ name, body string }{
		{"limit over 200", `{"limit":201}`},
		{"six groups", `{"filterGroups":[` + strings.TrimSuffix(strings.Repeat(`{"filters":[{"propertyName":"amount","operator":"HAS_PROPERTY"}]},`, 6), ",") + `]}`},
		{"seven filters in a group", `{"filterGroups":[{"filters":[` + strings.TrimSuffix(strings.Repeat(`{"propertyName":"amount","operator":"HAS_PROPERTY"},`, 7), ",") + `]}]}`},
		{"nineteen filters", `{"filterGroups":[` + strings.TrimSuffix(strings.Repeat(`{"filters":[`+strings.TrimSuffix(strings.Repeat(`{"propertyName":"amount","operator":"HAS_PROPERTY"},`, 5), ",")+`]},`, 4), ",") + `]}`},
		{"two sorts", `{"sorts":[{"propertyName":"amount"},{"propertyName":"dealname"}]}`},
		{"unknown operator", `{"filterGroups":[{"filters":[{"propertyName":"amount","operator":"LIKE","value":"1"}]}]}`},
		{"EQ without value", `{"filterGroups":[{"filters":[{"propertyName":"amount","operator":"EQ"}]}]}`},
		{"after not an integer", `{"after":"abc"}`},
		{"invalid JSON", `{"filterGroups":`},
	}
	for _, c := range refused {
		st, body := search(c.body)
		if st != 400 || gjson.Get(body, "category").String() != "VALIDATION_ERROR" {
			t.Errorf("%s: %d %s, want 400 VALIDATION_ERROR", c.name, st, body)
		}
	}
}

func TestSimulatorSearchStopsAtTenThousand(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
	for i := 0; i < SearchResultCap+50; i++ {
		e.sim.Create("companies", map[string]string{"name": fmt.Sprint(i)})
	}
	st, _, body := e.api("POST", "/crm/v3/objects/companies/search", "pat", `{"limit":200,"after":"9800"}`)
	if st != 200 || gjson.Get(body, "results.#").Int() != 200 || gjson.Get(body, "paging.next.after").String() != "10000" {
		t.Fatalf("last page inside the cap: %d %.200s", st, body)
	}
	st, _, body = e.api("POST", "/crm/v3/objects/companies/search", "pat", `{"limit":200,"after":"10000"}`)
	if st != 400 || gjson.Get(body, "category").String() != "VALIDATION_ERROR" {
		t.Fatalf("paging past 10,000: %d %s", st, body)
	}
}

func TestSimulatorIndexLag(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat", IndexLag: 30 * time.Second})
	o := e.sim.Create("tasks", map[string]string{"hs_task_subject": "call back"})
	searchSubject := func() string {
		_, _, body := e.api("POST", "/crm/v3/objects/tasks/search", "pat", `{"properties":["hs_task_subject"]}`)
		return gjson.Get(body, "results.0.properties.hs_task_subject").String()
	}
	if s := searchSubject(); s != "" {
		t.Fatalf("a new record is in search at once: %q", s)
	}
	if _, _, body := e.api("GET", "/crm/v3/objects/tasks?limit=10", "pat", ""); gjson.Get(body, "results.#").Int() != 1 {
		t.Fatalf("the listing does not see the new record: %s", body)
	}
	e.clk.Advance(30 * time.Second)
	if s := searchSubject(); s != "call back" {
		t.Fatalf("after the lag search has %q", s)
	}
	e.sim.Update("tasks", o.ID, map[string]string{"hs_task_subject": "done"})
	e.clk.Advance(29 * time.Second)
	if s := searchSubject(); s != "call back" {
		t.Fatalf("search shows an update before the lag: %q", s)
	}
	e.clk.Advance(time.Second)
	if s := searchSubject(); s != "done" {
		t.Fatalf("search after the update's lag: %q", s)
	}
}

func TestSimulatorAuth(t *testing.T) {
	e := newEnv(t, SimOptions{ClientID: "cid", ClientSecret: "csec", RefreshToken: "r0", AccessTokenTTL: time.Minute, RotateRefreshTokens: true})
	st, _, body := e.api("GET", "/crm/v3/objects/contacts", "", "")
	if st != 401 || gjson.Get(body, "category").String() != "INVALID_AUTHENTICATION" || gjson.Get(body, "status").String() != "error" {
		t.Fatalf("no token: %d %s", st, body)
	}
	form := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"refresh_token"}, "client_id": {"cid"}, "client_secret": {"csec"}, "refresh_token": {"r0"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, c := range []struct {
		form   url.Values
		status string
	}{
		{form("client_id", "x"), "BAD_CLIENT_ID"},
		{form("client_secret", "x"), "BAD_CLIENT_SECRET"},
		{form("refresh_token", "x"), "BAD_REFRESH_TOKEN"},
		{form("grant_type", "authorization_code"), "BAD_GRANT_TYPE"},
	} {
		if st, body := e.grant(c.form); st != 400 || gjson.Get(body, "status").String() != c.status {
			t.Errorf("grant %v: %d %s, want 400 %s", c.form, st, body, c.status)
		}
	}
	st, body = e.grant(form())
	access, rotated := gjson.Get(body, "access_token").String(), gjson.Get(body, "refresh_token").String()
	if st != 200 || access == "" || rotated == "r0" || rotated == "" || gjson.Get(body, "expires_in").Int() != 60 || gjson.Get(body, "token_type").String() != "bearer" {
		t.Fatalf("grant: %d %s", st, body)
	}
	if st, body := e.grant(form()); st != 400 || gjson.Get(body, "status").String() != "BAD_REFRESH_TOKEN" {
		t.Fatalf("a rotated-away refresh token still works: %d %s", st, body)
	}
	if st, _, body := e.api("GET", "/crm/v3/objects/contacts", access, ""); st != 200 {
		t.Fatalf("with the access token: %d %s", st, body)
	}
	e.clk.Advance(time.Minute + 5*time.Second)
	st, _, body = e.api("GET", "/crm/v3/objects/contacts", access, "")
	if st != 401 || gjson.Get(body, "category").String() != "EXPIRED_AUTHENTICATION" ||
		gjson.Get(body, "message").String() != "The OAuth token used to make this call expired 5 second(s) ago." {
		t.Fatalf("expired token: %d %s", st, body)
	}
	if st, body := e.grant(form("refresh_token", rotated)); st != 200 || e.sim.TokenGrants() != 2 {
		t.Fatalf("grant with the rotated token: %d %s", st, body)
	}
}

func TestSimulatorRateLimits(t *testing.T) {
	t.Run("ten-secondly", func(t *testing.T) {
		e := newEnv(t, SimOptions{PrivateAppToken: "pat", TenSecondlyLimit: 3, SendRetryAfter: true})
		for want := 2; want >= 0; want-- {
			st, h, body := e.api("GET", "/crm/v3/objects/contacts", "pat", "")
			if st != 200 || h.Get(headerMax) != "3" || h.Get(headerRemaining) != fmt.Sprint(want) || h.Get(headerInterval) != "10000" {
				t.Fatalf("request: %d %v %s", st, h, body)
			}
			e.clk.Advance(time.Second)
		}
		st, h, body := e.api("GET", "/crm/v3/objects/contacts", "pat", "")
		if st != 429 || gjson.Get(body, "policyName").String() != "TEN_SECONDLY_ROLLING" || gjson.Get(body, "errorType").String() != "RATE_LIMIT" || h.Get("Retry-After") != "7" {
			t.Fatalf("over the limit: %d %v %s", st, h, body)
		}
		// Search is exempt from the ten-secondly limit.
		if st, h, body := e.api("POST", "/crm/v3/objects/contacts/search", "pat", "{}"); st != 200 || h.Get(headerMax) != "" {
			t.Fatalf("search under a spent ten-secondly window: %d %v %s", st, h, body)
		}
		e.clk.Advance(7 * time.Second) // the first request leaves the window
		if st, _, body := e.api("GET", "/crm/v3/objects/contacts", "pat", ""); st != 200 {
			t.Fatalf("after the window rolled: %d %s", st, body)
		}
		if e.sim.Throttled() != 1 {
			t.Fatalf("Throttled() = %d", e.sim.Throttled())
		}
	})
	t.Run("search per second", func(t *testing.T) {
		e := newEnv(t, SimOptions{PrivateAppToken: "pat", SearchPerSecond: 2})
		for i := 0; i < 2; i++ {
			if st, _, _ := e.api("POST", "/crm/v3/objects/contacts/search", "pat", "{}"); st != 200 {
				t.Fatal(st)
			}
		}
		st, _, body := e.api("POST", "/crm/v3/objects/contacts/search", "pat", "{}")
		if st != 429 || gjson.Get(body, "policyName").String() != "SECONDLY" || gjson.Get(body, "message").String() != "You have reached your secondly limit." {
			t.Fatalf("third search in a second: %d %s", st, body)
		}
		e.clk.Advance(time.Second)
		if st, _, _ := e.api("POST", "/crm/v3/objects/contacts/search", "pat", "{}"); st != 200 {
			t.Fatalf("a second later: %d", st)
		}
	})
	t.Run("daily, reset at midnight in the account's zone", func(t *testing.T) {
		ny, err := time.LoadLocation("America/New_York")
		if err != nil {
			t.Skip("no tzdata:", err)
		}
		e := newEnv(t, SimOptions{PrivateAppToken: "pat", ClientID: "cid", ClientSecret: "cs", RefreshToken: "r", DailyLimit: 2, TimeZone: ny})
		for want := 1; want >= 0; want-- {
			st, h, _ := e.api("GET", "/crm/v3/objects/contacts", "pat", "")
			if st != 200 || h.Get(headerDaily) != "2" || h.Get(headerDailyRemaining) != fmt.Sprint(want) {
				t.Fatalf("request: %d %v", st, h)
			}
		}
		st, h, body := e.api("GET", "/crm/v3/objects/contacts", "pat", "")
		if st != 429 || gjson.Get(body, "policyName").String() != "DAILY" || h.Get(headerDailyRemaining) != "0" {
			t.Fatalf("over the daily limit: %d %v %s", st, h, body)
		}
		// t0 is 07:00 in New York: UTC midnight is no reset, New York's is.
		e.clk.Set(time.Date(2026, 3, 2, 0, 30, 0, 0, time.UTC))
		if st, _, _ := e.api("GET", "/crm/v3/objects/contacts", "pat", ""); st != 429 {
			t.Fatalf("reset at UTC midnight: %d", st)
		}
		e.clk.Set(time.Date(2026, 3, 2, 0, 0, 1, 0, ny))
		st, h, _ = e.api("GET", "/crm/v3/objects/contacts", "pat", "")
		if st != 200 || h.Get(headerDailyRemaining) != "1" {
			t.Fatalf("after New York's midnight: %d %v", st, h)
		}
		// OAuth answers carry no daily headers, as HubSpot documents.
		_, tok := e.grant(url.Values{"grant_type": {"refresh_token"}, "client_id": {"cid"}, "client_secret": {"cs"}, "refresh_token": {"r"}})
		if _, h, _ := e.api("GET", "/crm/v3/objects/contacts", gjson.Get(tok, "access_token").String(), ""); h.Get(headerDaily) != "" {
			t.Fatalf("daily headers on an OAuth answer: %v", h)
		}
	})
}

func TestSimulatorFaults(t *testing.T) {
	e := newEnv(t, SimOptions{PrivateAppToken: "pat"})
	e.sim.Fail(2, SimFault{Status: 502})
	e.sim.Fail(1, SimFault{Status: 200, Body: `{"results": [`})
	for i, want := range []int{502, 502, 200, 200} {
		st, _, body := e.api("GET", "/crm/v3/objects/contacts", "pat", "")
		if st != want {
			t.Fatalf("request %d: %d %s, want %d", i, st, body, want)
		}
		if i == 2 && json.Valid([]byte(body)) {
			t.Fatalf("the raw fault body was not sent as is: %s", body)
		}
	}
	if e.sim.Requests() != 4 {
		t.Fatalf("Requests() = %d", e.sim.Requests())
	}
}
