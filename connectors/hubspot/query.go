package hubspot

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pollwire/pollwire/connectors/ceql"
)

// Limits of one CRM search request, from HubSpot's search guide.
const (
	// MaxFilterGroups is how many filter groups (ORed) a search may have.
	MaxFilterGroups = 5
	// MaxFiltersPerGroup is how many filters (ANDed) one group may have,
	// the poll's own date bound included.
	MaxFiltersPerGroup = 6
	// MaxFilters is how many filters a search may have in all.
	MaxFilters = 18
	// MaxSearchLimit is the largest page a search returns.
	MaxSearchLimit = 200
	// SearchResultCap is how far one search can page: HubSpot answers 400
	// past the 10,000th result.
	SearchResultCap = 10_000
	// DefaultPageSize is the page size when the poller sets none.
	DefaultPageSize = 100
)

// objectInfo is what the connector knows of a HubSpot object type.
type objectInfo struct {
	modified string   // the last-modified property searches filter and sort on
	created  string   // the creation-date property
	defaults []string // properties asked for when the poller names none
}

// objectTypes are the HubSpot object types the connector polls. The default
// properties are those HubSpot's search returns by default.
var objectTypes = map[string]objectInfo{
	"contacts":  {"lastmodifieddate", "createdate", []string{"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"}},
	"companies": {"hs_lastmodifieddate", "createdate", []string{"createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"}},
	"deals":     {"hs_lastmodifieddate", "createdate", []string{"amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id", "pipeline"}},
	"calls":     {"hs_lastmodifieddate", "hs_createdate", []string{"hs_call_body", "hs_call_direction", "hs_call_duration", "hs_call_status", "hs_call_title", "hs_createdate", "hs_lastmodifieddate", "hs_object_id", "hs_timestamp", "hubspot_owner_id"}},
	"emails":    {"hs_lastmodifieddate", "hs_createdate", []string{"hs_createdate", "hs_email_direction", "hs_email_status", "hs_email_subject", "hs_lastmodifieddate", "hs_object_id", "hs_timestamp", "hubspot_owner_id"}},
	"meetings":  {"hs_lastmodifieddate", "hs_createdate", []string{"hs_createdate", "hs_lastmodifieddate", "hs_meeting_end_time", "hs_meeting_outcome", "hs_meeting_start_time", "hs_meeting_title", "hs_object_id", "hs_timestamp", "hubspot_owner_id"}},
	"notes":     {"hs_lastmodifieddate", "hs_createdate", []string{"hs_createdate", "hs_lastmodifieddate", "hs_note_body", "hs_object_id", "hs_timestamp", "hubspot_owner_id"}},
	"tasks":     {"hs_lastmodifieddate", "hs_createdate", []string{"hs_createdate", "hs_lastmodifieddate", "hs_object_id", "hs_task_priority", "hs_task_status", "hs_task_subject", "hs_timestamp", "hubspot_owner_id"}},
}

// EngagementTypes are the HubSpot engagement object types the activities
// resource can search.
var EngagementTypes = []string{"calls", "emails", "meetings", "notes", "tasks"}

// hubObjects maps the hub resources to HubSpot object types; activities
// defaults to calls (see FieldObjectType).
var hubObjects = map[string]string{
	"contacts":      "contacts",
	"accounts":      "companies",
	"opportunities": "deals",
	"activities":    "calls",
}

// dateProperties are properties whose values HubSpot compares as instants:
// CEQL dates for them become epoch milliseconds.
var dateProperties = map[string]bool{
	"lastmodifieddate": true, "hs_lastmodifieddate": true, "createdate": true, "hs_createdate": true,
	"closedate": true, "hs_timestamp": true, "hs_meeting_start_time": true, "hs_meeting_end_time": true,
	"notes_last_updated": true, "notes_last_contacted": true, "hs_lastcontacted": true,
}

// Filter is one condition of a CRM search.
type Filter struct {
	PropertyName string   `json:"propertyName"`
	Operator     string   `json:"operator"`
	Value        string   `json:"value,omitempty"`
	Values       []string `json:"values,omitempty"`
}

// FilterGroup is a conjunction of filters; a search ORs its groups.
type FilterGroup struct {
	Filters []Filter `json:"filters"`
}

// Sort is a search's one sort rule.
type Sort struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"`
}

