package expert_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/expert"
	"github.com/hcmoe/hcmoe/internal/testproblem"
	"github.com/hcmoe/hcmoe/transport"
)

// BenchmarkCall compares one expert call over NATS (embedded server on
// loopback, the expert service in this process, zstd) with the same solve
// called in process, on the diffusion-sorption problem of the core
// benchmark (21,224 rows). The ratio is what the wire costs.
func BenchmarkCall(b *testing.B) {
	for _, comp := range []transport.Compression{transport.CompressZstd, transport.CompressS2, transport.CompressNone} {
		b.Run(comp.String(), func(b *testing.B) { benchCall(b, comp) })
	}
}

func benchCall(b *testing.B, comp transport.Compression) {
	ns, err := transport.Embedded(0)
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Shutdown()
	snc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer snc.Close()
	svc, err := expert.Serve(snc, expert.Config{ID: "bench", Compression: comp})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Drain(context.Background())
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	c, err := expert.NewClient(nc, transport.Options{Compression: comp}, transport.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, d := range []int{4, 8} {
		p := testproblem.DiffusionSorption(20000, d, d, 1)
		req := &transport.SolveRequest{Key: "bench", Problem: p, Keep: true,
			Settings: constraint.Settings{GradTol: 1e-8, StepTol: 1e-8, CostTol: 1e-8}}
		local := expert.NewHandler("local", expert.CacheLimits{})
		var inproc, wire time.Duration
		b.Run(fmt.Sprintf("N=%d/in-process", p.N), func(b *testing.B) {
			for b.Loop() {
				if _, err := local.Solve(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
			inproc = b.Elapsed() / time.Duration(b.N)
		})
		b.Run(fmt.Sprintf("N=%d/nats", p.N), func(b *testing.B) {
			for b.Loop() {
				if _, err := c.Solve(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
			wire = b.Elapsed() / time.Duration(b.N)
			if inproc > 0 {
				b.ReportMetric(float64(wire)/float64(inproc), "x-in-process")
			}
		})
	}
}
