package datefmt

import (
	"strconv"
	"strings"
)

type opKind uint8

const (
	opLiteral  opKind = iota
	opNumber          // a numeric field printed in decimal
	opReduced         // yy/uu: two digits, base year 2000
	opFraction        // S...: fraction of second, exactly minW digits
	opText            // month name, day name, AM/PM
	opOffset          // X, x, Z
	opZoneID          // VV
)

// field is a date-time field as java.time.temporal.ChronoField names it.
type field uint8

const (
	fYear            field = iota // u
	fYearOfEra                    // y
	fMonth                        // M, L
	fDayOfMonth                   // d
	fDayOfYear                    // D
	fHourOfDay                    // H
	fClockHourOfDay               // k (1-24)
	fHourOfAmPm                   // K (0-11)
	fClockHourOfAmPm              // h (1-12)
	fAmPm                         // a
	fMinute                       // m
	fSecond                       // s
	fNano                         // S, n
	fDayOfWeek                    // E
	numFields
)

var fieldNames = [numFields]string{
	fYear:            "year",
	fYearOfEra:       "year-of-era",
	fMonth:           "month-of-year",
	fDayOfMonth:      "day-of-month",
	fDayOfYear:       "day-of-year",
	fHourOfDay:       "hour-of-day",
	fClockHourOfDay:  "clock-hour-of-day",
	fHourOfAmPm:      "hour-of-am-pm",
	fClockHourOfAmPm: "clock-hour-of-am-pm",
	fAmPm:            "AM/PM",
	fMinute:          "minute-of-hour",
	fSecond:          "second-of-minute",
	fNano:            "nano-of-second",
	fDayOfWeek:       "day-of-week",
}

// signStyle is java.time.format.SignStyle, for the three styles patterns use.
type signStyle uint8

const (
	signNormal      signStyle = iota // '-' for negative values only
	signNotNegative                  // never a sign
	signExceedsPad                   // '+' when wider than the minimum, '-' for negative
)

// Text styles of opText.
const (
	textShort uint8 = iota // "Jan", "Mon"
	textFull               // "January", "Monday"
)

// op is one step of a compiled pattern. Numeric ops carry Java's adjacent
// value parsing state: sub is the number of digits reserved for the
// fixed-width numeric ops that directly follow (so "yyyyMMdd" can parse
// "20240102"), or -1 where Java marks the parser fixed width.
type op struct {
	kind   opKind
	field  field
	sign   signStyle
	style  uint8 // opText: textShort/textFull; opOffset: index in offsetPatterns
	letter byte
	minW   int
	maxW   int
	sub    int
	lit    string // opLiteral: the text; opOffset: the text printed for a zero offset
	pos    int    // byte offset in the pattern, for error messages
	n      int    // number of pattern letters; 0 for literals
}

// needs says which parts of a time a layout prints, so formatting computes
// only those.
type needs uint8

const (
	needDate needs = 1 << iota
	needClock
	needYearDay
	needWeekday
	needOffset
)

// offsetPatterns are the patterns of Java's OffsetIdPrinterParser, in its
// order; an offset op's style is the index. Upper-case parts are always
// printed, lower-case ones only when not zero.
var offsetPatterns = [...]string{"+HH", "+HHmm", "+HH:mm", "+HHMM", "+HH:MM", "+HHMMss", "+HH:MM:ss"}

type compiler struct {
	pattern string
	ops     []op
	// active is the index of the numeric op that following fixed-width
	// numeric ops report their widths to, or -1: Java's valueParserIndex.
	active int
}

