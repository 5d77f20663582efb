package ceql

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDepth bounds how deeply parentheses may nest. The parser recurses once
// per level, so without a bound a where of a million "(" would overflow the
// goroutine stack, a crash no recover catches. Real queries nest two or three
// levels.
const MaxDepth = 100

// Parse reads a CEQL expression: comparisons joined by AND and OR (AND binds
// tighter), with parentheses. The grammar is in the package README.
//
// Errors are *SyntaxError. Empty input, or input of only whitespace, is an
// error: a poller URL without a where does not call Parse.
func Parse(s string) (Expr, error) {
	p := &parser{src: s}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return nil, &SyntaxError{Pos: 0, Msg: "empty query"}
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errFound(p.tok.pos, "expected AND, OR or end of input")
	}
	return e, nil
}

type tokKind int

const (
	tEOF    tokKind = iota
	tIdent          // a bare name; may be a keyword
	tQField         // a `backticked` field name
	tString         // 'text' or "text"
	tNumber
	tOp // = != <> < > <= >=
	tLParen
	tRParen
	tComma
)

type token struct {
	kind     tokKind
	pos, end int    // byte range in the source
	text     string // unquoted content for tString and tQField, the source text otherwise
	kw       string // the upper-case keyword a tIdent spells, "" if none
}

// keywords are reserved: a field that spells one must be backticked. Only
// ASCII case folding applies, so that "ſ" (which Unicode folds to "s") never
// turns a field into IS.
var keywords = []string{"AND", "OR", "NOT", "LIKE", "IN", "IS", "NULL", "TRUE", "FALSE"}

func keyword(s string) string {
	for _, k := range keywords {
		if len(s) == len(k) && asciiEqualFold(s, k) {
			return k
		}
	}
	return ""
}

func asciiEqualFold(s, upper string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}

type parser struct {
	src   string
	off   int   // where the lexer reads next
	tok   token // the current token
	prev  token // the token before it, named in "expected … after" messages
	depth int   // open parentheses
}

