package demo

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemoDeliversSignedEvents runs the demo of every connector briefly:
// events made at the simulator must come out of the sink, signed, and the
// run must end cleanly.
func TestDemoDeliversSignedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("runs each demo for a few seconds")
	}
	for _, c := range Connectors() {
		t.Run(c, func(t *testing.T) {
			var out syncBuffer
			if err := Run(context.Background(), Options{Connector: c, Duration: 5 * time.Second, Rate: 20, Out: &out}); err != nil {
				t.Fatal(err)
			}
			s := out.String()
			if !strings.Contains(s, "CREATED") || !strings.Contains(s, "signature ok") {
				t.Fatalf("no delivered events printed:\n%s", s)
			}
			if strings.Contains(s, "BAD SIGNATURE") || !strings.Contains(s, ", 0 bad signatures") {
				t.Fatalf("a notification failed its signature check:\n%s", s)
			}
			if !strings.Contains(s, "-- in all after") {
				t.Fatalf("no final summary:\n%s", s)
			}
		})
	}
	if err := Run(context.Background(), Options{Connector: "nope", Duration: time.Second, Out: &syncBuffer{}}); err == nil {
		t.Fatal("an unknown connector was accepted")
	}
}
