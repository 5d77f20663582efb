package salesforce

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The simulator's SOQL: the subset pollwire and its tests send.
//
//	SELECT field, … FROM Object
//	  [WHERE condition]
//	  [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], …]
//	  [LIMIT n]
//
// Conditions compare a field with a literal (=, !=, <>, <, <=, >, >=,
// LIKE, IN (…), NOT IN (…)), joined by AND or OR (not both at one level
// without parentheses, as Salesforce requires) and negated by NOT.
// Literals are 'strings' with backslash escapes, numbers, true, false,
// null, dates (2024-01-02) and date-times (2024-01-02T03:04:05Z, with an
// optional fraction and a ±hh:mm zone), unquoted. Literals are typed
// against the field, as Salesforce types them.

// soqlError is a query Salesforce refuses: errorCode and message.
type soqlError struct {
	code, msg string
}

func (e *soqlError) Error() string { return e.code + ": " + e.msg }

func malformed(format string, args ...any) *soqlError {
	return &soqlError{code: "MALFORMED_QUERY", msg: fmt.Sprintf(format, args...)}
}

// maxSOQL is the longest statement accepted, Salesforce's default limit.
const maxSOQL = 100_000

// litKind is the type of a literal.
type litKind int

const (
	litString litKind = iota
	litNumber
	litBool
	litNull
	litDate
	litDateTime
)

func (k litKind) String() string {
	return [...]string{"string", "number", "boolean", "null", "date", "dateTime"}[k]
}

// simLit is a literal of a condition.
type simLit struct {
	kind litKind
	str  string // string content (escapes undone), date as YYYY-MM-DD
	// pattern is the string as a LIKE pattern (a regular expression);
	// likeOnly says it uses escapes only LIKE allows (\% and \_).
	pattern  string
	likeOnly bool
	num      float64   // number
	b        bool      // boolean
	t        time.Time // date-time
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tLit
	tOp
	tLParen
	tRParen
	tComma
)

type soqlTok struct {
	kind tokKind
	text string // as written (identifiers, operators)
	pos  int    // byte offset, for messages
	lit  simLit
}

