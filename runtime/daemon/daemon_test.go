package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pollwire/pollwire/runtime/api"
	"github.com/pollwire/pollwire/runtime/daemon"
	"github.com/pollwire/pollwire/runtime/secrets"
	"github.com/pollwire/pollwire/runtime/store"
)

const instanceBody = `{
	"connector": {"key": "closeio"},
	"name": "close-prod",
	"configuration": {
		"username": "api_1Q2w3E4r5T6y7U8i9O0p",
		"event.notification.enabled": "true",
		"event.notification.callback.url": "https://consumer.example.com/hooks/close",
		"event.vendor.type": "webhook"
	}
}`

// start runs a daemon on a free loopback port; Stop runs on cleanup too,
// which must be harmless after an explicit Stop.
func start(t *testing.T, cfg daemon.Config) *daemon.Daemon {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d, err := daemon.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("Stop on cleanup: %v", err)
		}
	})
	return d
}

// call sends one request to the daemon and returns the status and body.
func call(t *testing.T, d *daemon.Daemon, method, path, authz, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+d.Addr()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

func authz(c api.Credentials) string {
	return "User " + c.User + ", Organization " + c.Organization
}

func TestAdminSecrets(t *testing.T) {
	dir := t.TempDir()
	secretsPath := filepath.Join(dir, "admin.secrets")

	// First start: secrets generated, printed once, saved 0600.
	var out1 bytes.Buffer
	d := start(t, daemon.Config{DataDir: dir, Out: &out1})
	gen := d.Credentials()
	if len(gen.User) < 16 || len(gen.Organization) < 16 || gen.User == gen.Organization {
		t.Fatalf("generated secrets %q %q: want two distinct long secrets", gen.User, gen.Organization)
	}
	printed := out1.String()
	if strings.Count(printed, gen.User) != 1 || strings.Count(printed, gen.Organization) != 1 {
		t.Errorf("the secrets are not printed exactly once:\n%s", printed)
	}
	if !strings.Contains(printed, "Authorization: "+authz(gen)) {
		t.Errorf("the notice lacks a ready-to-use header:\n%s", printed)
	}
	st, err := os.Stat(secretsPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("admin.secrets has mode %v, want 0600", st.Mode().Perm())
	}
	saved, err := os.ReadFile(secretsPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := "user=" + gen.User + "\norganization=" + gen.Organization + "\n"; string(saved) != want {
		t.Errorf("admin.secrets = %q, want %q", saved, want)
	}
	if code, body := call(t, d, "GET", api.Base+"/instances", "", ""); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d %s", code, body)
	}
	if code, body := call(t, d, "POST", api.Base+"/instances", authz(gen), instanceBody); code != http.StatusOK {
		t.Fatalf("create: %d %s", code, body)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}

	// Second start: the saved secrets are reused and nothing is printed.
	var out2 bytes.Buffer
	d = start(t, daemon.Config{DataDir: dir, Out: &out2})
	if d.Credentials() != gen {
		t.Errorf("second start uses %+v, want the saved %+v", d.Credentials(), gen)
	}
	if out2.Len() != 0 {
		t.Errorf("second start printed %q", out2.String())
	}
	code, body := call(t, d, "GET", api.Base+"/instances", authz(gen), "")
	if code != http.StatusOK || !strings.Contains(body, `"close-prod"`) {
		t.Errorf("the instance did not survive the restart: %d %s", code, body)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}

	// Third start: secrets from the environment win over the file.
	env := api.Credentials{User: "env-user-5f1c9a7e", Organization: "env-org-2d8b4c6a"}
	var out3 bytes.Buffer
	d = start(t, daemon.Config{DataDir: dir, Out: &out3, UserSecret: env.User, OrgSecret: env.Organization})
	if d.Credentials() != env {
		t.Errorf("credentials %+v, want the environment's %+v", d.Credentials(), env)
	}
	if out3.Len() != 0 {
		t.Errorf("start with environment secrets printed %q", out3.String())
	}
	if code, body := call(t, d, "GET", api.Base+"/instances", authz(gen), ""); code != http.StatusUnauthorized {
		t.Errorf("the file's secrets still work: %d %s", code, body)
	}
	if code, body := call(t, d, "GET", api.Base+"/instances", authz(env), ""); code != http.StatusOK {
		t.Errorf("the environment's secrets are refused: %d %s", code, body)
	}
	if again, _ := os.ReadFile(secretsPath); !bytes.Equal(again, saved) {
		t.Errorf("admin.secrets changed to %q", again)
	}
}

// TestEnvironmentSecretsOnFirstStart: with both secrets given, nothing is
// generated, printed or written.
func TestEnvironmentSecretsOnFirstStart(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	d := start(t, daemon.Config{DataDir: dir, Out: &out, UserSecret: "u-env-1", OrgSecret: "o-env-1"})
	if d.Credentials() != (api.Credentials{User: "u-env-1", Organization: "o-env-1"}) {
		t.Errorf("credentials %+v", d.Credentials())
	}
	if out.Len() != 0 {
		t.Errorf("printed %q", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "admin.secrets")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("admin.secrets written: %v", err)
	}
}

func TestSecretsFileReadableByOthers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "admin.secrets")
	if err := os.WriteFile(path, []byte("user=a\norganization=b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // umask may have narrowed it
		t.Fatal(err)
	}
	d, err := daemon.Start(context.Background(), daemon.Config{Listen: "127.0.0.1:0", DataDir: dir, Out: io.Discard, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		d.Stop()
		t.Fatal("Start accepted a world-readable admin.secrets")
	}
	reopenStore(t, dir) // the failed Start released the store
}

func TestHealthEndpoints(t *testing.T) {
	d := start(t, daemon.Config{DataDir: t.TempDir(), Out: io.Discard})
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := call(t, d, "GET", path, "", ""); code != http.StatusOK {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
}

func TestStopClosesStore(t *testing.T) {
	dir := t.TempDir()
	d := start(t, daemon.Config{DataDir: dir, Out: io.Discard})
	addr := d.Addr()
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	reopenStore(t, dir)
	// The listener is closed too.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", addr)
	}
}

func TestStartFailureReleasesStore(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	d, err := daemon.Start(context.Background(), daemon.Config{
		Listen: busy.Addr().String(), DataDir: dir, Out: io.Discard, Logger: slog.New(slog.DiscardHandler),
	})
	if err == nil {
		d.Stop()
		t.Fatal("Start listened on a busy address")
	}
	reopenStore(t, dir)
}

// reopenStore opens the daemon's bbolt file with its master key; it fails
// fast if a daemon still holds the file.
func reopenStore(t *testing.T, dir string) {
	t.Helper()
	key, _, err := secrets.LoadKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := secrets.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, daemon.DBFile), sealer, store.WithLockTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatalf("the store file cannot be opened again: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}
