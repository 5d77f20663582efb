package datefmt

import (
	"testing"
	"time"
	"unicode/utf8"
)

var fuzzSeedPatterns = []string{
	"yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
	"yyyy-MM-dd'T'HH:mm:ss.SSSZ",
	"yyyy-MM-dd'T'HH:mm:ss.SSSX",
	"EEE, dd MMM yyyy HH:mm:ss Z",
	"h:mm a",
	"yyyyMMddHHmmss",
	"yyyyMMddHHmmssSSS",
	"dMMyyyyHHmm",
	"yy-M-d H:m:s",
	"uuuu-DDD'T'kk:mm:ss.nVV",
	"EEEE, MMMM d, yyyy K:mm a xx",
	"''yyyy'' 'at' HH 'o''clock' x",
	"VV'|'yyyy-MM-dd'T'HH:mm:ss.SSSXXXXX",
	"yyyyy-MM-dd HH:mm:ssxxxx",
	"milliseconds",
	"seconds",
	"[yyyy]",
	"'",
	"GGGG",
}

// fuzzZones are the locations of the round-trip property: fixed zones,
// including an unnamed one of zero offset (zone id "Z"), and a region zone
// at instants away from its transitions.
func fuzzZones(t testing.TB) []*time.Location {
	return []*time.Location{time.UTC, time.FixedZone("", 0), time.FixedZone("", 19800),
		time.FixedZone("", -8*3600), mustLoad(t, "America/New_York")}
}

// roundTripInstants have years in 2000-2099 in every zone of fuzzZones, so
// that two-digit years read back, and are far from daylight-saving
// transitions.
var roundTripInstants = []time.Time{
	time.Date(2019, 1, 15, 12, 48, 23, 392123456, time.UTC),
	time.Date(2024, 7, 4, 0, 0, 0, 1, time.UTC),
	time.Date(2000, 1, 1, 12, 0, 0, 0, time.UTC),
	time.Date(2099, 12, 31, 11, 59, 59, 999999999, time.UTC),
	time.Date(2024, 2, 29, 12, 30, 45, 500000000, time.UTC),
	time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC),
}

// stressInstants must format and parse without panicking, whatever comes
// out.
var stressInstants = []time.Time{
	{},
	time.Date(-50000, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(0, 12, 31, 23, 59, 59, 999999999, time.UTC),
	time.Date(300000, 6, 15, 12, 0, 0, 0, time.FixedZone("", -30)),
	time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("odd", 99*3600+59*60+59)),
	time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("", -86399)),
	time.Date(2024, 3, 10, 2, 30, 0, 0, time.Local),
}

// roundTripUnit reports whether, for every instant of roundTripInstants in
// every zone of fuzzZones, Parse(Format(t)) must be t truncated to the
// returned unit. It requires a whole date and time and no place where
// parsing cannot tell where one field ends and the next begins; java fails
// on those texts too (e.g. "dMMyyyy": d reads every digit).
func roundTripUnit(l *Layout) (time.Duration, bool) {
	switch l.epoch {
	case epochMillis:
		return time.Millisecond, true
	case epochSeconds:
		return time.Second, true
	}
	var has uint32
	var unit time.Duration
	startsWithDigit := func(i int) bool {
		if i >= len(l.ops) {
			return false
		}
		switch o := &l.ops[i]; o.kind {
		case opNumber, opReduced, opFraction:
			return true
		case opLiteral:
			return o.lit[0] >= '0' && o.lit[0] <= '9'
		}
		return false
	}
	for i := range l.ops {
		o := &l.ops[i]
		switch o.kind {
		case opNumber, opReduced, opFraction, opText:
			has |= 1 << o.field
		}
		if o.field == fNano && (o.kind == opNumber || o.kind == opFraction) {
			u := time.Nanosecond
			if o.kind == opFraction {
				u = time.Duration(pow10[9-o.minW])
			}
			if unit != 0 && unit != u {
				return 0, false // truncated to different precisions: a conflict
			}
			unit = u
		}
		switch {
		case o.kind == opNumber && !(o.minW == o.maxW && o.sign == signNotNegative):
			if o.sub == -1 {
				return 0, false // another variable-width number follows
			}
			j := i + 1
			for j < len(l.ops) && l.ops[j].kind != opLiteral && l.ops[j].kind != opText &&
				l.ops[j].kind != opOffset && l.ops[j].kind != opZoneID && l.ops[j].sub == -1 {
				j++ // the fixed-width fields whose digits it leaves alone
			}
			if startsWithDigit(j) {
				return 0, false
			}
		case o.kind == opOffset && (o.style == 1 || o.style == 5):
			if startsWithDigit(i + 1) {
				return 0, false // would be read as the optional minutes or seconds
			}
		case o.kind == opOffset && o.style == 6:
			if i+1 < len(l.ops) && l.ops[i+1].kind == opLiteral && l.ops[i+1].lit[0] == ':' {
				return 0, false // would be read as the optional ":ss"
			}
		case o.kind == opZoneID:
			if i+1 < len(l.ops) {
				next := &l.ops[i+1]
				if next.kind != opLiteral || isZoneChar(next.lit[0]) || next.lit[0] == ':' {
					return 0, false // would be read as part of the zone id
				}
			}
		}
	}
	f := func(fs ...field) bool {
		for _, x := range fs {
			if has&(1<<x) != 0 {
				return true
			}
		}
		return false
	}
	if !f(fYear, fYearOfEra) || !(f(fMonth) && f(fDayOfMonth) || f(fDayOfYear)) ||
		!(f(fHourOfDay, fClockHourOfDay) || f(fHourOfAmPm, fClockHourOfAmPm) && f(fAmPm)) ||
		!f(fMinute) || !f(fSecond) {
		return 0, false
	}
	if unit == 0 {
		unit = time.Second
	}
	return unit, true
}

