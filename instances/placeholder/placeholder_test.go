package placeholder

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pollwire/pollwire/instances/datefmt"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// at is 2024-01-02T03:04:05.123456789Z.
var at = time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)

func TestExpand(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	tests := []struct {
		name, tmpl, want string
	}{
		{"spec example, Close",
			"/hubs/crm/contacts?where=date_updated>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX}'",
			"/hubs/crm/contacts?where=date_updated>'2024-01-02T03%3A04%3A05.123456Z'"},
		{"Salesforce offset: + escaped",
			"/query?q=SystemModstamp>${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSZ}",
			"/query?q=SystemModstamp>2024-01-02T03%3A04%3A05.123%2B0000"},
		{"server zone",
			"/x?since=${date:yyyy-MM-dd HH:mm:ssXXX}",
			"/x?since=2024-01-01+22%3A04%3A05-05%3A00"},
		{"named zone",
			"/x?since=${dateTimeZone:Asia/Kolkata:yyyy-MM-dd'T'HH:mm:ss}",
			"/x?since=2024-01-02T08%3A34%3A05"},
		{"named zone with DST",
			"/x?d=${dateTimeZone:Europe/Paris:HH:mm VV}",
			"/x?d=04%3A04+Europe%2FParis"},
		{"epoch", "/x?t=${epoch}", "/x?t=1704164645123"},
		{"epoch ms", "/x?t=${epoch:ms}", "/x?t=1704164645123"},
		{"epoch s", "/x?t=${epoch:s}", "/x?t=1704164645"},
		{"epoch us", "/x?t=${epoch:us}", "/x?t=1704164645123456"},
		{"date format milliseconds", "/x?t=${gmtDate:milliseconds}", "/x?t=1704164645123"},
		{"path segment: / escaped, : kept",
			"/logs/${gmtDate:yyyy/MM/dd}/${gmtDate:HH:mm}/list",
			"/logs/2024%2F01%2F02/03:04/list"},
		{"path: space and + and quote",
			"/d/${gmtDate:yyyy MM'+'''}",
			"/d/2024%2001+%27"},
		{"? inside a quoted format does not start the query",
			"/a/${gmtDate:'?'yyyy}/b?c=${gmtDate:'?'yyyy}",
			"/a/%3F2024/b?c=%3F2024"},
		{"quoted } belongs to the format",
			"/x?q=${gmtDate:'}'yyyy'{'}}",
			"/x?q=%7D2024%7B}"},
		{"several placeholders and text",
			"/a?from=${epoch:s}&to=${gmtDate:yyyy}&tz=${dateTimeZone:UTC:xxx}#frag",
			"/a?from=1704164645&to=2024&tz=%2B00%3A00#frag"},
		{"dollar without brace is text", "/a$b?c=$d$", "/a$b?c=$d$"},
		{"no placeholders", "/hubs/crm/contacts?limit=100", "/hubs/crm/contacts?limit=100"},
		{"empty template", "", ""},
		{"placeholder only", "${gmtDate:yyyy}", "2024"},
		{"text is not re-escaped", "/a b/%20?x=a b&y=%zz", "/a b/%20?x=a b&y=%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			if got := tmpl.Expand(at, ny); got != tt.want {
				t.Errorf("Expand = %q\n              want %q", got, tt.want)
			}
			if got := string(tmpl.AppendExpand([]byte("p:"), at, ny)); got != "p:"+tt.want {
				t.Errorf("AppendExpand = %q, want %q", got, "p:"+tt.want)
			}
			if tmpl.String() != tt.tmpl {
				t.Errorf("String = %q, want %q", tmpl.String(), tt.tmpl)
			}
			if got, want := tmpl.HasPlaceholders(), strings.Contains(tt.tmpl, "${"); got != want {
				t.Errorf("HasPlaceholders = %v, want %v", got, want)
			}
		})
	}
}

func TestExpandNilServerZoneIsLocal(t *testing.T) {
	tmpl, err := Parse("${date:yyyy-MM-dd HH:mm:ss.SSSSSSSSS xxxxx}")
	if err != nil {
		t.Fatal(err)
	}
	want := datefmt.MustCompile("yyyy-MM-dd HH:mm:ss.SSSSSSSSS xxxxx").Format(at.In(time.Local))
	if got := tmpl.Expand(at, nil); got != url.PathEscape(want) {
		t.Errorf("Expand(nil zone) = %q, want %q", got, url.PathEscape(want))
	}
}

