package datefmt

import (
	"fmt"
	"time"
)

// parsed holds the field values read from a text before they are resolved
// into a time, like java.time.format.Parsed.
type parsed struct {
	vals [numFields]int64
	pos  [numFields]int // where each value was read, for error messages
	set  uint32
	off  int // offset in seconds east of UTC, when hasOff
	// offPos is where the offset was read.
	offPos int
	hasOff bool
	zone   *time.Location
}

func (p *parsed) has(f field) bool { return p.set&(1<<f) != 0 }

// setField records v for f, and reports false if f already holds another
// value: java rejects a text that gives one field two values.
func (p *parsed) setField(f field, v int64, pos int) bool {
	if p.has(f) {
		return p.vals[f] == v
	}
	p.set |= 1 << f
	p.vals[f] = v
	p.pos[f] = pos
	return true
}

func (l *Layout) parse(s string, loc *time.Location) (time.Time, error) {
	var p parsed
	pos := 0
	for i := range l.ops {
		o := &l.ops[i]
		switch o.kind {
		case opLiteral:
			if len(s)-pos < len(o.lit) || s[pos:pos+len(o.lit)] != o.lit {
				return time.Time{}, l.expected(s, pos, o)
			}
			pos += len(o.lit)
		case opNumber, opReduced:
			v, end, ok, reason := parseNumber(s, pos, o)
			if !ok {
				return time.Time{}, l.errorf(s, pos, "expected %s%s", l.describe(o), reason)
			}
			if o.kind == opReduced {
				// ReducedPrinterParser with base 2000: "99" is 2099.
				v += 2000
			}
			if !p.setField(o.field, v, pos) {
				return time.Time{}, l.conflict(s, &p, o.field, v, pos)
			}
			pos = end
		case opFraction:
			if len(s)-pos < o.minW {
				return time.Time{}, l.expected(s, pos, o)
			}
			var v int64
			for j := pos; j < pos+o.minW; j++ {
				c := s[j]
				if c < '0' || c > '9' {
					return time.Time{}, l.expected(s, pos, o)
				}
				v = v*10 + int64(c-'0')
			}
			v *= pow10[9-o.minW]
			if !p.setField(fNano, v, pos) {
				return time.Time{}, l.conflict(s, &p, fNano, v, pos)
			}
			pos += o.minW
		case opText:
			v, n := matchName(s[pos:], o)
			if n == 0 {
				return time.Time{}, l.expected(s, pos, o)
			}
			if !p.setField(o.field, v, pos) {
				return time.Time{}, l.conflict(s, &p, o.field, v, pos)
			}
			pos += n
		case opOffset:
			secs, end, ok, reason := parseOffset(s, pos, o.style, o.lit)
			if !ok {
				return time.Time{}, l.errorf(s, pos, "expected %s%s", l.describe(o), reason)
			}
			if p.hasOff && p.off != secs {
				return time.Time{}, l.errorf(s, pos, "offset conflicts with the offset at position %d", p.offPos)
			}
			p.hasOff, p.off, p.offPos = true, secs, pos
			pos = end
		case opZoneID:
			z, end, ok, reason := parseZoneID(s, pos)
			if !ok {
				return time.Time{}, l.errorf(s, pos, "expected %s%s", l.describe(o), reason)
			}
			p.zone = z
			pos = end
		}
	}
	if pos < len(s) {
		return time.Time{}, l.errorf(s, pos, "unexpected text after the end of the pattern")
	}
	return l.resolve(&p, s, loc)
}

func (l *Layout) expected(s string, pos int, o *op) error {
	return l.errorf(s, pos, "expected %s", l.describe(o))
}

func (l *Layout) errorf(s string, pos int, format string, args ...any) error {
	return &ParseError{Pattern: l.pattern, Input: s, Pos: pos, Reason: fmt.Sprintf(format, args...)}
}

func (l *Layout) conflict(s string, p *parsed, f field, v int64, pos int) error {
	return l.errorf(s, pos, "%s %d conflicts with %d given at position %d", fieldNames[f], v, p.vals[f], p.pos[f])
}

