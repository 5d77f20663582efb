package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pollwire/pollwire/runtime/scheduler"
)

type metrics struct {
	e             *Engine
	polls         *prometheus.CounterVec
	pollDuration  prometheus.Histogram
	lag           prometheus.Histogram
	skips         prometheus.Counter
	events        *prometheus.CounterVec
	notifications prometheus.Counter
	flush         prometheus.Histogram
}

var watermarkAgeDesc = prometheus.NewDesc("pollwire_watermark_age_seconds",
	"Age of the oldest watermark among active pollers, per connector.", []string{"connector"}, nil)

func newMetrics(e *Engine, reg prometheus.Registerer) *metrics {
	m := &metrics{
		e:             e,
		polls:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pollwire_polls_total", Help: "Polls by outcome (success, error, throttled, cancelled)."}, []string{"outcome"}),
		pollDuration:  prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pollwire_poll_duration_seconds", Help: "Duration of polls, all pages included.", Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14)}),
		lag:           prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pollwire_schedule_lag_seconds", Help: "Actual start minus due time of polls.", Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14)}),
		skips:         prometheus.NewCounter(prometheus.CounterOpts{Name: "pollwire_poll_skips_total", Help: "Due times skipped because the previous run was still going."}),
		events:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pollwire_events_total", Help: "Events committed to the outbox, by type."}, []string{"type"}),
		notifications: prometheus.NewCounter(prometheus.CounterOpts{Name: "pollwire_notifications_total", Help: "Notifications committed to the outbox by polls."}),
		flush:         prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pollwire_state_flush_seconds", Help: "Duration of persisting the states of polls that found nothing (one flush, all its transactions).", Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14)}),
	}
	if reg != nil {
		reg.MustRegister(m.polls, m.pollDuration, m.lag, m.skips, m.events, m.notifications, m.flush, m)
	}
	return m
}

// Started implements scheduler.Observer.
func (m *metrics) Started(_ scheduler.Key, due, started time.Time) {
	m.lag.Observe(started.Sub(due).Seconds())
}

// Skipped implements scheduler.Observer.
func (m *metrics) Skipped(scheduler.Key) { m.skips.Inc() }

// Describe implements prometheus.Collector for the watermark ages.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) { ch <- watermarkAgeDesc }

// Collect computes the oldest watermark per connector at scrape time, so
// polls pay nothing for it.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	now := m.e.cfg.Clock.Now()
	oldest := map[string]time.Time{}
	m.e.mu.RLock()
	for _, p := range m.e.pollers {
		p.mu.Lock()
		w := p.state.Watermark
		p.mu.Unlock()
		if o, ok := oldest[p.class]; !ok || w.Before(o) {
			oldest[p.class] = w
		}
	}
	m.e.mu.RUnlock()
	for class, w := range oldest {
		ch <- prometheus.MustNewConstMetric(watermarkAgeDesc, prometheus.GaugeValue, now.Sub(w).Seconds(), class)
	}
}
