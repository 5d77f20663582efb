package datefmt

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		pattern string
		want    error
		pos     int
		part    string
		msg     string
	}{
		{"", ErrInvalidPattern, 0, "", "empty pattern"},
		{"yyyy-MM-dd b", ErrInvalidPattern, 11, "b", "unknown pattern letter 'b'"},
		{"yyyy-MM-ddTHH:mm", ErrInvalidPattern, 10, "T", "unknown pattern letter 'T'"},
		{"XXXXXX", ErrInvalidPattern, 0, "XXXXXX", "too many pattern letters 'X' (at most 5)"},
		{"HH:mm:ss.SSSSSSSSSS", ErrInvalidPattern, 9, "SSSSSSSSSS", "at most 9"},
		{"ddd", ErrInvalidPattern, 0, "ddd", "at most 2"},
		{"aa", ErrInvalidPattern, 0, "aa", "at most 1"},
		{"MMMMMM", ErrInvalidPattern, 0, "MMMMMM", "at most 5"},
		{"yyyyyyyyyyyyyyyyyyyy", ErrInvalidPattern, 0, "yyyyyyyyyyyyyyyyyyyy", "at most 19"},
		{"V", ErrInvalidPattern, 0, "V", "must be 2"},
		{"VVV", ErrInvalidPattern, 0, "VVV", "must be 2"},
		{"yyyy'T", ErrInvalidPattern, 4, "'T", "not terminated"},
		{"HH{mm", ErrInvalidPattern, 2, "{", "reserved character"},
		{"yyyy#", ErrInvalidPattern, 4, "#", "reserved character"},
		{"yyyy]", ErrInvalidPattern, 4, "]", "without a previous '['"},
		{"FF", ErrInvalidPattern, 0, "FF", "wrong number of pattern letters"},
		{"p", ErrInvalidPattern, 0, "p", "must be followed by a pattern letter"},
		{"yyyy[-MM]", ErrUnsupportedPattern, 4, "[", "optional sections"},
		{"G yyyy", ErrUnsupportedPattern, 0, "G", "era (G) is not supported"},
		{"YYYY-MM-dd", ErrUnsupportedPattern, 0, "YYYY", "use y or u"},
		{"yyyy-MM-dd HH:mm z", ErrUnsupportedPattern, 17, "z", "not supported"},
		{"ZZZZ", ErrUnsupportedPattern, 0, "ZZZZ", "not supported"},
		{"MMMMM", ErrUnsupportedPattern, 0, "MMMMM", "narrow month names are not supported"},
		{"EEEEE", ErrUnsupportedPattern, 0, "EEEEE", "not supported"},
		{"Q", ErrUnsupportedPattern, 0, "Q", "not supported"},
		{"ppd", ErrUnsupportedPattern, 0, "pp", "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			l, err := Compile(tt.pattern)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, want error", tt.pattern, l)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v is not %v", err, tt.want)
			}
			var pe *PatternError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *PatternError", err)
			}
			if pe.Pos != tt.pos || pe.Part != tt.part || pe.Pattern != tt.pattern {
				t.Errorf("got Pos %d Part %q Pattern %q, want %d %q %q", pe.Pos, pe.Part, pe.Pattern, tt.pos, tt.part, tt.pattern)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q does not contain %q", err.Error(), tt.msg)
			}
		})
	}
}

func TestMustCompilePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCompile(\"b\") did not panic")
		}
	}()
	MustCompile("b")
}

func TestLiterals(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct{ pattern, want string }{
		{"''", "'"},
		{"'o''clock'", "o'clock"},
		{"HH 'h' mm", "03 h 04"},
		{"yyyy'T'", "2024T"},
		{"'yyyy'", "yyyy"},
		{"dd.MM.yyyy", "02.01.2024"},
		{"é HH", "é 03"},
		{"''''", "'"}, // a quoted '' is one quote
	}
	for _, tt := range tests {
		l := MustCompile(tt.pattern)
		if got := l.Format(at); got != tt.want {
			t.Errorf("%q: Format = %q, want %q", tt.pattern, got, tt.want)
		}
	}
}