func compile(pattern string) (*Layout, error) {
	c := compiler{pattern: pattern, active: -1}
	for pos := 0; pos < len(pattern); {
		ch := pattern[pos]
		switch {
		case isLetter(ch):
			start := pos
			for pos < len(pattern) && pattern[pos] == ch {
				pos++
			}
			if err := c.letters(ch, pos-start, start); err != nil {
				return nil, err
			}
		case ch == '\'':
			start := pos
			pos++
			for ; pos < len(pattern); pos++ {
				if pattern[pos] == '\'' {
					if pos+1 < len(pattern) && pattern[pos+1] == '\'' {
						pos++
					} else {
						break
					}
				}
			}
			if pos >= len(pattern) {
				return nil, c.invalid(start, pattern[start:], "quoted literal is not terminated (a single quote is written '')")
			}
			str := pattern[start+1 : pos]
			pos++
			if str == "" {
				c.literal("'", start)
			} else {
				c.literal(strings.ReplaceAll(str, "''", "'"), start)
			}
		case ch == '[':
			return nil, c.unsupported(pos, "[", "optional sections [...] are not supported")
		case ch == ']':
			return nil, c.invalid(pos, "]", "']' without a previous '['")
		case ch == '{' || ch == '}' || ch == '#':
			return nil, c.invalid(pos, string(ch), "reserved character (quote it to use it as a literal)")
		default:
			c.literal(pattern[pos:pos+1], pos)
			pos++
		}
	}
	l := &Layout{pattern: pattern, ops: c.ops}
	for i := range l.ops {
		o := &l.ops[i]
		switch o.kind {
		case opOffset, opZoneID:
			l.hasOffset = true
			l.needs |= needOffset
		case opNumber, opReduced, opFraction, opText:
			switch o.field {
			case fYear, fYearOfEra, fMonth, fDayOfMonth:
				l.needs |= needDate
			case fDayOfYear:
				l.needs |= needYearDay
			case fDayOfWeek:
				l.needs |= needWeekday
			default:
				l.needs |= needClock
			}
		}
	}
	return l, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// letters compiles a run of n identical pattern letters at pos, following
// DateTimeFormatterBuilder.parsePattern and parseField.
func (c *compiler) letters(ch byte, n, pos int) error {
	part := c.pattern[pos : pos+n]
	num := func(f field, minW, maxW int, sign signStyle) {
		c.number(op{kind: opNumber, field: f, minW: minW, maxW: maxW, sign: sign, letter: ch, pos: pos, n: n})
	}
	text := func(f field, style uint8) {
		c.add(op{kind: opText, field: f, style: style, letter: ch, pos: pos, n: n})
	}
	offset := func(style uint8, zero string) {
		c.add(op{kind: opOffset, style: style, lit: zero, letter: ch, pos: pos, n: n})
	}
	switch ch {
	case 'y', 'u':
		f := fYearOfEra
		if ch == 'u' {
			f = fYear
		}
		switch {
		case n == 2:
			c.number(op{kind: opReduced, field: f, minW: 2, maxW: 2, sign: signNotNegative, letter: ch, pos: pos, n: n})
		case n < 4:
			num(f, n, 19, signNormal)
		case n <= 19:
			num(f, n, 19, signExceedsPad)
		default:
			return c.tooMany(pos, part, 19)
		}
	case 'M', 'L':
		switch n {
		case 1:
			num(fMonth, 1, 19, signNormal)
		case 2:
			num(fMonth, 2, 2, signNotNegative)
		case 3:
			text(fMonth, textShort)
		case 4:
			text(fMonth, textFull)
		case 5:
			return c.unsupported(pos, part, "narrow month names are not supported")
		default:
			return c.tooMany(pos, part, 5)
		}
	case 'd', 'h', 'H', 'k', 'K', 'm', 's':
		f := twoDigitFields[ch]
		switch n {
		case 1:
			num(f, 1, 19, signNormal)
		case 2:
			num(f, 2, 2, signNotNegative)
		default:
			return c.tooMany(pos, part, 2)
		}
	case 'D':
		switch n {
		case 1:
			num(fDayOfYear, 1, 19, signNormal)
		case 2, 3:
			num(fDayOfYear, n, 3, signNotNegative)
		default:
			return c.tooMany(pos, part, 3)
		}
	case 'S':
		if n > 9 {
			return c.tooMany(pos, part, 9)
		}
		c.number(op{kind: opFraction, field: fNano, minW: n, maxW: n, sign: signNotNegative, letter: ch, pos: pos, n: n})
	case 'n':
		if n > 19 {
			return c.tooMany(pos, part, 19)
		}
		num(fNano, n, 19, signNotNegative)
	case 'a':
		if n > 1 {
			return c.tooMany(pos, part, 1)
		}
		text(fAmPm, textShort)
	case 'E':
		switch {
		case n <= 3:
			text(fDayOfWeek, textShort)
		case n == 4:
			text(fDayOfWeek, textFull)
		case n == 5:
			return c.unsupported(pos, part, "narrow day-of-week names are not supported")
		default:
			return c.tooMany(pos, part, 5)
		}
	case 'X', 'x':
		if n > 5 {
			return c.tooMany(pos, part, 5)
		}
		style := uint8(n + 1)
		if n == 1 {
			style = 1
		}
		zero := "Z"
		if ch == 'x' {
			switch {
			case n == 1:
				zero = "+00"
			case n%2 == 0:
				zero = "+0000"
			default:
				zero = "+00:00"
			}
		}
		offset(style, zero)
	case 'Z':
		switch {
		case n <= 3:
			offset(3, "+0000")
		case n == 4:
			return c.unsupported(pos, part, "localized offsets (GMT+hh:mm) are not supported; use XXX or ZZZZZ")
		case n == 5:
			offset(6, "Z")
		default:
			return c.tooMany(pos, part, 5)
		}
	case 'V':
		if n != 2 {
			return c.invalid(pos, part, "pattern letter count must be 2 (VV, the zone id)")
		}
		c.add(op{kind: opZoneID, letter: ch, pos: pos, n: n})
	case 'p':
		// Java pads the field that follows; with no letter after it the
		// pattern is invalid.
		if pos+n >= len(c.pattern) || !isLetter(c.pattern[pos+n]) {
			return c.invalid(pos, part, "pad letter 'p' must be followed by a pattern letter")
		}
		return c.unsupported(pos, part, "pad modifier (p) is not supported")
	default:
		u, ok := unsupportedLetters[ch]
		if !ok {
			return c.invalid(pos, part, "unknown pattern letter '"+string(ch)+"' (quote letters meant as text, as in 'T')")
		}
		if n > 31 || u.counts&(1<<n) == 0 {
			return c.invalid(pos, part, "wrong number of pattern letters '"+part[:1]+"' for "+u.what)
		}
		return c.unsupported(pos, part, u.what+" is not supported"+u.hint)
	}
	return nil
}

// twoDigitFields are the fields written with one or two letters.
var twoDigitFields = map[byte]field{'d': fDayOfMonth, 'h': fClockHourOfAmPm, 'H': fHourOfDay,
	'k': fClockHourOfDay, 'K': fHourOfAmPm, 'm': fMinute, 's': fSecond}

// unsupportedLetters are letters java.time accepts that datefmt does not
// implement, with the letter counts java accepts for them (bit n set: n
// letters are valid), so that a pattern java rejects is still reported as
// invalid rather than unsupported.
var unsupportedLetters = map[byte]struct {
	what, hint string
	counts     uint32
}{
	'G': {"era (G)", "", counts(1, 2, 3, 4, 5)},
	'Q': {"quarter-of-year (Q)", "", counts(1, 2, 3, 4, 5)},
	'q': {"quarter-of-year (q)", "", counts(1, 2, 3, 4, 5)},
	'F': {"aligned-week-of-month (F)", "", counts(1)},
	'c': {"localized day-of-week (c)", "; use E", counts(1, 3, 4, 5)},
	'e': {"localized day-of-week (e)", "; use E", counts(1, 2, 3, 4, 5)},
	'W': {"week-of-month (W)", "", counts(1)},
	'w': {"week-of-week-based-year (w)", "", counts(1, 2)},
	'Y': {"week-based-year (Y)", "; use y or u for the calendar year", 1<<31 - 2},
	'B': {"day period (B)", "", counts(1, 4, 5)},
	'z': {"time-zone name (z)", "; use VV, X or Z", counts(1, 2, 3, 4)},
	'v': {"generic time-zone name (v)", "; use VV", counts(1, 4)},
	'O': {"localized zone offset (O)", "; use X or Z", counts(1, 4)},
	'A': {"milli-of-day (A)", "", 1<<20 - 2},
	'N': {"nano-of-day (N)", "", 1<<20 - 2},
	'g': {"modified Julian day (g)", "", 1<<20 - 2},
}

func counts(ns ...int) uint32 {
	var m uint32
	for _, n := range ns {
		m |= 1 << n
	}
	return m
}

func (c *compiler) add(o op) {
	c.ops = append(c.ops, o)
	c.active = -1
}

// literal appends text, merging it with a literal just before so that parsing
// compares one string.
func (c *compiler) literal(s string, pos int) {
	if n := len(c.ops); n > 0 && c.ops[n-1].kind == opLiteral {
		c.ops[n-1].lit += s
	} else {
		c.ops = append(c.ops, op{kind: opLiteral, lit: s, pos: pos})
	}
	c.active = -1
}

// number appends a numeric op with Java's adjacent value parsing
// (DateTimeFormatterBuilder.appendValue(NumberPrinterParser)): a fixed-width
// op reserves its width in the active op; any other numeric op makes the
// active one greedy and becomes active itself.
func (c *compiler) number(o op) {
	if c.active < 0 {
		c.ops = append(c.ops, o)
		c.active = len(c.ops) - 1
		return
	}
	if o.minW == o.maxW && o.sign == signNotNegative {
		c.ops[c.active].sub += o.maxW
		o.sub = -1
		c.ops = append(c.ops, o)
		return
	}
	c.ops[c.active].sub = -1
	c.ops = append(c.ops, o)
	c.active = len(c.ops) - 1
}

func (c *compiler) invalid(pos int, part, reason string) error {
	return &PatternError{Pattern: c.pattern, Pos: pos, Part: part, Reason: reason, Err: ErrInvalidPattern}
}

func (c *compiler) unsupported(pos int, part, reason string) error {
	return &PatternError{Pattern: c.pattern, Pos: pos, Part: part, Reason: reason, Err: ErrUnsupportedPattern}
}

func (c *compiler) tooMany(pos int, part string, max int) error {
	return c.invalid(pos, part, "too many pattern letters '"+part[:1]+"' (at most "+strconv.Itoa(max)+")")
}

// describe says what op expects, for parse errors: "2-digit month-of-year (MM)".
func (l *Layout) describe(o *op) string {
	if o.kind == opLiteral {
		return strconv.Quote(o.lit)
	}
	letters := l.pattern[o.pos : o.pos+o.n]
	switch o.kind {
	case opNumber, opReduced:
		var w string
		switch {
		case o.minW == o.maxW:
			w = strconv.Itoa(o.minW) + "-digit "
		case o.maxW >= 19:
			w = "at least " + strconv.Itoa(o.minW) + "-digit "
		default:
			w = strconv.Itoa(o.minW) + " to " + strconv.Itoa(o.maxW) + "-digit "
		}
		return w + fieldNames[o.field] + " (" + letters + ")"
	case opFraction:
		return strconv.Itoa(o.minW) + "-digit fraction of second (" + letters + ")"
	case opText:
		switch o.field {
		case fMonth:
			if o.style == textShort {
				return "month name like \"Jan\" (" + letters + ")"
			}
			return "month name like \"January\" (" + letters + ")"
		case fDayOfWeek:
			if o.style == textShort {
				return "day name like \"Mon\" (" + letters + ")"
			}
			return "day name like \"Monday\" (" + letters + ")"
		default:
			return "AM or PM (" + letters + ")"
		}
	case opOffset:
		s := "offset like " + offsetPatterns[o.style]
		if o.lit[0] == 'Z' {
			s += " or Z"
		}
		return s + " (" + letters + ")"
	case opZoneID:
		return "zone id like Europe/Paris, Z or +01:00 (" + letters + ")"
	}
	return letters
}