// parseNumber reads a number for o at pos the way java's strict
// NumberPrinterParser does, including adjacent value parsing: when fixed-width
// fields follow (o.sub > 0), it leaves their digits to them. It returns the
// value and the end position, or on failure a reason to add to the message.
func parseNumber(s string, pos int, o *op) (v int64, end int, ok bool, reason string) {
	if pos >= len(s) {
		return 0, pos, false, ""
	}
	neg, plus := false, false
	switch s[pos] {
	case '+':
		if o.sign != signExceedsPad {
			return 0, pos, false, " (no '+' sign allowed here)"
		}
		plus = true
		pos++
	case '-':
		if o.sign == signNotNegative {
			return 0, pos, false, " (no '-' sign allowed here)"
		}
		neg = true
		pos++
	}
	if pos+o.minW > len(s) {
		return 0, pos, false, ""
	}
	maxW := o.maxW
	if o.sub > 0 {
		maxW += o.sub
	}
	n := 0
	for pos+n < len(s) && n < maxW && s[pos+n] >= '0' && s[pos+n] <= '9' {
		n++
	}
	if n < o.minW {
		return 0, pos, false, ""
	}
	if o.sub > 0 {
		// Java's second pass: leave sub digits to the fields that follow.
		n = max(o.minW, n-o.sub)
	}
	var u uint64 // at most 19 digits here, which fit
	for j := pos; j < pos+n; j++ {
		u = u*10 + uint64(s[j]-'0')
	}
	if u > 1<<63-1 {
		return 0, pos, false, " (number too large)"
	}
	v = int64(u)
	switch {
	case neg:
		if v == 0 {
			return 0, pos, false, " (\"-0\" is not a number)"
		}
		v = -v
	case o.sign == signExceedsPad && plus && n <= o.minW:
		return 0, pos, false, fmt.Sprintf(" ('+' only before more than %d digits)", o.minW)
	case o.sign == signExceedsPad && !plus && n > o.minW:
		return 0, pos, false, fmt.Sprintf(" (more than %d digits need a leading '+')", o.minW)
	}
	return v, pos + n, true, ""
}

// matchName matches a month name, day name or AM/PM at the start of s,
// ignoring ASCII case. It returns the field value and the length matched, 0
// when nothing matches. Within one style no name is a prefix of another, so
// the first match is the only one.
func matchName(s string, o *op) (int64, int) {
	switch o.field {
	case fMonth:
		for i, name := range monthNames {
			if o.style == textShort {
				name = name[:3]
			}
			if hasPrefixFold(s, name) {
				return int64(i + 1), len(name)
			}
		}
	case fDayOfWeek:
		for i, name := range dayNames {
			if o.style == textShort {
				name = name[:3]
			}
			if hasPrefixFold(s, name) {
				return int64(i + 1), len(name)
			}
		}
	default:
		for i, name := range ampmNames {
			if hasPrefixFold(s, name) {
				return int64(i), len(name)
			}
		}
	}
	return 0, 0
}

// hasPrefixFold reports whether s starts with the ASCII-letter word prefix,
// ignoring case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if s[i]|0x20 != prefix[i]|0x20 || !isLetter(s[i]) {
			return false
		}
	}
	return true
}

