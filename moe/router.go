// Package moe is the mixture-of-experts router: it splits a grid among
// experts, builds each expert's local problem from a basis, dispatches the
// problems concurrently, gathers the coefficients and assembles the solution,
// and runs the backward through the same experts.
package moe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hcmoe/hcmoe/expert"
	"github.com/hcmoe/hcmoe/transport"
)

// Expert solves local problems: in this process (Local), or over NATS
// (*expert.Client satisfies it).
type Expert interface {
	Solve(ctx context.Context, req *transport.SolveRequest) (*transport.SolveReply, error)
	// Backward runs the backward of a forward. instance names the expert
	// that ran it (SolveReply.Expert); "" means any expert, in which case
	// the request must carry the full forward.
	Backward(ctx context.Context, instance string, req *transport.BackwardRequest) (*transport.BackwardReply, error)
}

// ErrForwardLost says that the expert holding a forward's state is gone or
// no longer has it; the router then resends the full forward to any expert.
// It is expert.ErrCacheMiss, which both kinds of Expert wrap.
var ErrForwardLost = expert.ErrCacheMiss

// Local is an in-process expert.
type Local struct {
	H *expert.Handler
}

// NewLocal returns an in-process expert named id with default cache limits.
func NewLocal(id string) *Local { return &Local{H: expert.NewHandler(id, expert.CacheLimits{})} }

func (l *Local) Solve(ctx context.Context, req *transport.SolveRequest) (*transport.SolveReply, error) {
	return l.H.Solve(ctx, req)
}

func (l *Local) Backward(ctx context.Context, instance string, req *transport.BackwardRequest) (*transport.BackwardReply, error) {
	if instance != "" && instance != l.H.ID() && req.Problem == nil {
		return nil, fmt.Errorf("expert %s: forward ran on %s: %w", l.H.ID(), instance, ErrForwardLost)
	}
	return l.H.Backward(ctx, req)
}

// Router dispatches requests over a pool of experts, with a deadline per
// call and retries with backoff on another member of the pool.
type Router struct {
	Experts []Expert
	Timeout time.Duration // per call; 0 means no deadline beyond ctx
	Retries int           // extra attempts after a failed call
	Backoff time.Duration // first pause between attempts, doubled each time
}

// call runs f against pool member (first+attempt) mod len, retrying
// failures that are not the caller's cancellation.
func (r *Router) call(ctx context.Context, first int, what string, f func(ctx context.Context, e Expert) error) (int, error) {
	if len(r.Experts) == 0 {
		return 0, fmt.Errorf("moe: %s: no experts", what)
	}
	backoff := r.Backoff
	var last error
	for attempt := 0; attempt <= r.Retries; attempt++ {
		if attempt > 0 {
			if backoff > 0 {
				select {
				case <-ctx.Done():
					return 0, fmt.Errorf("moe: %s: %w (last error: %v)", what, ctx.Err(), last)
				case <-time.After(backoff):
				}
				backoff *= 2
			}
		}
		member := (first + attempt) % len(r.Experts)
		e := r.Experts[member]
		cctx, cancel := ctx, context.CancelFunc(func() {})
		if r.Timeout > 0 {
			cctx, cancel = context.WithTimeout(ctx, r.Timeout)
		}
		err := f(cctx, e)
		cancel()
		if err == nil {
			return member, nil
		}
		last = err
		if ctx.Err() != nil {
			return 0, fmt.Errorf("moe: %s: %w", what, err)
		}
	}
	return 0, fmt.Errorf("moe: %s: failed after %d attempts: %w", what, r.Retries+1, last)
}

// SolveAll dispatches every request concurrently; request k starts on pool
// member k mod len. It returns the forwards in request order, or every
// error joined after all calls have ended.
func (r *Router) SolveAll(ctx context.Context, reqs []*transport.SolveRequest) ([]Forward, error) {
	out := make([]Forward, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for k, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rep *transport.SolveReply
			member, err := r.call(ctx, k, fmt.Sprintf("expert %d solve", k), func(ctx context.Context, e Expert) error {
				var err error
				rep, err = e.Solve(ctx, req)
				return err
			})
			out[k], errs[k] = Forward{Request: req, Reply: rep, Member: member}, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Forward pairs a solve request with its reply, for the backward.
type Forward struct {
	Request *transport.SolveRequest
	Reply   *transport.SolveReply
	Member  int // the pool member that answered
}

// BackwardAll runs the backward of every forward concurrently, first on the
// expert that ran it; when that one lost the state, it resends the full
// forward to any member.
func (r *Router) BackwardAll(ctx context.Context, fwd []Forward, reqs []*transport.BackwardRequest) ([]*transport.BackwardReply, error) {
	out := make([]*transport.BackwardReply, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for k, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := fwd[k]
			inst := f.Reply.Expert
			full := *req
			full.Problem, full.Result = f.Request.Problem, &f.Reply.Result
			_, errs[k] = r.call(ctx, f.Member, fmt.Sprintf("expert %d backward", k), func(ctx context.Context, e Expert) error {
				rep, err := e.Backward(ctx, inst, req)
				if errors.Is(err, ErrForwardLost) {
					// Not a failure of this attempt: resend the whole
					// forward, to this member, at once.
					inst = ""
					rep, err = e.Backward(ctx, "", &full)
				}
				out[k] = rep
				return err
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
