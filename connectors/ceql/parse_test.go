package ceql_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pollwire/pollwire/connectors/ceql"
)

func str(s string) ceql.Value { return ceql.Value{Kind: ceql.String, Text: s} }
func num(s string) ceql.Value { return ceql.Value{Kind: ceql.Number, Text: s} }

var (
	vTrue  = ceql.Value{Kind: ceql.Bool, Text: "true"}
	vFalse = ceql.Value{Kind: ceql.Bool, Text: "false"}
	vNull  = ceql.Value{Kind: ceql.Null, Text: "null"}
)

func cmp(field string, op ceql.Op, v ceql.Value) *ceql.Compare {
	return &ceql.Compare{Field: field, Op: op, Value: v}
}
func and(t ...ceql.Expr) *ceql.And { return &ceql.And{Terms: t} }
func or(t ...ceql.Expr) *ceql.Or   { return &ceql.Or{Terms: t} }
func in(field string, not bool, v ...ceql.Value) *ceql.In {
	return &ceql.In{Field: field, Values: v, Not: not}
}

// a, b, c, d are the clauses a=1 … d=4 of the precedence cases.
var (
	a = cmp("a", ceql.Eq, num("1"))
	b = cmp("b", ceql.Eq, num("2"))
	c = cmp("c", ceql.Eq, num("3"))
	d = cmp("d", ceql.Eq, num("4"))
)

