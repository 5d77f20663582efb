package salesforce

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pollwire/pollwire/connectors/ceql"
)

// object is what a hub resource is in Salesforce.
type object struct {
	name   string   // the sObject
	fields []string // the default SELECT list
}

// objects maps the hub resources to sObjects. The default fields are
// standard fields every org has (no custom fields, no fields that depend on
// features such as person accounts), so a default query never fails with
// INVALID_FIELD; the `fields` poller setting replaces them.
var objects = map[string]object{
	"contacts": {"Contact", []string{"Id", "FirstName", "LastName", "Name", "Email", "Phone", "Title", "AccountId", "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp"}},
	"accounts": {"Account", []string{"Id", "Name", "Type", "Industry", "Phone", "Website", "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp"}},
	"opportunities": {"Opportunity", []string{"Id", "Name", "AccountId", "StageName", "Amount", "CloseDate", "Probability", "IsClosed", "IsWon", "OwnerId",
		"CreatedDate", "LastModifiedDate", "SystemModstamp"}},
	"leads": {"Lead", []string{"Id", "FirstName", "LastName", "Name", "Company", "Email", "Phone", "Status", "IsConverted", "OwnerId",
		"CreatedDate", "LastModifiedDate", "SystemModstamp"}},
	"activities": {"Task", []string{"Id", "Subject", "Status", "Priority", "ActivityDate", "WhoId", "WhatId", "OwnerId", "IsClosed",
		"CreatedDate", "LastModifiedDate", "SystemModstamp"}},
}

// Object returns the sObject a hub resource polls ("" for none).
func Object(resource string) string { return objects[resource].name }

// DefaultFields returns a copy of the fields a hub resource selects by
// default.
func DefaultFields(resource string) []string {
	return append([]string(nil), objects[resource].fields...)
}

// requiredFields are selected whatever the `fields` setting says: the id
// and the dates the recommended datesConfiguration reads.
var requiredFields = []string{"Id", "CreatedDate", "SystemModstamp"}

// Query is a hub resource's poll translated into SOQL, less the window
// start, which is only known when a poll runs (see SOQL).
type Query struct {
	Resource string   // the hub resource, e.g. "contacts"
	Object   string   // the sObject, e.g. "Contact"
	Fields   []string // the SELECT list
	// From is the earliest modification time the CEQL asks for (its
	// SystemModstamp or LastModifiedDate lower bound), zero when it names
	// none; FromInclusive says the bound was >=.
	From          time.Time
	FromInclusive bool
	// Filter is the rest of the CEQL in SOQL, "" when there is none. It is
	// ANDed with the window start.
	Filter string
}

// Translate turns a hub resource and its CEQL where clause into a Query.
// Every clause SOQL can express is translated; the others are refused with
// a *ceql.Unsupported naming the clause. Top-level `>` or `>=` clauses on
// SystemModstamp or LastModifiedDate are the window start: the poll uses
// the earlier of them and its own window start, on SystemModstamp (which
// moves whenever LastModifiedDate does, and with system changes too).
func Translate(resource, where string) (Query, error) {
	obj, ok := objects[resource]
	if !ok {
		return Query{}, fmt.Errorf("%w %q", ErrUnknownResource, resource)
	}
	q := Query{Resource: resource, Object: obj.name, Fields: append([]string(nil), obj.fields...)}
	if strings.TrimSpace(where) == "" {
		return q, nil
	}
	expr, err := ceql.Parse(where)
	if err != nil {
		return Query{}, err
	}
	var parts []string
	for _, term := range ceql.Conjuncts(expr) {
		if t, incl, ok, err := windowBound(term); err != nil {
			return Query{}, err
		} else if ok {
			if q.From.IsZero() || t.Before(q.From) || (t.Equal(q.From) && incl) {
				q.From, q.FromInclusive = t, incl
			}
			continue
		}
		s, err := translate(term)
		if err != nil {
			return Query{}, err
		}
		parts = append(parts, s)
	}
	q.Filter = strings.Join(parts, " AND ")
	return q, nil
}