func TestHasOffsetAndString(t *testing.T) {
	tests := []struct {
		pattern string
		want    bool
	}{
		{"yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX", true},
		{"yyyy-MM-dd'T'HH:mm:ss.SSSZ", true},
		{"yyyy-MM-dd'T'HH:mm:ssx", true},
		{"yyyy-MM-dd HH:mm:ss VV", true},
		{"yyyy-MM-dd'T'HH:mm:ss'Z'", false},
		{"yyyy-MM-dd HH:mm:ss", false},
		{"milliseconds", true},
		{"seconds", true},
	}
	for _, tt := range tests {
		l := MustCompile(tt.pattern)
		if got := l.HasOffset(); got != tt.want {
			t.Errorf("%q: HasOffset = %v, want %v", tt.pattern, got, tt.want)
		}
		if l.String() != tt.pattern {
			t.Errorf("String = %q, want %q", l.String(), tt.pattern)
		}
	}
}

func TestEpochFormats(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	ms, sec := MustCompile(Milliseconds), MustCompile(Seconds)
	instants := []time.Time{
		time.Unix(0, 0),
		time.Date(2024, 1, 2, 3, 4, 5, 678_901_234, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(1900, 1, 1, 0, 0, 0, 0, ny),
		time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC),
	}
	for _, at := range instants {
		s := ms.Format(at)
		got, err := ms.Parse(s, ny)
		if err != nil {
			t.Fatalf("milliseconds Parse(%q): %v", s, err)
		}
		if want := time.UnixMilli(at.UnixMilli()); !got.Equal(want) || got.Location() != ny {
			t.Errorf("milliseconds %q -> %v, want %v in %v", s, got, want, ny)
		}
		s = sec.Format(at)
		got, err = sec.Parse(s, nil)
		if err != nil {
			t.Fatalf("seconds Parse(%q): %v", s, err)
		}
		if want := time.Unix(at.Unix(), 0); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("seconds %q -> %v, want %v UTC", s, got, want)
		}
	}
	if got := ms.Format(time.Date(2019, 1, 15, 12, 48, 23, 392_999_999, time.UTC)); got != "1547556503392" {
		t.Errorf("milliseconds Format = %q", got)
	}
	if got := sec.Format(time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC)); got != "-1" {
		t.Errorf("seconds Format before 1970 = %q, want -1 (floor)", got)
	}
	if got, err := ms.Parse("-9223372036854775808", nil); err != nil || got.UnixMilli() != -9223372036854775808 {
		t.Errorf("min int64: %v, %v", got, err)
	}
	for _, bad := range []string{"", "-", "+1", "1.5", "1e3", " 1", "1 ", "0x10", "9223372036854775808", "-9223372036854775809", "12345678901234567890", "١٢"} {
		if got, err := ms.Parse(bad, nil); err == nil {
			t.Errorf("milliseconds Parse(%q) = %v, want error", bad, got)
		} else if !strings.Contains(err.Error(), "epoch milliseconds") {
			t.Errorf("milliseconds Parse(%q): %v does not say what was expected", bad, err)
		}
	}
	if _, err := sec.Parse("1.5", nil); err == nil || !strings.Contains(err.Error(), "epoch seconds") {
		t.Errorf("seconds Parse(1.5): %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		pattern, text string
		pos           int
		msg           string
	}{
		{"yyyy-MM-dd", "2024-1-02", 5, "2-digit month-of-year (MM)"},
		{"yyyy-MM-dd", "2024-01-02x", 10, "unexpected text after the end"},
		{"yyyy-MM-dd", "2024/01/02", 4, `expected "-"`},
		{"yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX", "2019-01-15T12:48:23.392Z", 20, "6-digit fraction of second (SSSSSS)"},
		{"yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX", "2019-01-15T12:48:23.392000", 26, "offset like +HH:MM or Z (XXX)"},
		{"yyyy-MM-dd'T'HH:mm:ss.SSSZ", "2024-01-02T03:04:05.123Z", 23, "offset like +HHMM (Z)"},
		{"EEE, dd MMM yyyy", "Tue, 15 Foo 2019", 8, `month name like "Jan" (MMM)`},
		{"EEE, dd MMM yyyy", "Wed, 15 Jan 2019", 0, "day-of-week Wednesday conflicts with the date, a Tuesday"},
		{"yyyy-MM-dd", "2023-02-32", 8, "day-of-month 32 is out of range (1-31)"},
		{"yyyy-MM-dd HH:mm", "2023-02-03 25:00", 11, "hour-of-day 25 is out of range (0-23)"},
		{"yyyy-MM-dd hh:mm", "2023-02-03 10:00", 11, "needs an AM/PM marker"},
		{"yyyy", "10000", 0, "need a leading '+'"},
		{"yyyy", "+2024", 0, "'+' only before more than 4 digits"},
		{"yyyy-MM-dd HH", "2024-01-02 -3", 11, "no '-' sign allowed here"},
		{"yyyy-DDD", "2023-366", 5, "not a leap year"},
		{"yyyy-MM-dd HH:mm XXX", "2024-01-02 03:04 +19:00", 17, "offsets range from -18:00 to +18:00"},
		{"yyyy-MM-dd HH:mm VV", "2024-01-02 03:04 Mars/Olympus", 17, "unknown zone"},
		{"yyyy-MM-dd HH:mm VV", "2024-01-02 03:04 Local", 17, "unknown zone"},
		{"yyyy uuuu", "2024 2023", 0, "year-of-era 2024 conflicts with year 2023"},
		{"HH H", "10 11", 3, "hour-of-day 11 conflicts with 10"},
		{"HH a", "13 AM", 3, "AM conflicts with hour-of-day 13"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"|"+tt.text, func(t *testing.T) {
			got, err := MustCompile(tt.pattern).Parse(tt.text, time.UTC)
			if err == nil {
				t.Fatalf("Parse = %v, want error", got)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			if pe.Pos != tt.pos || pe.Input != tt.text || pe.Pattern != tt.pattern {
				t.Errorf("Pos %d Input %q Pattern %q, want %d", pe.Pos, pe.Input, pe.Pattern, tt.pos)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestParseErrorTruncatesInput(t *testing.T) {
	long := strings.Repeat("9", 1000)
	_, err := MustCompile("yyyy-MM-dd").Parse(long, nil)
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("error %v should quote a bounded part of the input", err)
	}
}

// TestMissingFields checks the defaults filled in where java would refuse to
// build an instant.
func TestMissingFields(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	tests := []struct {
		pattern, text string
		loc           *time.Location
		want          time.Time
	}{
		{"h:mm a", "3:04 PM", ny, time.Date(1970, 1, 1, 15, 4, 0, 0, ny)},
		{"HH:mm:ss.SSS", "03:04:05.678", time.UTC, time.Date(1970, 1, 1, 3, 4, 5, 678_000_000, time.UTC)},
		{"yyyy-MM-dd", "2024-02-29", ny, time.Date(2024, 2, 29, 0, 0, 0, 0, ny)},
		{"yyyy-MM", "2024-07", nil, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)},
		{"yyyy", "2024", nil, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"dd HH", "15 10", nil, time.Date(1970, 1, 15, 10, 0, 0, 0, time.UTC)},
		{"MMM d", "Mar 3", nil, time.Date(1970, 3, 3, 0, 0, 0, 0, time.UTC)},
		{"EEE HH:mm", "Tue 10:00", nil, time.Date(1970, 1, 1, 10, 0, 0, 0, time.UTC)},
		{"yyyy-MM-dd'T'HH:mmXXX", "2024-01-02T03:04+01:00", ny, time.Date(2024, 1, 2, 2, 4, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := MustCompile(tt.pattern).Parse(tt.text, tt.loc)
		if err != nil {
			t.Errorf("%q %q: %v", tt.pattern, tt.text, err)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("%q %q = %v, want %v", tt.pattern, tt.text, got, tt.want)
		}
	}
}

// TestParseLocation checks which location the result is in.
func TestParseLocation(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	paris := mustLoad(t, "Europe/Paris")
	got, _ := MustCompile("yyyy-MM-dd HH:mmXXX").Parse("2024-01-02 03:04Z", ny)
	if got.Location() != time.UTC {
		t.Errorf("zero offset: location %v, want UTC", got.Location())
	}
	got, _ = MustCompile("yyyy-MM-dd HH:mmXXX").Parse("2024-01-02 03:04+05:30", ny)
	if name, off := got.Zone(); off != 19800 || name != "+05:30" {
		t.Errorf("offset: zone %q %d, want +05:30 19800", name, off)
	}
	got, _ = MustCompile("yyyy-MM-dd HH:mm").Parse("2024-01-02 03:04", ny)
	if got.Location() != ny {
		t.Errorf("no offset: location %v, want %v", got.Location(), ny)
	}
	// The offset fixes the instant; the zone id how it is shown.
	got, err := MustCompile("yyyy-MM-dd HH:mmXXX VV").Parse("2024-01-02 03:04+00:00 Europe/Paris", ny)
	if err != nil || got.Location().String() != paris.String() || !got.Equal(time.Date(2024, 1, 2, 3, 4, 0, 0, time.UTC)) {
		t.Errorf("offset and zone: %v, %v", got, err)
	}
}

// TestDeviationsFromJava pins the behaviour where datefmt reads what java
// rejects, as documented in the package doc.
func TestDeviationsFromJava(t *testing.T) {
	tests := []struct {
		pattern, text string
		want          time.Time
	}{
		{"EEE, dd MMM yyyy HH:mm:ss Z", "tue, 15 jan 2019 12:48:23 +0000", time.Date(2019, 1, 15, 12, 48, 23, 0, time.UTC)},
		{"EEE, dd MMM yyyy HH:mm:ss Z", "TUE, 15 JAN 2019 12:48:23 +0000", time.Date(2019, 1, 15, 12, 48, 23, 0, time.UTC)},
		{"yyyy-MM-dd hh:mm a", "2019-01-15 01:48 pm", time.Date(2019, 1, 15, 13, 48, 0, 0, time.UTC)},
		{"yyyy-MM-dd HH:mm:ss x", "2019-09-15 15:00:00 +0030", time.Date(2019, 9, 15, 14, 30, 0, 0, time.UTC)},
		{"yyyy-MM-dd HH:mm:ss x", "2019-09-15 15:00:00 +0000", time.Date(2019, 9, 15, 15, 0, 0, 0, time.UTC)},
		{"yyyy-MM-dd HH:mm:ss xxxx", "2019-09-15 15:00:00 +000030", time.Date(2019, 9, 15, 14, 59, 30, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := MustCompile(tt.pattern).Parse(tt.text, nil)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("%q %q = %v, %v; want %v", tt.pattern, tt.text, got, err, tt.want)
		}
	}
	// Java's x prints +00:30 as "+0030" and cannot read it back; datefmt can.
	l := MustCompile("yyyy-MM-dd HH:mm x")
	at := time.Date(2024, 1, 2, 3, 4, 0, 0, time.FixedZone("", 1800))
	if got, err := l.Parse(l.Format(at), nil); err != nil || !got.Equal(at) {
		t.Errorf("x at +00:30: %q -> %v, %v", l.Format(at), got, err)
	}
}

func TestFormatExtremes(t *testing.T) {
	tests := []struct {
		pattern string
		at      time.Time
		want    string
	}{
		{"yyyy", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "+10000"},
		{"yyyy", time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), "0006"},
		{"uuuu", time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), "-0005"},
		{"uu", time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), "05"},
		{"h K k H a", time.Date(2024, 1, 2, 0, 4, 5, 0, time.UTC), "12 0 24 0 AM"},
		{"h K k H a", time.Date(2024, 1, 2, 12, 4, 5, 0, time.UTC), "12 0 12 12 PM"},
		{"XXX", time.Date(2024, 1, 2, 0, 0, 0, 0, time.FixedZone("", -30)), "Z"},
		{"XXXXX", time.Date(2024, 1, 2, 0, 0, 0, 0, time.FixedZone("", -30)), "-00:00:30"},
		{"x", time.Date(2024, 1, 2, 0, 0, 0, 0, time.FixedZone("", -30)), "+00"},
		{"VV", time.Date(2024, 1, 2, 0, 0, 0, 0, time.FixedZone("", 19800)), "+05:30"},
		{"VV", time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), "UTC"},
		{"nn", time.Date(2024, 1, 2, 0, 0, 0, 123456789, time.UTC), "123456789"},
		{"nnnnnnnnnnn", time.Date(2024, 1, 2, 0, 0, 0, 123456789, time.UTC), "00123456789"},
		{"SSSSSSSSS", time.Date(2024, 1, 2, 0, 0, 0, 1, time.UTC), "000000001"},
		{"S", time.Date(2024, 1, 2, 0, 0, 0, 999_999_999, time.UTC), "9"},
		{"yyyy-MM-dd", time.Time{}, "0001-01-01"},
	}
	for _, tt := range tests {
		if got := MustCompile(tt.pattern).Format(tt.at); got != tt.want {
			t.Errorf("%q: Format(%v) = %q, want %q", tt.pattern, tt.at, got, tt.want)
		}
	}
}

var allocPatterns = []string{
	"yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
	"yyyy-MM-dd'T'HH:mm:ss.SSSZ",
	"yyyy-MM-dd'T'HH:mm:ss.SSSX",
	"EEE, dd MMM yyyy HH:mm:ss Z",
	"h:mm a",
	"yyyyMMddHHmmss",
	"milliseconds",
}

func TestNoAllocations(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	at := time.Date(2024, 7, 2, 15, 4, 5, 123456789, time.FixedZone("", -4*3600))
	buf := make([]byte, 0, 128)
	for _, p := range allocPatterns {
		l := MustCompile(p)
		if n := testing.AllocsPerRun(100, func() { buf = l.AppendFormat(buf[:0], at) }); n != 0 {
			t.Errorf("%q: AppendFormat allocates %v times", p, n)
		}
		if n := testing.AllocsPerRun(100, func() { _ = l.Format(at) }); n > 1 {
			t.Errorf("%q: Format allocates %v times, want at most 1", p, n)
		}
		s := l.Format(at)
		if _, err := l.Parse(s, ny); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = l.Parse(s, ny) }); n != 0 {
			t.Errorf("%q: Parse(%q) allocates %v times", p, s, n)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	l := MustCompile("yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX VV")
	ny := mustLoad(t, "America/New_York")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				at := time.Date(2024, 1, 1+g, i%24, i%60, 0, i*1000, ny)
				got, err := l.Parse(l.Format(at), nil)
				if err != nil || !got.Equal(at) {
					t.Errorf("round trip of %v: %v, %v", at, got, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func BenchmarkAppendFormat(b *testing.B) {
	l := MustCompile("yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")
	at := time.Date(2024, 7, 2, 15, 4, 5, 123456789, time.UTC)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = l.AppendFormat(buf[:0], at)
	}
}

func BenchmarkParse(b *testing.B) {
	l := MustCompile("yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")
	s := "2024-07-02T15:04:05.123456+02:00"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Parse(s, time.UTC); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseInZone(b *testing.B) {
	l := MustCompile("yyyy-MM-dd HH:mm:ss")
	ny := mustLoad(b, "America/New_York")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Parse("2024-07-02 15:04:05", ny); err != nil {
			b.Fatal(err)
		}
	}
}