var validCases = []struct {
	name string
	in   string
	want ceql.Expr
}{
	// SAP's and pollwire's own examples.
	{"sap example", `date_updated>'2024-01-02T03:04:05.123456+00:00'`,
		cmp("date_updated", ceql.Gt, str("2024-01-02T03:04:05.123456+00:00"))},
	{"poller url", `date_updated>'2024-01-02T03:04:05.123456Z' AND status='active'`,
		and(cmp("date_updated", ceql.Gt, str("2024-01-02T03:04:05.123456Z")), cmp("status", ceql.Eq, str("active")))},

	// Operators.
	{"eq", `a = 1`, a},
	{"ne", `a != 1`, cmp("a", ceql.Ne, num("1"))},
	{"ne sql", `a <> 1`, cmp("a", ceql.Ne, num("1"))},
	{"lt", `a < 1`, cmp("a", ceql.Lt, num("1"))},
	{"gt", `a > 1`, cmp("a", ceql.Gt, num("1"))},
	{"le", `a <= 1`, cmp("a", ceql.Le, num("1"))},
	{"ge", `a >= 1`, cmp("a", ceql.Ge, num("1"))},
	{"like", `name LIKE 'Ann%'`, cmp("name", ceql.Like, str("Ann%"))},
	{"not like", `name NOT LIKE '%_test'`, cmp("name", ceql.NotLike, str("%_test"))},
	{"like double quotes", `name like "a%"`, cmp("name", ceql.Like, str("a%"))},
	{"ops without spaces", `a>=-1 AND b<=-2 AND c<>'x' AND d!=true`,
		and(cmp("a", ceql.Ge, num("-1")), cmp("b", ceql.Le, num("-2")), cmp("c", ceql.Ne, str("x")), cmp("d", ceql.Ne, vTrue))},
	{"eq null stays a compare", `a = null`, cmp("a", ceql.Eq, vNull)},

	// Precedence and parentheses.
	{"and binds tighter, right", `a=1 OR b=2 AND c=3`, or(a, and(b, c))},
	{"and binds tighter, left", `a=1 AND b=2 OR c=3`, or(and(a, b), c)},
	{"and binds tighter, middle", `a=1 OR b=2 AND c=3 OR d=4`, or(a, and(b, c), d)},
	{"parens override", `(a=1 OR b=2) AND c=3`, and(or(a, b), c)},
	{"two groups", `(a=1 OR b=2) AND (c=3 OR d=4)`, and(or(a, b), or(c, d))},
	{"redundant parens", `((a=1))`, a},
	{"deep redundant parens", `(((a=1 OR ((b=2))))) AND (c=3)`, and(or(a, b), c)},
	{"nested mix", `a=1 AND (b=2 OR (c=3 AND d=4))`, and(a, or(b, and(c, d)))},
	{"flatten and left", `(a=1 AND b=2) AND c=3`, and(a, b, c)},
	{"flatten and right", `a=1 AND (b=2 AND c=3)`, and(a, b, c)},
	{"flatten or", `(a=1 OR b=2) OR (c=3 OR d=4)`, or(a, b, c, d)},
	{"flatten or inside and inside or", `a=1 OR (b=2 AND (c=3 AND d=4))`, or(a, and(b, c, d))},
	{"parens glued to keywords", `(a=1)AND(b=2)OR(c=3)`, or(and(a, b), c)},

	// Keywords in any case.
	{"lower keywords", `a=1 and b=2 or c=3`, or(and(a, b), c)},
	{"mixed keywords", `a=1 AnD b=2 oR c=3`, or(and(a, b), c)},
	{"mixed not like", `n Not LiKe 'x'`, cmp("n", ceql.NotLike, str("x"))},
	{"mixed is not null", `n iS nOt NuLl`, &ceql.IsNull{Field: "n", Not: true}},

	// Field names.
	{"dotted", `properties.email = 'a@b.c'`, cmp("properties.email", ceql.Eq, str("a@b.c"))},
	{"close custom", `custom.cf_x = 'y'`, cmp("custom.cf_x", ceql.Eq, str("y"))},
	{"segment with digit first", `items.0.name = 'x'`, cmp("items.0.name", ceql.Eq, str("x"))},
	{"salesforce custom", `Custom__c = 1`, cmp("Custom__c", ceql.Eq, num("1"))},
	{"underscore first", `_id = 1`, cmp("_id", ceql.Eq, num("1"))},
	{"unicode letters", `Prénom = 'Zoë'`, cmp("Prénom", ceql.Eq, str("Zoë"))},
	{"combining mark", "Pre\u0301nom = 1", cmp("Pre\u0301nom", ceql.Eq, num("1"))},
	{"keyword prefixes", `android=1 AND island=2 AND notes LIKE 'x' AND nullable IS NULL AND order_id IN (1) AND is_active=true`,
		and(cmp("android", ceql.Eq, num("1")), cmp("island", ceql.Eq, num("2")), cmp("notes", ceql.Like, str("x")),
			&ceql.IsNull{Field: "nullable"}, in("order_id", false, num("1")), cmp("is_active", ceql.Eq, vTrue))},
	{"backticked", "`Last Name` = 'Doe'", cmp("Last Name", ceql.Eq, str("Doe"))},
	{"backtick escape", "`a``b` = 1", cmp("a`b", ceql.Eq, num("1"))},
	{"backticked keyword", "`and` = 1 AND `NULL` IS NULL", and(cmp("and", ceql.Eq, num("1")), &ceql.IsNull{Field: "NULL"})},
	{"backticked dotted", "`a.b` = 1", cmp("a.b", ceql.Eq, num("1"))},
	{"backticked odd", "`x = 'y' AND` = 1", cmp("x = 'y' AND", ceql.Eq, num("1"))},

	// Strings.
	{"escaped quote", `a = 'it''s'`, cmp("a", ceql.Eq, str("it's"))},
	{"only a quote", `a = ''''`, cmp("a", ceql.Eq, str("'"))},
	{"empty string", `a = ''`, cmp("a", ceql.Eq, str(""))},
	{"double quoted", `a = "say ""hi"""`, cmp("a", ceql.Eq, str(`say "hi"`))},
	{"double quoted apostrophe", `a = "it's"`, cmp("a", ceql.Eq, str("it's"))},
	{"double quotes in single", `a = 'a "b"'`, cmp("a", ceql.Eq, str(`a "b"`))},
	{"backslash is literal", `a = 'C:\dir\'`, cmp("a", ceql.Eq, str(`C:\dir\`))},
	{"keywords in a string", `a = 'x AND b = 1 OR ('`, cmp("a", ceql.Eq, str("x AND b = 1 OR ("))},
	{"unicode string", `a = 'é 日本 😀'`, cmp("a", ceql.Eq, str("é 日本 😀"))},
	{"newline in string", "a = 'x\ny'", cmp("a", ceql.Eq, str("x\ny"))},
	{"string glued to keyword", `a='x'AND b='y'`, and(cmp("a", ceql.Eq, str("x")), cmp("b", ceql.Eq, str("y")))},

	// Numbers keep their text.
	{"zero", `a = 0`, cmp("a", ceql.Eq, num("0"))},
	{"negative", `a = -7`, cmp("a", ceql.Eq, num("-7"))},
	{"decimal", `a = 3.14`, cmp("a", ceql.Eq, num("3.14"))},
	{"negative decimal", `a = -0.50`, cmp("a", ceql.Eq, num("-0.50"))},
	{"exponent", `a = 1e10`, cmp("a", ceql.Eq, num("1e10"))},
	{"negative exponent", `a = 1E-3`, cmp("a", ceql.Eq, num("1E-3"))},
	{"signed exponent", `a = -2.5e+8`, cmp("a", ceql.Eq, num("-2.5e+8"))},
	{"leading zeros", `a = 007`, cmp("a", ceql.Eq, num("007"))},
	{"epoch ms", `date_updated > 1704164645123`, cmp("date_updated", ceql.Gt, num("1704164645123"))},

	// Booleans and null.
	{"true", `a = true`, cmp("a", ceql.Eq, vTrue)},
	{"FALSE", `a = FALSE`, cmp("a", ceql.Eq, vFalse)},
	{"True", `a != True`, cmp("a", ceql.Ne, vTrue)},
	{"NULL value", `a != NULL`, cmp("a", ceql.Ne, vNull)},

	// IN lists.
	{"in one", `a IN (1)`, in("a", false, num("1"))},
	{"in mixed", `a in ('x', "y", 3, -4.5, true, null)`, in("a", false, str("x"), str("y"), num("3"), num("-4.5"), vTrue, vNull)},
	{"not in", `a NOT IN ('x','y')`, in("a", true, str("x"), str("y"))},
	{"in glued", `a IN('x','y')OR b IS NULL`, or(in("a", false, str("x"), str("y")), &ceql.IsNull{Field: "b"})},
	{"in with comma string", `a IN ('x, y', ')')`, in("a", false, str("x, y"), str(")"))},

	// IS [NOT] NULL.
	{"is null", `a IS NULL`, &ceql.IsNull{Field: "a"}},
	{"is not null", `a is not null`, &ceql.IsNull{Field: "a", Not: true}},
	{"is null dotted", `properties.phone IS NOT NULL AND a=1`, and(&ceql.IsNull{Field: "properties.phone", Not: true}, a)},

	// Whitespace.
	{"no whitespace", `a=1`, a},
	{"lots of whitespace", " \t\n a \r\n=\f1\v AND\n\nb\t=\t2 \n", and(a, b)},

	// Nesting at the limit.
	{"max depth", strings.Repeat("(", ceql.MaxDepth) + "a=1" + strings.Repeat(")", ceql.MaxDepth), a},
}

func TestParse(t *testing.T) {
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ceql.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Parse(%q)\n got %s\nwant %s", tc.in, got, tc.want)
			}
		})
	}
}

// TestRoundTrip checks that String renders what Parse reads back to the
// same AST, and that the rendering is a fixed point.
func TestRoundTrip(t *testing.T) {
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			assertRoundTrip(t, tc.want)
		})
	}
	// ASTs whose fields and strings need quoting, built by hand.
	built := []ceql.Expr{
		cmp("a`b", ceql.Eq, str("it's")),
		cmp("``", ceql.Eq, str("''")),
		cmp("with space", ceql.Like, str("%x%")),
		cmp("in", ceql.Eq, num("1")),
		cmp("True", ceql.Eq, vTrue),
		cmp("1st", ceql.Eq, num("1")),
		cmp("a.", ceql.Eq, num("1")),
		cmp(".a", ceql.Eq, num("1")),
		cmp("a..b", ceql.Eq, num("1")),
		cmp("a-b", ceql.Eq, num("1")),
		cmp("☃", ceql.Eq, num("1")),
		cmp("a\xffb", ceql.Eq, str("\xff\x00")),
		&ceql.IsNull{Field: "not", Not: true},
		in("is", true, str("'"), str("`"), str(`"`)),
		or(and(a, or(b, c)), and(c, d)),
	}
	for _, e := range built {
		t.Run(e.String(), func(t *testing.T) { assertRoundTrip(t, e) })
	}
}

func assertRoundTrip(t *testing.T, e ceql.Expr) {
	t.Helper()
	s := e.String()
	back, err := ceql.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q) of %#v: %v", s, e, err)
	}
	if !reflect.DeepEqual(back, e) {
		t.Fatalf("Parse(%q) = %s, want %s", s, back, e)
	}
	if s2 := back.String(); s2 != s {
		t.Fatalf("String not stable: %q then %q", s, s2)
	}
}

