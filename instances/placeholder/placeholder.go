// Package placeholder expands the placeholders of poller URLs (SPEC §3):
//
//	${gmtDate:FMT}             the time in UTC, formatted with FMT
//	${date:FMT}                the time in the server's zone
//	${dateTimeZone:ZONE:FMT}   the time in the IANA zone ZONE
//	${epoch}, ${epoch:ms}      epoch milliseconds
//	${epoch:s}, ${epoch:us}    epoch seconds, epoch microseconds
//
// FMT is a Java date pattern as package datefmt reads it (or "milliseconds"
// / "seconds") and may quote literals, as in yyyy-MM-dd'T'HH:mm:ss; the
// placeholder ends at the first '}' outside single quotes, so a quoted '}'
// belongs to the format.
//
// Text outside placeholders is copied as written. A value that lands in the
// query string (after the first '?' of the text outside placeholders) is
// escaped as a query component, as url.QueryEscape does (':' becomes %3A, '+'
// %2B, a space '+'); a value in the path is escaped as a path segment, as
// url.PathEscape does. A template is parsed once and expanded on every poll,
// so expansion appends to a caller's buffer without allocating.
package placeholder

import (
	"strconv"
	"strings"
	"time"

	"github.com/pollwire/pollwire/instances/datefmt"
)

type kind uint8

const (
	kindLiteral      kind = iota
	kindGMTDate           // ${gmtDate:FMT}
	kindDate              // ${date:FMT}
	kindDateTimeZone      // ${dateTimeZone:ZONE:FMT}
	kindEpochMillis       // ${epoch}, ${epoch:ms}
	kindEpochSeconds      // ${epoch:s}
	kindEpochMicros       // ${epoch:us}
)

type segment struct {
	kind   kind
	query  bool   // the value lands in the query string
	lit    string // kindLiteral: the text
	layout *datefmt.Layout
	loc    *time.Location // kindDateTimeZone
}

// Template is a parsed URL template. It is immutable and safe for concurrent
// use.
type Template struct {
	raw  string
	segs []segment
	ph   bool
}

// Parse parses a URL template. Unknown placeholder names, a "${" without its
// '}', empty or invalid date formats and unknown zones are errors of type
// *Error. A '$' not followed by '{' is plain text.
func Parse(rawURL string) (*Template, error) {
	t := &Template{raw: rawURL}
	query := false
	lit := 0 // start of the pending literal text
	for i := 0; i < len(rawURL); {
		if rawURL[i] == '?' {
			query = true
		}
		if rawURL[i] != '$' || i+1 >= len(rawURL) || rawURL[i+1] != '{' {
			i++
			continue
		}
		if lit < i {
			t.segs = append(t.segs, segment{kind: kindLiteral, lit: rawURL[lit:i]})
		}
		seg, end, err := parsePlaceholder(rawURL, i)
		if err != nil {
			return nil, err
		}
		seg.query = query
		t.segs = append(t.segs, seg)
		t.ph = true
		i, lit = end, end
	}
	if lit < len(rawURL) {
		t.segs = append(t.segs, segment{kind: kindLiteral, lit: rawURL[lit:]})
	}
	return t, nil
}

// parsePlaceholder parses the placeholder whose "${" is at start and returns
// it with the offset just past its '}'.
func parsePlaceholder(raw string, start int) (segment, int, error) {
	fail := func(end int, reason string, err error) (segment, int, error) {
		return segment{}, 0, &Error{Offset: start, Placeholder: raw[start:end], Reason: reason, Err: err}
	}
	// plainEnd is the end of the placeholder for error messages when its
	// own syntax cannot be trusted.
	plainEnd, terminated := len(raw), false
	if j := strings.IndexByte(raw[start:], '}'); j >= 0 {
		plainEnd, terminated = start+j+1, true
	}
	p := start + 2
	nameEnd := p
	for nameEnd < len(raw) && raw[nameEnd] != ':' && raw[nameEnd] != '}' {
		nameEnd++
	}
	if nameEnd == len(raw) {
		return fail(len(raw), "no closing '}'", nil)
	}
	name := raw[p:nameEnd]
	switch name {
	case "epoch":
		if raw[nameEnd] == '}' {
			return segment{kind: kindEpochMillis}, nameEnd + 1, nil
		}
		if !terminated {
			return fail(len(raw), "no closing '}'", nil)
		}
		switch unit := raw[nameEnd+1 : plainEnd-1]; unit {
		case "ms":
			return segment{kind: kindEpochMillis}, plainEnd, nil
		case "s":
			return segment{kind: kindEpochSeconds}, plainEnd, nil
		case "us":
			return segment{kind: kindEpochMicros}, plainEnd, nil
		default:
			return fail(plainEnd, "unknown epoch unit "+strconv.Quote(unit)+" (want s, ms or us)", nil)
		}
	case "gmtDate", "date", "dateTimeZone":
	default:
		return fail(plainEnd, "unknown placeholder "+strconv.Quote(name)+
			" (want gmtDate, date, dateTimeZone or epoch)", nil)
	}
	if raw[nameEnd] == '}' {
		return fail(nameEnd+1, "missing date format, as in ${"+name+":yyyy-MM-dd}", nil)
	}
	seg := segment{kind: kindGMTDate}
	fmtStart := nameEnd + 1
	if name == "date" {
		seg.kind = kindDate
	}
	if name == "dateTimeZone" {
		seg.kind = kindDateTimeZone
		zoneEnd := fmtStart
		for zoneEnd < len(raw) && raw[zoneEnd] != ':' && raw[zoneEnd] != '}' {
			zoneEnd++
		}
		if zoneEnd == len(raw) {
			return fail(len(raw), "no closing '}'", nil)
		}
		if raw[zoneEnd] == '}' {
			return fail(zoneEnd+1, "missing zone or date format, as in ${dateTimeZone:Europe/Paris:yyyy-MM-dd}", nil)
		}
		zone := raw[fmtStart:zoneEnd]
		loc, err := loadZone(zone)
		if err != nil {
			end := closing(raw, zoneEnd+1)
			if end < 0 {
				end = len(raw) - 1
			}
			return fail(end+1, "unknown time zone "+strconv.Quote(zone), err)
		}
		seg.loc = loc
		fmtStart = zoneEnd + 1
	}
	end := closing(raw, fmtStart)
	if end < 0 {
		reason := "no closing '}'"
		if strings.Count(raw[fmtStart:], "'")%2 == 1 {
			reason += " (a quote in the date format opens a literal that is never closed)"
		}
		return fail(len(raw), reason, nil)
	}
	pattern := raw[fmtStart:end]
	if pattern == "" {
		return fail(end+1, "empty date format", nil)
	}
	l, err := datefmt.Compile(pattern)
	if err != nil {
		return fail(end+1, "bad date format: "+err.Error(), err)
	}
	seg.layout = l
	return seg, end + 1, nil
}

