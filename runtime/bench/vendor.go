package bench

import (
	"context"
	"errors"
	"hash/maphash"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors/rest"
)

// server is an HTTP server on a loopback port.
type server struct {
	srv *http.Server
	url string // http://127.0.0.1:port
}

// serve starts h on a loopback port. Its goroutines, connection handlers
// included, carry the pprof label role.
func serve(role string, h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute},
		url: "http://" + ln.Addr().String(),
	}
	go pprof.Do(context.Background(), pprof.Labels("role", role), func(context.Context) {
		_ = s.srv.Serve(ln)
	})
	return s, nil
}

func (s *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
}

// slowVendor delays list requests, as a vendor far away or under load
// answers; a client that gives up ends the wait.
type slowVendor struct {
	h     http.Handler
	delay time.Duration
}

func (v slowVendor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if v.delay > 0 && r.Method == http.MethodGet {
		t := time.NewTimer(v.delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	v.h.ServeHTTP(w, r)
}

// simResource names poller i's resource at the simulator.
func simResource(i int) string { return "p" + strconv.Itoa(i) }

// vendor is one phase's simulator, its server and its stream of changes.
type vendor struct {
	sim *rest.Simulator
	srv *server
	drv *driver
}

func newVendor(cfg Config) (*vendor, error) {
	sim := rest.NewSimulator(rest.SimOptions{MaxLimit: pageSize})
	srv, err := serve("vendor", slowVendor{h: sim, delay: cfg.VendorLatency})
	if err != nil {
		return nil, err
	}
	return &vendor{sim: sim, srv: srv, drv: newDriver(sim, cfg)}, nil
}

// pageSize is the page size pollers ask for, and the simulator's maximum.
const pageSize = 100

// driver makes the vendor's changes: ChangeRate per second, each to a
// poller drawn at random, creating a record or updating one. A record is
// updated again only after a guard time of two intervals, so no poller can
// see two updates of one record collapse into one read: every change is
// exactly one event, and events delivered must equal changes made.
type driver struct {
	sim   *rest.Simulator
	rate  float64
	guard time.Duration
	rng   *rand.Rand
	// recs are each poller's records, oldest update first.
	recs [][]simRec
	made atomic.Int64

	cancel context.CancelFunc
	done   chan struct{}
}

type simRec struct {
	id string
	at time.Time
}

// note pads records to a size like a CRM contact's.
const note = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore."

func newDriver(sim *rest.Simulator, cfg Config) *driver {
	return &driver{
		sim:   sim,
		rate:  cfg.ChangeRate,
		guard: 2*cfg.Interval + 2*time.Second,
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)),
		recs:  make([][]simRec, cfg.pollers()),
	}
}

// start makes changes until stop.
func (d *driver) start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan struct{})
	go pprof.Do(ctx, pprof.Labels("role", "vendor"), d.run)
}

func (d *driver) stop() {
	if d.cancel != nil {
		d.cancel()
		<-d.done
	}
}

func (d *driver) run(ctx context.Context) {
	defer close(d.done)
	if d.rate <= 0 {
		return
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var n int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// Changes due so far: bursts catch up when the driver was late.
		for due := int64(d.rate * time.Since(start).Seconds()); n < due; n++ {
			d.change(n)
		}
	}
}

func (d *driver) change(n int64) {
	p := d.rng.IntN(len(d.recs))
	q := d.recs[p]
	now := time.Now()
	fields := map[string]any{"amount": n, "note": note}
	if len(q) > 0 && now.Sub(q[0].at) >= d.guard {
		r := q[0]
		q = q[1:]
		fields["id"] = r.id
		d.sim.Put(simResource(p), fields)
		r.at = now
		q = append(q, r)
	} else {
		fields["name"] = "Contact " + strconv.FormatInt(n, 10)
		rec := d.sim.Put(simResource(p), fields)
		id, _ := rec["id"].(string)
		q = append(q, simRec{id: id, at: now})
	}
	d.recs[p] = q
	d.made.Add(1)
}