// next lexes the token at p.off into p.tok. Lexing on demand, rather than
// all at once up front, makes the first problem in reading order the one
// reported.
func (p *parser) next() error {
	p.prev = p.tok
	s := p.src
	i := p.off
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	tok := token{pos: i}
	if i == len(s) {
		tok.kind, tok.end = tEOF, i
		p.tok, p.off = tok, i
		return nil
	}
	var err error
	switch c := s[i]; {
	case c == '(':
		tok.kind, tok.end = tLParen, i+1
	case c == ')':
		tok.kind, tok.end = tRParen, i+1
	case c == ',':
		tok.kind, tok.end = tComma, i+1
	case c == '=':
		tok.kind, tok.end = tOp, i+1
	case c == '!':
		if i+1 < len(s) && s[i+1] == '=' {
			tok.kind, tok.end = tOp, i+2
		} else {
			return &SyntaxError{Pos: i, Msg: `unexpected "!"; the operator is "!="`}
		}
	case c == '<':
		tok.kind, tok.end = tOp, i+1
		if i+1 < len(s) && (s[i+1] == '=' || s[i+1] == '>') {
			tok.end++
		}
	case c == '>':
		tok.kind, tok.end = tOp, i+1
		if i+1 < len(s) && s[i+1] == '=' {
			tok.end++
		}
	case c == '\'' || c == '"':
		tok.kind = tString
		tok.text, tok.end, err = scanQuoted(s, i, "string")
	case c == '`':
		tok.kind = tQField
		tok.text, tok.end, err = scanQuoted(s, i, "field name")
		if err == nil && tok.text == "" {
			err = &SyntaxError{Pos: i, Msg: "empty field name"}
		}
	case c == '-' || isDigit(c):
		tok.kind = tNumber
		tok.end, err = scanNumber(s, i)
	default:
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isIdentStart(r) {
			return &SyntaxError{Pos: i, Msg: "unexpected " + strconv.Quote(s[i:i+size])}
		}
		tok.kind = tIdent
		tok.end, err = scanIdent(s, i)
	}
	if err != nil {
		return err
	}
	if tok.kind != tString && tok.kind != tQField {
		tok.text = s[tok.pos:tok.end]
	}
	if tok.kind == tIdent {
		tok.kw = keyword(tok.text)
	}
	p.tok, p.off = tok, tok.end
	return nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

// isIdentPart admits combining marks so that a decomposed "é" (e + U+0301)
// is as much a letter as the precomposed one.
func isIdentPart(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// scanQuoted reads the quoted text starting at s[i], where the quote
// character is doubled inside to stand for itself, and returns the content
// and the end of the token.
func scanQuoted(s string, i int, what string) (text string, end int, err error) {
	q := s[i]
	var b strings.Builder
	start := i + 1
	for j := start; ; {
		k := strings.IndexByte(s[j:], q)
		if k < 0 {
			return "", 0, &SyntaxError{Pos: i, Msg: fmt.Sprintf("unterminated %s: no closing %c", what, q)}
		}
		j += k
		if j+1 < len(s) && s[j+1] == q {
			b.WriteString(s[start : j+1])
			j += 2
			start = j
			continue
		}
		if b.Len() == 0 {
			return s[start:j], j + 1, nil // no escapes: no copy
		}
		b.WriteString(s[start:j])
		return b.String(), j + 1, nil
	}
}

// scanNumber reads -?digits(.digits)?([eE][+-]?digits)? at s[i]. A number
// running straight into a letter ("12abc") is an error rather than two
// tokens, because it is almost always an unquoted string.
func scanNumber(s string, i int) (int, error) {
	digits := func(j int, after string) (int, error) {
		k := j
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if k == j {
			return 0, &SyntaxError{Pos: j, Msg: "expected a digit after " + strconv.Quote(after)}
		}
		return k, nil
	}
	j := i
	if s[j] == '-' {
		j++
	}
	j, err := digits(j, s[i:j])
	if err != nil {
		return 0, err
	}
	if j < len(s) && s[j] == '.' {
		if j, err = digits(j+1, s[i:j+1]); err != nil {
			return 0, err
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if j, err = digits(k, s[i:k]); err != nil {
			return 0, err
		}
	}
	if j < len(s) {
		if r, size := utf8.DecodeRuneInString(s[j:]); isIdentPart(r) || r == '.' {
			return 0, &SyntaxError{Pos: j, Msg: fmt.Sprintf("unexpected %q after the number %s (quote a string, backtick a field name)", s[j:j+size], s[i:j])}
		}
	}
	return j, nil
}

// scanIdent reads a bare field name at s[i], whose first rune isIdentStart:
// name segments of letters, digits and "_" joined by ".", as in
// properties.email or custom.cf_x.
func scanIdent(s string, i int) (int, error) {
	j := i
	for {
		r, size := utf8.DecodeRuneInString(s[j:])
		if isIdentPart(r) {
			j += size
			continue
		}
		if r != '.' || j == len(s) {
			return j, nil
		}
		if r, _ := utf8.DecodeRuneInString(s[j+1:]); !isIdentPart(r) {
			return 0, &SyntaxError{Pos: j, Msg: fmt.Sprintf("expected a name after %q", s[i:j+1])}
		}
		j++
	}
}

// isBareField reports whether f can be written without backticks: Parse
// reads it back as exactly f. It uses the lexer's own scanner, so the two
// cannot disagree.
func isBareField(f string) bool {
	if f == "" {
		return false
	}
	if r, _ := utf8.DecodeRuneInString(f); !isIdentStart(r) {
		return false
	}
	end, err := scanIdent(f, 0)
	return err == nil && end == len(f) && keyword(f) == ""
}

// describe names a token in messages: its source text, shortened so that a
// long string value cannot flood a log line.
func (p *parser) describe(t token) string {
	if t.kind == tEOF {
		return "end of input"
	}
	src := p.src[t.pos:t.end]
	const max = 32
	if len(src) > max {
		// Cut on a rune boundary so the message stays valid UTF-8.
		cut := max
		for cut > 0 && !utf8.RuneStart(src[cut]) {
			cut--
		}
		return strconv.Quote(src[:cut]) + "…"
	}
	return strconv.Quote(src)
}

func (p *parser) errFound(pos int, expected string) *SyntaxError {
	return &SyntaxError{Pos: pos, Msg: expected + ", found " + p.describe(p.tok)}
}

// after is the "after …" of messages: the previous token as written.
func (p *parser) after() string { return p.describe(p.prev) }

func (p *parser) isKeyword(kw string) bool { return p.tok.kind == tIdent && p.tok.kw == kw }

// parseOr reads terms separated by OR. Terms that are themselves
// disjunctions (parenthesised) are spliced in, so the AST has one shape for
// a OR (b OR c) and (a OR b) OR c.
func (p *parser) parseOr() (Expr, error) {
	first, err := p.parseAnd()
	if err != nil || !p.isKeyword("OR") {
		return first, err
	}
	terms := appendOr(nil, first)
	for p.isKeyword("OR") {
		if err := p.next(); err != nil {
			return nil, err
		}
		t, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		terms = appendOr(terms, t)
	}
	return &Or{Terms: terms}, nil
}

func appendOr(terms []Expr, t Expr) []Expr {
	if o, ok := t.(*Or); ok {
		return append(terms, o.Terms...)
	}
	return append(terms, t)
}

// parseAnd reads terms separated by AND, splicing conjunctions as parseOr
// does disjunctions.
func (p *parser) parseAnd() (Expr, error) {
	first, err := p.parsePrimary()
	if err != nil || !p.isKeyword("AND") {
		return first, err
	}
	terms := appendAnd(nil, first)
	for p.isKeyword("AND") {
		if err := p.next(); err != nil {
			return nil, err
		}
		t, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		terms = appendAnd(terms, t)
	}
	return &And{Terms: terms}, nil
}

func appendAnd(terms []Expr, t Expr) []Expr {
	if a, ok := t.(*And); ok {
		return append(terms, a.Terms...)
	}
	return append(terms, t)
}

// parsePrimary reads a parenthesised expression or a clause.
func (p *parser) parsePrimary() (Expr, error) {
	if p.tok.kind != tLParen {
		return p.parseClause()
	}
	open := p.tok.pos
	if p.depth == MaxDepth {
		return nil, &SyntaxError{Pos: open, Msg: fmt.Sprintf("parentheses nested deeper than %d levels", MaxDepth)}
	}
	p.depth++
	if err := p.next(); err != nil {
		return nil, err
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tRParen:
	case tEOF:
		return nil, &SyntaxError{Pos: p.tok.pos, Msg: fmt.Sprintf(`expected ")" to close the "(" at %d, found end of input`, open)}
	default:
		return nil, p.errFound(p.tok.pos, `expected AND, OR or ")"`)
	}
	p.depth--
	return e, p.next()
}

// parseClause reads one comparison, starting at its field name.
func (p *parser) parseClause() (Expr, error) {
	var field string
	switch {
	case p.tok.kind == tQField:
		field = p.tok.text
	case p.tok.kind == tIdent && p.tok.kw == "":
		field = p.tok.text
	case p.tok.kw == "NOT":
		// The one keyword people put here on purpose.
		return nil, p.errFound(p.tok.pos, "expected a field name (NOT only comes in NOT LIKE, NOT IN and IS NOT NULL)")
	case p.tok.kind == tIdent:
		err := p.errFound(p.tok.pos, "expected a field name")
		err.Msg += " (backtick a field named like a keyword: " + quoteField(p.tok.text) + ")"
		return nil, err
	default:
		return nil, p.errFound(p.tok.pos, "expected a field name")
	}
	if err := p.next(); err != nil {
		return nil, err
	}

	switch {
	case p.tok.kind == tOp:
		op := Op(p.tok.text)
		if op == "<>" {
			op = Ne
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		v, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		return &Compare{Field: field, Op: op, Value: v}, nil

	case p.isKeyword("LIKE"):
		return p.parseLike(field, Like)

	case p.isKeyword("IN"):
		return p.parseIn(field, false)

	case p.isKeyword("NOT"):
		if err := p.next(); err != nil {
			return nil, err
		}
		switch {
		case p.isKeyword("LIKE"):
			return p.parseLike(field, NotLike)
		case p.isKeyword("IN"):
			return p.parseIn(field, true)
		}
		return nil, p.errFound(p.tok.pos, `expected LIKE or IN after "NOT"`)

	case p.isKeyword("IS"):
		if err := p.next(); err != nil {
			return nil, err
		}
		not := p.isKeyword("NOT")
		if not {
			if err := p.next(); err != nil {
				return nil, err
			}
		}
		if !p.isKeyword("NULL") {
			return nil, p.errFound(p.tok.pos, "expected NULL after "+p.after())
		}
		return &IsNull{Field: field, Not: not}, p.next()
	}
	return nil, p.errFound(p.tok.pos, "expected an operator (=, !=, <, >, <=, >=, LIKE, IN, IS) after "+p.after())
}

// parseLike reads the pattern after LIKE, the current token. A pattern must
// be a string: `name LIKE 5` is a mistake no vendor would read the same way.
func (p *parser) parseLike(field string, op Op) (Expr, error) {
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind != tString {
		return nil, p.errFound(p.tok.pos, "expected a quoted pattern after "+p.after())
	}
	v := Value{Kind: String, Text: p.tok.text}
	return &Compare{Field: field, Op: op, Value: v}, p.next()
}

// parseIn reads the list after IN, the current token.
func (p *parser) parseIn(field string, not bool) (Expr, error) {
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind != tLParen {
		return nil, p.errFound(p.tok.pos, `expected "(" after `+p.after())
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	in := &In{Field: field, Not: not}
	for {
		v, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		in.Values = append(in.Values, v)
		switch p.tok.kind {
		case tComma:
			if err := p.next(); err != nil {
				return nil, err
			}
		case tRParen:
			return in, p.next()
		default:
			return nil, p.errFound(p.tok.pos, `expected "," or ")" in the IN list`)
		}
	}
}

// parseValue reads a literal.
func (p *parser) parseValue() (Value, error) {
	var v Value
	switch {
	case p.tok.kind == tString:
		v = Value{Kind: String, Text: p.tok.text}
	case p.tok.kind == tNumber:
		v = Value{Kind: Number, Text: p.tok.text}
	case p.tok.kw == "TRUE" || p.tok.kw == "FALSE":
		v = Value{Kind: Bool, Text: strings.ToLower(p.tok.kw)}
	case p.tok.kw == "NULL":
		v = Value{Kind: Null, Text: "null"}
	case p.tok.kind == tIdent && p.tok.kw == "":
		// status=active: the likeliest mistake of all, so say how to fix it.
		err := p.errFound(p.tok.pos, "expected a value after "+p.after())
		err.Msg += " (quote strings: " + Value{Text: p.tok.text}.String() + ")"
		return Value{}, err
	default:
		return Value{}, p.errFound(p.tok.pos, "expected a value after "+p.after())
	}
	return v, p.next()
}
