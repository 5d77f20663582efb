package delivery

import "github.com/prometheus/client_golang/prometheus"

// Attempt outcomes as counted by pollwire_delivery_attempts_total.
const (
	outcomeSuccess        = "success"
	outcomeHTTPError      = "http_error"
	outcomeTimeout        = "timeout"
	outcomeTransportError = "transport_error"
)

type metrics struct {
	deliveries *prometheus.CounterVec // final outcome: delivered|failed
	attempts   *prometheus.CounterVec
	duration   prometheus.Histogram
}

func newMetrics(d *Dispatcher, reg prometheus.Registerer) *metrics {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pollwire_deliveries_total",
			Help: "Notifications that reached a final state: delivered, or failed after the last retry.",
		}, []string{"outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pollwire_delivery_attempts_total",
			Help: "Attempts to post a notification to its callback URL, by outcome.",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pollwire_delivery_duration_seconds",
			Help: "Duration of one delivery attempt, from request to the end of the answer.",
			// Up to the default 30s attempt timeout.
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30},
		}),
	}
	// Zero series exist from the start so rate() and alerts see them.
	for _, o := range []string{string(Delivered), string(Failed)} {
		m.deliveries.WithLabelValues(o)
	}
	for _, o := range []string{outcomeSuccess, outcomeHTTPError, outcomeTimeout, outcomeTransportError} {
		m.attempts.WithLabelValues(o)
	}
	if reg != nil {
		reg.MustRegister(m.deliveries, m.attempts, m.duration, &depthCollector{d: d})
	}
	return m
}

// depthCollector reports Depth at scrape time: the counts change with every
// attempt, and keeping a gauge per host up to date would cost more than
// copying one small map per scrape.
type depthCollector struct{ d *Dispatcher }

var depthDesc = prometheus.NewDesc("pollwire_outbox_depth",
	"Notifications waiting for delivery (queued or in flight), per callback host.",
	[]string{"host"}, nil)

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- depthDesc }

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	for host, n := range c.d.Depth() {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(n), host)
	}
}