// ValidateQuery is the connector's provisioning check of a hub poller's
// CEQL: it translates or names the clause it cannot.
func ValidateQuery(resource, where string) error {
	_, err := Translate(resource, where)
	return err
}

// minBound keeps the window start inside the dates Salesforce accepts.
var minBound = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// SOQL renders the query for a poll whose window starts at since:
//
//	SELECT <fields> FROM <Object> WHERE SystemModstamp > <start> [AND <filter>] ORDER BY SystemModstamp, Id
//
// The start is the earlier of since and the CEQL's own bound, cut to whole
// seconds (the literal format Salesforce documents); cutting only widens
// the window, and the engine drops what it has already seen. Ordering by
// Id after SystemModstamp makes the order total, so records sharing a
// timestamp page in a stable order.
func (q *Query) SOQL(since time.Time) string {
	start, incl := since, false
	if !q.From.IsZero() && (q.From.Before(since) || (q.From.Equal(since) && q.FromInclusive)) {
		start, incl = q.From, q.FromInclusive
	}
	if start.Before(minBound) {
		start = minBound
	}
	var b strings.Builder
	b.Grow(64 + 16*len(q.Fields) + len(q.Filter))
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(q.Fields, ", "))
	b.WriteString(" FROM ")
	b.WriteString(q.Object)
	b.WriteString(" WHERE SystemModstamp ")
	if incl {
		b.WriteString(">= ")
	} else {
		b.WriteString("> ")
	}
	b.WriteString(DateTimeLiteral(start.Truncate(time.Second)))
	if q.Filter != "" {
		b.WriteString(" AND ")
		b.WriteString(q.Filter)
	}
	b.WriteString(" ORDER BY SystemModstamp, Id")
	return b.String()
}

// WithFields returns q selecting fields instead of its defaults, plus the
// required ones (Id, CreatedDate, SystemModstamp) when missing.
func (q Query) WithFields(fields []string) Query {
	if len(fields) == 0 {
		return q
	}
	out := append([]string(nil), fields...)
	for _, r := range requiredFields {
		found := false
		for _, f := range fields {
			if strings.EqualFold(f, r) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, r)
		}
	}
	q.Fields = out
	return q
}

