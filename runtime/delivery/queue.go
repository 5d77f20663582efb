package delivery

import (
	"container/heap"
	"time"
)

// item is a delivery the dispatcher holds, queued or in flight.
type item struct {
	d    Delivery
	host string // for Depth
	q    *urlQueue

	// due is when the item next needs work: d.NextAttempt, or a retry of
	// a store operation that failed.
	due   time.Time
	index int // in q.items; -1 while in flight or dropped

	// unsaved means d holds an attempt outcome the store has not recorded
	// yet; the next work on the item is saving it, not posting.
	unsaved      bool
	storeBackoff time.Duration // wait before retrying a failed store call
	dropped      bool          // forgotten, gone or finished: never requeue
	// cancel ends the attempt in flight, so that Forget stops posting
	// for a deleted instance at once; nil when none is.
	cancel func()
}

// itemHeap orders a URL's items by due time, then Seq (outbox order).
type itemHeap []*item

func (h itemHeap) Len() int { return len(h) }
func (h itemHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].d.Seq < h[j].d.Seq
}
func (h itemHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *itemHeap) Push(x any) {
	it := x.(*item)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *itemHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.index = -1
	return it
}

// urlQueue is the work of one callback URL. It exists only while the URL
// has items queued or in flight, so idle URLs cost nothing.
type urlQueue struct {
	url    string
	items  itemHeap
	active int // workers running on this queue, at most PerURLConcurrency
	ready  int // index in Dispatcher.ready; -1 when not there
}

func (q *urlQueue) head() *item {
	if len(q.items) == 0 {
		return nil
	}
	return q.items[0]
}

// readyHeap holds the queues that have items and a free worker slot,
// ordered by their earliest due item: the one timer of the dispatcher waits
// for its top.
type readyHeap []*urlQueue

func (h readyHeap) Len() int { return len(h) }
func (h readyHeap) Less(i, j int) bool {
	a, b := h[i].head(), h[j].head()
	if !a.due.Equal(b.due) {
		return a.due.Before(b.due)
	}
	return a.d.Seq < b.d.Seq
}
func (h readyHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].ready, h[j].ready = i, j
}
func (h *readyHeap) Push(x any) {
	q := x.(*urlQueue)
	q.ready = len(*h)
	*h = append(*h, q)
}
func (h *readyHeap) Pop() any {
	old := *h
	q := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	q.ready = -1
	return q
}

var (
	_ heap.Interface = (*itemHeap)(nil)
	_ heap.Interface = (*readyHeap)(nil)
)
