// Package daemon wires pollwire's parts into the `pollwire serve` process:
// the store, the admin API and (from the engine on) scheduling and delivery.
package daemon

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/registry"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/runtime/api"
	"github.com/pollwire/pollwire/runtime/clock"
	"github.com/pollwire/pollwire/runtime/delivery"
	"github.com/pollwire/pollwire/runtime/engine"
	"github.com/pollwire/pollwire/runtime/secrets"
	"github.com/pollwire/pollwire/runtime/store"
)

// Defaults of `pollwire serve`.
const (
	DefaultListen  = "127.0.0.1:8080"
	DefaultDataDir = "./pollwire-data"
	DBFile         = "pollwire.db"
)

// Config is what `pollwire serve` takes from flags and the environment.
type Config struct {
	Listen                string
	DataDir               string
	UserSecret            string // POLLWIRE_USER_SECRET; generated when empty
	OrgSecret             string // POLLWIRE_ORG_SECRET; generated when empty
	MasterKey             string // POLLWIRE_MASTER_KEY; else the key file
	AllowPrivateCallbacks bool   // POLLWIRE_ALLOW_PRIVATE_CALLBACKS
	Logger                *slog.Logger
	Clock                 clock.Clock
	Catalog               connectors.Catalog
	// Sources are the connectors that can poll; default registry.Sources().
	Sources map[string]source.Source
	// PublicURL is how vendors reach this pollwire for webhooks
	// (POLLWIRE_PUBLIC_URL); default http://<listen address>.
	PublicURL string
	// EventRetention is how long delivered events stay in the event log;
	// default 7 days.
	EventRetention time.Duration
	// Out receives the one-time notice of generated secrets (stdout).
	Out io.Writer
}

// Daemon is a running pollwire.
type Daemon struct {
	cfg      Config
	store    *store.Bolt
	api      *api.Server
	disp     *delivery.Dispatcher
	engine   *engine.Engine
	metrics  *prometheus.Registry
	srv      *http.Server
	ln       net.Listener
	creds    api.Credentials
	serveErr chan error
}

// Start opens the store, prepares the admin secrets and starts listening.
// On error everything opened so far is closed again.
func Start(ctx context.Context, cfg Config) (_ *Daemon, err error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Catalog == nil {
		cfg.Catalog = registry.Default()
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Sources == nil {
		cfg.Sources = registry.Sources()
	}
	// d is not the named result: "return nil, err" must not hide it from
	// the cleanup below.
	d := &Daemon{cfg: cfg, serveErr: make(chan error, 1)}
	defer func() {
		if err != nil {
			d.closeAll()
		}
	}()

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
	}
	key, created, err := secrets.LoadKey(cfg.DataDir, cfg.MasterKey)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if created {
		cfg.Logger.Warn("created a master key file; keep a copy, or set POLLWIRE_MASTER_KEY, or secrets cannot be read back", "path", filepath.Join(cfg.DataDir, "master.key"))
	}
	sealer, err := secrets.NewSealer(key)
	if err != nil {
		return nil, err
	}
	d.store, err = store.Open(filepath.Join(cfg.DataDir, DBFile), sealer)
	if err != nil {
		return nil, err
	}
	if d.creds, err = d.adminCredentials(ctx); err != nil {
		return nil, err
	}

	d.metrics = prometheus.NewRegistry()
	d.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var eng *engine.Engine
	d.disp = delivery.New(delivery.Config{
		Store:      d.store,
		Keys:       func(id int64) string { return eng.SignatureKey(id) },
		Clock:      cfg.Clock,
		Logger:     cfg.Logger.With("component", "delivery"),
		Client:     delivery.NewClient(cfg.AllowPrivateCallbacks),
		Registerer: d.metrics,
	})
	d.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + d.ln.Addr().String()
	}
	eng = engine.New(engine.Config{
		Store:       d.store,
		Catalog:     cfg.Catalog,
		Sources:     cfg.Sources,
		Subscribers: registry.Subscribers(cfg.Sources),
		PublicURL:   cfg.PublicURL,
		Outbox:      d.disp,
		Clock:       cfg.Clock,
		Logger:      cfg.Logger.With("component", "engine"),
		Retention:   cfg.EventRetention,
		Registerer:  d.metrics,
	})
	d.engine = eng
	// Work that survived a restart resumes before new work arrives.
	if err := d.disp.Start(ctx); err != nil {
		return nil, err
	}
	if err := d.engine.Start(ctx); err != nil {
		return nil, err
	}

	d.api = api.New(api.Config{
		Store:       d.store,
		Catalog:     cfg.Catalog,
		Credentials: d.creds,
		Engine:      d.engine,
		Webhooks:    registry.Webhooks(cfg.Sources),
		PublicURL:   cfg.PublicURL,
		Clock:       cfg.Clock,
		Logger:      cfg.Logger,
	})
	d.api.Handle("/metrics", promhttp.HandlerFor(d.metrics, promhttp.HandlerOpts{}))
	d.srv = &http.Server{
		Handler:           d.api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	// The goroutine gets its own copies: Stop may clear d.srv before it runs.
	srv, ln := d.srv, d.ln
	go func() { d.serveErr <- srv.Serve(ln) }()
	cfg.Logger.Info("pollwire serving", "listen", d.ln.Addr().String(), "data", cfg.DataDir)
	return d, nil
}

