package closeio

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pollwire/pollwire/connectors/ceql"
)

// The hub resources and the Close object behind each.
const (
	ResourceContacts      = "contacts"
	ResourceAccounts      = "accounts"
	ResourceOpportunities = "opportunities"
	ResourceActivities    = "activities"
)

// ActivityEventTypes are the event-log object types of activities whose
// deletions the activities resource reports. Close logs activities per
// type ("activity.email"); it has no filter for all of them at once.
var ActivityEventTypes = []string{
	"activity.call", "activity.email", "activity.meeting", "activity.note", "activity.sms", "activity.custom_activity",
}

// contactFields are the contact fields asked of the Advanced Filtering API,
// which otherwise answers only {"__object_type", "id"} per row.
var contactFields = []string{
	"id", "lead_id", "name", "display_name", "title", "emails", "phones", "urls",
	"organization_id", "created_by", "updated_by", "date_created", "date_updated",
}

// Query is a hub resource's poll as Close's API request: what Translate
// makes of a poller's `where`, and what Poll sends, page after page.
type Query struct {
	// Resource is the hub resource and ObjectType the Close object type of
	// its records.
	Resource   string
	ObjectType string
	// DeletedTypes are the event-log object types whose "deleted" events
	// are deletions of the resource's records.
	DeletedTypes []string
	// Method, Path (relative to base.url) and either Params (GET) or Body
	// (POST /data/search/) of the first page. Paging parameters (_skip,
	// _limit; cursor and _limit in the body) are added per page.
	Method string
	Path   string
	Params url.Values
	Body   map[string]any
	// DateField is the field the window is read on: date_updated, or
	// date_created for activities (Close cannot filter those by update).
	DateField string
	// From and To are the where's bounds on DateField, To exclusive; zero
	// when it sets none. Poll reads from the earlier of From and the
	// window start.
	From, To time.Time

	// precision is what the vendor's date filter can tell apart: dates are
	// rounded to it, down for the lower bound and up for the upper one.
	precision time.Duration
	// filters are the non-date translations: query-string terms of leads,
	// parameters of opportunities and activities, conditions of contacts.
	leadTerms []string
	params    url.Values
	conds     []any
}

// Translate turns the CEQL `where` of a /hubs/crm/{resource} poller into
// Close's query. A clause Close cannot express is an error of type
// *ceql.Unsupported naming it; a where that does not parse is a
// *ceql.SyntaxError (wrapped). An empty where reads the whole window.
//
// What each resource translates:
//
//	all          DateField > | >= | < | <= 'date'   the window (date_updated; activities: date_created)
//	accounts     status_label = 's'                 query status:"s"
//	opportunities status_type, status_id, status_label, user_id = 'v' or IN (…), lead_id = 'v'
//	activities   lead_id = 'v'
//	contacts     lead_id = 'v' or IN (…)            term condition
func Translate(resource, where string) (*Query, error) {
	q := &Query{Resource: resource, Method: "GET", precision: time.Second, params: url.Values{}}
	switch resource {
	case ResourceAccounts:
		q.ObjectType, q.Path, q.DateField, q.precision = TypeLead, "/lead/", "date_updated", time.Minute
	case ResourceOpportunities:
		q.ObjectType, q.Path, q.DateField = TypeOpportunity, "/opportunity/", "date_updated"
	case ResourceActivities:
		q.ObjectType, q.Path, q.DateField = TypeActivity, "/activity/", "date_created"
	case ResourceContacts:
		q.ObjectType, q.Path, q.DateField, q.Method = TypeContact, "/data/search/", "date_updated", "POST"
	default:
		return nil, fmt.Errorf("closeio has no hub resource %q; it has contacts, accounts, opportunities and activities", resource)
	}
	q.DeletedTypes = []string{q.ObjectType}
	if resource == ResourceActivities {
		q.DeletedTypes = ActivityEventTypes
	}
	if strings.TrimSpace(where) != "" {
		e, err := ceql.Parse(where)
		if err != nil {
			return nil, fmt.Errorf("where: %w", err)
		}
		if err := q.translate(e); err != nil {
			return nil, err
		}
	}
	q.render(q.From)
	return q, nil
}

func unsupported(clause ceql.Expr, format string, args ...any) error {
	return &ceql.Unsupported{Clause: clause, Reason: fmt.Sprintf(format, args...)}
}

