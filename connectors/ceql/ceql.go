// Package ceql parses CEQL, the query language of SAP Open Connectors'
// `where` parameter, into a small AST that each connector translates into its
// vendor's own query (Close query strings, HubSpot search filterGroups,
// Salesforce SOQL).
//
// A poller URL such as
//
//	/hubs/crm/contacts?where=date_updated>'2024-01-02T03:04:05.123456Z' AND status='active'
//
// parses into
//
//	And{Terms: []Expr{
//		Compare{Field: "date_updated", Op: Gt, Value: Value{Kind: String, Text: "2024-01-02T03:04:05.123456Z"}},
//		Compare{Field: "status", Op: Eq, Value: Value{Kind: String, Text: "active"}},
//	}}
//
// The parser checks syntax only. Whether a field exists, or a vendor can
// filter on it with that operator, is the connector's call: it answers an
// *Unsupported naming the clause it cannot translate.
package ceql

import (
	"fmt"
	"strings"
)

// Expr is a CEQL expression: *And, *Or, *Compare, *In or *IsNull.
//
// String renders canonical CEQL that Parse reads back to an equal AST
// (reflect.DeepEqual), for every Expr that Parse returns. Connectors use it to
// quote a clause back to the user.
type Expr interface {
	String() string
	isExpr()
}

// And is a conjunction. Parse flattens nested conjunctions, so that
// `(a=1 AND b=2) AND c=3` is one And with three terms and no term of an And is
// itself an And; every And from Parse has at least two terms.
type And struct{ Terms []Expr }

// Or is a disjunction, flattened like And: no term of an Or is itself an Or.
type Or struct{ Terms []Expr }

// Op is a comparison operator. Parse reads `<>` as Ne.
type Op string

// The comparison operators.
const (
	Eq      Op = "="
	Ne      Op = "!="
	Lt      Op = "<"
	Gt      Op = ">"
	Le      Op = "<="
	Ge      Op = ">="
	Like    Op = "LIKE"
	NotLike Op = "NOT LIKE"
)

// Compare is `Field Op Value`. For Like and NotLike the value is always a
// String (the pattern, with SQL's % and _ wildcards left for the connector).
type Compare struct {
	Field string
	Op    Op
	Value Value
}

// In is `Field IN (Values…)`, or `Field NOT IN (Values…)` when Not is set.
// Values has at least one element.
type In struct {
	Field  string
	Values []Value
	Not    bool
}

// IsNull is `Field IS NULL`, or `Field IS NOT NULL` when Not is set.
//
// `Field = null` is a Compare with a Null value, not an IsNull: the parser
// keeps what was written and leaves the equivalence to connectors.
type IsNull struct {
	Field string
	Not   bool
}

// Kind is the type of a literal Value.
type Kind int

// The kinds of value. String is the zero Kind.
const (
	String Kind = iota // 'text' or "text"
	Number             // 42, -1.5, 2e10
	Bool               // true, false
	Null               // null
)

// String returns the kind's name for messages: "string", "number", "bool" or
// "null".
func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Number:
		return "number"
	case Bool:
		return "bool"
	case Null:
		return "null"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Value is a literal. Text is a string's content with its quotes removed and
// its escapes undone, a number's literal text as written (`-1.50e3`, never
// reformatted, so that no precision is lost on the way to the vendor),
// "true"/"false" or "null".
type Value struct {
	Kind Kind
	Text string
}

func (*And) isExpr()     {}
func (*Or) isExpr()      {}
func (*Compare) isExpr() {}
func (*In) isExpr()      {}
func (*IsNull) isExpr()  {}

// String renders the conjunction, parenthesising the disjunctions in it
// because AND binds tighter than OR. A nested And (never built by Parse) is
// parenthesised too, so that the rendering shows the tree as it is.
func (e *And) String() string { return join(e.Terms, " AND ", isJunction) }

// String renders the disjunction. Conjunctions in it need no parentheses; a
// nested Or (never built by Parse) gets them, as in And.String.
func (e *Or) String() string { return join(e.Terms, " OR ", isOr) }

func (e *Compare) String() string {
	return quoteField(e.Field) + " " + string(e.Op) + " " + e.Value.String()
}

func (e *In) String() string {
	var b strings.Builder
	b.WriteString(quoteField(e.Field))
	if e.Not {
		b.WriteString(" NOT")
	}
	b.WriteString(" IN (")
	for i, v := range e.Values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.String())
	}
	b.WriteString(")")
	return b.String()
}

func (e *IsNull) String() string {
	if e.Not {
		return quoteField(e.Field) + " IS NOT NULL"
	}
	return quoteField(e.Field) + " IS NULL"
}

// String renders the value as a CEQL literal: strings in single quotes, a
// quote inside doubled, everything else as its Text.
func (v Value) String() string {
	if v.Kind == String {
		return "'" + strings.ReplaceAll(v.Text, "'", "''") + "'"
	}
	return v.Text
}

func isOr(e Expr) bool { _, ok := e.(*Or); return ok }

func isJunction(e Expr) bool {
	switch e.(type) {
	case *And, *Or:
		return true
	}
	return false
}

func join(terms []Expr, sep string, paren func(Expr) bool) string {
	var b strings.Builder
	for i, t := range terms {
		if i > 0 {
			b.WriteString(sep)
		}
		if paren(t) {
			b.WriteString("(" + t.String() + ")")
		} else {
			b.WriteString(t.String())
		}
	}
	return b.String()
}

// quoteField writes a field bare when Parse would read it back as the same
// bare field, and in backticks otherwise (spaces, keywords such as `in`,
// anything the bare syntax cannot spell).
func quoteField(f string) string {
	if isBareField(f) {
		return f
	}
	return "`" + strings.ReplaceAll(f, "`", "``") + "`"
}

// Conjuncts returns the top-level AND terms of e: e's terms when e is an And,
// e alone otherwise, nil for nil. Connectors that translate a conjunction
// clause by clause (a date bound here, a status filter there) start here.
func Conjuncts(e Expr) []Expr {
	switch e := e.(type) {
	case nil:
		return nil
	case *And:
		return e.Terms
	}
	return []Expr{e}
}

// SyntaxError is the error Parse returns for input that is not CEQL.
type SyntaxError struct {
	Pos int    // byte offset in the input where the problem starts, from 0; len(input) at its end
	Msg string // what was expected there and what was found
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("ceql: at %d: %s", e.Pos, e.Msg) }

// Unsupported is the error connectors return for a clause they cannot
// translate; the lead turns it into a 400 naming the clause.
type Unsupported struct {
	Clause Expr   // the clause at fault, or nil for the query as a whole
	Reason string // why, from the vendor's point of view
}

// Error reads like `cannot translate "name LIKE 'a%'": closeio contacts
// filter on date_updated only`.
func (e *Unsupported) Error() string {
	what := "the query"
	if e.Clause != nil {
		what = fmt.Sprintf("%q", e.Clause.String())
	}
	if e.Reason == "" {
		return "cannot translate " + what
	}
	return "cannot translate " + what + ": " + e.Reason
}
