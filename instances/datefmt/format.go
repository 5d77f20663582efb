package datefmt

import (
	"strconv"
	"time"
)

// English names, as java.time prints them for Locale.US. Short names are the
// first three letters.
var (
	monthNames = [12]string{"January", "February", "March", "April", "May", "June",
		"July", "August", "September", "October", "November", "December"}
	// dayNames is in java.time order: DayOfWeek 1 is Monday.
	dayNames  = [7]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	ampmNames = [2]string{"AM", "PM"}
)

var pow10 = [...]int64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

func (l *Layout) appendFormat(b []byte, t time.Time) []byte {
	var (
		year, day, yday, hour, min, sec, off int
		month                                time.Month
		dow                                  int // 1 = Monday ... 7 = Sunday
	)
	if l.needs&needDate != 0 {
		year, month, day = t.Date()
	}
	if l.needs&needYearDay != 0 {
		yday = t.YearDay()
	}
	if l.needs&needWeekday != 0 {
		dow = (int(t.Weekday())+6)%7 + 1
	}
	if l.needs&needClock != 0 {
		hour, min, sec = t.Clock()
	}
	if l.needs&needOffset != 0 {
		_, off = t.Zone()
	}
	nano := t.Nanosecond()
	for i := range l.ops {
		o := &l.ops[i]
		switch o.kind {
		case opLiteral:
			b = append(b, o.lit...)
		case opNumber:
			var v int64
			switch o.field {
			case fYear:
				v = int64(year)
			case fYearOfEra:
				v = yearOfEra(year)
			case fMonth:
				v = int64(month)
			case fDayOfMonth:
				v = int64(day)
			case fDayOfYear:
				v = int64(yday)
			case fHourOfDay:
				v = int64(hour)
			case fClockHourOfDay:
				v = int64(hour)
				if v == 0 {
					v = 24
				}
			case fHourOfAmPm:
				v = int64(hour % 12)
			case fClockHourOfAmPm:
				v = int64(hour % 12)
				if v == 0 {
					v = 12
				}
			case fMinute:
				v = int64(min)
			case fSecond:
				v = int64(sec)
			case fNano:
				v = int64(nano)
			}
			b = appendNumber(b, v, o)
		case opReduced:
			v := int64(year)
			if o.field == fYearOfEra {
				v = yearOfEra(year)
			}
			if v < 0 {
				v = -v
			}
			b = appendPadded(b, uint64(v%100), 2)
		case opFraction:
			b = appendPadded(b, uint64(int64(nano)/pow10[9-o.minW]), o.minW)
		case opText:
			var name string
			switch o.field {
			case fMonth:
				name = monthNames[month-1]
			case fDayOfWeek:
				name = dayNames[dow-1]
			default:
				name = ampmNames[hour/12]
			}
			if o.style == textShort && o.field != fAmPm {
				name = name[:3]
			}
			b = append(b, name...)
		case opOffset:
			b = appendOffset(b, o.style, o.lit, off)
		case opZoneID:
			b = appendZoneID(b, t.Location(), off)
		}
	}
	return b
}

// yearOfEra is what java prints for y: years before 1 count backwards from
// 1 BC.
func yearOfEra(year int) int64 {
	if year >= 1 {
		return int64(year)
	}
	return 1 - int64(year)
}

// appendNumber prints v as java's NumberPrinterParser does: zero-padded to
// minW, with a sign by the op's sign style.
func appendNumber(b []byte, v int64, o *op) []byte {
	u := uint64(v)
	if v < 0 {
		u = uint64(-v)
		b = append(b, '-')
	} else if o.sign == signExceedsPad && o.minW < 19 && digits(u) > o.minW {
		b = append(b, '+')
	}
	return appendPadded(b, u, o.minW)
}

func appendPadded(b []byte, u uint64, width int) []byte {
	for n := digits(u); n < width; n++ {
		b = append(b, '0')
	}
	return strconv.AppendUint(b, u, 10)
}

func digits(u uint64) int {
	n := 1
	for u >= 10 {
		u /= 10
		n++
	}
	return n
}

// appendOffset prints an offset in seconds east of UTC as java's
// OffsetIdPrinterParser does for pattern offsetPatterns[style], printing zero
// for a zero offset, and also when every printed part is zero.
func appendOffset(b []byte, style uint8, zero string, secs int) []byte {
	if secs == 0 {
		return append(b, zero...)
	}
	absH := abs((secs / 3600) % 100)
	absM := abs((secs / 60) % 60)
	absS := abs(secs % 60)
	start := len(b)
	if secs < 0 {
		b = append(b, '-')
	} else {
		b = append(b, '+')
	}
	b = append(b, byte('0'+absH/10), byte('0'+absH%10))
	colon := style > 0 && style%2 == 0
	output := absH
	if (style >= 3 && style <= 8) || (style >= 1 && absM > 0) {
		b = appendTwo(b, colon, absM)
		output += absM
		if style >= 5 && absS > 0 {
			b = appendTwo(b, colon, absS)
			output += absS
		}
	}
	if output == 0 {
		b = append(b[:start], zero...)
	}
	return b
}

func appendTwo(b []byte, colon bool, v int) []byte {
	if colon {
		b = append(b, ':')
	}
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// appendZoneID prints the zone id of loc: its IANA name, or, for locations
// without a usable name (time.Local, unnamed fixed zones), the offset id java
// prints for a ZoneOffset ("Z", "+05:30").
func appendZoneID(b []byte, loc *time.Location, off int) []byte {
	name := loc.String()
	if name == "" || name == "Local" {
		return appendOffset(b, 6, "Z", off)
	}
	return append(b, name...)
}
