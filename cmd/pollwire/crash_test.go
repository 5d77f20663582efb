package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors/rest"
)

// crashSink records every event a callback receives.
type crashSink struct {
	mu sync.Mutex
	// byChange maps "id@date" to the eventIds it arrived under.
	byChange map[string]map[string]int
}

func (s *crashSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(500)
		return
	}
	var m struct {
		Message struct {
			EventID string `json:"eventId"`
			Events  []struct {
				ObjectID string `json:"objectId"`
				Date     string `json:"date"`
			} `json:"events"`
		} `json:"message"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		w.WriteHeader(400)
		return
	}
	// A little latency so kills land while deliveries are in flight.
	time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
	s.mu.Lock()
	for _, ev := range m.Message.Events {
		d, _ := time.Parse(time.RFC3339Nano, ev.Date)
		k := ev.ObjectID + "@" + d.UTC().Format(time.RFC3339Nano)
		if s.byChange[k] == nil {
			s.byChange[k] = map[string]int{}
		}
		s.byChange[k][m.Message.EventID]++
	}
	s.mu.Unlock()
}

func (s *crashSink) has(keys []string) (missing int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if len(s.byChange[k]) == 0 {
			missing++
		}
	}
	return missing
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestCrashSafety runs `pollwire serve` as a subprocess, SIGKILLs it at
// random points of polling and delivery 50 times while a vendor keeps
// changing, and checks that every change reaches the callback at least
// once, a repeat always under the same eventId.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a daemon 50 times")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pollwire")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build: %v", err)
	}
	sim := rest.NewSimulator(rest.SimOptions{})
	vendor := httptest.NewServer(sim)
	defer vendor.Close()
	sink := &crashSink{byChange: map[string]map[string]int{}}
	callback := httptest.NewServer(sink)
	defer callback.Close()

	data := filepath.Join(dir, "data")
	var logs bytes.Buffer
	start := func() (*exec.Cmd, string) {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "serve", "--listen", addr, "--data", data, "--log-level", "warn")
		cmd.Env = append(os.Environ(),
			"POLLWIRE_USER_SECRET=crash-user", "POLLWIRE_ORG_SECRET=crash-org",
			"POLLWIRE_MASTER_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			"POLLWIRE_ALLOW_PRIVATE_CALLBACKS=true")
		cmd.Stdout = io.Discard
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return cmd, addr
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("pollwire did not start: %s", logs.String())
			}
		}
	}

	cmd, addr := start()
	pc := map[string]any{}
	for _, res := range []string{"contacts", "deals"} {
		pc[res] = map[string]any{
			"url":         "/offset/" + res + "?updated_since=${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}",
			"recordsPath": "data",
			"pageSize":    5,
			"pagination":  map[string]any{"type": "offset", "hasMorePath": "has_more"},
			"datesConfiguration": map[string]any{
				"updatedDateField": "updated_at", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSX",
				"createdDateField": "created_at", "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSX",
			},
		}
	}
	body, _ := json.Marshal(map[string]any{
		"connector": map[string]any{"key": "rest"}, "name": "crash",
		"configuration": map[string]any{
			"base.url": vendor.URL, "event.notification.enabled": true,
			"event.notification.callback.url": callback.URL + "/hook",
			"event.notification.batch.size":   3,
			"event.poller.refresh_interval":   "1s",
			"event.poller.configuration":      pc,
		},
	})
	req, _ := http.NewRequest("POST", "http://"+addr+"/elements/api-v2/instances", bytes.NewReader(body))
	req.Header.Set("Authorization", "User crash-user, Organization crash-org")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("provision: %d %s", resp.StatusCode, b)
	}
	resp.Body.Close()

	// The vendor changes all along: one record every 40 ms.
	var mu sync.Mutex
	var want []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(40 * time.Millisecond):
			}
			res := []string{"contacts", "deals"}[i%2]
			rec := sim.Put(res, map[string]any{"n": i})
			d, _ := time.Parse("2006-01-02T15:04:05.000Z", rec["updated_at"].(string))
			mu.Lock()
			want = append(want, fmt.Sprint(rec["id"])+"@"+d.UTC().Format(time.RFC3339Nano))
			mu.Unlock()
		}
	}()

	const kills = 50
	for i := 0; i < kills; i++ {
		time.Sleep(time.Duration(100+rand.IntN(1100)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		cmd, _ = start()
	}
	close(stop)
	<-done

	mu.Lock()
	keys := append([]string(nil), want...)
	mu.Unlock()
	for deadline := time.Now().Add(60 * time.Second); sink.has(keys) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("pollwire did not exit 0 on SIGTERM: %v", err)
	}

	if missing := sink.has(keys); missing > 0 {
		t.Fatalf("%d of %d changes never delivered after %d kills\n%s", missing, len(keys), kills, logs.String())
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	repeats := 0
	for k, ids := range sink.byChange {
		if len(ids) > 1 {
			t.Errorf("change %s delivered under %d different eventIds %v", k, len(ids), ids)
		}
		for _, n := range ids {
			repeats += n - 1
		}
	}
	t.Logf("%d changes, %d kills, %d redeliveries (same eventId)", len(keys), kills, repeats)
	if len(keys) < 200 {
		t.Fatalf("only %d changes were made; the test did not exercise much", len(keys))
	}
}