func truncate(t time.Time, unit time.Duration) time.Time {
	return t.Add(-time.Duration(t.Nanosecond()) % unit)
}

func FuzzCompile(f *testing.F) {
	for _, p := range fuzzSeedPatterns {
		f.Add(p)
	}
	zones := fuzzZones(f)
	f.Fuzz(func(t *testing.T, pattern string) {
		l, err := Compile(pattern)
		if err != nil {
			if _, ok := err.(*PatternError); !ok {
				t.Fatalf("Compile(%q) error %T is not a *PatternError", pattern, err)
			}
			_ = err.Error()
			return
		}
		if l.String() != pattern {
			t.Fatalf("String() = %q, want %q", l.String(), pattern)
		}
		for _, at := range stressInstants {
			s := l.Format(at)
			if got := string(l.AppendFormat([]byte("#"), at)); got != "#"+s {
				t.Fatalf("AppendFormat = %q, Format = %q", got, s)
			}
			if utf8.ValidString(pattern) && !utf8.ValidString(s) {
				t.Fatalf("Format(%v) = %q is not UTF-8", at, s)
			}
			_, _ = l.Parse(s, at.Location())
		}
		unit, ok := roundTripUnit(l)
		for _, loc := range zones {
			for _, at := range roundTripInstants {
				at = at.In(loc)
				s := l.Format(at)
				got, err := l.Parse(s, loc)
				if !ok {
					continue
				}
				if err != nil {
					t.Fatalf("pattern %q: Parse(Format(%v) = %q): %v", pattern, at, s, err)
				}
				if want := truncate(at, unit); !got.Equal(want) {
					t.Fatalf("pattern %q: Parse(%q) = %v, want %v", pattern, s, got, want)
				}
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, p := range fuzzSeedPatterns {
		l, err := Compile(p)
		if err != nil {
			continue
		}
		for _, at := range roundTripInstants {
			f.Add(p, l.Format(at))
		}
	}
	rows := [][2]string{
		{"yyyy-MM-dd HH:mm:ss VV", "2019-09-15 15:00:00 America/Argentina/Buenos_Aires"},
		{"yyyy-MM-dd HH:mm:ss VV", "2019-09-15 15:00:00 UTC+03:00"},
		{"yyyy-MM-dd HH:mm", "2023-12-31 24:00"},
		{"yyyy-MM-dd", "2023-02-30"},
		{"u-M-d H:m", "-999999999-1-1 0:0"},
		{"yyyy-MM-dd HH:mm:ss XXXXX", "2019-09-15 15:00:00 -01:30:15"},
		{"milliseconds", "-9223372036854775808"},
	}
	for _, r := range rows {
		f.Add(r[0], r[1])
	}
	ny := mustLoad(f, "America/New_York")
	f.Fuzz(func(t *testing.T, pattern, text string) {
		l, err := Compile(pattern)
		if err != nil {
			return
		}
		for _, loc := range []*time.Location{time.UTC, ny} {
			got, err := l.Parse(text, loc)
			if err != nil {
				pe, ok := err.(*ParseError)
				if !ok || pe.Pos < 0 || pe.Pos > len(text) {
					t.Fatalf("Parse(%q) error %#v is not a *ParseError within the text", text, err)
				}
				_ = err.Error()
				continue
			}
			if !l.HasOffset() && got.Location() != loc {
				t.Fatalf("Parse(%q) = %v in %v, want %v", text, got, got.Location(), loc)
			}
			s := l.Format(got)
			// A time read by a pattern that reads back what it prints must
			// survive another trip (its precision is already the pattern's).
			if _, ok := roundTripUnit(l); ok && loc == time.UTC && got.Year() >= 2000 && got.Year() <= 2099 {
				again, err := l.Parse(s, loc)
				if err != nil || !again.Equal(got) {
					t.Fatalf("pattern %q: %q -> %v -> %q -> %v, %v", pattern, text, got, s, again, err)
				}
			}
		}
	})
}

// TestRoundTripProperty pins which patterns the fuzz property covers and
// checks the property on every pattern of the golden files.
func TestRoundTripProperty(t *testing.T) {
	covered := map[string]time.Duration{
		"yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX":         time.Microsecond,
		"yyyy-MM-dd'T'HH:mm:ss.SSSZ":              time.Millisecond,
		"yyyy-MM-dd'T'HH:mm:ss.SSSX":              time.Millisecond,
		"EEE, dd MMM yyyy HH:mm:ss Z":             time.Second,
		"yyyyMMddHHmmss":                          time.Second,
		"yyyyMMddHHmmssSSS":                       time.Millisecond,
		"yy-M-d H:m:s":                            time.Second,
		"dd/MM/yyyy hh:mm:ss a":                   time.Second,
		"uuuu-DDD'T'kk:mm:ss.n'@'VV":              time.Nanosecond,
		"dMM yyyy HHmmss":                         time.Second, // d leaves MM's digits alone
		"dMMyyyy HHmmss":                          0,           // yyyy follows, so java makes d read every digit
		"yyyy-MM-dd HH:mm:ss.SSS n":               0,           // S and n disagree: a conflict
		"milliseconds":                            time.Millisecond,
		"seconds":                                 time.Second,
		"h:mm a":                                  0, // no date
		"yyyy-MM-dd hh:mm:ss":                     0, // no AM/PM
		"dMMyyyyHHmm":                             0, // d then yyyy: d reads every digit
		"yyyyMMddHHmmss'1'":                       0, // yyyy would read the literal 1
		"yyyy-MM-dd HH:mm:ssX":                    time.Second,
		"yyyy-MM-dd HH:mm:ssXmm":                  0, // mm would be read as the offset's minutes
		"yyyy-MM-dd HH:mm:ssXXXXX:SSS":            0,
		"yyyy-MM-dd HH:mm:ss VV":                  time.Second,
		"yyyy-MM-dd HH:mm:ss VVX":                 0,
		"yyyy-MM-dd HH:mm:ss.SSSSSSSSSxxx":        time.Nanosecond,
		"yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX'['VV']'": time.Microsecond,
	}
	for p, want := range covered {
		got, ok := roundTripUnit(MustCompile(p))
		if !ok {
			got = 0
		}
		if got != want {
			t.Errorf("roundTripUnit(%q) = %v, want %v", p, got, want)
		}
	}
	patterns := map[string]bool{}
	for _, r := range readTSV(t, "java_format.tsv", 7) {
		patterns[r[0]] = true
	}
	for p := range covered {
		patterns[p] = true
	}
	n := 0
	for p := range patterns {
		l := MustCompile(p)
		unit, ok := roundTripUnit(l)
		if !ok {
			continue
		}
		n++
		for _, loc := range fuzzZones(t) {
			for _, at := range roundTripInstants {
				at = at.In(loc)
				s := l.Format(at)
				got, err := l.Parse(s, loc)
				if err != nil || !got.Equal(truncate(at, unit)) {
					t.Errorf("%q: %v -> %q -> %v, %v", p, at, s, got, err)
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("the property covers only %d patterns", n)
	}
}
