package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/instances/datefmt"
	"github.com/pollwire/pollwire/runtime/clock"
	"github.com/pollwire/pollwire/runtime/store"
)

func rec(id string, updated, created time.Time) source.Record {
	f := "2006-01-02T15:04:05.000Z"
	return source.Record{Raw: []byte(fmt.Sprintf(`{"id":%q,"u":%q,"c":%q}`, id, updated.UTC().Format(f), created.UTC().Format(f)))}
}

// TestDecide pins the change rules of SPEC §3 on one window.
func TestDecide(t *testing.T) {
	layout := datefmt.MustCompile("yyyy-MM-dd'T'HH:mm:ss.SSSX")
	prevW := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	now := prevW.Add(time.Minute)
	since := prevW.Add(-time.Minute)
	base := instances.Poller{
		IDField: "id", FilterByUpdatedDate: true, Lookback: time.Minute,
		Updated: instances.DateField{Field: "u", Layout: layout},
		Created: instances.DateField{Field: "c", Layout: layout},
	}
	old := prevW.Add(-24 * time.Hour)
	cases := []struct {
		name   string
		tweak  func(p *instances.Poller)
		seen   map[string]int64
		record source.Record
		want   string // event type, or "" for no change
	}{
		{"created after the previous poll", nil, nil, rec("a", prevW.Add(10*time.Second), prevW.Add(10*time.Second)), Created},
		{"created before, updated after", nil, nil, rec("a", prevW.Add(10*time.Second), old), Updated},
		{"updated before the window", nil, nil, rec("a", since.Add(-time.Second), old), ""},
		{"updated exactly at the window start", nil, nil, rec("a", since, old), ""},
		{"inside the lookback, not seen", nil, nil, rec("a", prevW.Add(-30*time.Second), old), Updated},
		{"inside the lookback, seen with this date", nil, map[string]int64{"a": prevW.Add(-30 * time.Second).UnixNano()}, rec("a", prevW.Add(-30*time.Second), old), ""},
		{"seen with an older date: a new change", nil, map[string]int64{"a": prevW.Add(-50 * time.Second).UnixNano()}, rec("a", prevW.Add(-30*time.Second), prevW.Add(-55*time.Second)), Updated},
		{"filterByUpdatedDate off keeps old records", func(p *instances.Poller) { p.FilterByUpdatedDate = false }, nil, rec("a", old, old), Updated},
		{"filterByCurrentDate drops future records", func(p *instances.Poller) { p.FilterByCurrentDate = true }, nil, rec("a", now.Add(time.Second), old), ""},
		{"future record kept without filterByCurrentDate", nil, nil, rec("a", now.Add(time.Second), old), Updated},
		{"createdCheckTolerance makes a near-creation CREATED", func(p *instances.Poller) { p.CreatedCheckTolerance = 5 * time.Second }, nil, rec("a", prevW.Add(-20*time.Second), prevW.Add(-23*time.Second)), Created},
		{"beyond the tolerance stays UPDATED", func(p *instances.Poller) { p.CreatedCheckTolerance = 2 * time.Second }, nil, rec("a", prevW.Add(-20*time.Second), prevW.Add(-23*time.Second)), Updated},
		{"pollDelay moves the created cut-off", func(p *instances.Poller) { p.PollDelay = 30 * time.Second }, nil, rec("a", prevW.Add(-10*time.Second), prevW.Add(-20*time.Second)), Created},
		{"a deletion", nil, nil, source.Record{Deleted: true, ID: "a", DeletedAt: prevW.Add(time.Second), Raw: []byte(`{"id":"a"}`)}, Deleted},
		{"a deletion in the instant of the last update", nil, map[string]int64{"a": prevW.Add(time.Second).UnixNano()}, source.Record{Deleted: true, ID: "a", DeletedAt: prevW.Add(time.Second), Raw: []byte(`{"id":"a"}`)}, Deleted},
		{"a deletion already reported", nil, map[string]int64{deletedKey("a"): prevW.Add(time.Second).UnixNano()}, source.Record{Deleted: true, ID: "a", DeletedAt: prevW.Add(time.Second), Raw: []byte(`{"id":"a"}`)}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			if tc.tweak != nil {
				tc.tweak(&p)
			}
			st := &store.PollerState{Seen: tc.seen}
			s := prevW.Add(-p.PollDelay - p.Lookback)
			got, err := decide(&p, st, []source.Record{tc.record}, s, prevW, now)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == "" && len(got) != 0:
				t.Fatalf("got %+v, want no change", got)
			case tc.want != "" && (len(got) != 1 || got[0].typ != tc.want):
				t.Fatalf("got %+v, want one %s", got, tc.want)
			case tc.want == Deleted && st.Seen[deletedKey(got[0].id)] != got[0].date.UnixNano():
				t.Fatal("the deletion was not remembered as seen")
			case tc.want != "" && tc.want != Deleted && st.Seen[got[0].id] != got[0].date.UnixNano():
				t.Fatal("the change was not remembered as seen")
			}
		})
	}
}

func TestDecideRefusesUnreadableRecords(t *testing.T) {
	layout := datefmt.MustCompile("yyyy-MM-dd'T'HH:mm:ss.SSSX")
	p := instances.Poller{IDField: "id", FilterByUpdatedDate: true, Updated: instances.DateField{Field: "u", Layout: layout}}
	for name, raw := range map[string]string{
		"no id":        `{"u":"2026-01-01T00:00:00.000Z"}`,
		"id an object": `{"id":{"x":1},"u":"2026-01-01T00:00:00.000Z"}`,
		"no date":      `{"id":"r1"}`,
		"bad date":     `{"id":"r1","u":"01/01/2026"}`,
	} {
		_, err := decide(&p, &store.PollerState{}, []source.Record{{Raw: []byte(raw)}}, time.Time{}, time.Time{}, time.Now())
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFirstWatermark(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := New(Config{Clock: clockAt(created.Add(time.Hour))})
	inst := &instances.Instance{CreatedAt: created, UpdatedAt: created}
	if w := e.firstWatermark(inst, &instances.Settings{}); !w.Equal(created) {
		t.Fatalf("new instance starts at %v, want its creation %v", w, created)
	}
	start := created.Add(-48 * time.Hour)
	if w := e.firstWatermark(inst, &instances.Settings{Start: start}); !w.Equal(start) {
		t.Fatalf("event.poller.start: %v, want %v", w, start)
	}
	later := &instances.Instance{CreatedAt: created, UpdatedAt: created.Add(time.Minute)}
	if w := e.firstWatermark(later, &instances.Settings{}); !w.Equal(created.Add(time.Hour)) {
		t.Fatalf("a resource added later starts at %v, want now", w)
	}
}

func clockAt(t time.Time) clock.Clock { return clock.NewFake(t) }