var dateTimeLit = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2}))?`)

func lexSOQL(s string) ([]soqlTok, error) {
	var out []soqlTok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, soqlTok{kind: tLParen, text: "(", pos: i})
			i++
		case c == ')':
			out = append(out, soqlTok{kind: tRParen, text: ")", pos: i})
			i++
		case c == ',':
			out = append(out, soqlTok{kind: tComma, text: ",", pos: i})
			i++
		case c == '=' || c == '<' || c == '>' || c == '!':
			op := string(c)
			if i+1 < len(s) && (s[i+1] == '=' || (c == '<' && s[i+1] == '>')) {
				op = s[i : i+2]
			}
			if op == "!" {
				return nil, malformed("unexpected token: '!' at column %d", i+1)
			}
			out = append(out, soqlTok{kind: tOp, text: op, pos: i})
			i += len(op)
		case c == '\'':
			lit, end, err := lexString(s, i)
			if err != nil {
				return nil, err
			}
			out = append(out, soqlTok{kind: tLit, text: s[i:end], pos: i, lit: lit})
			i = end
		case c >= '0' && c <= '9' || (c == '-' || c == '+' || c == '.') && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			lit, end, err := lexNumberOrDate(s, i)
			if err != nil {
				return nil, err
			}
			out = append(out, soqlTok{kind: tLit, text: s[i:end], pos: i, lit: lit})
			i = end
		case c == '_' || c < utf8.RuneSelf && unicode.IsLetter(rune(c)):
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] == '.' || s[j] < utf8.RuneSelf && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])))) {
				j++
			}
			out = append(out, soqlTok{kind: tIdent, text: s[i:j], pos: i})
			i = j
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return nil, malformed("unexpected character %q at column %d", r, i+1)
		}
	}
	return append(out, soqlTok{kind: tEOF, text: "<EOF>", pos: len(s)}), nil
}

// lexString reads a quoted string starting at s[i] == '\”. It returns the
// value and, for LIKE, the pattern as a regular expression: % and _ are
// wildcards there unless escaped. The escapes are SOQL's: \n \r \t \b \f
// (either case), \" \' \\, \uXXXX, and in LIKE only \% and \_; any other
// backslash is an error.
func lexString(s string, i int) (simLit, int, error) {
	var b, pat strings.Builder
	lit := simLit{kind: litString}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; c {
		case '\'':
			lit.str, lit.pattern = b.String(), pat.String()
			return lit, j + 1, nil
		case '%':
			b.WriteByte(c)
			pat.WriteString(`.*`)
			continue
		case '_':
			b.WriteByte(c)
			pat.WriteString(`.`)
			continue
		case '\\':
			if j+1 >= len(s) {
				return simLit{}, 0, malformed("unterminated string at column %d", i+1)
			}
		default:
			r, n := utf8.DecodeRuneInString(s[j:])
			b.WriteString(s[j : j+n])
			pat.WriteString(regexp.QuoteMeta(string(r)))
			j += n - 1
			continue
		}
		j++
		var r rune
		switch s[j] {
		case '\'', '"', '\\':
			r = rune(s[j])
		case 'n', 'N':
			r = '\n'
		case 'r', 'R':
			r = '\r'
		case 't', 'T':
			r = '\t'
		case 'b', 'B':
			r = '\b'
		case 'f', 'F':
			r = '\f'
		case '%', '_':
			r = rune(s[j])
			lit.likeOnly = true
		case 'u':
			if j+4 >= len(s) {
				return simLit{}, 0, malformed("invalid unicode escape at column %d", j)
			}
			n, err := strconv.ParseUint(s[j+1:j+5], 16, 32)
			if err != nil {
				return simLit{}, 0, malformed("invalid unicode escape at column %d", j)
			}
			r = rune(n)
			j += 4
		default:
			return simLit{}, 0, malformed("invalid escape sequence '\\%c' in string literal at column %d", s[j], j)
		}
		b.WriteRune(r)
		pat.WriteString(regexp.QuoteMeta(string(r)))
	}
	return simLit{}, 0, malformed("unterminated string at column %d", i+1)
}

func lexNumberOrDate(s string, i int) (simLit, int, error) {
	if m := dateTimeLit.FindString(s[i:]); m != "" {
		end := i + len(m)
		if end < len(s) && !isDelimiter(s[end]) {
			return simLit{}, 0, malformed("invalid date or dateTime literal %q at column %d", s[i:min(len(s), end+8)], i+1)
		}
		if len(m) == 10 {
			t, err := time.Parse("2006-01-02", m)
			if err != nil {
				return simLit{}, 0, malformed("invalid date %q at column %d", m, i+1)
			}
			return simLit{kind: litDate, str: t.Format("2006-01-02")}, end, nil
		}
		t, err := time.Parse(time.RFC3339Nano, m)
		if err != nil {
			return simLit{}, 0, malformed("invalid dateTime %q at column %d", m, i+1)
		}
		return simLit{kind: litDateTime, t: t.UTC()}, end, nil
	}
	j := i
	if s[j] == '-' || s[j] == '+' {
		j++
	}
	for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
		j++
	}
	if j < len(s) && !isDelimiter(s[j]) {
		return simLit{}, 0, malformed("invalid number %q at column %d", s[i:min(len(s), j+8)], i+1)
	}
	n, err := strconv.ParseFloat(s[i:j], 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // a huge number is a number
		return simLit{}, 0, malformed("invalid number %q at column %d", s[i:j], i+1)
	}
	return simLit{kind: litNumber, num: n, str: s[i:j]}, j, nil
}

func isDelimiter(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ')' || c == ','
}

// Conditions of a WHERE clause.
type simCond interface{ isCond() }

type simAnd struct{ terms []simCond }
type simOr struct{ terms []simCond }
type simNot struct{ term simCond }

// simCmp is `field op value`, `field LIKE 'pattern'` or `field [NOT] IN (…)`.
type simCmp struct {
	field string
	op    string // =, !=, <, <=, >, >=, LIKE, IN, NOT IN
	val   simLit
	list  []simLit
	like  *regexp.Regexp // compiled for LIKE
	typ   fieldType      // the field's, set by bind
}

func (*simAnd) isCond() {}
func (*simOr) isCond()  {}
func (*simNot) isCond() {}
func (*simCmp) isCond() {}

type simOrder struct {
	field      string
	desc       bool
	nullsFirst bool
	typ        fieldType // the field's, set by bind
}

// simQuery is a parsed statement.
type simQuery struct {
	fields  []string
	object  string
	where   simCond
	orderBy []simOrder
	limit   int // -1 for none
}

type soqlParser struct {
	toks  []soqlTok
	i     int
	depth int
}

// maxCondDepth bounds nested parentheses and NOTs.
const maxCondDepth = 100

// parseSOQL parses a statement of the simulator's subset.
func parseSOQL(s string) (*simQuery, error) {
	if len(s) > maxSOQL {
		return nil, &soqlError{code: "MALFORMED_QUERY", msg: fmt.Sprintf("SOQL statements cannot exceed %d characters", maxSOQL)}
	}
	toks, err := lexSOQL(s)
	if err != nil {
		return nil, err
	}
	p := &soqlParser{toks: toks}
	q := &simQuery{limit: -1}
	if err := p.keyword("SELECT"); err != nil {
		return nil, err
	}
	for {
		f, err := p.ident("a field")
		if err != nil {
			return nil, err
		}
		if p.peek().kind == tLParen {
			return nil, malformed("functions such as %s() are not supported", f)
		}
		q.fields = append(q.fields, f)
		if p.peek().kind != tComma {
			break
		}
		p.i++
	}
	if err := p.keyword("FROM"); err != nil {
		return nil, err
	}
	if q.object, err = p.ident("an object"); err != nil {
		return nil, err
	}
	if p.isKeyword("WHERE") {
		p.i++
		if q.where, err = p.cond(); err != nil {
			return nil, err
		}
	}
	if p.isKeyword("ORDER") {
		p.i++
		if err := p.keyword("BY"); err != nil {
			return nil, err
		}
		for {
			f, err := p.ident("a field")
			if err != nil {
				return nil, err
			}
			o := simOrder{field: f, nullsFirst: true}
			switch {
			case p.isKeyword("ASC"):
				p.i++
			case p.isKeyword("DESC"):
				p.i++
				o.desc, o.nullsFirst = true, false
			}
			if p.isKeyword("NULLS") {
				p.i++
				switch {
				case p.isKeyword("FIRST"):
					o.nullsFirst = true
				case p.isKeyword("LAST"):
					o.nullsFirst = false
				default:
					return nil, p.unexpected()
				}
				p.i++
			}
			q.orderBy = append(q.orderBy, o)
			if p.peek().kind != tComma {
				break
			}
			p.i++
		}
	}
	if p.isKeyword("LIMIT") {
		p.i++
		t := p.peek()
		n, err := strconv.Atoi(t.text)
		if t.kind != tLit || t.lit.kind != litNumber || err != nil || n < 0 || strings.ContainsAny(t.text, "+-") {
			return nil, malformed("LIMIT must be a non-negative integer, found %q", t.text)
		}
		q.limit = n
		p.i++
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected()
	}
	return q, nil
}

func (p *soqlParser) peek() soqlTok { return p.toks[p.i] }

func (p *soqlParser) isKeyword(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

func (p *soqlParser) unexpected() error {
	t := p.peek()
	return malformed("unexpected token: '%s' at column %d", t.text, t.pos+1)
}

func (p *soqlParser) keyword(kw string) error {
	if !p.isKeyword(kw) {
		return p.unexpected()
	}
	p.i++
	return nil
}

var reserved = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "ORDER": true, "BY": true, "LIMIT": true, "AND": true, "OR": true,
	"NOT": true, "IN": true, "LIKE": true, "ASC": true, "DESC": true, "NULLS": true, "NULL": true, "TRUE": true, "FALSE": true,
}

func (p *soqlParser) ident(what string) (string, error) {
	t := p.peek()
	if t.kind != tIdent || reserved[strings.ToUpper(t.text)] {
		return "", malformed("expected %s, found '%s' at column %d", what, t.text, t.pos+1)
	}
	p.i++
	return t.text, nil
}

// cond parses a condition: terms joined by one connective.
func (p *soqlParser) cond() (simCond, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxCondDepth {
		return nil, malformed("conditions nested too deep")
	}
	start := p.peek()
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	_, isNot := first.(*simNot)
	bareNot := isNot && start.kind != tLParen
	terms := []simCond{first}
	conn := ""
	for p.isKeyword("AND") || p.isKeyword("OR") {
		c := strings.ToUpper(p.peek().text)
		// Salesforce requires parentheses whenever operators mix, NOT
		// included: a AND (NOT b), not a AND NOT b.
		if conn != "" && c != conn || bareNot {
			return nil, malformed("unexpected token: '%s' at column %d; use parentheses to mix AND, OR and NOT", p.peek().text, p.peek().pos+1)
		}
		conn = c
		p.i++
		next := p.peek()
		t, err := p.unary()
		if err != nil {
			return nil, err
		}
		if _, ok := t.(*simNot); ok && next.kind != tLParen {
			return nil, malformed("unexpected token: '%s' at column %d; use parentheses to mix AND, OR and NOT", next.text, next.pos+1)
		}
		terms = append(terms, t)
	}
	switch conn {
	case "AND":
		return &simAnd{terms: terms}, nil
	case "OR":
		return &simOr{terms: terms}, nil
	}
	return first, nil
}

func (p *soqlParser) unary() (simCond, error) {
	switch {
	case p.isKeyword("NOT"):
		p.i++
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxCondDepth {
			return nil, malformed("conditions nested too deep")
		}
		t, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &simNot{term: t}, nil
	case p.peek().kind == tLParen:
		p.i++
		c, err := p.cond()
		if err != nil {
			return nil, err
		}
		if p.peek().kind != tRParen {
			return nil, p.unexpected()
		}
		p.i++
		return c, nil
	}
	field, err := p.ident("a field")
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tOp:
		p.i++
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		if v.likeOnly {
			return nil, malformed("\\%% and \\_ are escapes of LIKE patterns only, at column %d", t.pos+1)
		}
		op := t.text
		if op == "<>" {
			op = "!="
		}
		return &simCmp{field: field, op: op, val: v}, nil
	case p.isKeyword("LIKE"):
		p.i++
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		if v.kind != litString {
			return nil, malformed("LIKE takes a quoted string, found %s", v.kind)
		}
		re, err := likePattern(v.pattern)
		if err != nil {
			return nil, malformed("invalid LIKE pattern: %v", err)
		}
		return &simCmp{field: field, op: "LIKE", val: v, like: re}, nil
	case p.isKeyword("IN"), p.isKeyword("NOT"):
		op := "IN"
		if p.isKeyword("NOT") {
			p.i++
			if !p.isKeyword("IN") {
				return nil, p.unexpected()
			}
			op = "NOT IN"
		}
		p.i++
		if p.peek().kind != tLParen {
			return nil, p.unexpected()
		}
		p.i++
		var list []simLit
		for {
			v, err := p.literal()
			if err != nil {
				return nil, err
			}
			if v.likeOnly {
				return nil, malformed("\\%% and \\_ are escapes of LIKE patterns only")
			}
			list = append(list, v)
			if p.peek().kind != tComma {
				break
			}
			p.i++
		}
		if p.peek().kind != tRParen {
			return nil, p.unexpected()
		}
		p.i++
		return &simCmp{field: field, op: op, list: list}, nil
	}
	return nil, p.unexpected()
}

func (p *soqlParser) literal() (simLit, error) {
	t := p.peek()
	switch {
	case t.kind == tLit:
		p.i++
		return t.lit, nil
	case t.kind == tIdent:
		switch strings.ToUpper(t.text) {
		case "TRUE", "FALSE":
			p.i++
			return simLit{kind: litBool, b: strings.EqualFold(t.text, "TRUE")}, nil
		case "NULL":
			p.i++
			return simLit{kind: litNull}, nil
		}
	}
	return simLit{}, malformed("expected a value, found '%s' at column %d", t.text, t.pos+1)
}

// likePattern compiles a LIKE pattern (see lexString); matching ignores
// case, as Salesforce's does.
func likePattern(pattern string) (*regexp.Regexp, error) {
	return regexp.Compile(`(?is)\A` + pattern + `\z`)
}

// bind checks q against an object's schema (fields exist, literals have
// the fields' types) and returns the canonical field names it selects.
func (q *simQuery) bind(sch *simSchema) error {
	seen := map[string]bool{}
	for i, f := range q.fields {
		fd, err := sch.lookup(f)
		if err != nil {
			return err
		}
		if seen[fd.name] {
			return malformed("duplicate field selected: %s", fd.name)
		}
		seen[fd.name] = true
		q.fields[i] = fd.name
	}
	for i := range q.orderBy {
		fd, err := sch.lookup(q.orderBy[i].field)
		if err != nil {
			return err
		}
		q.orderBy[i].field, q.orderBy[i].typ = fd.name, fd.typ
	}
	return bindCond(q.where, sch)
}

func bindCond(c simCond, sch *simSchema) error {
	switch c := c.(type) {
	case nil:
		return nil
	case *simAnd:
		for _, t := range c.terms {
			if err := bindCond(t, sch); err != nil {
				return err
			}
		}
	case *simOr:
		for _, t := range c.terms {
			if err := bindCond(t, sch); err != nil {
				return err
			}
		}
	case *simNot:
		return bindCond(c.term, sch)
	case *simCmp:
		fd, err := sch.lookup(c.field)
		if err != nil {
			return err
		}
		c.field, c.typ = fd.name, fd.typ
		switch c.op {
		case "LIKE":
			if fd.typ != ftString && fd.typ != ftID {
				return &soqlError{code: "INVALID_QUERY_FILTER_OPERATOR", msg: fmt.Sprintf("invalid operator on %s field: %s", fd.typ, fd.name)}
			}
		case "IN", "NOT IN":
			for _, v := range c.list {
				if err := checkLit(fd, v, "="); err != nil {
					return err
				}
			}
		default:
			return checkLit(fd, c.val, c.op)
		}
	}
	return nil
}

// checkLit applies Salesforce's typing of filter values.
func checkLit(fd *simField, v simLit, op string) error {
	if v.kind == litNull {
		if op != "=" && op != "!=" {
			return &soqlError{code: "INVALID_QUERY_FILTER_OPERATOR", msg: "null can only be compared with = and !="}
		}
		return nil
	}
	want := map[fieldType]litKind{ftString: litString, ftID: litString, ftNumber: litNumber, ftBool: litBool, ftDate: litDate, ftDateTime: litDateTime}[fd.typ]
	if v.kind != want {
		switch fd.typ {
		case ftDate, ftDateTime:
			return malformed("value of filter criterion for field '%s' must be of type %s and should not be enclosed in quotes", fd.name, want)
		default:
			return &soqlError{code: "INVALID_QUERY_FILTER_OPERATOR", msg: fmt.Sprintf("value of filter criterion for field '%s' must be of type %s", fd.name, want)}
		}
	}
	if fd.typ == ftBool && op != "=" && op != "!=" {
		return &soqlError{code: "INVALID_QUERY_FILTER_OPERATOR", msg: fmt.Sprintf("invalid operator on boolean field: %s", fd.name)}
	}
	return nil
}

// match evaluates a bound condition on a record's values.
func match(c simCond, vals map[string]any) bool {
	switch c := c.(type) {
	case nil:
		return true
	case *simAnd:
		for _, t := range c.terms {
			if !match(t, vals) {
				return false
			}
		}
		return true
	case *simOr:
		for _, t := range c.terms {
			if match(t, vals) {
				return true
			}
		}
		return false
	case *simNot:
		return !match(c.term, vals)
	case *simCmp:
		v := vals[c.field]
		switch c.op {
		case "LIKE":
			s, ok := v.(string)
			return ok && c.like.MatchString(s)
		case "IN", "NOT IN":
			in := false
			for _, l := range c.list {
				if cmp, ok := compareValue(v, l, c.typ); ok && cmp == 0 {
					in = true
					break
				}
			}
			return in == (c.op == "IN")
		}
		if c.val.kind == litNull {
			return (v == nil) == (c.op == "=")
		}
		cmp, ok := compareValue(v, c.val, c.typ)
		if !ok {
			// A null value: only != holds, as Salesforce treats null as a
			// value of its own.
			return c.op == "!="
		}
		switch c.op {
		case "=":
			return cmp == 0
		case "!=":
			return cmp != 0
		case "<":
			return cmp < 0
		case "<=":
			return cmp <= 0
		case ">":
			return cmp > 0
		case ">=":
			return cmp >= 0
		}
	}
	return false
}

// compareValue compares a stored value with a literal of its field's
// type; ok is false when the value is null.
func compareValue(v any, l simLit, typ fieldType) (int, bool) {
	switch v := v.(type) {
	case string:
		switch typ {
		case ftDate:
			return strings.Compare(v, l.str), true
		case ftID:
			return compareID(v, l.str), true
		}
		return strings.Compare(strings.ToLower(v), strings.ToLower(l.str)), true
	case float64:
		switch {
		case v < l.num:
			return -1, true
		case v > l.num:
			return 1, true
		}
		return 0, true
	case bool:
		if v == l.b {
			return 0, true
		}
		return 1, true
	case time.Time:
		return v.Compare(l.t), true
	}
	return 0, false
}

// compareID compares ids by their 15-character, case-sensitive form, so
// that a 15- and an 18-character spelling of one id are equal. Text is
// compared ignoring case, as Salesforce compares it.
func compareID(a, b string) int {
	if isID(a) && isID(b) {
		return strings.Compare(a[:15], b[:15])
	}
	return strings.Compare(a, b)
}

func isID(s string) bool {
	if len(s) != 15 && len(s) != 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// orderRecords sorts records by the ORDER BY list, stably.
func orderRecords(recs []*simRecord, order []simOrder) {
	if len(order) == 0 {
		return
	}
	sort.SliceStable(recs, func(i, j int) bool {
		for _, o := range order {
			a, b := recs[i].vals[o.field], recs[j].vals[o.field]
			c := orderCompare(a, b, o.nullsFirst, o.typ)
			if o.desc && a != nil && b != nil {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
}

func orderCompare(a, b any, nullsFirst bool, typ fieldType) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		if nullsFirst {
			return -1
		}
		return 1
	case b == nil:
		if nullsFirst {
			return 1
		}
		return -1
	}
	switch a := a.(type) {
	case string:
		bs, _ := b.(string)
		if typ == ftID {
			return strings.Compare(a, bs) // ids are case-sensitive
		}
		if c := strings.Compare(strings.ToLower(a), strings.ToLower(bs)); c != 0 {
			return c
		}
		return strings.Compare(a, bs)
	case float64:
		bf, _ := b.(float64)
		switch {
		case a < bf:
			return -1
		case a > bf:
			return 1
		}
	case bool:
		bb, _ := b.(bool)
		switch {
		case !a && bb:
			return -1
		case a && !bb:
			return 1
		}
	case time.Time:
		bt, _ := b.(time.Time)
		return a.Compare(bt)
	}
	return 0
}
