package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pollwire/pollwire/runtime/delivery"
)

func entry(inst int64, n int, at time.Time) Entry {
	return Entry{
		Delivery: delivery.Delivery{
			InstanceID: inst, EventID: fmt.Sprintf("ev-%d-%d", inst, n), URL: "https://cb.example/h",
			Body: []byte(fmt.Sprintf(`{"n":%d}`, n)), MaxRetries: 3, Interval: 5 * time.Minute,
			NextAttempt: at, Status: delivery.Pending, CreatedAt: at,
		},
		Resource: "contacts", EventCount: 1,
	}
}

func TestCommitPollIsAtomicAndOrdered(t *testing.T) {
	st, path := newTestStore(t)
	ctx := context.Background()
	inst := newInstance("a", "tok-a")
	mustCreate(t, st, inst)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ps := PollerState{InstanceID: inst.ID, Resource: "contacts", Watermark: at, Seen: map[string]int64{"c1": 1}}
	es := []Entry{entry(inst.ID, 1, at), entry(inst.ID, 2, at)}
	if err := st.CommitPoll(ctx, ps, es); err != nil {
		t.Fatal(err)
	}
	if es[0].Seq == 0 || es[1].Seq <= es[0].Seq {
		t.Fatalf("seqs %d, %d", es[0].Seq, es[1].Seq)
	}
	// Everything survives a reopen.
	st.Close()
	st = openTestStore(t, path, testSealer(t, 1))
	states, err := st.ListPollerStates(ctx, inst.ID)
	if err != nil || len(states) != 1 || !states[0].Watermark.Equal(at) || states[0].Seen["c1"] != 1 {
		t.Fatalf("states %+v, %v", states, err)
	}
	pending, err := st.PendingDeliveries(ctx)
	if err != nil || len(pending) != 2 || pending[0].EventID != "ev-1-1" {
		t.Fatalf("pending %+v, %v", pending, err)
	}
	body, err := st.LoadBody(ctx, pending[1].Seq)
	if err != nil || string(body) != `{"n":2}` {
		t.Fatalf("body %q, %v", body, err)
	}

	// A poll of a deleted instance commits nothing.
	if err := st.DeleteInstance(ctx, inst.ID); err != nil {
		t.Fatal(err)
	}
	err = st.CommitPoll(ctx, ps, []Entry{entry(inst.ID, 3, at)})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("commit for a deleted instance: %v", err)
	}
	if p, _ := st.PendingDeliveries(ctx); len(p) != 0 {
		t.Fatalf("deleting the instance left %d pending deliveries", len(p))
	}
	if s, _ := st.ListPollerStates(ctx, inst.ID); len(s) != 0 {
		t.Fatalf("deleting the instance left poller states %+v", s)
	}
	if _, err := st.LoadBody(ctx, pending[0].Seq); !errors.Is(err, delivery.ErrGone) {
		t.Fatalf("body of a deleted delivery: %v", err)
	}
}

