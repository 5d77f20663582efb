// Command pollwire is the connector-events runtime: `pollwire serve` runs the
// daemon, `pollwire validate FILE` checks an instance.json offline.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // ${dateTimeZone:…} and date time zones work without the host's zoneinfo

	"github.com/pollwire/pollwire/connectors/registry"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/daemon"
	"github.com/pollwire/pollwire/runtime/demo"
)

const usage = `pollwire — connector events: polls SaaS APIs and delivers every change to your callback.

Usage:
  pollwire demo [--duration 20s] the main job on embedded defaults: vendor simulator + daemon + callback sink
  pollwire sim CONNECTOR [--listen ADDR]  run a vendor simulator on its own (closeio, hubspot, salesforce, rest)
  pollwire serve [flags]       run the daemon (admin API under /elements/api-v2)
  pollwire validate FILE...    check instance.json files offline; exit 1 on error
  pollwire bench [flags]       measure the pipeline against the rest simulator on loopback (see BENCHMARKS.md)

Run "pollwire COMMAND -h" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "demo":
		return runDemo(args[1:], stdout, stderr)
	case "sim":
		return runSim(args[1:], stdout, stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "pollwire: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", envOr("POLLWIRE_LISTEN", daemon.DefaultListen), "admin API address (POLLWIRE_LISTEN)")
	data := fs.String("data", envOr("POLLWIRE_DATA", daemon.DefaultDataDir), "data directory (POLLWIRE_DATA)")
	allowPrivate := fs.Bool("allow-private-callbacks", envBool("POLLWIRE_ALLOW_PRIVATE_CALLBACKS"), "allow callbacks to loopback/private addresses (POLLWIRE_ALLOW_PRIVATE_CALLBACKS)")
	publicURL := fs.String("public-url", os.Getenv("POLLWIRE_PUBLIC_URL"), "how vendors reach this pollwire for webhooks, e.g. https://events.example.com (POLLWIRE_PUBLIC_URL); default http://<listen>")
	retention := fs.Duration("event-retention", envDuration("POLLWIRE_EVENT_RETENTION", 7*24*time.Hour), "how long delivered events stay in the event log (POLLWIRE_EVENT_RETENTION)")
	logLevel := fs.String("log-level", envOr("POLLWIRE_LOG_LEVEL", "info"), "debug, info, warn or error (POLLWIRE_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "pollwire serve:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := daemon.Start(ctx, daemon.Config{
		Listen:                *listen,
		DataDir:               *data,
		UserSecret:            os.Getenv("POLLWIRE_USER_SECRET"),
		OrgSecret:             os.Getenv("POLLWIRE_ORG_SECRET"),
		MasterKey:             os.Getenv("POLLWIRE_MASTER_KEY"),
		AllowPrivateCallbacks: *allowPrivate,
		EventRetention:        *retention,
		PublicURL:             *publicURL,
		Logger:                logger,
		Out:                   stdout,
	})
	if err != nil {
		logger.Error("pollwire could not start", "err", err)
		return 1
	}
	if err := d.Wait(ctx); err != nil {
		logger.Error("pollwire stopped with an error", "err", err)
		return 1
	}
	logger.Info("pollwire stopped")
	return 0
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(key)); err == nil && d > 0 {
		return d
	}
	return def
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 0, "stop after this long (default: until Ctrl-C)")
	rate := fs.Float64("rate", 5, "vendor changes per second")
	connector := fs.String("connector", demo.DefaultConnector, "which vendor simulator to poll: "+strings.Join(demo.Connectors(), ", "))
	logLevel := fs.String("log-level", "warn", "daemon log level")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "pollwire demo:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo.Run(ctx, demo.Options{Duration: *duration, Rate: *rate, Connector: *connector, Out: stdout, Logger: logger}); err != nil {
		fmt.Fprintln(stderr, "pollwire demo:", err)
		return 1
	}
	return 0
}

func envBool(key string) bool {
	b, _ := strconv.ParseBool(strings.TrimSpace(os.Getenv(key)))
	return b
}

func validate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: pollwire validate FILE...")
		return 2
	}
	cat := registry.Default()
	status := 0
	for _, path := range fs.Args() {
		body, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
			status = 1
			continue
		}
		err = validateBody(body, cat)
		var ve *instances.ValidationError
		switch {
		case err == nil:
			fmt.Fprintf(stdout, "%s: ok\n", path)
		case errors.As(err, &ve):
			for _, fe := range ve.Errors {
				fmt.Fprintf(stderr, "%s: %s: %s\n", path, orBody(fe.Path), fe.Message)
			}
			status = 1
		default:
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
			status = 1
		}
	}
	return status
}

func orBody(p string) string {
	if p == "" {
		return "(body)"
	}
	return p
}