// SearchRequest is the body of POST /crm/v3/objects/{type}/search.
type SearchRequest struct {
	FilterGroups []FilterGroup `json:"filterGroups"`
	Sorts        []Sort        `json:"sorts"`
	Properties   []string      `json:"properties"`
	Limit        int           `json:"limit"`
	After        string        `json:"after,omitempty"`
}

// Query is a hub resource's poller query translated for HubSpot's CRM
// search: everything but the poll window, which Request adds.
type Query struct {
	Resource     string // the hub resource, e.g. accounts
	ObjectType   string // the HubSpot object type, e.g. companies
	DateProperty string // the last-modified property the poll filters and sorts on
	// Since is the lower bound the where clause puts on DateProperty (the
	// earliest, if it has several); zero when it has none. The poll uses
	// the earlier of it and the window start.
	Since time.Time
	// Groups are the where clause's filter groups without that bound; one
	// empty group when the clause has no other condition.
	Groups     []FilterGroup
	Properties []string
}

// LowerBound is where a poll whose window starts at since begins: the
// earlier of since and the where clause's own bound, so neither can hide a
// change from the other.
func (q *Query) LowerBound(since time.Time) time.Time {
	if !q.Since.IsZero() && q.Since.Before(since) {
		return q.Since
	}
	return since
}

// Request is the search for records modified at or after from (GTE, so
// records sharing the bound's millisecond are read again; the poll drops
// those it has), oldest first.
func (q *Query) Request(from time.Time, after string, limit int) SearchRequest {
	bound := Filter{PropertyName: q.DateProperty, Operator: "GTE", Value: strconv.FormatInt(from.UnixMilli(), 10)}
	groups := make([]FilterGroup, len(q.Groups))
	for i, g := range q.Groups {
		fs := make([]Filter, 0, len(g.Filters)+1)
		groups[i] = FilterGroup{Filters: append(append(fs, bound), g.Filters...)}
	}
	return SearchRequest{
		FilterGroups: groups,
		Sorts:        []Sort{{PropertyName: q.DateProperty, Direction: "ASCENDING"}},
		Properties:   q.Properties,
		Limit:        limit,
		After:        after,
	}
}

// Translate turns the CEQL where clause of a /hubs/crm/{resource} poller
// into a HubSpot search. where may be empty. A clause HubSpot search cannot
// express is a *ceql.Unsupported naming it; a where that does not parse is
// the parser's *ceql.SyntaxError.
func Translate(resource, where string) (Query, error) {
	return translate(resource, "", where, nil)
}

// ValidateQuery checks that where translates for resource; it is the
// connector's Spec.ValidateQuery.
func ValidateQuery(resource, where string) error {
	_, err := Translate(resource, where)
	return err
}

// translate is Translate with the poller's own fields: the engagement type
// of activities and extra properties.
func translate(resource, objectType, where string, extra []string) (Query, error) {
	def, ok := hubObjects[resource]
	if !ok {
		return Query{}, fmt.Errorf("the hubspot connector has no hub resource %q", resource)
	}
	if objectType == "" {
		objectType = def
	} else if resource != "activities" && objectType != def {
		return Query{}, fmt.Errorf("%s applies to activities only, not %s", FieldObjectType, resource)
	}
	info, ok := objectTypes[objectType]
	if !ok {
		return Query{}, fmt.Errorf("unknown HubSpot object type %q", objectType)
	}
	t := &translator{obj: info, props: map[string]bool{}}
	q := Query{Resource: resource, ObjectType: objectType, DateProperty: info.modified}
	groups := [][]Filter{{}}
	if strings.TrimSpace(where) != "" {
		e, err := ceql.Parse(where)
		if err != nil {
			return Query{}, err
		}
		if groups, err = t.dnf(e); err != nil {
			return Query{}, err
		}
		if err := checkLimits(e, groups); err != nil {
			return Query{}, err
		}
		q.Since = t.since
	}
	for _, g := range groups {
		q.Groups = append(q.Groups, FilterGroup{Filters: g})
	}
	for _, p := range info.defaults {
		t.props[p] = true
	}
	for _, p := range extra {
		t.props[p] = true
	}
	t.props[info.modified], t.props[info.created] = true, true
	for p := range t.props {
		q.Properties = append(q.Properties, p)
	}
	sort.Strings(q.Properties)
	return q, nil
}

