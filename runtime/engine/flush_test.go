package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/pollwire/pollwire/runtime/clock"
	"github.com/pollwire/pollwire/runtime/scheduler"
	"github.com/pollwire/pollwire/runtime/store"
)

// flushStore records SavePollerStates calls and fails the call numbered
// failCall (1-based; 0 never).
type flushStore struct {
	store.Store
	calls    []int
	failCall int
}

func (s *flushStore) SavePollerStates(_ context.Context, states []store.PollerState) error {
	s.calls = append(s.calls, len(states))
	if len(s.calls) == s.failCall {
		return errors.New("disk full")
	}
	return nil
}

// TestFlushInSmallTransactions: the states of empty polls are saved in
// transactions of at most flushChunk, so that polls committing changes do
// not wait for one huge write; when one transaction fails, its pollers and
// every later one stay dirty for the next flush, and the earlier ones do not.
func TestFlushInSmallTransactions(t *testing.T) {
	fs := &flushStore{failCall: 2}
	e := New(Config{Store: fs, Clock: clock.NewFake(t0)})
	const n = 2*flushChunk + flushChunk/2
	for i := range n {
		id := int64(i + 1)
		e.pollers[scheduler.Key{Instance: id, Resource: "r"}] = &pollerRT{state: store.PollerState{InstanceID: id, Resource: "r"}, dirty: true}
	}
	e.flush(context.Background())
	if len(fs.calls) != 2 || fs.calls[0] != flushChunk || fs.calls[1] != flushChunk {
		t.Fatalf("first flush: transactions of %v states, want [%d %d] (the second failing)", fs.calls, flushChunk, flushChunk)
	}
	dirty := 0
	for _, p := range e.pollers {
		if p.dirty {
			dirty++
		}
	}
	if want := n - flushChunk; dirty != want {
		t.Fatalf("%d pollers dirty after the failed transaction, want %d", dirty, want)
	}
	fs.calls, fs.failCall = nil, 0
	e.flush(context.Background())
	total := 0
	for _, c := range fs.calls {
		if c > flushChunk {
			t.Errorf("a transaction of %d states", c)
		}
		total += c
	}
	if total != n-flushChunk || len(fs.calls) != 2 {
		t.Errorf("second flush saved %v, want %d states in 2 transactions", fs.calls, n-flushChunk)
	}
	fs.calls = nil
	e.flush(context.Background())
	if len(fs.calls) != 0 {
		t.Errorf("a flush with nothing dirty wrote %v", fs.calls)
	}
}
