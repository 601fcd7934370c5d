package job

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/hcmoe/hcmoe/config"
	"github.com/hcmoe/hcmoe/expert"
	"github.com/hcmoe/hcmoe/moe"
	"github.com/hcmoe/hcmoe/transport"
)

// Env holds the command-line choices that override the config.
type Env struct {
	// NATSURL overrides transport.nats_url; empty keeps the config's.
	NATSURL string
	// Experts overrides transport.local_experts when ≥ 0: the number of
	// in-process experts to start.
	Experts int
	Out     string
	Log     zerolog.Logger
	// Listen, when set, is the loopback port of the embedded server, so
	// that expert processes started separately can join it.
	Listen int
	// MinExperts is how many experts must answer before work starts;
	// default 1.
	MinExperts int
	// Checkpoint, when set, makes solve use the trained network's basis.
	Checkpoint string
}

// Cluster is a NATS connection with experts behind it.
type Cluster struct {
	Router   *moe.Router
	URL      string
	Embedded bool
	Local    int // in-process experts started here
	closers  []func()
}

// Close stops the in-process experts, the connection and, if embedded, the
// server, in that order.
func (c *Cluster) Close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
	c.closers = nil
}

// Connect brings up the experts of a run. With no NATS URL it starts an
// embedded server on loopback; it then starts the in-process experts
// (transport.local_experts, or env.Experts) connected through the server,
// and waits, up to transport.timeout, until at least one expert answers.
func Connect(ctx context.Context, cfg *config.Config, env Env) (_ *Cluster, err error) {
	c := &Cluster{URL: cfg.Transport.NATSURL}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if env.NATSURL != "" {
		c.URL = env.NATSURL
	}
	local := cfg.Transport.LocalExperts
	if env.Experts >= 0 {
		local = env.Experts
	}
	if c.URL == "" {
		port := env.Listen
		if port == 0 {
			port = -1 // a free one
		}
		ns, err := transport.EmbeddedAt(port, int32(cfg.Transport.MaxPayload))
		if err != nil {
			return nil, err
		}
		c.closers = append(c.closers, func() { ns.Shutdown(); ns.WaitForShutdown() })
		c.URL, c.Embedded = ns.ClientURL(), true
		if local == 0 && env.Listen == 0 {
			return nil, errors.New("transport: an embedded server on a random port needs local_experts ≥ 1 (or -experts N, or -listen PORT for separate experts): nothing else can reach it")
		}
	}
	comp, err := transport.ParseCompression(cfg.Transport.Compression)
	if err != nil {
		return nil, err
	}
	for i := range local {
		nc, err := nats.Connect(c.URL, nats.Name(fmt.Sprintf("hcmoe-local-expert-%d", i)), nats.MaxReconnects(-1))
		if err != nil {
			return nil, fmt.Errorf("local expert %d: connecting to %s: %w", i, c.URL, err)
		}
		svc, err := expert.Serve(nc, expert.Config{ID: fmt.Sprintf("local-%d-%s", i, expert.NewID()), Compression: comp, Log: env.Log})
		if err != nil {
			nc.Close()
			return nil, err
		}
		c.closers = append(c.closers, func() {
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			svc.Drain(dctx)
			nc.Close()
		})
	}
	c.Local = local
	nc, err := nats.Connect(c.URL, nats.Name("hcmoe-coordinator"), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", c.URL, err)
	}
	c.closers = append(c.closers, nc.Close)
	client, err := expert.NewClient(nc, transport.Options{Compression: comp}, transport.Limits{})
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, func() { client.Close() })
	wctx, cancel := context.WithTimeout(ctx, cfg.Transport.Timeout)
	defer cancel()
	want := max(env.MinExperts, 1)
	n, err := expert.WaitFor(wctx, nc, want)
	if err != nil {
		return nil, fmt.Errorf("%d of %d experts answered on %s within %v: %w", n, want, c.URL, cfg.Transport.Timeout, err)
	}
	env.Log.Info().Str("nats", c.URL).Bool("embedded", c.Embedded).Int("local_experts", local).Int("experts_seen", n).Msg("experts ready")
	c.Router = &moe.Router{Experts: []moe.Expert{client}, Timeout: cfg.Transport.Timeout, Retries: cfg.Transport.Retries, Backoff: 100 * time.Millisecond}
	return c, nil
}