// closing returns the offset of the first '}' at or after i outside single
// quotes, or -1.
func closing(raw string, i int) int {
	quoted := false
	for ; i < len(raw); i++ {
		switch raw[i] {
		case '\'':
			quoted = !quoted
		case '}':
			if !quoted {
				return i
			}
		}
	}
	return -1
}

func loadZone(name string) (*time.Location, error) {
	switch name {
	case "":
		return nil, errEmptyZone
	case "Local":
		// time.LoadLocation("Local") is whatever zone the server runs in;
		// ${date:FMT} says that explicitly.
		return nil, errLocalZone
	}
	return time.LoadLocation(name)
}

// Expand returns the template with its placeholders replaced by the values
// of at. serverLoc is the zone of ${date:...}; nil means time.Local.
func (t *Template) Expand(at time.Time, serverLoc *time.Location) string {
	var buf [256]byte
	return string(t.AppendExpand(buf[:0], at, serverLoc))
}

// AppendExpand appends the expansion of the template to b and returns the
// extended buffer; see Expand. It allocates only if b has to grow.
func (t *Template) AppendExpand(b []byte, at time.Time, serverLoc *time.Location) []byte {
	if serverLoc == nil {
		serverLoc = time.Local
	}
	var scratch [64]byte
	for i := range t.segs {
		s := &t.segs[i]
		var v []byte
		switch s.kind {
		case kindLiteral:
			b = append(b, s.lit...)
			continue
		case kindGMTDate:
			v = s.layout.AppendFormat(scratch[:0], at.In(time.UTC))
		case kindDate:
			v = s.layout.AppendFormat(scratch[:0], at.In(serverLoc))
		case kindDateTimeZone:
			v = s.layout.AppendFormat(scratch[:0], at.In(s.loc))
		case kindEpochMillis:
			v = strconv.AppendInt(scratch[:0], at.UnixMilli(), 10)
		case kindEpochSeconds:
			v = strconv.AppendInt(scratch[:0], at.Unix(), 10)
		case kindEpochMicros:
			v = strconv.AppendInt(scratch[:0], at.UnixMicro(), 10)
		}
		b = appendEscaped(b, v, s.query)
	}
	return b
}

// HasPlaceholders reports whether the template has any placeholder, that is
// whether its expansion depends on the time.
func (t *Template) HasPlaceholders() bool { return t.ph }

// String returns the raw template, as given to Parse.
func (t *Template) String() string { return t.raw }

const upperhex = "0123456789ABCDEF"

// appendEscaped appends v escaped as url.QueryEscape (query) or
// url.PathEscape (path segment) would, without allocating.
func appendEscaped(b, v []byte, query bool) []byte {
	for _, c := range v {
		switch {
		case !shouldEscape(c, query):
			b = append(b, c)
		case c == ' ' && query:
			b = append(b, '+')
		default:
			b = append(b, '%', upperhex[c>>4], upperhex[c&15])
		}
	}
	return b
}

// shouldEscape follows net/url's shouldEscape for encodeQueryComponent and
// encodePathSegment.
func shouldEscape(c byte, query bool) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return false
	}
	switch c {
	case '-', '_', '.', '~':
		return false
	case '$', '&', '+', ',', '/', ':', ';', '=', '?', '@':
		if query {
			return true
		}
		return c == '/' || c == ';' || c == ',' || c == '?'
	}
	return true
}
