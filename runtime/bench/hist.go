package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records durations for quantiles. Buckets are log-linear: exact
// below 64 ns, then 64 linear sub-buckets per power of two, so a quantile
// is within 1/64 (1.6 %) of a recorded value while the whole range of
// time.Duration fits in a fixed array of 3,712 counters. Recording is
// lock-free and allocation-free: pollers on every core record into it.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Int64
	sum    atomic.Int64 // nanoseconds; overflows only past 292 years of total
	max    atomic.Int64
	neg    atomic.Int64 // values below zero, recorded as zero
}

const (
	subBits     = 6
	subBuckets  = 1 << subBits // 64
	histBuckets = (64 - subBits) * subBuckets
)

// bucketOf maps a non-negative value to its bucket.
func bucketOf(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1 // v>>e is in [64, 128)
	return (e+1)*subBuckets + int(v>>e) - subBuckets
}

// bucketRange is the smallest value of bucket i and its width.
func bucketRange(i int) (lo, width uint64) {
	if i < subBuckets {
		return uint64(i), 1
	}
	e := i/subBuckets - 1
	m := uint64(i%subBuckets + subBuckets)
	return m << e, 1 << e
}

// Record adds one value. Negative values count as zero (and are counted
// apart, see Negative): a clock step must not corrupt the histogram.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		h.neg.Add(1)
		v = 0
	}
	h.counts[bucketOf(uint64(v))].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count is the number of values recorded.
func (h *Histogram) Count() int64 { return h.n.Load() }

// Negative is the number of negative values recorded (as zero).
func (h *Histogram) Negative() int64 { return h.neg.Load() }

// Quantile returns the value below which a share q (0..1) of the recorded
// values lie: the middle of the bucket holding the rank ⌈q·n⌉, never above
// the exact maximum. It is 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen int64
	for i := range h.counts {
		c := int64(h.counts[i].Load())
		if c == 0 {
			continue
		}
		if seen += c; seen >= rank {
			lo, w := bucketRange(i)
			return min(time.Duration(lo+(w-1)/2), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load()) // recording raced the walk
}

// Summary reads the usual quantiles.
func (h *Histogram) Summary() Dist {
	n := h.n.Load()
	d := Dist{Count: n}
	if n == 0 {
		return d
	}
	d.Mean = Millis(time.Duration(h.sum.Load() / n))
	d.P50 = Millis(h.Quantile(0.50))
	d.P90 = Millis(h.Quantile(0.90))
	d.P99 = Millis(h.Quantile(0.99))
	d.P999 = Millis(h.Quantile(0.999))
	d.Max = Millis(time.Duration(h.max.Load()))
	return d
}

// Millis is a duration reported in milliseconds.
type Millis time.Duration

// MarshalJSON writes milliseconds with microsecond precision.
func (m Millis) MarshalJSON() ([]byte, error) {
	ms := float64(m) / float64(time.Millisecond)
	return []byte(formatFloat(math.Round(ms*1000) / 1000)), nil
}

// String formats like time.Duration, rounded for reading.
func (m Millis) String() string {
	d := time.Duration(m)
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// Dist summarises a distribution of durations.
type Dist struct {
	Count int64  `json:"count"`
	Mean  Millis `json:"mean_ms"`
	P50   Millis `json:"p50_ms"`
	P90   Millis `json:"p90_ms"`
	P99   Millis `json:"p99_ms"`
	P999  Millis `json:"p999_ms"`
	Max   Millis `json:"max_ms"`
}