// translate reads the where's conjunction clause by clause.
func (q *Query) translate(e ceql.Expr) error {
	dateField := ""
	seen := map[string]bool{}
	for _, clause := range ceql.Conjuncts(e) {
		switch c := clause.(type) {
		case *ceql.Compare:
			if c.Field == "date_updated" || c.Field == "date_created" {
				if err := q.dateClause(c, &dateField); err != nil {
					return err
				}
				continue
			}
			if _, ok := filterable[q.Resource][c.Field]; ok && c.Op != ceql.Eq {
				return unsupported(c, "Close filters %s %s by equality (=) or IN only", q.Resource, c.Field)
			}
			if err := q.filter(c, c.Field, []ceql.Value{c.Value}, seen); err != nil {
				return err
			}
		case *ceql.In:
			if c.Not {
				return unsupported(c, "Close's list filters cannot exclude values")
			}
			if err := q.filter(c, c.Field, c.Values, seen); err != nil {
				return err
			}
		case *ceql.Or:
			return unsupported(c, "Close's list filters cannot express OR; use IN, or one resource per alternative")
		default:
			return unsupported(c, "closeio %s cannot filter on this", q.Resource)
		}
	}
	return nil
}

// dateClause reads a bound of the window.
func (q *Query) dateClause(c *ceql.Compare, dateField *string) error {
	if q.Resource == ResourceActivities && c.Field != "date_created" {
		return unsupported(c, "Close cannot filter activities by date_updated; use date_created")
	}
	if *dateField != "" && *dateField != c.Field {
		return unsupported(c, "the window is on %s already; Close filters one date field", *dateField)
	}
	t, ok := c.Value.Time()
	if !ok {
		return unsupported(c, "%s is not a date", c.Value)
	}
	*dateField = c.Field
	q.DateField = c.Field
	switch c.Op {
	case ceql.Gt, ceql.Ge:
		// Both read from the bound: the engine drops what is not after the
		// window start, and one read too many is cheaper than one too few.
		if q.From.IsZero() || t.After(q.From) {
			q.From = t
		}
	case ceql.Lt, ceql.Le:
		if c.Op == ceql.Le {
			t = t.Add(time.Nanosecond) // To is exclusive
		}
		if q.To.IsZero() || t.Before(q.To) {
			q.To = t
		}
	default:
		return unsupported(c, "a date bounds the window with >, >=, < or <=")
	}
	return nil
}

// filterable lists, per resource, the fields with an equality filter and
// whether it takes several values (IN).
var filterable = map[string]map[string]bool{
	ResourceAccounts:      {"status_label": false},
	ResourceOpportunities: {"status_type": true, "status_id": true, "status_label": true, "user_id": true, "lead_id": false},
	ResourceActivities:    {"lead_id": false},
	ResourceContacts:      {"lead_id": true},
}

func (q *Query) filter(clause ceql.Expr, field string, vals []ceql.Value, seen map[string]bool) error {
	multi, ok := filterable[q.Resource][field]
	if !ok {
		return unsupported(clause, "closeio %s can filter on %s only", q.Resource, fieldList(q.Resource))
	}
	if len(vals) > 1 && !multi {
		return unsupported(clause, "Close filters %s %s by one value", q.Resource, field)
	}
	if seen[field] {
		return unsupported(clause, "%s is filtered twice; use IN", field)
	}
	seen[field] = true
	texts := make([]string, len(vals))
	for i, v := range vals {
		if v.Kind != ceql.String {
			return unsupported(clause, "%s compares with a quoted string", field)
		}
		texts[i] = v.Text
	}
	switch q.Resource {
	case ResourceAccounts:
		if strings.ContainsAny(texts[0], `"\`) {
			return unsupported(clause, `Close's search syntax cannot quote " or \`)
		}
		q.leadTerms = append(q.leadTerms, `status:"`+texts[0]+`"`)
	case ResourceContacts:
		vs := make([]any, len(texts))
		for i, t := range texts {
			vs[i] = t
		}
		q.conds = append(q.conds, fieldCondition(field, map[string]any{"type": "term", "values": vs}))
	default:
		if len(texts) == 1 {
			q.params.Set(field, texts[0])
			break
		}
		for _, t := range texts {
			if strings.Contains(t, ",") {
				return unsupported(clause, "Close's %s__in separates values by commas, so a value cannot contain one", field)
			}
		}
		q.params.Set(field+"__in", strings.Join(texts, ","))
	}
	return nil
}

func fieldList(resource string) string {
	var names []string
	for f := range filterable[resource] {
		names = append(names, f)
	}
	slices.Sort(names)
	if resource == ResourceActivities {
		names = append([]string{"date_created"}, names...)
	} else {
		names = append([]string{"date_updated", "date_created"}, names...)
	}
	return strings.Join(names, ", ")
}

func fieldCondition(field string, cond map[string]any) map[string]any {
	return map[string]any{
		"type":      "field_condition",
		"field":     map[string]any{"type": "regular_field", "object_type": TypeContact, "field_name": field},
		"condition": cond,
	}
}

