// Package datefmt formats and parses dates with Java date patterns, with the
// meaning java.time.format.DateTimeFormatter gives them (not the older
// java.text.SimpleDateFormat one: `S` is a fraction of second, so `SSSSSS` is
// microseconds), plus the special formats "milliseconds" and "seconds"
// (epoch milliseconds and epoch seconds as decimal integers).
//
// Poller configurations name their date formats this way because SAP Open
// Connectors did; vendors such as Close send microseconds, which is why the
// java.time meaning matters.
//
// A pattern is compiled once to a list of operations; formatting and parsing
// then walk that list without allocating, because both run for every record of
// every poll.
//
// Supported letters: y u (year), M L (month, number or English name), d, D
// (day of year), H h k K, m, s, S (fraction of second, 1-9 digits), n (nano of
// second), a (AM/PM), E (English day name), X x Z (offsets), VV (zone id),
// quoted literals and any other non-letter character as a literal. Other
// letters Java accepts (G Q q F c e W w Y B z v O A N g p, ZZZZ, narrow names
// MMMMM/EEEEE, optional sections [ ]) are rejected with ErrUnsupportedPattern.
//
// Parsing follows DateTimeFormatter's strict parsing with the SMART resolver:
// field widths as Java reads them (including adjacent value parsing, so
// yyyyMMddHHmmss works), a day past the end of the month clamped to its last
// day (2023-02-30 is 2023-02-28), 24:00 as midnight of the next day, and
// conflicting fields rejected. Where Java would refuse to build an instant
// because fields are missing, datefmt fills them in: year 1970, month and day
// 1, time 00:00:00. An hour given only as h or K without a is rejected, as
// Java cannot resolve it either.
//
// Deliberate differences from Java: month names, day names and AM/PM are
// matched case-insensitively; names are always English (Locale.US); an offset
// like +0030 with pattern x parses as +00:30 (Java matches the "+00" zero text
// first and fails); formatting never fails (Java throws on some values that
// Go times cannot have anyway).
package datefmt

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Layout is a compiled date format, safe for concurrent use.
type Layout struct {
	pattern   string
	ops       []op
	epoch     epochKind
	hasOffset bool
	needs     needs
}

type epochKind uint8

const (
	epochNone epochKind = iota
	epochMillis
	epochSeconds
)

// Special pattern names accepted by Compile besides Java patterns.
const (
	// Milliseconds is the format of epoch milliseconds as a decimal integer.
	Milliseconds = "milliseconds"
	// Seconds is the format of epoch seconds as a decimal integer.
	Seconds = "seconds"
)

// Compile compiles a Java date pattern, or one of the special formats
// "milliseconds" and "seconds". The error is a *PatternError naming the
// offending letters, their position and the reason; it wraps
// ErrInvalidPattern for patterns Java rejects too (unknown letters such as b
// or an unquoted T, too many letters as in XXXXXX, an unterminated quote) and
// ErrUnsupportedPattern for valid Java that datefmt does not implement (see
// the package doc). An empty pattern is an error, though Java accepts it.
func Compile(pattern string) (*Layout, error) {
	switch pattern {
	case "":
		return nil, &PatternError{Pattern: pattern, Reason: "empty pattern", Err: ErrInvalidPattern}
	case Milliseconds:
		return &Layout{pattern: pattern, epoch: epochMillis, hasOffset: true}, nil
	case Seconds:
		return &Layout{pattern: pattern, epoch: epochSeconds, hasOffset: true}, nil
	}
	if l, ok := shared.Load(pattern); ok {
		return l.(*Layout), nil
	}
	l, err := compile(pattern)
	if err != nil {
		return nil, err
	}
	l.ops = slices.Clone(l.ops) // kept for the process's life: drop append's growth slack
	if sharedCount.Add(1) <= maxShared {
		if prev, loaded := shared.LoadOrStore(pattern, l); loaded {
			return prev.(*Layout), nil
		}
	}
	return l, nil
}

// shared memoizes compiled layouts by pattern. A Layout is immutable, so
// sharing it changes no result; it keeps per-poller memory small, since a
// fleet of instances uses a handful of patterns over and over (100,000
// pollers would otherwise hold 300,000 copies of three layouts). It is
// bounded: past maxShared patterns, layouts are compiled for their caller
// alone.
var (
	shared      sync.Map // pattern → *Layout
	sharedCount atomic.Int64
)

const maxShared = 4096

// MustCompile is like Compile but panics on error. It is meant for patterns
// fixed in the code, in package-level variables.
func MustCompile(pattern string) *Layout {
	l, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return l
}

// String returns the original pattern.
func (l *Layout) String() string { return l.pattern }

// HasOffset reports whether text in this format determines the instant on its
// own: the pattern prints and parses a zone offset (X, x, Z) or a zone id
// (VV), or it is one of the epoch formats. When it is false, Parse interprets
// the text in the location it is given.
func (l *Layout) HasOffset() bool { return l.hasOffset }

// Format formats t in t's own location.
func (l *Layout) Format(t time.Time) string {
	// The stack buffer keeps Format to the one allocation of the result for
	// every realistic pattern.
	var buf [64]byte
	return string(l.AppendFormat(buf[:0], t))
}

// AppendFormat appends t, formatted in t's own location, to b and returns the
// extended buffer. It allocates only if b has to grow.
func (l *Layout) AppendFormat(b []byte, t time.Time) []byte {
	switch l.epoch {
	case epochMillis:
		return strconv.AppendInt(b, t.UnixMilli(), 10)
	case epochSeconds:
		return strconv.AppendInt(b, t.Unix(), 10)
	}
	return l.appendFormat(b, t)
}

// Parse parses s, which must match the whole pattern. loc is the location of
// texts that carry no offset or zone id (nil means UTC); when s has an offset
// the result is in a fixed zone of that offset (UTC for a zero offset), when it
// has a zone id the result is in that zone. Epoch formats are returned in loc.
// The error is a *ParseError saying what was expected at which position.
func (l *Layout) Parse(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	if l.epoch != epochNone {
		return l.parseEpoch(s, loc)
	}
	return l.parse(s, loc)
}

func (l *Layout) parseEpoch(s string, loc *time.Location) (time.Time, error) {
	v, ok := parseInt64(s)
	if !ok {
		what := "epoch milliseconds"
		if l.epoch == epochSeconds {
			what = "epoch seconds"
		}
		return time.Time{}, &ParseError{Pattern: l.pattern, Input: s, Pos: 0,
			Reason: "expected " + what + " as a decimal integer"}
	}
	if l.epoch == epochSeconds {
		return time.Unix(v, 0).In(loc), nil
	}
	return time.UnixMilli(v).In(loc), nil
}

// parseInt64 parses an optionally negative decimal integer without the
// leniency of strconv (no '+', no underscores) and without allocating.
func parseInt64(s string) (int64, bool) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}
