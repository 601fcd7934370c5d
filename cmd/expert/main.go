// Command expert serves hcmoe's local hard-constraint solves over NATS.
//
//	expert -nats URL [-concurrency N] [-http ADDR] [-id NAME]
//
// It registers the NATS micro service hcmoe-expert, solves requests from any
// coordinator, caches forward state for their backwards, and serves
// /healthz, /readyz and Prometheus /metrics on -http. SIGTERM or SIGINT
// drains it: it takes no new requests and finishes those in flight.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/hcmoe/hcmoe/expert"
	"github.com/hcmoe/hcmoe/transport"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "expert:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("expert", flag.ContinueOnError)
	url := fs.String("nats", "", "NATS server URL (required)")
	conc := fs.Int("concurrency", 1, "requests solved at once")
	httpAddr := fs.String("http", "", "address for /healthz, /readyz and /metrics (e.g. :8080); none when empty")
	id := fs.String("id", "", "instance name (random when empty)")
	comp := fs.String("compression", "zstd", "reply compression: zstd, s2 or none")
	cacheBytes := fs.Int64("cache-bytes", 1<<30, "bytes of forward state kept for backwards")
	cacheTTL := fs.Duration("cache-ttl", 10*time.Minute, "age after which cached forward state is dropped")
	drain := fs.Duration("drain-timeout", 50*time.Second, "longest wait for in-flight requests on shutdown")
	jsonLogs := fs.Bool("json-logs", false, "log JSON lines even on a terminal")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" {
		return errors.New("-nats URL is required")
	}
	if *conc < 1 {
		return fmt.Errorf("-concurrency %d: must be at least 1", *conc)
	}
	c, err := transport.ParseCompression(*comp)
	if err != nil {
		return err
	}
	log := newLogger(*jsonLogs)

	nc, err := nats.Connect(*url, nats.Name("hcmoe-expert"), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(true), // start before the server: make demo and pods do
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn().Err(err).Msg("disconnected from NATS") }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info().Str("url", nc.ConnectedUrl()).Msg("reconnected to NATS") }))
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", *url, err)
	}
	defer nc.Close()
	svc, err := expert.Serve(nc, expert.Config{ID: *id, Concurrency: *conc, Compression: c,
		Cache: expert.CacheLimits{MaxBytes: *cacheBytes, TTL: *cacheTTL}, Log: log})
	if err != nil {
		return err
	}
	var srv *http.Server
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return fmt.Errorf("-http %s: %w", *httpAddr, err)
		}
		srv = &http.Server{Handler: svc.HTTPHandler(), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		log.Info().Str("addr", ln.Addr().String()).Msg("http")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s := <-sig
	log.Info().Stringer("signal", s).Msg("draining")
	ctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	err = svc.Drain(ctx)
	if srv != nil {
		srv.Shutdown(ctx)
	}
	if derr := nc.Drain(); err == nil {
		err = derr
	}
	return err
}

// newLogger logs human-readable lines on a terminal and JSON otherwise.
func newLogger(json bool) zerolog.Logger {
	if fi, err := os.Stderr.Stat(); !json && err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
	}
	return zerolog.New(os.Stderr).With().Timestamp().Logger()
}
