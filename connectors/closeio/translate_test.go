package closeio

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors/ceql"
	"github.com/pollwire/pollwire/instances"
)

// contactsFields is the _fields part every contacts search carries.
const contactsFields = `"_fields":{"contact":["id","lead_id","name","display_name","title","emails","phones","urls","organization_id","created_by","updated_by","date_created","date_updated"]}`

const contactsSort = `"sort":[{"direction":"asc","field":{"field_name":"date_updated","object_type":"contact","type":"regular_field"}}]`

// TestTranslateGolden pins the Close request of every resource's where,
// as String shows it (parameters sorted and unescaped).
func TestTranslateGolden(t *testing.T) {
	// The seed's placeholder ${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX},
	// expanded.
	const seedDate = "'2024-01-02T03:04:05.123456Z'"
	cases := []struct {
		resource, where, want string
	}{
		{"contacts", "date_updated>" + seedDate,
			`POST /data/search/ {` + contactsFields + `,"query":{"queries":[{"object_type":"contact","type":"object_type"},` +
				`{"condition":{"on_or_after":{"type":"fixed_utc","value":"2024-01-02T03:04:05+00:00"},"type":"moment_range"},` +
				`"field":{"field_name":"date_updated","object_type":"contact","type":"regular_field"},"type":"field_condition"}],"type":"and"},` + contactsSort + `}`},
		{"contacts", "date_updated>='2024-01-02T03:04:05Z' AND lead_id IN ('lead_a','lead_b') AND date_updated < '2024-01-03'",
			`POST /data/search/ {` + contactsFields + `,"query":{"queries":[{"object_type":"contact","type":"object_type"},` +
				`{"condition":{"before":{"type":"fixed_utc","value":"2024-01-03T00:00:00+00:00"},"on_or_after":{"type":"fixed_utc","value":"2024-01-02T03:04:05+00:00"},"type":"moment_range"},` +
				`"field":{"field_name":"date_updated","object_type":"contact","type":"regular_field"},"type":"field_condition"},` +
				`{"condition":{"type":"term","values":["lead_a","lead_b"]},"field":{"field_name":"lead_id","object_type":"contact","type":"regular_field"},"type":"field_condition"}],"type":"and"},` + contactsSort + `}`},
		{"contacts", "",
			`POST /data/search/ {` + contactsFields + `,"query":{"queries":[{"object_type":"contact","type":"object_type"}],"type":"and"},` + contactsSort + `}`},
		// Leads: Close's query syntax compares to the minute.
		{"accounts", "date_updated>" + seedDate,
			`GET /lead/?query=date_updated>="2024-01-02T03:04" sort:date_updated`},
		{"accounts", "date_updated>" + seedDate + " AND status_label='Qualified' AND date_updated <= '2024-01-02T05:00:00Z'",
			`GET /lead/?query=date_updated>="2024-01-02T03:04" date_updated<"2024-01-02T05:01" status:"Qualified" sort:date_updated`},
		{"accounts", "date_created >= '2024-01-02T03:04:59Z'",
			`GET /lead/?query=date_created>="2024-01-02T03:04" sort:date_created`},
		{"opportunities", "date_updated>" + seedDate,
			`GET /opportunity/?_order_by=date_updated&date_updated__gte=2024-01-02T03:04:05`},
		{"opportunities", "date_updated>" + seedDate + " AND status_type IN ('won','lost') AND user_id='user_1'",
			`GET /opportunity/?_order_by=date_updated&date_updated__gte=2024-01-02T03:04:05&status_type__in=won,lost&user_id=user_1`},
		{"opportunities", "date_created >= 1704164645123 AND lead_id = 'lead_x' AND status_label = 'Won'",
			`GET /opportunity/?_order_by=date_created&date_created__gte=2024-01-02T03:04:05&lead_id=lead_x&status_label=Won`},
		{"opportunities", "date_updated > '2024-01-02T03:04:05Z' AND date_updated > '2024-01-05T00:00:00Z' AND date_updated < '2024-01-06T00:00:00.5Z'",
			`GET /opportunity/?_order_by=date_updated&date_updated__gte=2024-01-05T00:00:00&date_updated__lt=2024-01-06T00:00:01`},
		// Activities: date_created only, and only __gt: a second earlier.
		{"activities", "date_created>'2024-01-02T03:04:05.9Z' AND lead_id='lead_x'",
			`GET /activity/?_order_by=date_created&date_created__gt=2024-01-02T03:04:04&lead_id=lead_x`},
		{"activities", "",
			`GET /activity/?_order_by=date_created`},
	}
	for _, tc := range cases {
		q, err := Translate(tc.resource, tc.where)
		if err != nil {
			t.Errorf("%s %q: %v", tc.resource, tc.where, err)
			continue
		}
		if got := q.String(); got != tc.want {
			t.Errorf("%s %q:\n got %s\nwant %s", tc.resource, tc.where, got, tc.want)
		}
	}
}

