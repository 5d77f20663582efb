package ceql

import (
	"strconv"
	"time"
)

// Time reads the value as a date, for connectors that filter on a date
// field. It accepts
//
//   - a string in RFC 3339 with any fraction of a second and a Z, ±hh:mm,
//     ±hhmm or ±hh offset: '2024-01-02T03:04:05.123456Z',
//     '2024-01-02T03:04:05.123456+00:00' (SAP's own example), '…+0100';
//   - a string without a zone, read as UTC: '2024-01-02' (midnight),
//     '2024-01-02T03:04', '2024-01-02T03:04:05', '2024-01-02T03:04:05.123';
//   - an integer number, read as epoch milliseconds: 1704164645123.
//
// Seconds are optional wherever a time of day is given, as in
// java.time's ISO formats; "T" and "Z" may be lower case, as RFC 3339 allows.
// Digits of a fraction beyond nanoseconds are dropped. Anything else —
// impossible dates such as Feb 30, a space for the "T", decimals, quoted
// epochs — is not a date and yields false. The time is returned in UTC.
func (v Value) Time() (time.Time, bool) {
	switch v.Kind {
	case String:
		return parseDate(v.Text)
	case Number:
		ms, err := strconv.ParseInt(v.Text, 10, 64)
		if err != nil || v.Text[0] == '+' {
			return time.Time{}, false
		}
		return time.UnixMilli(ms).UTC(), true
	}
	return time.Time{}, false
}

// parseDate reads yyyy-MM-dd[Thh:mm[:ss[.f…]][zone]] by hand: time.Parse
// would need a layout per combination of optional parts, and is stricter
// than vendors' output about others (an offset without a colon).
func parseDate(s string) (time.Time, bool) {
	var fail time.Time
	// num reads n digits at s[i:].
	num := func(i, n int) (int, bool) {
		if i+n > len(s) {
			return 0, false
		}
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if !isDigit(c) {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	lit := func(i int, c ...byte) bool {
		if i >= len(s) {
			return false
		}
		for _, x := range c {
			if s[i] == x {
				return true
			}
		}
		return false
	}

	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	if !ok1 || !ok2 || !ok3 || !lit(4, '-') || !lit(7, '-') {
		return fail, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return fail, false
	}
	if len(s) == 10 {
		return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC), true
	}

	hour, ok1 := num(11, 2)
	minute, ok2 := num(14, 2)
	if !lit(10, 'T', 't') || !ok1 || !ok2 || !lit(13, ':') || hour > 23 || minute > 59 {
		return fail, false
	}
	i := 16
	sec, nsec := 0, 0
	if lit(i, ':') {
		var ok bool
		if sec, ok = num(i+1, 2); !ok || sec > 59 {
			return fail, false
		}
		i += 3
		if lit(i, '.') {
			i++
			start := i
			for i < len(s) && isDigit(s[i]) {
				if i-start < 9 {
					nsec = nsec*10 + int(s[i]-'0')
				}
				i++
			}
			if i == start {
				return fail, false
			}
			for n := i - start; n < 9; n++ {
				nsec *= 10
			}
		}
	}

	offset := 0
	switch {
	case i == len(s):
	case lit(i, 'Z', 'z'):
		i++
	case lit(i, '+', '-'):
		sign := s[i]
		oh, ok := num(i+1, 2)
		if !ok || oh > 23 {
			return fail, false
		}
		om := 0
		switch j := i + 3; {
		case j == len(s): // ±hh, as Java's X writes it
			i = j
		case lit(j, ':'):
			om, ok = num(j+1, 2)
			i = j + 3
		default:
			om, ok = num(j, 2)
			i = j + 2
		}
		if !ok || om > 59 {
			return fail, false
		}
		offset = (oh*60 + om) * 60
		if sign == '-' {
			offset = -offset
		}
	}
	if i != len(s) {
		return fail, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

func daysIn(year, month int) int {
	// Day 0 of the next month is the last day of this one.
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
