package expert

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/transport"
)

// Names and subjects of the expert service. Solve requests and resent
// backwards go to a queue group, so that any instance may take them; a
// backward of a cached forward goes to the instance that ran it. A request
// larger than the server's max_payload first claims an instance through the
// queue group, then sends its chunks to that instance's own subject, so that
// every chunk lands in one place.
const (
	ServiceName     = "hcmoe-expert"
	ServiceVersion  = "0.1.0"
	QueueGroup      = "hcmoe"
	SubjectSolve    = "hcmoe.solve"
	SubjectBackward = "hcmoe.backward"
	SubjectClaim    = "hcmoe.claim"
)

// InstanceSubject is the subject of operation op ("solve" or "backward") on
// one instance.
func InstanceSubject(id, op string) string { return "hcmoe.x." + id + "." + op }

// Error codes sent in the micro error headers.
const (
	CodeBadRequest = "400" // the request does not decode
	CodeCacheMiss  = "404" // backward of a forward this instance does not hold
	CodeInvalid    = "422" // the problem or settings are invalid
	CodeFailed     = "500" // the solve or backward failed
	CodeDraining   = "503" // the instance is shutting down
)

// Config configures a Service.
type Config struct {
	ID          string // instance name; random when empty
	Concurrency int    // requests solved at once; default 1
	Cache       CacheLimits
	// Compression of replies; requests are decoded whatever they use.
	Compression transport.Compression
	Limits      transport.Limits
	Log         zerolog.Logger
}

// Service serves a Handler on NATS.
type Service struct {
	nc       *nats.Conn
	svc      micro.Service
	h        *Handler
	codec    *transport.Codec
	lim      transport.Limits
	reasm    *transport.Reassembler
	sem      chan struct{}
	wg       sync.WaitGroup
	draining atomic.Bool
	log      zerolog.Logger
	reg      *prometheus.Registry
	m        metrics
}

type metrics struct {
	requests   *prometheus.CounterVec
	errors     *prometheus.CounterVec
	seconds    *prometheus.HistogramVec
	iterations prometheus.Histogram
	bytesIn    prometheus.Counter
	bytesOut   prometheus.Counter
	cacheHits  prometheus.Counter
	cacheMiss  prometheus.Counter
	inFlight   prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry, cacheStats func() (int, int64)) metrics {
	m := metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hcmoe_expert_requests_total", Help: "Requests handled, by operation."}, []string{"op"}),
		errors:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hcmoe_expert_errors_total", Help: "Requests answered with an error, by operation and code."}, []string{"op", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hcmoe_expert_seconds", Help: "Seconds per solve or backward.",
			Buckets: prometheus.ExponentialBuckets(1e-3, 2, 16)}, []string{"op"}),
		iterations: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hcmoe_expert_solve_iterations", Help: "Levenberg–Marquardt steps per solve.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
		bytesIn:   prometheus.NewCounter(prometheus.CounterOpts{Name: "hcmoe_expert_bytes_in_total", Help: "Request bytes received."}),
		bytesOut:  prometheus.NewCounter(prometheus.CounterOpts{Name: "hcmoe_expert_bytes_out_total", Help: "Reply bytes sent."}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{Name: "hcmoe_expert_cache_hits_total", Help: "Backwards served from cached forward state."}),
		cacheMiss: prometheus.NewCounter(prometheus.CounterOpts{Name: "hcmoe_expert_cache_misses_total", Help: "Backwards whose forward state was not cached."}),
		inFlight:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "hcmoe_expert_in_flight", Help: "Requests being solved now."}),
	}
	cacheEntries := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hcmoe_expert_cache_entries", Help: "Forwards cached for a backward."},
		func() float64 { n, _ := cacheStats(); return float64(n) })
	cacheBytes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hcmoe_expert_cache_bytes", Help: "Bytes held by cached forwards."},
		func() float64 { _, b := cacheStats(); return float64(b) })
	reg.MustRegister(m.requests, m.errors, m.seconds, m.iterations, m.bytesIn, m.bytesOut, m.cacheHits, m.cacheMiss, m.inFlight, cacheEntries, cacheBytes)
	return m
}