func TestTranslateWindowAndDeletions(t *testing.T) {
	q, err := Translate("opportunities", "date_updated > '2024-01-02T03:04:05Z' AND date_updated <= '2024-01-03T00:00:00Z'")
	if err != nil {
		t.Fatal(err)
	}
	if !q.From.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) || !q.To.Equal(time.Date(2024, 1, 3, 0, 0, 0, 1, time.UTC)) {
		t.Errorf("From %v To %v", q.From, q.To)
	}
	// The window moves; the rest of the query stays.
	w := q.window(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	if got := w.String(); got != "GET /opportunity/?_order_by=date_updated&date_updated__gte=2024-01-01T00:00:00&date_updated__lt=2024-01-03T00:00:01" {
		t.Errorf("window: %s", got)
	}
	if q.String() == w.String() {
		t.Error("window changed the original query")
	}
	for res, want := range map[string]string{"contacts": "contact", "accounts": "lead", "opportunities": "opportunity"} {
		q, _ := Translate(res, "")
		if len(q.DeletedTypes) != 1 || q.DeletedTypes[0] != want || q.ObjectType != want {
			t.Errorf("%s: object %s, deletions of %v", res, q.ObjectType, q.DeletedTypes)
		}
	}
	if q, _ := Translate("activities", ""); len(q.DeletedTypes) != len(ActivityEventTypes) || q.DateField != "date_created" {
		t.Errorf("activities: %+v", q)
	}
}

func TestTranslateUnsupported(t *testing.T) {
	cases := []struct {
		resource, where string
		clause          string // the clause the error names
		reason          string // a fragment of its reason
	}{
		{"contacts", "date_updated > '2024-01-02' OR lead_id = 'x'", "date_updated > '2024-01-02' OR lead_id = 'x'", "OR"},
		{"contacts", "date_updated > '2024-01-02' AND name LIKE 'a%'", "name LIKE 'a%'", "can filter on date_updated, date_created, lead_id"},
		{"opportunities", "status_label LIKE 'W%'", "status_label LIKE 'W%'", "equality (=) or IN only"},
		{"contacts", "title = 'CEO'", "title = 'CEO'", "can filter on date_updated, date_created, lead_id"},
		{"accounts", "name = 'Acme'", "name = 'Acme'", "status_label"},
		{"accounts", `status_label = 'a"b'`, `status_label = 'a"b'`, "quote"},
		{"accounts", "status_label IN ('a', 'b')", "status_label IN ('a', 'b')", "one value"},
		{"activities", "date_updated > '2024-01-02'", "date_updated > '2024-01-02'", "use date_created"},
		{"activities", "user_id = 'u'", "user_id = 'u'", "lead_id"},
		{"opportunities", "status_type NOT IN ('won')", "status_type NOT IN ('won')", "exclude"},
		{"opportunities", "lead_id IN ('a', 'b')", "lead_id IN ('a', 'b')", "one value"},
		{"opportunities", "status_id = 'a' AND status_id = 'b'", "status_id = 'b'", "twice"},
		{"opportunities", "status_type IN ('a,b', 'c')", "status_type IN ('a,b', 'c')", "comma"},
		{"opportunities", "user_id = 5", "user_id = 5", "quoted string"},
		{"opportunities", "status_type IS NULL", "status_type IS NULL", "cannot filter"},
		{"opportunities", "date_updated = '2024-01-02'", "date_updated = '2024-01-02'", ">, >=, < or <="},
		{"opportunities", "date_updated > 'yesterday'", "date_updated > 'yesterday'", "not a date"},
		{"opportunities", "date_updated > '2024-01-02' AND date_created < '2024-02-01'", "date_created < '2024-02-01'", "one date field"},
	}
	for _, tc := range cases {
		_, err := Translate(tc.resource, tc.where)
		var u *ceql.Unsupported
		if !errors.As(err, &u) {
			t.Errorf("%s %q: %v, want *ceql.Unsupported", tc.resource, tc.where, err)
			continue
		}
		if u.Clause == nil || u.Clause.String() != tc.clause || !strings.Contains(u.Reason, tc.reason) {
			t.Errorf("%s %q: clause %v reason %q, want %q and %q", tc.resource, tc.where, u.Clause, u.Reason, tc.clause, tc.reason)
		}
	}

	var se *ceql.SyntaxError
	if _, err := Translate("contacts", "date_updated >"); !errors.As(err, &se) {
		t.Errorf("syntax error: %v", err)
	}
	_, err := Translate("deals", "")
	var u *ceql.Unsupported
	if err == nil || errors.As(err, &u) || !strings.Contains(err.Error(), "deals") {
		t.Errorf("unknown resource: %v", err)
	}
}

// TestProvisioningRefusesUntranslatable goes through instances.Compile: a
// where Close cannot express fails validation at the poller's url, naming
// the clause, and a good one compiles.
func TestProvisioningRefusesUntranslatable(t *testing.T) {
	cfg := func(url string) map[string]string {
		return map[string]string{
			"username": "k", "event.vendor.type": "polling",
			"event.poller.configuration": `{"accounts":{"url":"` + url + `"}}`,
		}
	}
	_, err := instances.Compile(Spec, cfg("/hubs/crm/accounts?where=date_updated>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX}' AND name LIKE 'A%25'"))
	if err == nil || !strings.Contains(err.Error(), "name LIKE 'A%'") || !strings.Contains(err.Error(), "accounts.url") {
		t.Errorf("untranslatable where: %v", err)
	}
	if _, err := instances.Compile(Spec, cfg("/hubs/crm/accounts?where=date_updated>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX}' AND status_label='Won'")); err != nil {
		t.Errorf("translatable where: %v", err)
	}
}
