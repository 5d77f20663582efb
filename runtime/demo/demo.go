// Package demo is `pollwire demo`: pollwire's main job on embedded
// defaults, in one process — a vendor simulator that keeps changing, the
// daemon on a temporary data directory, and a callback sink that verifies
// signatures and prints every delivered event as it arrives.
package demo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/pollwire/pollwire/runtime/daemon"
)

// Options configure a demo run.
type Options struct {
	// Duration ends the demo; zero runs until ctx ends (Ctrl-C).
	Duration time.Duration
	// Rate is vendor changes per second. Default 5.
	Rate float64
	// Connector picks the vendor simulator; default DefaultConnector.
	Connector string
	Out       io.Writer
	Logger    *slog.Logger
}

// scenario is one connector's part of the demo: its simulator, the
// instance.json that polls it, and the stream of changes it makes.
type scenario struct {
	handler   http.Handler
	resources []string
	// instance returns the instance.json for the vendor at vendorURL.
	instance func(vendorURL, callbackURL, sigKey string) map[string]any
	// change makes the n-th vendor change.
	change func(n int)
}

// scenarios by connector key.
var scenarios = map[string]func() *scenario{
	"closeio":    closeScenario,
	"rest":       restScenario,
	"hubspot":    hubspotScenario,
	"salesforce": salesforceScenario,
}

// DefaultConnector is the connector the demo shows when none is named.
const DefaultConnector = "closeio"

// Connectors lists the connectors the demo can run.
func Connectors() []string {
	var out []string
	for k := range scenarios {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Run runs the demo until ctx ends or the duration passes.
func Run(ctx context.Context, o Options) error {
	if o.Rate <= 0 {
		o.Rate = 5
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	dir, err := os.MkdirTemp("", "pollwire-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	if o.Connector == "" {
		o.Connector = DefaultConnector
	}
	mk, ok := scenarios[o.Connector]
	if !ok {
		return fmt.Errorf("no demo for connector %q; there are %v", o.Connector, Connectors())
	}
	sc := mk()
	vendor, err := serve(sc.handler)
	if err != nil {
		return err
	}
	defer vendor.Close()
	const sigKey = "demo-signature-key"
	sink := &sink{out: o.Out, key: []byte(sigKey), start: time.Now()}
	callback, err := serve(sink)
	if err != nil {
		return err
	}
	defer callback.Close()

	secret := randomString()
	d, err := daemon.Start(ctx, daemon.Config{
		Listen: "127.0.0.1:0", DataDir: dir, UserSecret: secret, OrgSecret: secret,
		MasterKey:             randomKey(),
		AllowPrivateCallbacks: true, Logger: o.Logger, Out: io.Discard,
	})
	if err != nil {
		return err
	}
	defer d.Stop()

	id, err := provision(ctx, d.Addr(), secret, sc.instance("http://"+vendor.Addr, "http://"+callback.Addr+"/hooks/crm", sigKey))
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "pollwire demo: %s simulator on %s, daemon on %s (instance %d), callback sink on %s\n",
		o.Connector, vendor.Addr, d.Addr(), id, callback.Addr)
	fmt.Fprintf(o.Out, "polling %v every 2s; the vendor makes %.0f changes/s; each delivered event prints below (Ctrl-C ends)\n\n", sc.resources, o.Rate)

	go drive(ctx, sc, o.Rate)
	summary := time.NewTicker(5 * time.Second)
	defer summary.Stop()
	for {
		select {
		case <-ctx.Done():
			sink.summary(true)
			return nil
		case <-summary.C:
			sink.summary(false)
		}
	}
}

type server struct {
	*http.Server
	Addr string
}

func serve(h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{Server: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, Addr: ln.Addr().String()}
	go s.Serve(ln)
	return s, nil
}

func provision(ctx context.Context, addr, secret string, instance map[string]any) (int64, error) {
	body, err := json.Marshal(instance)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/elements/api-v2/instances", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "User "+secret+", Organization "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		ID      int64  `json:"id"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("provisioning the demo instance: %d %s", resp.StatusCode, out.Message)
	}
	return out.ID, nil
}

// drive makes the scenario's stream of changes at the vendor.
func drive(ctx context.Context, sc *scenario, rate float64) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sc.change(n)
	}
}

// sink is the demo's callback: it checks each signature and prints events.
type sink struct {
	out           io.Writer
	key           []byte
	start         time.Time
	mu            sync.Mutex
	counts        map[string]int
	notifications int
	badSignatures int
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	mac := hmac.New(sha256.New, s.key)
	mac.Write(body)
	ok := hmac.Equal([]byte(r.Header.Get("Elements-Webhook-Signature")), []byte("sha256="+base64.StdEncoding.EncodeToString(mac.Sum(nil))))
	var m struct {
		Message struct {
			EventID string `json:"eventId"`
			Events  []struct {
				EventType  string `json:"eventType"`
				ObjectType string `json:"objectType"`
				ObjectID   string `json:"objectId"`
				Date       string `json:"date"`
			} `json:"events"`
		} `json:"message"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts = map[string]int{}
	}
	s.notifications++
	if !ok {
		s.badSignatures++
	}
	sig := "signature ok"
	if !ok {
		sig = "BAD SIGNATURE"
	}
	for _, ev := range m.Message.Events {
		s.counts[ev.EventType]++
		fmt.Fprintf(s.out, "%s  %-7s %-13s %-20s updated %s  event %s  %s\n",
			time.Now().Format("15:04:05.000"), ev.EventType, ev.ObjectType, ev.ObjectID, ev.Date, m.Message.EventID[:8], sig)
	}
	w.WriteHeader(http.StatusOK)
}

func (s *sink) summary(final bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	total := 0
	for _, n := range s.counts {
		total += n
	}
	label := "so far"
	if final {
		label = "in all"
	}
	fmt.Fprintf(s.out, "-- %s after %s: %d events (%d CREATED, %d UPDATED, %d DELETED) in %d notifications, %d bad signatures\n",
		label, time.Since(s.start).Round(time.Second), total, s.counts["CREATED"], s.counts["UPDATED"], s.counts["DELETED"], s.notifications, s.badSignatures)
}

func randomString() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomKey is a throwaway master key: the demo's data dies with it.
func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func randN(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0
	}
	return int(v.Int64())
}