// NewID returns a random instance name.
func NewID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// Serve registers the expert service on nc and starts serving.
func Serve(nc *nats.Conn, cfg Config) (*Service, error) {
	if cfg.ID == "" {
		cfg.ID = NewID()
	}
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	codec, err := transport.NewCodec(transport.Options{Compression: cfg.Compression})
	if err != nil {
		return nil, fmt.Errorf("expert %s: %w", cfg.ID, err)
	}
	s := &Service{nc: nc, h: NewHandler(cfg.ID, cfg.Cache), codec: codec, lim: cfg.Limits,
		reasm: transport.NewReassembler(transport.ReassemblerLimits{}),
		sem:   make(chan struct{}, cfg.Concurrency), log: cfg.Log.With().Str("expert", cfg.ID).Logger(),
		reg: prometheus.NewRegistry()}
	s.m = newMetrics(s.reg, s.h.CacheStats)
	svc, err := micro.AddService(nc, micro.Config{Name: ServiceName, Version: ServiceVersion,
		Description: "hcmoe local hard-constraint solves and their implicit backwards",
		Metadata:    map[string]string{"instance": cfg.ID}})
	if err != nil {
		codec.Close()
		return nil, fmt.Errorf("expert %s: %w", cfg.ID, err)
	}
	s.svc = svc
	eps := []struct {
		name, subject string
		queue         bool
		h             micro.Handler
	}{
		{"solve", SubjectSolve, true, s.endpoint("solve")},
		{"backward-any", SubjectBackward, true, s.endpoint("backward")},
		{"claim", SubjectClaim, true, micro.HandlerFunc(s.claim)},
		{"solve-instance", InstanceSubject(cfg.ID, "solve"), false, s.endpoint("solve")},
		{"backward", InstanceSubject(cfg.ID, "backward"), false, s.endpoint("backward")},
	}
	for _, e := range eps {
		opts := []micro.EndpointOpt{micro.WithEndpointSubject(e.subject)}
		if e.queue {
			opts = append(opts, micro.WithEndpointQueueGroup(QueueGroup))
		} else {
			opts = append(opts, micro.WithEndpointQueueGroupDisabled())
		}
		if err := svc.AddEndpoint(e.name, e.h, opts...); err != nil {
			svc.Stop()
			codec.Close()
			return nil, fmt.Errorf("expert %s: endpoint %s: %w", cfg.ID, e.name, err)
		}
	}
	s.log.Info().Int("concurrency", cfg.Concurrency).Msg("serving")
	return s, nil
}

// ID returns the instance name.
func (s *Service) ID() string { return s.h.ID() }

// Handler returns the handler the service runs.
func (s *Service) Handler() *Handler { return s.h }

func (s *Service) claim(req micro.Request) {
	if s.draining.Load() {
		req.Error(CodeDraining, "expert "+s.ID()+" is draining", nil)
		return
	}
	req.Respond([]byte(s.ID()))
}

// endpoint returns the handler of a solve or backward endpoint. The micro
// subscription delivers messages one at a time, so the handler only
// reassembles chunks and hands whole requests to a goroutine, blocking while
// Concurrency requests are already being solved.
func (s *Service) endpoint(op string) micro.HandlerFunc {
	return func(req micro.Request) {
		s.m.bytesIn.Add(float64(len(req.Data())))
		frame, err := s.reasm.Add(req.Data(), time.Now())
		if err != nil {
			s.fail(req, op, CodeBadRequest, err)
			return
		}
		if frame == nil {
			return // more chunks to come
		}
		if s.draining.Load() {
			s.fail(req, op, CodeDraining, fmt.Errorf("expert %s is draining", s.ID()))
			return
		}
		s.sem <- struct{}{}
		s.wg.Add(1)
		go func() {
			defer func() { <-s.sem; s.wg.Done() }()
			s.m.inFlight.Inc()
			defer s.m.inFlight.Dec()
			s.serve(op, req, frame)
		}()
	}
}