// floor and ceil round t to the vendor's precision.
func (q *Query) floor(t time.Time) time.Time { return t.UTC().Truncate(q.precision) }

func (q *Query) ceil(t time.Time) time.Time {
	f := q.floor(t)
	if f.Before(t) {
		return f.Add(q.precision)
	}
	return f
}

// render sets Params or Body for a window starting at from (zero: no lower
// bound), inclusive at the vendor's precision.
func (q *Query) render(from time.Time) {
	const second = "2006-01-02T15:04:05"
	switch q.Resource {
	case ResourceAccounts:
		var terms []string
		if !from.IsZero() {
			terms = append(terms, fmt.Sprintf(`%s>="%s"`, q.DateField, q.floor(from).Format("2006-01-02T15:04")))
		}
		if !q.To.IsZero() {
			terms = append(terms, fmt.Sprintf(`%s<"%s"`, q.DateField, q.ceil(q.To).Format("2006-01-02T15:04")))
		}
		terms = append(terms, q.leadTerms...)
		terms = append(terms, "sort:"+q.DateField)
		q.Params = url.Values{"query": {strings.Join(terms, " ")}}
	case ResourceOpportunities, ResourceActivities:
		p := url.Values{}
		for k, v := range q.params {
			p[k] = slices.Clone(v)
		}
		p.Set("_order_by", q.DateField)
		if !from.IsZero() {
			if q.Resource == ResourceActivities {
				// Close has only __gt and __lt for activities; a second
				// less keeps what was created in from's own second.
				p.Set(q.DateField+"__gt", q.floor(from).Add(-time.Second).Format(second))
			} else {
				p.Set(q.DateField+"__gte", q.floor(from).Format(second))
			}
		}
		if !q.To.IsZero() {
			p.Set(q.DateField+"__lt", q.ceil(q.To).Format(second))
		}
		q.Params = p
	case ResourceContacts:
		queries := []any{map[string]any{"type": "object_type", "object_type": TypeContact}}
		if !from.IsZero() || !q.To.IsZero() {
			cond := map[string]any{"type": "moment_range"}
			if !from.IsZero() {
				cond["on_or_after"] = map[string]any{"type": "fixed_utc", "value": q.floor(from).Format(second) + "+00:00"}
			}
			if !q.To.IsZero() {
				cond["before"] = map[string]any{"type": "fixed_utc", "value": q.ceil(q.To).Format(second) + "+00:00"}
			}
			queries = append(queries, fieldCondition(q.DateField, cond))
		}
		queries = append(queries, q.conds...)
		q.Body = map[string]any{
			"query":   map[string]any{"type": "and", "queries": queries},
			"_fields": map[string]any{TypeContact: anys(contactFields)},
			"sort": []any{map[string]any{
				"direction": "asc",
				"field":     map[string]any{"type": "regular_field", "object_type": TypeContact, "field_name": q.DateField},
			}},
		}
	}
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// window returns a copy of q reading from `from`, inclusive at the vendor's
// precision.
func (q *Query) window(from time.Time) *Query {
	c := *q
	c.render(from)
	return &c
}

// withFields returns a copy of q whose search also asks for fields (the
// poller's id and date paths), so that every field the engine reads is in
// the rows.
func (q *Query) withFields(fields ...string) *Query {
	if q.Body == nil {
		return q
	}
	c := *q
	c.Body = cloneJSON(q.Body).(map[string]any)
	fm := c.Body["_fields"].(map[string]any)
	list := fm[TypeContact].([]any)
	for _, f := range fields {
		top, _, _ := strings.Cut(f, ".") // a gjson path's first key
		if top != "" && !slices.Contains(list, any(top)) && strings.IndexAny(top, "*?#|@") < 0 {
			list = append(list, top)
		}
	}
	fm[TypeContact] = list
	return &c
}

// String shows the request for people and golden tests: the method, the
// path with its parameters (sorted, unescaped) or the body as JSON.
func (q *Query) String() string {
	var b strings.Builder
	b.WriteString(q.Method + " " + q.Path)
	if len(q.Params) > 0 {
		sep := "?"
		for _, k := range slices.Sorted(maps.Keys(q.Params)) {
			for _, v := range q.Params[k] {
				b.WriteString(sep + k + "=" + v)
				sep = "&"
			}
		}
	}
	if q.Body != nil {
		body, _ := json.Marshal(q.Body)
		b.WriteString(" " + string(body))
	}
	return b.String()
}

// ValidateQuery checks at provisioning that a poller's where translates;
// the error names the clause that does not.
func ValidateQuery(resource, where string) error {
	_, err := Translate(resource, where)
	var u *ceql.Unsupported
	if errors.As(err, &u) {
		return fmt.Errorf("closeio %s: %w", resource, err)
	}
	return err
}