// Addr is the address the admin API listens on.
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// Credentials are the admin secrets in force.
func (d *Daemon) Credentials() api.Credentials { return d.creds }

// Store is the daemon's store (for tests and tools in the same process).
func (d *Daemon) Store() store.Store { return d.store }

// Engine is the daemon's polling engine.
func (d *Daemon) Engine() *engine.Engine { return d.engine }

// Wait blocks until ctx ends or the server fails, then shuts down.
func (d *Daemon) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case err := <-d.serveErr:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.Stop()
			return fmt.Errorf("admin server: %w", err)
		}
	}
	return d.Stop()
}

// Stop stops accepting requests, lets in-flight ones finish (up to 10 s) and
// closes the store. Safe after a partial Start.
func (d *Daemon) Stop() error {
	return d.closeAll()
}

func (d *Daemon) closeAll() error {
	var errs []error
	if d.srv != nil && d.ln != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := d.srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
		// Shutdown closes only listeners Serve has started on; a Stop right
		// after Start can come first.
		d.ln.Close()
		d.srv = nil
	} else if d.ln != nil {
		d.ln.Close() // Start failed after listening
	}
	// Polls stop first (their states are flushed), then deliveries in
	// flight finish or are left pending for the next start.
	if d.engine != nil {
		d.engine.Stop()
		d.engine = nil
	}
	if d.disp != nil {
		d.disp.Stop()
		d.disp = nil
	}
	if d.store != nil {
		if err := d.store.Close(); err != nil {
			errs = append(errs, err)
		}
		d.store = nil
	}
	return errors.Join(errs...)
}

// Meta keys of the admin secrets' hashes.
const (
	metaUserHash = "admin.user.sha256"
	metaOrgHash  = "admin.org.sha256"
)

// adminCredentials returns the User and Organization secrets. Secrets given
// in the environment win. Otherwise the first start generates them, keeps
// only their hashes and prints them once; later starts without them in the
// environment read them from the secrets file in the data directory.
func (d *Daemon) adminCredentials(ctx context.Context) (api.Credentials, error) {
	c := api.Credentials{User: d.cfg.UserSecret, Organization: d.cfg.OrgSecret}
	path := filepath.Join(d.cfg.DataDir, "admin.secrets")
	if c.User == "" || c.Organization == "" {
		saved, err := readSecretsFile(path)
		switch {
		case err == nil:
			if c.User == "" {
				c.User = saved.User
			}
			if c.Organization == "" {
				c.Organization = saved.Organization
			}
		case errors.Is(err, os.ErrNotExist):
			gen := api.Credentials{User: c.User, Organization: c.Organization}
			if gen.User == "" {
				gen.User = randomSecret()
			}
			if gen.Organization == "" {
				gen.Organization = randomSecret()
			}
			if err := writeSecretsFile(path, gen); err != nil {
				return c, err
			}
			c = gen
			fmt.Fprintf(d.cfg.Out, "\npollwire generated its admin secrets (saved in %s, shown only this once):\n  Authorization: User %s, Organization %s\n\n", path, c.User, c.Organization)
		default:
			return c, err
		}
	}
	// The hashes let a restart tell an operator who changed a secret in the
	// environment that older clients will now be refused.
	for key, v := range map[string]string{metaUserHash: c.User, metaOrgHash: c.Organization} {
		sum := sha256.Sum256([]byte(v))
		prev, err := d.store.GetMeta(ctx, key)
		if err == nil && subtle.ConstantTimeCompare(prev, sum[:]) != 1 {
			d.cfg.Logger.Warn("an admin secret differs from the previous start; clients using the old one are refused", "secret", key)
		}
		if err := d.store.PutMeta(ctx, key, sum[:]); err != nil {
			return c, err
		}
	}
	return c, nil
}

func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