// TestString pins the canonical rendering.
func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`date_updated>'2024-01-02T03:04:05Z'and status="it's"`, `date_updated > '2024-01-02T03:04:05Z' AND status = 'it''s'`},
		{`a=1 or b=2 and c=3`, `a = 1 OR b = 2 AND c = 3`},
		{`(a=1 or b=2) and c=3`, `(a = 1 OR b = 2) AND c = 3`},
		{`((a=1 and b=2)) or c=3`, `a = 1 AND b = 2 OR c = 3`},
		{`a<>1`, `a != 1`},
		{`a not in('x',2,TRUE,Null)`, `a NOT IN ('x', 2, true, null)`},
		{`a is not null and b is null`, `a IS NOT NULL AND b IS NULL`},
		{`a not like "x%"`, `a NOT LIKE 'x%'`},
		{"`Last Name`='x' and `a.b`=1 and `or`=2 and `a``b`=3", "`Last Name` = 'x' AND a.b = 1 AND `or` = 2 AND `a``b` = 3"},
		{`x = -1.50E+3`, `x = -1.50E+3`},
	} {
		e, err := ceql.Parse(tc.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		if got := e.String(); got != tc.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
	}
}

var invalidCases = []struct {
	in  string
	pos int
	msg string // a substring of the message
}{
	{"", 0, "empty query"},
	{" \t\n", 0, "empty query"},
	{"a", 1, `expected an operator (=, !=, <, >, <=, >=, LIKE, IN, IS) after "a", found end of input`},
	{"a 1", 2, `expected an operator`},
	{"`Last Name` 'x'", 12, "after \"`Last Name`\", found \"'x'\""},
	{"a =", 3, `expected a value after "=", found end of input`},
	{"date_updated>", 13, `expected a value after ">", found end of input`},
	{"a <> ", 5, `expected a value after "<>"`},
	{"a = active", 4, `expected a value after "=", found "active" (quote strings: 'active')`},
	{"a = b = 1", 4, `(quote strings: 'b')`},
	{"a == 1", 3, `expected a value after "=", found "="`},
	{"a = (1)", 4, `expected a value after "=", found "("`},
	{"a ! 1", 2, `unexpected "!"; the operator is "!="`},
	{"a = 1 & b = 2", 6, `unexpected "&"`},
	{"a = 1 && b = 2", 6, `unexpected "&"`},
	{"a = 1; b = 2", 5, `unexpected ";"`},
	{"☃ = 1", 0, `unexpected "☃"`},
	{"a\xff = 1", 1, `unexpected "\xff"`},
	{"a = 1 AND", 9, `expected a field name, found end of input`},
	{"a = 1 OR", 8, `expected a field name, found end of input`},
	{"AND a = 1", 0, "expected a field name, found \"AND\" (backtick a field named like a keyword: `AND`)"},
	{"a = 1 AND NOT b = 2", 10, `expected a field name (NOT only comes in NOT LIKE, NOT IN and IS NOT NULL), found "NOT"`},
	{"`" + strings.Repeat("x", 40) + "` 1", 43, "after \"`xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"…, found \"1\""},
	{"a = 1 OR OR b = 2", 9, `expected a field name, found "OR"`},
	{"null IS NULL", 0, "backtick a field named like a keyword: `null`"},
	{"=1", 0, `expected a field name, found "="`},
	{"'a' = 1", 0, `expected a field name, found "'a'"`},
	{"1 = 1", 0, `expected a field name, found "1"`},
	{"a = 1 b = 2", 6, `expected AND, OR or end of input, found "b"`},
	{"a = 1)", 5, `expected AND, OR or end of input, found ")"`},
	{"a IS NULL NULL", 10, `expected AND, OR or end of input, found "NULL"`},
	{"a = 1 AND b = 2 c", 16, `expected AND, OR or end of input`},
	{"()", 1, `expected a field name, found ")"`},
	{"(a = 1", 6, `expected ")" to close the "(" at 0, found end of input`},
	{"a = 1 AND (b = 2", 16, `expected ")" to close the "(" at 10`},
	{"((a = 1)", 8, `expected ")" to close the "(" at 0`},
	{"a = 1 AND (b = 2 c", 17, `expected AND, OR or ")", found "c"`},
	{"a = 'abc", 4, `unterminated string: no closing '`},
	{"a = 'it''s", 4, `unterminated string`},
	{`a = "abc`, 4, `unterminated string: no closing "`},
	{"`abc = 1", 0, "unterminated field name: no closing `"},
	{"`` = 1", 0, "empty field name"},
	{"a IN ()", 6, `expected a value after "(", found ")"`},
	{"a IN (1,", 8, `expected a value after ",", found end of input`},
	{"a IN (1,)", 8, `expected a value after ","`},
	{"a IN (1 2)", 8, `expected "," or ")" in the IN list, found "2"`},
	{"a IN (1", 7, `expected "," or ")" in the IN list, found end of input`},
	{"a IN 1", 5, `expected "(" after "IN", found "1"`},
	{"a not in 'x'", 9, `expected "(" after "in"`},
	{"a NOT = 1", 6, `expected LIKE or IN after "NOT", found "="`},
	{"a NOT NULL", 6, `expected LIKE or IN after "NOT"`},
	{"a IS 1", 5, `expected NULL after "IS", found "1"`},
	{"a IS NOT", 8, `expected NULL after "NOT", found end of input`},
	{"a IS NOT 'x'", 9, `expected NULL after "NOT"`},
	{"a LIKE 5", 7, `expected a quoted pattern after "LIKE", found "5"`},
	{"a NOT LIKE null", 11, `expected a quoted pattern after "LIKE"`},
	{"a = -", 5, `expected a digit after "-"`},
	{"a = -x", 5, `expected a digit after "-"`},
	{"a = 1.", 6, `expected a digit after "1."`},
	{"a = .5", 4, `unexpected "."`},
	{"a = +5", 4, `unexpected "+"`},
	{"a = 1e", 6, `expected a digit after "1e"`},
	{"a = 1e+", 7, `expected a digit after "1e+"`},
	{"a = 12abc", 6, `unexpected "a" after the number 12 (quote a string, backtick a field name)`},
	{"a = 1.2.3", 7, `unexpected "." after the number 1.2`},
	{"a = 1AND b = 2", 5, `unexpected "A" after the number 1`},
	{"1st = 1", 1, `unexpected "s" after the number 1`},
	{"a. = 1", 1, `expected a name after "a."`},
	{"a..b = 1", 1, `expected a name after "a."`},
	{"a.b. = 1", 3, `expected a name after "a.b."`},
	{"a = 1 AND b.", 11, `expected a name after "b."`},
	{strings.Repeat("(", ceql.MaxDepth+1) + "a=1" + strings.Repeat(")", ceql.MaxDepth+1), ceql.MaxDepth, "parentheses nested deeper than 100 levels"},
	{"a=1 AND " + strings.Repeat("(", 1_000_000), 8 + ceql.MaxDepth, "parentheses nested deeper than 100 levels"},
	{"a = '" + strings.Repeat("x", 100) + "' b", 107, `found "b"`},
	{"a b" + strings.Repeat("é", 20), 2, `found "b` + strings.Repeat("é", 15) + `"…`},
	{"a = 1 OR `x", 9, "unterminated field name"},
	{"(`x", 1, "unterminated field name"},
	{"a LIKE 'x", 7, "unterminated string"},
	{"a NOT LIKE 1x", 12, `unexpected "x" after the number 1`},
	{"a IN 'x", 5, "unterminated string"},
	{"a IN ('x", 6, "unterminated string"},
	{"a IN ('x', 'y", 11, "unterminated string"},
	{"a IN ('x' 'y", 10, "unterminated string"},
	{"a IN ('x') 'y", 11, "unterminated string"},
	{"a IS 'x", 5, "unterminated string"},
	{"a IS NOT 'x", 9, "unterminated string"},
	{"a IS NULL 'x", 10, "unterminated string"},
	{"a NOT 'x", 6, "unterminated string"},
	{"a = 'x' AND 'y", 12, "unterminated string"},
	{"a b" + strings.Repeat("x", 100), 2, `found "bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"…`},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range invalidCases {
		name := tc.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			e, err := ceql.Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want an error", tc.in, e)
			}
			var se *ceql.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): %T %v, want a *SyntaxError", tc.in, err, err)
			}
			if se.Pos != tc.pos || !strings.Contains(se.Msg, tc.msg) {
				t.Fatalf("Parse(%q): %v\nwant at %d: …%s…", tc.in, err, tc.pos, tc.msg)
			}
		})
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := ceql.Parse(`date_updated>`)
	want := `ceql: at 13: expected a value after ">", found end of input`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

