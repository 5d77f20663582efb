package simkit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// poster records the attempts a Webhooks makes and answers them with
// status(n), n counting attempts from 1.
type poster struct {
	mu       sync.Mutex
	attempts []attempt
	status   func(n int) int
	gate     chan struct{} // when set, the first attempt waits for it
}

type attempt struct {
	url   string
	n     int
	items []int
}

func (p *poster) post(url string, n int, items []int) int {
	p.mu.Lock()
	p.attempts = append(p.attempts, attempt{url, n, slices.Clone(items)})
	k := len(p.attempts)
	p.mu.Unlock()
	if k == 1 && p.gate != nil {
		<-p.gate
	}
	if p.status == nil {
		return http.StatusOK
	}
	return p.status(k)
}

func (p *poster) all() []attempt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.attempts)
}

func flush(t *testing.T, w *Webhooks[int]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func items(v ...int) func() ([]int, int) { return func() ([]int, int) { return v, 0 } }

func counts(t *testing.T, w *Webhooks[int], sent, delivered, dropped int) {
	t.Helper()
	if s, d, x := w.Counts(); s != sent || d != delivered || x != dropped {
		t.Errorf("Counts() = %d, %d, %d; want %d, %d, %d", s, d, x, sent, delivered, dropped)
	}
}

func TestWebhooksBatchInOrder(t *testing.T) {
	p := &poster{gate: make(chan struct{})}
	w := NewWebhooks(WebhookOptions[int]{URL: "u", Batch: 2, Post: p.post})
	w.Notify(items(1))
	// While the first request is out, the next writes gather.
	for len(p.all()) == 0 {
		time.Sleep(time.Millisecond)
	}
	w.Notify(items(2, 3))
	w.Notify(items(4))
	close(p.gate)
	flush(t, w)
	got := p.all()
	want := []attempt{{"u", 0, []int{1}}, {"u", 0, []int{2, 3}}, {"u", 0, []int{4}}}
	if !slices.EqualFunc(got, want, func(a, b attempt) bool { return a.url == b.url && a.n == b.n && slices.Equal(a.items, b.items) }) {
		t.Errorf("attempts %v, want %v", got, want)
	}
	counts(t, w, 4, 4, 0)
}

func TestWebhooksRetryThenGiveUp(t *testing.T) {
	p := &poster{status: func(n int) int { return http.StatusInternalServerError }}
	w := NewWebhooks(WebhookOptions[int]{URL: "u", Batch: 2, Retry: []time.Duration{time.Millisecond, 2 * time.Millisecond}, Post: p.post})
	w.Notify(items(7, 8))
	flush(t, w)
	var ns []int
	for _, a := range p.all() {
		ns = append(ns, a.n)
	}
	if !slices.Equal(ns, []int{0, 1, 2}) {
		t.Errorf("attempt numbers %v, want [0 1 2]", ns)
	}
	counts(t, w, 2, 0, 2)
}

func TestWebhooksRetryThenDeliver(t *testing.T) {
	p := &poster{status: func(n int) int {
		if n == 1 {
			return 0 // no answer
		}
		return http.StatusNoContent
	}}
	w := NewWebhooks(WebhookOptions[int]{URL: "u", Retry: []time.Duration{time.Millisecond}, Post: p.post})
	w.Notify(items(1))
	flush(t, w)
	if n := len(p.all()); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
	counts(t, w, 1, 1, 0)
}

func TestWebhooksGiveUp(t *testing.T) {
	type call struct {
		status      int
		sentTo, now string
	}
	var calls []call
	p := &poster{status: func(n int) int { return http.StatusGone }}
	w := NewWebhooks(WebhookOptions[int]{URL: "u", Retry: []time.Duration{time.Hour}, Post: p.post,
		GiveUp: func(status int, sentTo, now string) bool {
			calls = append(calls, call{status, sentTo, now})
			return status == http.StatusGone
		}})
	w.Notify(items(1))
	flush(t, w) // no hour-long retry: given up at once
	if want := []call{{http.StatusGone, "u", "u"}}; !slices.Equal(calls, want) {
		t.Errorf("GiveUp calls %v, want %v", calls, want)
	}
	counts(t, w, 1, 0, 1)
}

func TestWebhooksGiveUpSeesTheURLNow(t *testing.T) {
	p := &poster{gate: make(chan struct{}), status: func(int) int { return 0 }}
	var sentTo, now string
	w := NewWebhooks(WebhookOptions[int]{URL: "u", Retry: []time.Duration{time.Hour}, Post: p.post,
		GiveUp: func(_ int, s, n string) bool { sentTo, now = s, n; return n == "" }})
	w.Notify(items(1))
	for len(p.all()) == 0 {
		time.Sleep(time.Millisecond)
	}
	w.SetURL("")
	close(p.gate)
	flush(t, w)
	if sentTo != "u" || now != "" {
		t.Errorf("GiveUp saw sentTo %q, now %q; want u and empty", sentTo, now)
	}
	counts(t, w, 1, 0, 1)
}

func TestWebhooksNotifyWithoutURL(t *testing.T) {
	p := &poster{}
	w := NewWebhooks(WebhookOptions[int]{Post: p.post})
	w.Notify(func() ([]int, int) { t.Error("build called without a URL"); return nil, 0 })
	flush(t, w)
	w.SetURL("later")
	w.Notify(items(1))
	flush(t, w)
	if got := p.all(); len(got) != 1 || got[0].url != "later" {
		t.Errorf("attempts %v, want one to later", got)
	}
	counts(t, w, 1, 1, 0)
}

func TestWebhooksLost(t *testing.T) {
	p := &poster{}
	w := NewWebhooks(WebhookOptions[int]{URL: "u", Post: p.post})
	w.Notify(func() ([]int, int) { return nil, 3 })
	w.Notify(func() ([]int, int) { return nil, 0 })
	flush(t, w)
	if n := len(p.all()); n != 0 {
		t.Errorf("%d attempts, want none", n)
	}
	counts(t, w, 0, 0, 3)
}

func TestWebhooksFlushEndsWithCtx(t *testing.T) {
	p := &poster{gate: make(chan struct{})}
	w := NewWebhooks(WebhookOptions[int]{URL: "u", Post: p.post})
	if err := w.Flush(context.Background()); err != nil {
		t.Fatalf("Flush with nothing pending: %v", err)
	}
	w.Notify(items(1))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := w.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush while pending = %v, want DeadlineExceeded", err)
	}
	close(p.gate)
	flush(t, w)
	counts(t, w, 1, 1, 0)
}

func TestSend(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(make([]byte, 100<<10))
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
	if got := Send(srv.Client(), req); got != http.StatusAccepted {
		t.Errorf("Send = %d, want 202", got)
	}
	req, _ = http.NewRequest(http.MethodPost, "http://127.0.0.1:1/", nil)
	if got := Send(srv.Client(), req); got != 0 {
		t.Errorf("Send with no answer = %d, want 0", got)
	}
}