func (s *Service) serve(op string, req micro.Request, frame []byte) {
	s.m.requests.WithLabelValues(op).Inc()
	msg, err := s.codec.Unmarshal(frame, s.lim)
	if err != nil {
		code := CodeBadRequest
		if invalid(err) {
			code = CodeInvalid
		}
		s.fail(req, op, code, err)
		return
	}
	start := time.Now()
	ctx := context.Background()
	var reply transport.Message
	switch m := msg.(type) {
	case *transport.SolveRequest:
		if op != "solve" {
			s.fail(req, op, CodeBadRequest, fmt.Errorf("a %v on the %s endpoint", m.Kind(), op))
			return
		}
		rep, err := s.h.Solve(ctx, m)
		if err != nil {
			s.fail(req, op, codeOf(err), err)
			return
		}
		s.m.iterations.Observe(float64(rep.Result.Iterations))
		s.log.Debug().Str("key", m.Key).Stringer("status", rep.Result.Status).Int("iterations", rep.Result.Iterations).
			Float64("seconds", rep.Result.Seconds).Msg("solve")
		reply = rep
	case *transport.BackwardRequest:
		if op != "backward" {
			s.fail(req, op, CodeBadRequest, fmt.Errorf("a %v on the %s endpoint", m.Kind(), op))
			return
		}
		rep, err := s.h.Backward(ctx, m)
		if errors.Is(err, ErrCacheMiss) {
			s.m.cacheMiss.Inc()
			s.fail(req, op, CodeCacheMiss, err)
			return
		}
		if err != nil {
			s.fail(req, op, codeOf(err), err)
			return
		}
		if m.Problem == nil {
			s.m.cacheHits.Inc()
		}
		reply = rep
	default:
		s.fail(req, op, CodeBadRequest, fmt.Errorf("unexpected %v", msg.Kind()))
		return
	}
	s.m.seconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
	out, err := s.codec.Marshal(reply)
	if err != nil {
		s.fail(req, op, CodeFailed, err)
		return
	}
	if err := s.respond(req, out); err != nil {
		s.log.Warn().Err(err).Str("op", op).Msg("reply lost")
	}
}

// respond sends a reply frame, in chunks when it exceeds max_payload; the
// chunks go straight to the reply inbox, where the client reassembles them.
func (s *Service) respond(req micro.Request, frame []byte) error {
	parts, err := transport.Split(frame, int(s.nc.MaxPayload()))
	if err != nil {
		return err
	}
	s.m.bytesOut.Add(float64(len(frame)))
	if len(parts) == 1 {
		return req.Respond(frame)
	}
	for _, p := range parts {
		if err := s.nc.Publish(req.Reply(), p); err != nil {
			return err
		}
	}
	return nil
}

func codeOf(err error) string {
	if invalid(err) || errors.Is(err, constraint.ErrNotConverged) {
		return CodeInvalid
	}
	return CodeFailed
}

// invalid reports an error about the problem itself rather than the solve.
func invalid(err error) bool {
	return errors.Is(err, constraint.ErrShape) || errors.Is(err, constraint.ErrNonFinite) || errors.Is(err, constraint.ErrEmpty)
}

func (s *Service) fail(req micro.Request, op, code string, err error) {
	s.m.errors.WithLabelValues(op, code).Inc()
	s.log.Warn().Err(err).Str("op", op).Str("code", code).Msg("request failed")
	desc := err.Error()
	if len(desc) > 1024 {
		desc = desc[:1024]
	}
	if rerr := req.Error(code, desc, nil); rerr != nil {
		s.log.Warn().Err(rerr).Msg("error reply lost")
	}
}

// Ready reports whether the service takes requests: connected and not
// draining.
func (s *Service) Ready() bool {
	return !s.draining.Load() && s.nc.IsConnected() && !s.svc.Stopped()
}

// Drain stops taking requests, waits for those in flight (or ctx), and
// closes the codec. It does not close the connection.
func (s *Service) Drain(ctx context.Context) error {
	s.draining.Store(true)
	err := s.svc.Stop()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("expert %s: drain: %w with requests in flight", s.ID(), ctx.Err())
	}
	s.codec.Close()
	s.log.Info().Msg("drained")
	return err
}

// HTTPHandler serves /healthz (the process runs), /readyz (Ready) and
// /metrics (Prometheus).
func (s *Service) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return mux
}
