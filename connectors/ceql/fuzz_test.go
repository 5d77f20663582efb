package ceql_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/pollwire/pollwire/connectors/ceql"
)

// FuzzParse checks that Parse never panics, that its errors are
// *SyntaxError inside the input, and that whatever parses renders to CEQL
// that parses back to the same AST.
func FuzzParse(f *testing.F) {
	for _, tc := range validCases {
		f.Add(tc.in)
	}
	for _, tc := range invalidCases {
		if len(tc.in) < 1000 {
			f.Add(tc.in)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ceql.Parse(s)
		if err != nil {
			var se *ceql.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): %T %v, want a *SyntaxError", s, err, err)
			}
			if se.Pos < 0 || se.Pos > len(s) {
				t.Fatalf("Parse(%q): position %d outside the input", s, se.Pos)
			}
			return
		}
		if e == nil {
			t.Fatalf("Parse(%q) = nil, nil", s)
		}
		r := e.String()
		back, err := ceql.Parse(r)
		if err != nil {
			t.Fatalf("Parse(%q) = %#v, whose String %q does not parse: %v", s, e, r, err)
		}
		if !reflect.DeepEqual(back, e) {
			t.Fatalf("Parse(%q) = %s; its String %q parses to %s", s, e, r, back)
		}
		if r2 := back.String(); r2 != r {
			t.Fatalf("String not stable for %q: %q then %q", s, r, r2)
		}
		checkShape(t, s, e, 0)
	})
}

// checkShape asserts the invariants connectors rely on: And and Or are
// flattened with at least two terms, IN lists are not empty, LIKE patterns
// are strings. It also reads every value as a time, which must not panic.
func checkShape(t *testing.T, s string, e ceql.Expr, parent int) {
	const inAnd, inOr = 1, 2
	switch e := e.(type) {
	case *ceql.And:
		if len(e.Terms) < 2 || parent == inAnd {
			t.Fatalf("Parse(%q): malformed And %s", s, e)
		}
		for _, x := range e.Terms {
			checkShape(t, s, x, inAnd)
		}
	case *ceql.Or:
		if len(e.Terms) < 2 || parent == inOr {
			t.Fatalf("Parse(%q): malformed Or %s", s, e)
		}
		for _, x := range e.Terms {
			checkShape(t, s, x, inOr)
		}
	case *ceql.Compare:
		if (e.Op == ceql.Like || e.Op == ceql.NotLike) && e.Value.Kind != ceql.String {
			t.Fatalf("Parse(%q): LIKE with a %s", s, e.Value.Kind)
		}
		e.Value.Time()
	case *ceql.In:
		if len(e.Values) == 0 {
			t.Fatalf("Parse(%q): empty IN list", s)
		}
		for _, v := range e.Values {
			v.Time()
		}
	case *ceql.IsNull:
	default:
		t.Fatalf("Parse(%q): unexpected %T", s, e)
	}
}