// DateTimeLiteral writes t as a SOQL dateTime literal: UTC, whole seconds,
// no quotes (2024-01-02T03:04:05Z).
func DateTimeLiteral(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// windowBound reports whether term is a window start (a > or >= on
// SystemModstamp or LastModifiedDate) and its time.
func windowBound(term ceql.Expr) (t time.Time, inclusive, ok bool, err error) {
	c, isCmp := term.(*ceql.Compare)
	if !isCmp || (c.Op != ceql.Gt && c.Op != ceql.Ge) {
		return time.Time{}, false, false, nil
	}
	if !strings.EqualFold(c.Field, "SystemModstamp") && !strings.EqualFold(c.Field, "LastModifiedDate") {
		return time.Time{}, false, false, nil
	}
	t, ok = c.Value.Time()
	if !ok {
		return time.Time{}, false, false, &ceql.Unsupported{Clause: term, Reason: fmt.Sprintf("%s is not an ISO 8601 date-time such as '2024-01-02T03:04:05Z' (or epoch milliseconds)", c.Value)}
	}
	return t, c.Op == ceql.Ge, true, nil
}

// translate renders one CEQL expression as a SOQL condition.
func translate(e ceql.Expr) (string, error) {
	switch e := e.(type) {
	case *ceql.And:
		return junction(e.Terms, " AND ")
	case *ceql.Or:
		return junction(e.Terms, " OR ")
	case *ceql.Compare:
		return compare(e)
	case *ceql.In:
		return in(e)
	case *ceql.IsNull:
		if err := checkField(e, e.Field); err != nil {
			return "", err
		}
		// SOQL has no IS NULL: it compares with null.
		if e.Not {
			return e.Field + " != null", nil
		}
		return e.Field + " = null", nil
	case nil:
		return "", &ceql.Unsupported{Reason: "empty expression"}
	}
	return "", &ceql.Unsupported{Clause: e, Reason: "not a clause SOQL can express"}
}

// junction joins terms in parentheses: SOQL refuses AND and OR mixed
// without them, so every junction is closed.
func junction(terms []ceql.Expr, sep string) (string, error) {
	parts := make([]string, 0, len(terms))
	for _, t := range terms {
		s, err := translate(t)
		if err != nil {
			return "", err
		}
		parts = append(parts, s)
	}
	return "(" + strings.Join(parts, sep) + ")", nil
}

var soqlOps = map[ceql.Op]string{
	ceql.Eq: "=", ceql.Ne: "!=", ceql.Lt: "<", ceql.Gt: ">", ceql.Le: "<=", ceql.Ge: ">=",
}

func compare(c *ceql.Compare) (string, error) {
	if err := checkField(c, c.Field); err != nil {
		return "", err
	}
	switch c.Op {
	case ceql.Like, ceql.NotLike:
		if c.Value.Kind != ceql.String {
			return "", &ceql.Unsupported{Clause: c, Reason: "LIKE takes a quoted pattern"}
		}
		// The pattern keeps CEQL's % and _ wildcards, which are SOQL's too.
		s := c.Field + " LIKE " + QuoteString(c.Value.Text)
		if c.Op == ceql.NotLike {
			return "(NOT " + s + ")", nil
		}
		return s, nil
	}
	op, ok := soqlOps[c.Op]
	if !ok {
		return "", &ceql.Unsupported{Clause: c, Reason: fmt.Sprintf("operator %s has no SOQL equivalent", c.Op)}
	}
	if c.Value.Kind == ceql.Null && op != "=" && op != "!=" {
		return "", &ceql.Unsupported{Clause: c, Reason: "null compares only with = and !="}
	}
	v, err := literal(c, c.Field, c.Value, op)
	if err != nil {
		return "", err
	}
	return c.Field + " " + op + " " + v, nil
}

func in(e *ceql.In) (string, error) {
	if err := checkField(e, e.Field); err != nil {
		return "", err
	}
	vals := make([]string, 0, len(e.Values))
	for _, v := range e.Values {
		if v.Kind == ceql.Null {
			return "", &ceql.Unsupported{Clause: e, Reason: "IN lists of SOQL hold no null; use = null"}
		}
		s, err := literal(e, e.Field, v, "=")
		if err != nil {
			return "", err
		}
		vals = append(vals, s)
	}
	op := " IN ("
	if e.Not {
		op = " NOT IN ("
	}
	return e.Field + op + strings.Join(vals, ", ") + ")", nil
}

// literal renders a value for field. Salesforce types its literals: date
// and dateTime values are unquoted, strings quoted. Without the org's
// field metadata the type comes from the name: the standard date fields
// all end in Date (CreatedDate, CloseDate, Birthdate…) or are
// SystemModstamp, and custom ones are usually named alike.
func literal(clause ceql.Expr, field string, v ceql.Value, op string) (string, error) {
	if !isDateField(field) {
		switch v.Kind {
		case ceql.Number:
			n, ok := decimal(v.Text)
			if !ok {
				return "", &ceql.Unsupported{Clause: clause, Reason: fmt.Sprintf("%s is too large or too small for a SOQL number", v.Text)}
			}
			return n, nil
		case ceql.Bool:
			return v.Text, nil
		case ceql.Null:
			return "null", nil
		}
		return QuoteString(v.Text), nil
	}
	if v.Kind == ceql.Null {
		return "null", nil
	}
	t, ok := v.Time()
	if !ok {
		return "", &ceql.Unsupported{Clause: clause, Reason: fmt.Sprintf("%s is a date field and %s is not an ISO 8601 date (2024-01-02), date-time (2024-01-02T03:04:05Z) or epoch milliseconds", field, v)}
	}
	if v.Kind == ceql.String && len(v.Text) == 10 {
		return t.Format("2006-01-02"), nil // a date: for date fields such as CloseDate
	}
	// SOQL's dateTime literals have whole seconds. Rounding away from the
	// value keeps a bound from losing records: down for > and >=, up for <
	// and <=; an equality with a fraction has no exact literal.
	if t.Sub(t.Truncate(time.Second)) != 0 {
		switch op {
		case ">", ">=":
		case "<", "<=":
			t = t.Add(time.Second)
		default:
			return "", &ceql.Unsupported{Clause: clause, Reason: "SOQL date-times have whole seconds; this one has a fraction"}
		}
	}
	return DateTimeLiteral(t.Truncate(time.Second)), nil
}

// maxExponent bounds the exponents decimal writes out in full.
const maxExponent = 64

// decimal writes a CEQL number (-?digits(.digits)?(e±digits)?) in plain
// decimal notation, exactly: SOQL's numbers have no exponent. 1.50e3 is
// 1500, 25e-4 is 0.0025.
func decimal(text string) (string, bool) {
	mant, exp, hasExp := strings.Cut(strings.ToLower(text), "e")
	if !hasExp {
		return text, true
	}
	e, err := strconv.Atoi(strings.TrimPrefix(exp, "+"))
	if err != nil || e > maxExponent || e < -maxExponent {
		return "", false
	}
	sign := ""
	if strings.HasPrefix(mant, "-") {
		sign, mant = "-", mant[1:]
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	point := len(intPart) + e // where the decimal point goes in digits
	var out string
	switch {
	case point <= 0:
		out = "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		out = digits + strings.Repeat("0", point-len(digits))
	default:
		out = digits[:point] + "." + digits[point:]
	}
	if i, _, _ := strings.Cut(out, "."); len(i) > 1 {
		trimmed := strings.TrimLeft(i, "0")
		if trimmed == "" {
			trimmed = "0"
		}
		out = trimmed + out[len(i):]
	}
	return sign + out, true
}

// fieldName is a SOQL field, with up to five relationship hops
// (Account.Owner.Name).
var fieldName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*){0,5}$`)

func checkField(clause ceql.Expr, f string) error {
	if !fieldName.MatchString(f) || strings.Contains(f, "___") || strings.HasSuffix(f, "_") {
		return &ceql.Unsupported{Clause: clause, Reason: fmt.Sprintf("%q is not a Salesforce field name", f)}
	}
	return nil
}

// isDateField guesses from its name whether a field holds a date or a
// date-time (see literal).
func isDateField(f string) bool {
	base := strings.ToLower(f[strings.LastIndexByte(f, '.')+1:])
	base = strings.TrimSuffix(base, "__c")
	return strings.HasSuffix(base, "date") || strings.HasSuffix(base, "modstamp")
}

// QuoteString writes s as a SOQL string literal: single quotes, with
// quotes, backslashes and control characters escaped with SOQL's escapes
// (\n \r \t \b \f \' \\ \uXXXX).
func QuoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'':
			b.WriteString(`\'`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04x`, r) // the other control characters
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// dateLayouts are the ISO 8601 forms the simulator accepts in written
// fields and getDeleted parameters, most common first.
var dateLayouts = []string{
	time.RFC3339Nano,                     // 2024-01-02T03:04:05.123Z, +01:00
	"2006-01-02T15:04:05.999999999Z0700", // 2024-01-02T03:04:05.000+0000 (Salesforce's own)
	"2006-01-02T15:04:05.999999999",      // no zone: UTC
}

// parseDateTime reads an ISO 8601 date-time, or a date (dateOnly) as
// midnight UTC.
func parseDateTime(s string) (t time.Time, dateOnly, ok bool) {
	if len(s) == 10 {
		t, err := time.Parse("2006-01-02", s)
		return t, true, err == nil
	}
	if len(s) < 19 || s[10] != 'T' {
		return time.Time{}, false, false
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), false, true
		}
	}
	return time.Time{}, false, false
}
