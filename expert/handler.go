// Package expert is the expert side of hcmoe: a Handler that solves local
// problems and their implicit backwards, caching forward state so that a
// backward needs only the cotangent, and the NATS service that exposes a
// Handler to coordinators.
package expert

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/transport"
)

// ErrCacheMiss is returned by Backward when the forward state of a key is not
// cached (never solved here, evicted, or expired) and the request does not
// carry the full forward. The coordinator then resends it with the problem.
var ErrCacheMiss = errors.New("forward state not cached")

// CacheLimits bound the forward-state cache.
type CacheLimits struct {
	MaxBytes int64         // total bytes of cached problems; default 1 GiB
	TTL      time.Duration // age after which an entry is dropped; default 10 min
}

// Handler solves requests in the calling goroutine. It is safe for
// concurrent use; limiting concurrency is the caller's business.
type Handler struct {
	id    string
	cache *cache
	now   func() time.Time
}

// NewHandler returns a handler that reports id as the expert instance.
func NewHandler(id string, lim CacheLimits) *Handler {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = 1 << 30
	}
	if lim.TTL <= 0 {
		lim.TTL = 10 * time.Minute
	}
	return &Handler{id: id, cache: newCache(lim), now: time.Now}
}

// ID returns the instance name given to NewHandler.
func (h *Handler) ID() string { return h.id }

// CacheStats reports the cache's entries and bytes.
func (h *Handler) CacheStats() (entries int, bytes int64) { return h.cache.stats() }

// Solve runs constraint.Solve and, when the request asks, caches the forward.
func (h *Handler) Solve(ctx context.Context, req *transport.SolveRequest) (*transport.SolveReply, error) {
	if req.Problem == nil {
		return nil, fmt.Errorf("expert %s: solve %q: no problem", h.id, req.Key)
	}
	s := req.Settings
	s.Monitor = nil
	res, err := constraint.Solve(ctx, req.Problem, s, req.Warm)
	if err != nil {
		return nil, fmt.Errorf("expert %s: solve %q: %w", h.id, req.Key, err)
	}
	if req.Keep && req.Key != "" {
		h.cache.put(req.Key, req.Problem, res, h.now())
	}
	return &transport.SolveReply{Key: req.Key, Expert: h.id, Result: *res}, nil
}

// Backward differentiates a cached forward, or the forward the request
// carries.
func (h *Handler) Backward(ctx context.Context, req *transport.BackwardRequest) (*transport.BackwardReply, error) {
	p, res := req.Problem, req.Result
	if p == nil {
		var ok bool
		p, res, ok = h.cache.get(req.Key, h.now())
		if !ok {
			return nil, fmt.Errorf("expert %s: backward %q: %w", h.id, req.Key, ErrCacheMiss)
		}
	} else if res == nil {
		return nil, fmt.Errorf("expert %s: backward %q: problem sent without its forward result", h.id, req.Key)
	}
	cot, err := constraint.Backward(ctx, p, res, req.OmegaBar, req.Settings)
	if err != nil {
		return nil, fmt.Errorf("expert %s: backward %q: %w", h.id, req.Key, err)
	}
	return &transport.BackwardReply{Key: req.Key, Expert: h.id, Cotangents: *cot}, nil
}

// Forget drops a cached forward, for callers that know it is done with.
func (h *Handler) Forget(key string) { h.cache.remove(key) }

// cache is a least-recently-used map from key to forward state, bounded in
// bytes and age.
type cache struct {
	mu    sync.Mutex
	lim   CacheLimits
	ll    *list.List // front = most recent
	items map[string]*list.Element
	bytes int64
}

type entry struct {
	key   string
	p     *constraint.Problem
	res   *constraint.Result
	size  int64
	added time.Time
}

func newCache(lim CacheLimits) *cache {
	return &cache{lim: lim, ll: list.New(), items: make(map[string]*list.Element)}
}

// problemBytes estimates the memory a cached forward holds.
func problemBytes(p *constraint.Problem, res *constraint.Result) int64 {
	n := int64(len(res.Omega))
	for i := range p.Blocks {
		b := &p.Blocks[i]
		for _, t := range b.Terms {
			n += int64(len(t))
		}
		n += int64(len(b.Aux) + len(b.Weights))
	}
	if p.Start != nil {
		n += int64(len(p.Start.Basis) + len(p.Start.Target))
	}
	return 8*n + 256
}

func (c *cache) put(key string, p *constraint.Problem, res *constraint.Result, now time.Time) {
	size := problemBytes(p, res)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.drop(e)
	}
	if size > c.lim.MaxBytes {
		return // larger than the whole cache: the backward will resend
	}
	c.items[key] = c.ll.PushFront(&entry{key: key, p: p, res: res, size: size, added: now})
	c.bytes += size
	for c.bytes > c.lim.MaxBytes {
		c.drop(c.ll.Back())
	}
}

func (c *cache) get(key string, now time.Time) (*constraint.Problem, *constraint.Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	e, ok := c.items[key]
	if !ok {
		return nil, nil, false
	}
	c.ll.MoveToFront(e)
	en := e.Value.(*entry)
	return en.p, en.res, true
}

func (c *cache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.drop(e)
	}
}

func (c *cache) stats() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.bytes
}

// expire drops entries older than the TTL, scanning from the least recent.
func (c *cache) expire(now time.Time) {
	for e := c.ll.Back(); e != nil; {
		prev := e.Prev()
		if now.Sub(e.Value.(*entry).added) > c.lim.TTL {
			c.drop(e)
		}
		e = prev
	}
}

func (c *cache) drop(e *list.Element) {
	en := e.Value.(*entry)
	c.ll.Remove(e)
	delete(c.items, en.key)
	c.bytes -= en.size
}
