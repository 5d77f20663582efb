package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/pollwire/pollwire/connectors/closeio"
	"github.com/pollwire/pollwire/connectors/hubspot"
	"github.com/pollwire/pollwire/connectors/rest"
	"github.com/pollwire/pollwire/connectors/salesforce"
)

// simulators are the vendor simulators `pollwire sim` can run, by connector key.
var simulators = map[string]func() (http.Handler, string){
	"closeio": func() (http.Handler, string) {
		return closeio.NewSimulator(closeio.SimOptions{RateLimit: closeio.DefaultRateLimit}),
			"Basic " + closeio.DefaultSimAPIKey + ": (empty password); GET /lead/ /opportunity/ /activity/ /event/, POST /data/search/, POST/PUT/DELETE /{lead|contact|opportunity|activity}/[{id}/] (also under /api/v1)"
	},
	"hubspot": func() (http.Handler, string) {
		return hubspot.NewSimulator(hubspot.SimOptions{PrivateAppToken: "sim-token"}),
			"Bearer sim-token; POST /crm/v3/objects/{contacts|companies|deals|calls}[/search]; PATCH/DELETE /crm/v3/objects/{type}/{id}; GET /crm/v3/objects/{type}?archived=true"
	},
	"salesforce": func() (http.Handler, string) {
		// A key pair for this run: the simulator verifies JWT assertions
		// with the public half; the private half goes in instance.json.
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		sim := salesforce.NewSimulator(salesforce.SimOptions{ConsumerKey: "sim-consumer-key", Username: "sim@pollwire.example", PublicKey: &key.PublicKey})
		return sim, "POST /services/oauth2/token (JWT bearer: iss sim-consumer-key, sub sim@pollwire.example, aud this URL); GET /services/data/v59.0/query?q=SOQL; /sobjects/{Type}/[{Id}], /sobjects/{Type}/deleted/\n" +
			"  set salesforce.login.url to this URL, oauth.api.key sim-consumer-key, salesforce.username sim@pollwire.example, oauth.private.key:\n" + string(pemKey)
	},
	"rest": func() (http.Handler, string) {
		return rest.NewSimulator(rest.SimOptions{}), "GET /{plain|offset|page|cursor|next|link}/{resource}?updated_since=…; POST /{resource}; DELETE /{resource}/{id}"
	},
}

func runSim(args []string, stdout, stderr io.Writer) int {
	var names []string
	for k := range simulators {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "usage: pollwire sim CONNECTOR [--listen ADDR]; connectors: %s\n", strings.Join(names, ", "))
		return 2
	}
	mk, ok := simulators[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "pollwire sim: no simulator for %q; there are: %s\n", args[0], strings.Join(names, ", "))
		return 2
	}
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "address to serve the simulator on")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	h, routes := mk()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "pollwire sim:", err)
		return 1
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "%s simulator on http://%s\n  %s\n", args[0], ln.Addr(), routes)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "pollwire sim:", err)
		return 1
	}
	return 0
}
