package bench

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/runtime/delivery"
	"github.com/pollwire/pollwire/runtime/scheduler"
)

// floor is the least work the job can take: every poller GETs its pages
// from the vendor once per interval, at the offset the scheduler would give
// it, and every change found is POSTed, signed and batched like a
// notification. There is no heap (the pollers' order is sorted once), no
// goroutine per poll (a fixed pool of workers), no store, no outbox, no
// retries, and no watermark but the newest date seen.
type floor struct {
	cfg      Config
	vendor   string // base URL
	callback string // base URL
	client   *http.Client
	rec      *recorder
	pollers  []floorPoller
	key      []byte
	eventSeq atomic.Uint64
	skips    atomic.Int64
	fails    atomic.Int64
}

type floorPoller struct {
	inst     int64 // the id the pipeline's store gives it
	res      string
	prefix   string // the list URL up to updated_since=
	callback string
	offset   time.Duration
	running  atomic.Bool
	// newest is the newest updated_at read (unix ms), and newestIDs the
	// records read with exactly that date: the next poll asks from a
	// millisecond before, so a record written later in that millisecond is
	// not missed, and skips these.
	newest    int64
	newestIDs []string
}

type floorJob struct {
	i   int
	due time.Time
}

func runFloor(ctx context.Context, cfg Config) (*Phase, error) {
	win := newWindow()
	v, err := newVendor(cfg)
	if err != nil {
		return nil, err
	}
	defer v.srv.close()
	sk := newSink(win)
	cb, err := serve("sink", sk)
	if err != nil {
		return nil, err
	}
	defer cb.close()
	heap0, reset := freshPeak()

	f := &floor{
		cfg: cfg, vendor: v.srv.url, callback: cb.url, rec: newRecorder(win, cfg.pollers()), key: []byte(signatureKey),
		client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			MaxIdleConns: 2 * cfg.MaxConcurrent, MaxIdleConnsPerHost: cfg.MaxConcurrent, IdleConnTimeout: 90 * time.Second,
		}},
	}
	defer f.client.CloseIdleConnections()
	start := time.Now()
	f.pollers = make([]floorPoller, cfg.pollers())
	for n := 0; n < cfg.Instances; n++ {
		for r := 0; r < cfg.Resources; r++ {
			i := n*cfg.Resources + r
			p := &f.pollers[i]
			p.inst, p.res = int64(n+1), resourceName(r)
			p.prefix = f.vendor + "/offset/" + simResource(i) + "?updated_since="
			p.callback = f.callback + "/hooks/" + strconv.Itoa(n%cfg.CallbackURLs)
			p.offset = scheduler.Offset(scheduler.Key{Instance: p.inst, Resource: p.res}, cfg.Interval)
			p.newest = start.UnixMilli()
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	pprof.Do(runCtx, pprof.Labels("role", "floor"), func(runCtx context.Context) {
		jobs := make(chan floorJob)
		for w := 0; w < cfg.MaxConcurrent; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.work(runCtx, jobs)
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(jobs)
			f.dispatch(runCtx, jobs, start)
		}()
	})
	defer func() { cancel(); wg.Wait() }()

	return measure(ctx, phaseRun{
		name: "floor", cfg: cfg, win: win, rec: f.rec, sink: sk, drv: v.drv,
		heapBefore: heap0, peakReset: reset, profile: cfg.FloorCPUProfile,
		skips:    f.skips.Load,
		failures: f.fails.Load,
	})
}

