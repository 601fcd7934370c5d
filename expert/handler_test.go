package expert

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/internal/testproblem"
	"github.com/hcmoe/hcmoe/transport"
)

// The forward cache is bounded in bytes (least recently used goes first)
// and in age, and a miss is ErrCacheMiss unless the request carries the
// forward.
func TestHandlerCache(t *testing.T) {
	ctx := context.Background()
	p := testproblem.DiffusionSorption(300, 3, 3, 1)
	res, err := constraint.Solve(ctx, p, constraint.Settings{MaxIter: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	one := problemBytes(p, res)
	h := NewHandler("h", CacheLimits{MaxBytes: 2*one + one/2, TTL: time.Minute})
	now := time.Unix(1000, 0)
	h.now = func() time.Time { return now }
	solve := func(key string) {
		t.Helper()
		if _, err := h.Solve(ctx, &transport.SolveRequest{Key: key, Problem: p, Keep: true, Settings: constraint.Settings{MaxIter: 5}}); err != nil {
			t.Fatal(err)
		}
	}
	back := func(key string) error {
		_, err := h.Backward(ctx, &transport.BackwardRequest{Key: key, OmegaBar: make([]float64, p.N),
			Settings: constraint.BackwardSettings{AllowUnconverged: true}})
		return err
	}
	solve("a")
	solve("b")
	if err := back("a"); err != nil { // a is now the most recent
		t.Fatal(err)
	}
	solve("c") // over the byte bound: b, the least recently used, goes
	if err := back("b"); !errors.Is(err, ErrCacheMiss) {
		t.Fatalf("evicted entry: %v, want ErrCacheMiss", err)
	}
	if err := back("a"); err != nil {
		t.Fatalf("recent entry evicted: %v", err)
	}
	if n, b := h.CacheStats(); n != 2 || b != 2*one {
		t.Fatalf("cache holds %d entries, %d bytes; want 2, %d", n, b, 2*one)
	}
	now = now.Add(2 * time.Minute)
	if err := back("c"); !errors.Is(err, ErrCacheMiss) {
		t.Fatalf("expired entry: %v, want ErrCacheMiss", err)
	}
	// A resend with the forward works on any handler.
	other := NewHandler("other", CacheLimits{})
	if _, err := other.Backward(ctx, &transport.BackwardRequest{Key: "x", OmegaBar: make([]float64, p.N), Problem: p, Result: res,
		Settings: constraint.BackwardSettings{AllowUnconverged: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Backward(ctx, &transport.BackwardRequest{Key: "x", OmegaBar: make([]float64, p.N), Problem: p}); err == nil {
		t.Fatal("problem without its result accepted")
	}
	if _, err := other.Solve(ctx, &transport.SolveRequest{Key: "empty"}); err == nil {
		t.Fatal("request without a problem accepted")
	}
}