// resolve turns parsed fields into a time, as java's Parsed.resolve does
// with ResolverStyle.SMART, and fills in what java would leave missing.
func (l *Layout) resolve(p *parsed, s string, loc *time.Location) (time.Time, error) {
	outOfRange := func(f field, lo, hi int64) error {
		return l.errorf(s, p.pos[f], "%s %d is out of range (%d-%d)", fieldNames[f], p.vals[f], lo, hi)
	}
	check := func(f field, lo, hi int64) error {
		if v := p.vals[f]; p.has(f) && (v < lo || v > hi) {
			return outOfRange(f, lo, hi)
		}
		return nil
	}
	// merge derives f's value into target; a different value already there
	// is a conflict, as in java's updateCheckConflict.
	merge := func(f, target field, v int64) error {
		if !p.setField(target, v, p.pos[f]) {
			return l.errorf(s, p.pos[f], "%s %d conflicts with %s %d given at position %d",
				fieldNames[f], p.vals[f], fieldNames[target], p.vals[target], p.pos[target])
		}
		return nil
	}
	const maxYear = 999_999_999

	// Year.
	year, yearSet := int64(1970), false
	if p.has(fYear) {
		if err := check(fYear, -maxYear, maxYear); err != nil {
			return time.Time{}, err
		}
		year, yearSet = p.vals[fYear], true
	}
	if p.has(fYearOfEra) {
		if err := check(fYearOfEra, 1, maxYear); err != nil {
			return time.Time{}, err
		}
		yoe := p.vals[fYearOfEra]
		if yearSet {
			derived := yoe
			if year <= 0 {
				derived = 1 - yoe
			}
			if derived != year {
				return time.Time{}, l.errorf(s, p.pos[fYearOfEra], "year-of-era %d conflicts with year %d given at position %d", yoe, year, p.pos[fYear])
			}
		}
		year, yearSet = yoe, true
	}

	// Date, in the order of java's AbstractChronology.resolveDate: year,
	// month and day; else year and day-of-year; fields left over are
	// cross-checked against the date.
	for _, f := range [...]field{fMonth, fDayOfMonth, fDayOfYear} {
		lo, hi := int64(1), [...]int64{fMonth: 12, fDayOfMonth: 31, fDayOfYear: 366}[f]
		if err := check(f, lo, hi); err != nil {
			return time.Time{}, err
		}
	}
	var month, day int64 = 1, 1
	dateGiven := false // the text names a whole date, so a day-of-week can be checked
	switch {
	case p.has(fMonth) && p.has(fDayOfMonth):
		month = p.vals[fMonth]
		// SMART: a day past the month's end is its last day.
		day = min(p.vals[fDayOfMonth], daysIn(month, year))
		dateGiven = yearSet
		if p.has(fDayOfYear) {
			if doy := yearDay(year, month, day); doy != p.vals[fDayOfYear] {
				return time.Time{}, l.errorf(s, p.pos[fDayOfYear], "day-of-year %d conflicts with the date, day %d of the year", p.vals[fDayOfYear], doy)
			}
		}
	case p.has(fDayOfYear):
		doy := p.vals[fDayOfYear]
		if doy == 366 && !isLeap(year) {
			return time.Time{}, l.errorf(s, p.pos[fDayOfYear], "day-of-year 366 but %d is not a leap year", year)
		}
		month, day = monthDay(year, doy)
		dateGiven = yearSet
		if p.has(fMonth) && p.vals[fMonth] != month {
			return time.Time{}, l.errorf(s, p.pos[fMonth], "month-of-year %d conflicts with day-of-year %d", p.vals[fMonth], doy)
		}
		if p.has(fDayOfMonth) && p.vals[fDayOfMonth] != day {
			return time.Time{}, l.errorf(s, p.pos[fDayOfMonth], "day-of-month %d conflicts with day-of-year %d", p.vals[fDayOfMonth], doy)
		}
	default:
		if p.has(fMonth) {
			month = p.vals[fMonth]
		}
		if p.has(fDayOfMonth) {
			day = p.vals[fDayOfMonth]
		}
	}
	if p.has(fDayOfWeek) && dateGiven {
		wd := time.Date(int(year), time.Month(month), int(day), 0, 0, 0, 0, time.UTC).Weekday()
		if dow := int64(wd+6)%7 + 1; dow != p.vals[fDayOfWeek] {
			return time.Time{}, l.errorf(s, p.pos[fDayOfWeek], "day-of-week %s conflicts with the date, a %s", dayNames[p.vals[fDayOfWeek]-1], dayNames[dow-1])
		}
	}

	// Hour: fold k, h and a+K into H as java's resolveTimeFields does.
	if p.has(fClockHourOfDay) {
		ch := p.vals[fClockHourOfDay]
		if ch != 0 {
			if err := check(fClockHourOfDay, 1, 24); err != nil {
				return time.Time{}, err
			}
		}
		if err := merge(fClockHourOfDay, fHourOfDay, ch%24); err != nil {
			return time.Time{}, err
		}
	}
	if p.has(fClockHourOfAmPm) {
		ch := p.vals[fClockHourOfAmPm]
		if ch != 0 {
			if err := check(fClockHourOfAmPm, 1, 12); err != nil {
				return time.Time{}, err
			}
		}
		if err := merge(fClockHourOfAmPm, fHourOfAmPm, ch%12); err != nil {
			return time.Time{}, err
		}
	}
	if err := check(fHourOfAmPm, 0, 11); err != nil {
		return time.Time{}, err
	}
	ampmLeft, hapLeft := p.has(fAmPm), p.has(fHourOfAmPm)
	if ampmLeft && hapLeft {
		if err := merge(fHourOfAmPm, fHourOfDay, p.vals[fAmPm]*12+p.vals[fHourOfAmPm]); err != nil {
			return time.Time{}, err
		}
		ampmLeft, hapLeft = false, false
	}
	if hapLeft && !p.has(fHourOfDay) {
		return time.Time{}, l.errorf(s, p.pos[fHourOfAmPm], "an hour given as h or K needs an AM/PM marker (a) in the pattern")
	}

	// Time.
	for _, f := range [...]field{fMinute, fSecond} {
		if err := check(f, 0, 59); err != nil {
			return time.Time{}, err
		}
	}
	if err := check(fNano, 0, 999_999_999); err != nil {
		return time.Time{}, err
	}
	minute, second, nano := p.vals[fMinute], p.vals[fSecond], p.vals[fNano]
	var hour int64
	nextDay := false
	if p.has(fHourOfDay) {
		hour = p.vals[fHourOfDay]
		if hour == 24 && minute == 0 && second == 0 && nano == 0 {
			// SMART: 24:00 is the end of the day.
			hour, nextDay = 0, true
		} else if err := check(fHourOfDay, 0, 23); err != nil {
			return time.Time{}, err
		}
	}
	// Cross-check what was not folded into the hour, as java's crossCheck does.
	if hapLeft && hour%12 != p.vals[fHourOfAmPm] {
		return time.Time{}, l.errorf(s, p.pos[fHourOfAmPm], "hour-of-am-pm %d conflicts with hour-of-day %d", p.vals[fHourOfAmPm], hour)
	}
	if ampmLeft && p.has(fHourOfDay) && hour/12 != p.vals[fAmPm] {
		return time.Time{}, l.errorf(s, p.pos[fAmPm], "%s conflicts with hour-of-day %d", ampmNames[p.vals[fAmPm]], hour)
	}
	if nextDay {
		day++
	}

	zl := loc
	switch {
	case p.hasOff:
		zl = fixedZone(p.off)
	case p.zone != nil:
		zl = p.zone
	}
	t := localTime(int(year), time.Month(month), int(day), int(hour), int(minute), int(second), int(nano), zl)
	if p.hasOff && p.zone != nil {
		// The offset fixes the instant, the zone how it is shown: java gives
		// the offset priority for the instant.
		t = t.In(p.zone)
	}
	return t, nil
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

var daysBefore = [13]int64{0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365}

func daysIn(month, year int64) int64 {
	if month == 2 && isLeap(year) {
		return 29
	}
	return daysBefore[month] - daysBefore[month-1]
}

func yearDay(year, month, day int64) int64 {
	d := daysBefore[month-1] + day
	if month > 2 && isLeap(year) {
		d++
	}
	return d
}

func monthDay(year, doy int64) (int64, int64) {
	leap := int64(0)
	if isLeap(year) {
		leap = 1
	}
	for m := int64(1); m <= 12; m++ {
		end := daysBefore[m]
		if m >= 2 {
			end += leap
		}
		if doy <= end {
			start := daysBefore[m-1]
			if m > 2 {
				start += leap
			}
			return m, doy - start
		}
	}
	return 12, 31
}

// localTime is time.Date with java's ZonedDateTime.ofLocal rules for local
// times that a daylight-saving transition makes ambiguous, where time.Date
// promises nothing: in an overlap the earlier offset wins (the earlier
// instant), and a time in a gap is moved forward by the length of the gap.
func localTime(year int, month time.Month, day, hour, minute, sec, nsec int, loc *time.Location) time.Time {
	t := time.Date(year, month, day, hour, minute, sec, nsec, loc)
	// Only a transition within a day or two (offsets change by at most
	// about a day) can make this local time ambiguous.
	const margin = 48 * 3600
	start, end := t.ZoneBounds()
	nearStart := !start.IsZero() && t.Unix()-start.Unix() <= margin
	nearEnd := !end.IsZero() && end.Unix()-t.Unix() <= margin
	if !nearStart && !nearEnd {
		return t
	}
	offsetAt := func(unix int64) int {
		_, off := time.Unix(unix, 0).In(loc).Zone()
		return off
	}
	_, off := t.Zone()
	cands := [3]int{off, off, off}
	if nearStart {
		cands[1] = offsetAt(start.Unix() - 1)
	}
	if nearEnd {
		cands[2] = offsetAt(end.Unix())
	}
	wall := time.Date(year, month, day, hour, minute, sec, 0, time.UTC).Unix()
	best, valid := 0, false
	lowest := cands[0]
	for _, o := range cands {
		lowest = min(lowest, o)
		if offsetAt(wall-int64(o)) == o && (!valid || o > best) {
			best, valid = o, true
		}
	}
	if !valid {
		// A gap: java keeps the offset from before it, which is the lower one.
		best = lowest
	}
	return time.Unix(wall-int64(best), int64(nsec)).In(loc)
}
