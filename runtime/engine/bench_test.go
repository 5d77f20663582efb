package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/instances/datefmt"
	"github.com/pollwire/pollwire/runtime/store"
)

func benchRecords(n int, at time.Time) []source.Record {
	out := make([]source.Record, n)
	for i := range out {
		u := at.Add(time.Duration(i) * time.Millisecond).UTC().Format("2006-01-02T15:04:05.000000-07:00")
		out[i] = source.Record{Raw: []byte(fmt.Sprintf(`{"id":"cont_%06d","name":"Contact %d","emails":[{"email":"c%d@example.com"}],"date_created":%q,"date_updated":%q}`, i, i, i, u, u))}
	}
	return out
}

// BenchmarkDecide measures record extraction (gjson id and dates), date
// parsing and the seen-id dedupe for a 100-record page.
func BenchmarkDecide(b *testing.B) {
	layout := datefmt.MustCompile("yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")
	p := &instances.Poller{
		IDField: "id", FilterByUpdatedDate: true, Lookback: time.Minute,
		Updated: instances.DateField{Field: "date_updated", Layout: layout},
		Created: instances.DateField{Field: "date_created", Layout: layout},
	}
	w := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	recs := benchRecords(100, w)
	b.ReportAllocs()
	for b.Loop() {
		st := &store.PollerState{}
		if _, err := decide(p, st, recs, w.Add(-time.Minute), w, w.Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/record")
}

// BenchmarkDedupeAllSeen is the lookback overlap: every record was reported
// by the previous poll.
func BenchmarkDedupeAllSeen(b *testing.B) {
	layout := datefmt.MustCompile("yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")
	p := &instances.Poller{IDField: "id", FilterByUpdatedDate: true, Lookback: time.Minute, Updated: instances.DateField{Field: "date_updated", Layout: layout}}
	w := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	recs := benchRecords(100, w)
	st := &store.PollerState{}
	if _, err := decide(p, st, recs, w.Add(-time.Minute), w, w.Add(time.Minute)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := decide(p, st, recs, w.Add(-time.Minute), w, w.Add(time.Minute))
		if err != nil || len(got) != 0 {
			b.Fatalf("%d changes, %v", len(got), err)
		}
	}
}

// BenchmarkBuildEntries measures notification encoding: 100 events into 10
// notifications with their raw records.
func BenchmarkBuildEntries(b *testing.B) {
	inst := &instances.Instance{ID: 7, Name: "bench", ConnectorKey: "closeio", Tags: []string{"a"}}
	s := &instances.Settings{BatchSize: 10, CallbackURL: "https://cb.example/h", RetryCount: 3, RetryInterval: 5 * time.Minute}
	w := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	recs := benchRecords(100, w)
	evs := make([]Event, len(recs))
	for i, r := range recs {
		evs[i] = Event{Type: Updated, ObjectID: fmt.Sprintf("cont_%06d", i), Date: w, Raw: r.Raw}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BuildEntries(inst, s, "contacts", evs, w); err != nil {
			b.Fatal(err)
		}
	}
}
