package store

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pollwire/pollwire/runtime/secrets"
)

func testSealerB(b *testing.B) *secrets.Sealer {
	s, err := secrets.NewSealer(bytes.Repeat([]byte{1}, secrets.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkCommitPoll measures the outbox append: a poll's state and one
// notification per commit, from 32 concurrent pollers so group commit shares
// fsyncs as it does in the daemon.
func BenchmarkCommitPoll(b *testing.B) {
	st, err := Open(filepath.Join(b.TempDir(), "pollwire.db"), testSealerB(b))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	inst := newInstance("bench", "tok")
	if err := st.CreateInstance(ctx, inst); err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				ps := PollerState{InstanceID: inst.ID, Resource: "contacts", Watermark: at.Add(time.Duration(i))}
				if err := st.CommitPoll(ctx, ps, []Entry{entry(inst.ID, i, at)}); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}