// window is a phase's measured interval, in unix nanoseconds; recorders
// count what happens inside it.
type window struct {
	start atomic.Int64 // 0 until the warm-up ends
	end   atomic.Int64 // MaxInt64 until the window ends
}

func newWindow() *window {
	w := &window{}
	w.end.Store(math.MaxInt64)
	return w
}

func (w *window) in(t int64) bool {
	s := w.start.Load()
	return s != 0 && t >= s && t < w.end.Load()
}

// recorder collects a phase's poll facts.
type recorder struct {
	win       *window
	lag       Histogram
	polls     atomic.Int64 // started in the window
	errors    atomic.Int64 // all polls of the phase
	perPoller []atomic.Int32
}

func newRecorder(win *window, pollers int) *recorder {
	return &recorder{win: win, perPoller: make([]atomic.Int32, pollers)}
}

// started records that poller i started at start for its due time.
func (r *recorder) started(i int, due, start time.Time) {
	if !r.win.in(start.UnixNano()) {
		return
	}
	r.lag.Record(start.Sub(due))
	r.polls.Add(1)
	if i >= 0 && i < len(r.perPoller) {
		r.perPoller[i].Add(1)
	}
}

func (r *recorder) spread(expected float64) PerPoller {
	out := PerPoller{Min: math.MaxInt64, Expected: expected}
	for i := range r.perPoller {
		n := int64(r.perPoller[i].Load())
		out.Min = min(out.Min, n)
		out.Max = max(out.Max, n)
		if n == 0 {
			out.Starved++
		}
	}
	if len(r.perPoller) == 0 {
		out.Min = 0
	}
	return out
}

// sink is the callback consumer: it counts events and notifications, finds
// duplicates by (object id, date), and records change → callback latency
// from each event's date, which is the record's updated_at.
type sink struct {
	win           *window
	latency       Histogram
	events        atomic.Int64
	notifications atomic.Int64
	dups          atomic.Int64
	inWindow      atomic.Int64 // events received inside the window
	bad           atomic.Int64 // bodies it could not read

	seed   maphash.Seed
	shards [64]sinkShard
	bufs   sync.Pool
}

type sinkShard struct {
	mu   sync.Mutex
	last map[string]int64 // object id → date of the newest event seen
}

func newSink(win *window) *sink {
	s := &sink{win: win, seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].last = map[string]int64{}
	}
	s.bufs.New = func() any { b := make([]byte, 0, 16<<10); return &b }
	return s
}

// unique is the number of distinct changes delivered.
func (s *sink) unique() int64 { return s.events.Load() - s.dups.Load() }

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	body, err := readAll((*bp)[:0], r.Body)
	*bp = body[:0]
	if err != nil || r.Method != http.MethodPost {
		s.bad.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	now := time.Now()
	nowNS := now.UnixNano()
	inWin := s.win.in(nowNS)
	from := s.win.start.Load()
	n := int64(0)
	ok := true
	gjson.GetBytes(body, "message.events").ForEach(func(_, ev gjson.Result) bool {
		id := ev.Get("objectId").String()
		d, err := time.Parse(time.RFC3339Nano, ev.Get("date").String())
		if id == "" || err != nil {
			ok = false
			return false
		}
		n++
		date := d.UnixNano()
		if from != 0 && date >= from {
			s.latency.Record(now.Sub(d))
		}
		sh := &s.shards[maphash.String(s.seed, id)%uint64(len(s.shards))]
		sh.mu.Lock()
		prev, seen := sh.last[id]
		if !seen || date > prev {
			sh.last[id] = date
		}
		sh.mu.Unlock()
		if seen && date <= prev {
			s.dups.Add(1)
		}
		return true
	})
	if !ok || n == 0 {
		s.bad.Add(1)
	}
	s.events.Add(n)
	s.notifications.Add(1)
	if inWin {
		s.inWindow.Add(n)
	}
	w.WriteHeader(http.StatusOK)
}

func readAll(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