func checkLimits(e ceql.Expr, groups [][]Filter) error {
	if len(groups) > MaxFilterGroups {
		return &ceql.Unsupported{Clause: e, Reason: fmt.Sprintf("it needs %d filter groups; HubSpot search allows %d", len(groups), MaxFilterGroups)}
	}
	total := 0
	for _, g := range groups {
		// +1: the poll's own date bound goes into every group.
		if n := len(g) + 1; n > MaxFiltersPerGroup {
			return &ceql.Unsupported{Clause: e, Reason: fmt.Sprintf("a filter group would have %d filters with the poll's date bound; HubSpot search allows %d", n, MaxFiltersPerGroup)}
		}
		total += len(g) + 1
	}
	if total > MaxFilters {
		return &ceql.Unsupported{Clause: e, Reason: fmt.Sprintf("it needs %d filters with the poll's date bounds; HubSpot search allows %d in all", total, MaxFilters)}
	}
	return nil
}

// translator holds what a translation collects on the way.
type translator struct {
	obj   objectInfo
	since time.Time       // earliest lower bound on the modified property
	props map[string]bool // properties the where names
}

// dnf rewrites e as an OR of ANDs of filters, the shape of filterGroups.
// Lower bounds on the modified property are taken out (the poll sets its
// own) and leave an empty conjunction. Equal groups are merged.
func (t *translator) dnf(e ceql.Expr) ([][]Filter, error) {
	switch e := e.(type) {
	case *ceql.Or:
		var out [][]Filter
		for _, term := range e.Terms {
			gs, err := t.dnf(term)
			if err != nil {
				return nil, err
			}
			out = appendGroups(out, gs...)
		}
		return out, nil
	case *ceql.And:
		out := [][]Filter{{}}
		for _, term := range e.Terms {
			gs, err := t.dnf(term)
			if err != nil {
				return nil, err
			}
			var next [][]Filter
			for _, a := range out {
				for _, b := range gs {
					next = appendGroups(next, append(slices.Clip(a), b...))
				}
			}
			// Stop early: a product only grows, and a where of many ORed
			// terms must not expand exponentially before it is refused.
			if len(next) > MaxFilterGroups {
				return nil, &ceql.Unsupported{Clause: e, Reason: fmt.Sprintf("AND of ORs expands to more than %d filter groups, HubSpot search's limit", MaxFilterGroups)}
			}
			out = next
		}
		return out, nil
	}
	if bound, ok, err := t.lowerBound(e); err != nil {
		return nil, err
	} else if ok {
		if t.since.IsZero() || bound.Before(t.since) {
			t.since = bound
		}
		return [][]Filter{{}}, nil
	}
	f, err := t.filter(e)
	if err != nil {
		return nil, err
	}
	return [][]Filter{{f}}, nil
}

// appendGroups appends the groups not already in out.
func appendGroups(out [][]Filter, gs ...[]Filter) [][]Filter {
	for _, g := range gs {
		if !slices.ContainsFunc(out, func(o []Filter) bool { return sameGroup(o, g) }) {
			out = append(out, g)
		}
	}
	return out
}

func sameGroup(a, b []Filter) bool {
	return slices.EqualFunc(a, b, func(x, y Filter) bool {
		return x.PropertyName == y.PropertyName && x.Operator == y.Operator && x.Value == y.Value && slices.Equal(x.Values, y.Values)
	})
}

// lowerBound reports whether e is `modified > date` or `modified >= date`,
// the poll window's own clause, and its date.
func (t *translator) lowerBound(e ceql.Expr) (time.Time, bool, error) {
	c, ok := e.(*ceql.Compare)
	if !ok || (c.Op != ceql.Gt && c.Op != ceql.Ge) {
		return time.Time{}, false, nil
	}
	prop, err := t.property(c.Field, e)
	if err != nil || prop != t.obj.modified {
		return time.Time{}, false, err
	}
	d, ok := dateValue(c.Value)
	if !ok {
		return time.Time{}, false, &ceql.Unsupported{Clause: e, Reason: prop + " compares with a date (RFC 3339) or epoch milliseconds"}
	}
	return d, true, nil
}

var compareOps = map[ceql.Op]string{
	ceql.Eq: "EQ", ceql.Ne: "NEQ", ceql.Lt: "LT", ceql.Le: "LTE", ceql.Gt: "GT", ceql.Ge: "GTE",
}

