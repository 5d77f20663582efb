package placeholder

import (
	"strings"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/hubs/crm/contacts?where=date_updated>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX}'",
		"/query?q=SystemModstamp>${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSZ}",
		"/x?since=${date:yyyy-MM-dd HH:mm:ssXXX}&tz=${dateTimeZone:Asia/Kolkata:VV}",
		"/a?from=${epoch:s}&to=${epoch:us}&t=${epoch}&m=${epoch:ms}",
		"/a/${gmtDate:'?'yyyy}/b?c=${gmtDate:'}'yyyy'{'}}",
		"/x?d=${gmtDate:yyyy'}",
		"/x?d=${dateTimeZone:Mars/Olympus:yyyy}",
		"${",
		"$",
		"",
	} {
		f.Add(s)
	}
	ny := mustLoad(f, "America/New_York")
	instants := []time.Time{at, {}, time.Date(-3000, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(1<<40, 999)}
	f.Fuzz(func(t *testing.T, raw string) {
		tmpl, err := Parse(raw)
		if err != nil {
			pe, ok := err.(*Error)
			if !ok {
				t.Fatalf("Parse(%q) error %T is not a *Error", raw, err)
			}
			if pe.Offset < 0 || pe.Offset >= len(raw) || !strings.HasPrefix(raw[pe.Offset:], "${") ||
				!strings.HasPrefix(raw[pe.Offset:], pe.Placeholder) || pe.Reason == "" {
				t.Fatalf("Parse(%q): error %#v does not point at a placeholder", raw, pe)
			}
			_ = err.Error()
			return
		}
		if tmpl.String() != raw {
			t.Fatalf("String() = %q, want %q", tmpl.String(), raw)
		}
		if tmpl.HasPlaceholders() != strings.Contains(raw, "${") {
			t.Fatalf("HasPlaceholders() = %v for %q", tmpl.HasPlaceholders(), raw)
		}
		for _, when := range instants {
			for _, loc := range []*time.Location{time.UTC, ny, nil} {
				s := tmpl.Expand(when, loc)
				if got := string(tmpl.AppendExpand([]byte("#"), when, loc)); got != "#"+s {
					t.Fatalf("AppendExpand = %q, Expand = %q", got, s)
				}
				if !tmpl.HasPlaceholders() && s != raw {
					t.Fatalf("Expand of %q without placeholders = %q", raw, s)
				}
			}
		}
	})
}