// TestLongQuery checks that long flat queries, which do not nest, are not
// held to MaxDepth and parse in linear time.
func TestLongQuery(t *testing.T) {
	const n = 100_000
	q := "a=1" + strings.Repeat(" AND b=2 OR c=3", n)
	e, err := ceql.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(e.(*ceql.Or).Terms); got != n+1 {
		t.Fatalf("%d OR terms, want %d", got, n+1)
	}
}

func TestConjuncts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []ceql.Expr
	}{
		{`a=1`, []ceql.Expr{a}},
		{`a=1 AND b=2 AND (c=3 AND d=4)`, []ceql.Expr{a, b, c, d}},
		{`a=1 AND (b=2 OR c=3)`, []ceql.Expr{a, or(b, c)}},
		{`a=1 AND b=2 OR c=3`, []ceql.Expr{or(and(a, b), c)}},
	} {
		e, err := ceql.Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := ceql.Conjuncts(e); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Conjuncts(%s) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := ceql.Conjuncts(nil); got != nil {
		t.Errorf("Conjuncts(nil) = %v, want nil", got)
	}
}

func TestUnsupported(t *testing.T) {
	clause := cmp("name", ceql.Like, str("a%"))
	for _, tc := range []struct {
		err  *ceql.Unsupported
		want string
	}{
		{&ceql.Unsupported{Clause: clause, Reason: "closeio contacts filter on date_updated only"},
			`cannot translate "name LIKE 'a%'": closeio contacts filter on date_updated only`},
		{&ceql.Unsupported{Clause: cmp("q", ceql.Eq, str(`say "hi"`))},
			`cannot translate "q = 'say \"hi\"'"`},
		{&ceql.Unsupported{Reason: "OR across resources"}, `cannot translate the query: OR across resources`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %s, want %s", got, tc.want)
		}
	}
	var err error = &ceql.Unsupported{Clause: clause}
	var u *ceql.Unsupported
	if !errors.As(err, &u) || u.Clause != clause {
		t.Error("errors.As does not find the *Unsupported")
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[ceql.Kind]string{ceql.String: "string", ceql.Number: "number", ceql.Bool: "bool", ceql.Null: "null", 9: "Kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}