// dispatch walks the pollers in offset order, cycle after cycle, and hands
// each to a worker at its due time: offset + k × interval since the epoch,
// as the scheduler computes it.
func (f *floor) dispatch(ctx context.Context, jobs chan<- floorJob, start time.Time) {
	every := int64(f.cfg.Interval)
	order := make([]int, len(f.pollers))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(f.pollers[a].offset, f.pollers[b].offset) })
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	from := start.UnixNano()
	for cycle := from - from%every; ; cycle += every {
		for _, i := range order {
			due := cycle + int64(f.pollers[i].offset)
			if due < from {
				continue
			}
			if wait := time.Duration(due - time.Now().UnixNano()); wait > 0 {
				timer.Reset(wait)
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			}
			if !f.pollers[i].running.CompareAndSwap(false, true) {
				f.skips.Add(1)
				continue
			}
			select {
			case jobs <- floorJob{i: i, due: time.Unix(0, due)}:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (f *floor) work(ctx context.Context, jobs <-chan floorJob) {
	var buf []byte
	for j := range jobs {
		p := &f.pollers[j.i]
		f.rec.started(j.i, j.due, time.Now())
		var err error
		if buf, err = f.poll(ctx, p, buf); err != nil && ctx.Err() == nil {
			f.rec.errors.Add(1)
		}
		p.running.Store(false)
	}
}

// fresh is a record the floor has not delivered yet.
type fresh struct {
	id, date, typ string
	raw           []byte
}

// poll reads every page changed since the newest date seen and posts the
// new records.
func (f *floor) poll(ctx context.Context, p *floorPoller, buf []byte) ([]byte, error) {
	since := time.UnixMilli(p.newest - 1).UTC().Format("2006-01-02T15:04:05.000Z07:00")
	var found []fresh
	newest, newestIDs := p.newest, p.newestIDs
	for offset := 0; ; {
		url := p.prefix + since + "&offset=" + strconv.Itoa(offset) + "&limit=" + strconv.Itoa(pageSize)
		var err error
		if buf, err = f.get(ctx, url, buf[:0]); err != nil {
			return buf, err
		}
		n := 0
		gjson.GetBytes(buf, "data").ForEach(func(_, r gjson.Result) bool {
			n++
			id, date := r.Get("id").String(), r.Get("updated_at").String()
			t, err := time.Parse(time.RFC3339Nano, date)
			if err != nil {
				return true
			}
			ms := t.UnixMilli()
			if ms < p.newest || (ms == p.newest && slices.Contains(p.newestIDs, id)) {
				return true
			}
			typ := "UPDATED"
			if r.Get("created_at").String() == date {
				typ = "CREATED"
			}
			found = append(found, fresh{id: id, date: t.UTC().Format(time.RFC3339Nano), typ: typ, raw: []byte(r.Raw)})
			switch {
			case ms > newest:
				newest, newestIDs = ms, append(newestIDs[:0:0], id)
			case ms == newest:
				newestIDs = append(newestIDs, id)
			}
			return true
		})
		if n == 0 || !gjson.GetBytes(buf, "has_more").Bool() {
			break
		}
		offset += n
	}
	p.newest, p.newestIDs = newest, newestIDs
	for lo := 0; lo < len(found); lo += f.cfg.BatchSize {
		f.post(ctx, p, found[lo:min(lo+f.cfg.BatchSize, len(found))])
	}
	return buf, nil
}

func (f *floor) get(ctx context.Context, url string, buf []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return buf, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return buf, err
	}
	defer resp.Body.Close()
	buf, err = readAll(buf, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return buf, err
}

// post sends one notification with the body a pipeline notification has,
// signed the same way.
func (f *floor) post(ctx context.Context, p *floorPoller, batch []fresh) {
	id := "floor-" + strconv.FormatUint(f.eventSeq.Add(1), 10)
	b := make([]byte, 0, 512+len(batch)*512)
	b = append(b, `{"message":{"elementKey":"rest","instanceId":`...)
	b = strconv.AppendInt(b, p.inst, 10)
	b = append(b, `,"instanceName":"bench-`...)
	b = strconv.AppendInt(b, p.inst-1, 10)
	b = append(b, `","instanceTags":["bench"],"eventId":"`...)
	b = append(b, id...)
	b = append(b, `","events":[`...)
	for i, c := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"elementKey":"rest","hubKey":"`+connectors.Hub+`","eventType":"`...)
		b = append(b, c.typ...)
		b = append(b, `","objectType":"`...)
		b = append(b, p.res...)
		b = append(b, `","objectId":`...)
		b = strconv.AppendQuote(b, c.id)
		b = append(b, `,"date":"`...)
		b = append(b, c.date...)
		b = append(b, `"}`...)
	}
	b = append(b, `],"raw":{"`...)
	b = append(b, p.res...)
	b = append(b, `":[`...)
	for i, c := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c.raw...)
	}
	b = append(b, `]}}}`...)

	mac := hmac.New(sha256.New, f.key)
	mac.Write(b)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.callback, bytes.NewReader(b))
	if err != nil {
		f.fails.Add(1)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(delivery.HeaderElementsID, id)
	req.Header.Set(delivery.HeaderElementsSignature, "sha256="+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err := f.client.Do(req)
	if err != nil {
		f.fails.Add(1)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		f.fails.Add(1)
	}
}