// TestEscapingMatchesNetURL checks every byte value against net/url.
func TestEscapingMatchesNetURL(t *testing.T) {
	for c := 0; c < 256; c++ {
		v := []byte{'a', byte(c), 'z'}
		if got, want := string(appendEscaped(nil, v, true)), url.QueryEscape(string(v)); got != want {
			t.Errorf("query escape of %#x = %q, url.QueryEscape gives %q", c, got, want)
		}
		if got, want := string(appendEscaped(nil, v, false)), url.PathEscape(string(v)); got != want {
			t.Errorf("path escape of %#x = %q, url.PathEscape gives %q", c, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		tmpl        string
		offset      int
		placeholder string
		reason      string
		cause       error
	}{
		{"/x?d=${gmtDate:yyyy", 5, "${gmtDate:yyyy", "no closing '}'", nil},
		{"/x?d=${gmtDate:yyyy'}", 5, "${gmtDate:yyyy'}", "quote in the date format", nil},
		{"/x?d=${", 5, "${", "no closing '}'", nil},
		{"/x?d=${gmtdate:yyyy}", 5, "${gmtdate:yyyy}", `unknown placeholder "gmtdate"`, nil},
		{"/x?d=${now}", 5, "${now}", `unknown placeholder "now"`, nil},
		{"/x?d=${}", 5, "${}", `unknown placeholder ""`, nil},
		{"/x?d=${gmtDate}", 5, "${gmtDate}", "missing date format", nil},
		{"/x?d=${gmtDate:}", 5, "${gmtDate:}", "empty date format", nil},
		{"/x?d=${date:}&y=1", 5, "${date:}", "empty date format", nil},
		{"/x?d=${gmtDate:yyyy-bb}", 5, "${gmtDate:yyyy-bb}", "unknown pattern letter 'b'", datefmt.ErrInvalidPattern},
		{"/x?d=${gmtDate:YYYY}", 5, "${gmtDate:YYYY}", "not supported", datefmt.ErrUnsupportedPattern},
		{"/x?d=${dateTimeZone:Mars/Olympus:yyyy}", 5, "${dateTimeZone:Mars/Olympus:yyyy}", `unknown time zone "Mars/Olympus"`, nil},
		{"/x?d=${dateTimeZone::yyyy}", 5, "${dateTimeZone::yyyy}", `unknown time zone ""`, errEmptyZone},
		{"/x?d=${dateTimeZone:Local:yyyy}", 5, "${dateTimeZone:Local:yyyy}", `unknown time zone "Local"`, errLocalZone},
		{"/x?d=${dateTimeZone:UTC}", 5, "${dateTimeZone:UTC}", "missing zone or date format", nil},
		{"/x?d=${dateTimeZone:UTC", 5, "${dateTimeZone:UTC", "no closing '}'", nil},
		{"/x?d=${epoch:ns}", 5, "${epoch:ns}", `unknown epoch unit "ns"`, nil},
		{"/x?d=${epoch:}", 5, "${epoch:}", `unknown epoch unit ""`, nil},
		{"/x?d=${epoch:s", 5, "${epoch:s", "no closing '}'", nil},
		{"/a/${epoch}/b/${gmtDate:q}", 14, "${gmtDate:q}", "not supported", datefmt.ErrUnsupportedPattern},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			tmpl, err := Parse(tt.tmpl)
			if err == nil {
				t.Fatalf("Parse = %v, want error", tmpl)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *Error", err)
			}
			if pe.Offset != tt.offset || pe.Placeholder != tt.placeholder {
				t.Errorf("Offset %d Placeholder %q, want %d %q", pe.Offset, pe.Placeholder, tt.offset, tt.placeholder)
			}
			if !strings.Contains(pe.Reason, tt.reason) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("error %v does not wrap %v", err, tt.cause)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Parse("/x?d=${gmtDate:" + strings.Repeat("y", 500))
	if err == nil || len(err.Error()) > 200 || !strings.Contains(err.Error(), "offset 5") {
		t.Errorf("error %q should be short and give the offset", err)
	}
}

func TestExpandAllocations(t *testing.T) {
	tmpl, err := Parse("/hubs/crm/contacts?where=date_updated>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX}'&t=${epoch:s}&d=${dateTimeZone:Europe/Paris:yyyy-MM-dd HH:mm}")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf = tmpl.AppendExpand(buf[:0], at, time.UTC) }); n != 0 {
		t.Errorf("AppendExpand allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = tmpl.Expand(at, time.UTC) }); n > 1 {
		t.Errorf("Expand allocates %v times, want at most 1", n)
	}
}

func BenchmarkAppendExpand(b *testing.B) {
	tmpl, err := Parse("/hubs/crm/contacts?where=date_updated>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX}'")
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = tmpl.AppendExpand(buf[:0], at, time.UTC)
	}
}
