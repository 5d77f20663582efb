package daemon

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors/rest"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/runtime/engine"
)

// BenchmarkWebhookIntake measures a vendor push from request to the 2xx
// answer: verification, dedupe and the durable (fsync'd) outbox commit. It
// reports the median and p99 of the answers, the numbers SPEC §5 speaks of.
func BenchmarkWebhookIntake(b *testing.B) {
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer callback.Close()
	d, err := Start(context.Background(), Config{
		Listen: "127.0.0.1:0", DataDir: b.TempDir(), UserSecret: "u", OrgSecret: "o",
		AllowPrivateCallbacks: true, Out: io.Discard, Logger: slog.New(slog.DiscardHandler),
		Sources: map[string]source.Source{"rest": hookSource{rest.New()}},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Stop()
	e := &e2e{base: "http://" + d.Addr()}
	var inst struct {
		ID int64 `json:"id"`
	}
	body, _ := json.Marshal(map[string]any{
		"connector": map[string]any{"key": "rest"}, "name": "bench",
		"configuration": map[string]any{
			"base.url": "http://127.0.0.1:1", "event.notification.enabled": "true",
			"event.notification.callback.url": callback.URL, "event.webhook.signature.key": "hook-key",
			"event.poller.refresh_interval": "cron:0 0 1 1 *",
			"event.poller.configuration": map[string]any{"contacts": map[string]any{
				"url": "/plain/contacts", "datesConfiguration": map[string]any{"updatedDateField": "updated_at"},
			}},
		},
	})
	req, _ := http.NewRequest("POST", e.base+"/elements/api-v2/instances", bytes.NewReader(body))
	req.Header.Set("Authorization", "User u, Organization o")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&inst)
	resp.Body.Close()
	if inst.ID == 0 {
		b.Fatalf("provisioning failed: %d", resp.StatusCode)
	}
	url := e.base + engine.IntakePath("rest", inst.ID)
	base := time.Now()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		payload, _ := json.Marshal([]map[string]string{{"Resource": "contacts", "Type": "UPDATED", "ID": "c", "Date": base.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)}})
		mac := hmac.New(sha256.New, []byte("hook-key"))
		mac.Write(payload)
		r, _ := http.NewRequest("POST", url, bytes.NewReader(payload))
		r.Header.Set("X-Test-Signature", hex.EncodeToString(mac.Sum(nil)))
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