func TestAttemptsFailureRetryAndRetention(t *testing.T) {
	st, _ := newTestStore(t)
	ctx := context.Background()
	a, b := newInstance("a", "tok-a"), newInstance("b", "tok-b")
	mustCreate(t, st, a)
	mustCreate(t, st, b)
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var es []Entry
	for i := 0; i < 4; i++ {
		es = append(es, entry(a.ID, i, day.Add(time.Duration(i)*24*time.Hour)))
	}
	if err := st.AppendEntries(ctx, a.ID, es); err != nil {
		t.Fatal(err)
	}
	other := []Entry{entry(b.ID, 0, day)}
	if err := st.AppendEntries(ctx, b.ID, other); err != nil {
		t.Fatal(err)
	}
	// 0 and 1 delivered, 2 failed, 3 pending with a scheduled retry.
	for i, status := range []delivery.Status{delivery.Delivered, delivery.Delivered, delivery.Failed} {
		d := es[i].Delivery
		d.Attempts, d.Status, d.LastError = 1, status, "boom"
		if err := st.SaveAttempt(ctx, &d); err != nil {
			t.Fatal(err)
		}
	}
	d3 := es[3].Delivery
	d3.Attempts, d3.NextAttempt = 2, day.Add(100*time.Hour)
	if err := st.SaveAttempt(ctx, &d3); err != nil {
		t.Fatal(err)
	}
	pending, _ := st.PendingDeliveries(ctx)
	if len(pending) != 2 {
		t.Fatalf("pending %+v", pending)
	}
	failed, err := st.ListEntries(ctx, a.ID, EntryFilter{Status: delivery.Failed}, 0, 10)
	if err != nil || len(failed) != 1 || failed[0].EventID != "ev-1-2" {
		t.Fatalf("failed %+v %v", failed, err)
	}
	all, _ := st.ListEntries(ctx, a.ID, EntryFilter{}, 0, 10)
	if len(all) != 4 || all[0].EventID != "ev-1-3" {
		t.Fatalf("the event log must list newest first: %+v", all)
	}
	page2, _ := st.ListEntries(ctx, a.ID, EntryFilter{}, 2, 2)
	if len(page2) != 2 || page2[0].EventID != "ev-1-1" {
		t.Fatalf("page 2 %+v", page2)
	}
	one, err := st.EntryByEventID(ctx, a.ID, "ev-1-2")
	if err != nil || string(one.Body) != `{"n":2}` || one.Status != delivery.Failed {
		t.Fatalf("entry %+v %v", one, err)
	}
	if _, err := st.EntryByEventID(ctx, b.ID, "ev-1-2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another instance's event: %v", err)
	}

	// Retry: only failed ones, created since the given time, of this instance.
	now := day.Add(200 * time.Hour)
	if got, _ := st.ResetForRetry(ctx, a.ID, "", day.Add(72*time.Hour), now); len(got) != 0 {
		t.Fatalf("since after the failure retried %+v", got)
	}
	got, err := st.ResetForRetry(ctx, a.ID, "", time.Time{}, now)
	if err != nil || len(got) != 1 || got[0].Attempts != 0 || got[0].Status != delivery.Pending || !got[0].NextAttempt.Equal(now) {
		t.Fatalf("retry %+v %v", got, err)
	}
	if got, _ := st.ResetForRetry(ctx, a.ID, "ev-1-0", time.Time{}, now); len(got) != 0 {
		t.Fatalf("a delivered one was reset: %+v", got)
	}
	if _, err := st.ResetForRetry(ctx, b.ID, "ev-1-2", time.Time{}, now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("retry through another instance: %v", err)
	}

	// Retention removes delivered entries older than the cutoff, nothing else.
	n, err := st.PruneEntries(ctx, day.Add(36*time.Hour), 100)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want the 2 delivered ones", n, err)
	}
	left, _ := st.ListEntries(ctx, a.ID, EntryFilter{}, 0, 10)
	if len(left) != 2 {
		t.Fatalf("left %+v", left)
	}
	if _, err := st.EntryByEventID(ctx, a.ID, "ev-1-0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pruned entry still indexed: %v", err)
	}
	if o, _ := st.ListEntries(ctx, b.ID, EntryFilter{}, 0, 10); len(o) != 1 {
		t.Fatalf("other instance's pending entry was pruned: %+v", o)
	}
}

func TestMergeSecrets(t *testing.T) {
	st, _ := newTestStore(t)
	ctx := context.Background()
	inst := newInstance("a", "tok-a")
	mustCreate(t, st, inst)
	if err := st.MergeSecrets(ctx, inst.ID, map[string]string{"oauth.refresh.token": "rotated-1"}); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetInstance(ctx, inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Secrets["oauth.refresh.token"] != "rotated-1" || got.Secrets["username"] != testSecret {
		t.Fatalf("secrets after merge: %v", got.Secrets)
	}
	if err := st.MergeSecrets(ctx, 999, map[string]string{"x": "y"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("merge into a missing instance: %v", err)
	}
}