// filter translates one comparison.
func (t *translator) filter(e ceql.Expr) (Filter, error) {
	switch e := e.(type) {
	case *ceql.Compare:
		prop, err := t.property(e.Field, e)
		if err != nil {
			return Filter{}, err
		}
		op, ok := compareOps[e.Op]
		if !ok {
			return Filter{}, &ceql.Unsupported{Clause: e, Reason: "HubSpot search has no pattern match; CONTAINS_TOKEN matches whole words, which is not what LIKE means"}
		}
		// HubSpot stores no empty values: setting "" clears a property. So
		// "= null" and "= ''" both mean "has no value".
		if e.Value.Kind == ceql.Null || (e.Value.Kind == ceql.String && e.Value.Text == "") {
			switch e.Op {
			case ceql.Eq:
				return Filter{PropertyName: prop, Operator: "NOT_HAS_PROPERTY"}, nil
			case ceql.Ne:
				return Filter{PropertyName: prop, Operator: "HAS_PROPERTY"}, nil
			}
			return Filter{}, &ceql.Unsupported{Clause: e, Reason: "only = and != compare with null or ''"}
		}
		v, err := t.value(prop, e.Value, e)
		if err != nil {
			return Filter{}, err
		}
		return Filter{PropertyName: prop, Operator: op, Value: v}, nil
	case *ceql.In:
		prop, err := t.property(e.Field, e)
		if err != nil {
			return Filter{}, err
		}
		f := Filter{PropertyName: prop, Operator: "IN"}
		if e.Not {
			f.Operator = "NOT_IN"
		}
		for _, val := range e.Values {
			if val.Kind == ceql.Null {
				return Filter{}, &ceql.Unsupported{Clause: e, Reason: "null is not a value HubSpot can list in IN; use IS NULL"}
			}
			v, err := t.value(prop, val, e)
			if err != nil {
				return Filter{}, err
			}
			f.Values = append(f.Values, v)
		}
		return f, nil
	case *ceql.IsNull:
		prop, err := t.property(e.Field, e)
		if err != nil {
			return Filter{}, err
		}
		if e.Not {
			return Filter{PropertyName: prop, Operator: "HAS_PROPERTY"}, nil
		}
		return Filter{PropertyName: prop, Operator: "NOT_HAS_PROPERTY"}, nil
	}
	return Filter{}, &ceql.Unsupported{Clause: e, Reason: "not a comparison HubSpot search can express"}
}

// property maps a CEQL field to a HubSpot property name: the record's own
// field names (updatedAt, createdAt, id) and the usual CEQL spellings
// resolve to the object's properties; anything else must already be a
// HubSpot internal name.
func (t *translator) property(field string, e ceql.Expr) (string, error) {
	var prop string
	switch field {
	case "updatedAt", "updated_at", "date_updated", "lastmodifieddate", "hs_lastmodifieddate", "lastModifiedDate":
		prop = t.obj.modified
	case "createdAt", "created_at", "date_created", "createdate", "hs_createdate", "createDate":
		prop = t.obj.created
	case "id", "hs_object_id":
		prop = "hs_object_id"
	default:
		if !isPropertyName(field) {
			return "", &ceql.Unsupported{Clause: e, Reason: fmt.Sprintf("%q is not a HubSpot property name (internal names are lowercase letters, digits and underscores)", field)}
		}
		prop = field
	}
	t.props[prop] = true
	return prop, nil
}

// value renders a CEQL literal as HubSpot search takes it: dates of date
// properties as epoch milliseconds, everything else as written.
func (t *translator) value(prop string, v ceql.Value, e ceql.Expr) (string, error) {
	if dateProperties[prop] {
		d, ok := dateValue(v)
		if !ok {
			return "", &ceql.Unsupported{Clause: e, Reason: prop + " compares with a date (RFC 3339) or epoch milliseconds"}
		}
		return strconv.FormatInt(d.UnixMilli(), 10), nil
	}
	return v.Text, nil
}

// dateValue reads a CEQL date: what ceql reads as one, and also epoch
// milliseconds in quotes ('${epoch}'), which HubSpot itself takes for
// dates.
func dateValue(v ceql.Value) (time.Time, bool) {
	if d, ok := v.Time(); ok {
		return d, true
	}
	if v.Kind == ceql.String && v.Text != "" && len(v.Text) <= 18 && strings.Trim(v.Text, "0123456789") == "" {
		ms, err := strconv.ParseInt(v.Text, 10, 64)
		return time.UnixMilli(ms).UTC(), err == nil
	}
	return time.Time{}, false
}

// isPropertyName reports whether s looks like a HubSpot internal property
// name.
func isPropertyName(s string) bool {
	if s == "" || len(s) > 100 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
