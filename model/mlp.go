package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// Activation selects the nonlinearity between the dense layers of an MLP.
type Activation int

const (
	// ActGELU is the exact (erf) Gaussian error linear unit, GELU.
	ActGELU Activation = iota
	// ActTanh is the hyperbolic tangent.
	ActTanh
)

// String returns "gelu" or "tanh".
func (a Activation) String() string {
	switch a {
	case ActGELU:
		return "gelu"
	case ActTanh:
		return "tanh"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// ParseActivation returns the Activation named "gelu" or "tanh".
func ParseActivation(name string) (Activation, error) {
	switch name {
	case "gelu":
		return ActGELU, nil
	case "tanh":
		return ActTanh, nil
	}
	return 0, fmt.Errorf("model: unknown activation %q (want gelu or tanh)", name)
}

func (a Activation) valid() bool { return a == ActGELU || a == ActTanh }

// apply returns σ(z).
func (a Activation) apply(z float64) float64 {
	if a == ActTanh {
		return math.Tanh(z)
	}
	return GELU(z)
}

// grad returns σ'(z) given z and y = σ(z); tanh reuses y, which saves a
// second transcendental per unit in the backward pass.
func (a Activation) grad(z, y float64) float64 {
	if a == ActTanh {
		return 1 - y*y
	}
	return GELUGrad(z)
}

// Chunking of the point axis. The chunk boundaries depend only on the
// number of points, never on GOMAXPROCS, and per-chunk parameter
// gradients are added in chunk order, so Forward and Backward give the
// same bits on any machine size. mlpMaxChunks bounds the memory of the
// per-chunk gradient buffers (mlpMaxChunks copies of the parameters);
// mlpMinChunkPoints keeps chunks big enough to amortise the goroutine cost.
const (
	mlpMaxChunks      = 32
	mlpMinChunkPoints = 16
)

// MLP is a fully connected network applied independently to each of P
// points: Out = W_L σ(… σ(W_1 x + b_1) …) + b_L, with σ between the
// layers and none after the last, so outputs are unbounded as basis
// values must be.
//
// Inputs are P×In and outputs P×Out, both row-major, where P is
// len(x)/In and may change from call to call. Each row of the input
// holds one point's features, typically its grid coordinates, the PDE
// parameters and features of the initial condition.
//
// Layer l has a weight "mlp.l<l>.w" of shape [in, out] (row-major, so a
// point's pre-activation is z = x·W + b) and a bias "mlp.l<l>.b" of
// shape [out].
//
// An MLP caches the last Forward for Backward and is not safe for
// concurrent use; it runs its own goroutines internally.
type MLP struct {
	sizes  []int
	act    Activation
	w, b   []*Param
	params []*Param
	nparam int // total number of scalar parameters

	// Cache of the last Forward: the input and, per hidden layer, the
	// pre-activations z and activations y (each P×width).
	p    int
	x    []float64
	z, y [][]float64

	// partial holds one gradient buffer of nparam values per chunk,
	// kept between calls to avoid reallocating it every step.
	partial [][]float64
}

// NewMLP returns an MLP with layer widths sizes (input, hidden..., output;
// at least two entries, all positive) and activation act, initialised from
// rng.
//
// Weights are drawn from N(0, s²) and biases are zero. For GELU,
// s² = 2/in (He et al. 2015), since like ReLU it passes about half of a
// symmetric input's second moment; for tanh, s² = 2/(in+out) (Glorot and
// Bengio 2010), which is unit gain near the origin. The last layer uses
// the Glorot variance in both cases because no activation follows it.
// Draws are made layer by layer, weights in row-major order, so a seed
// fixes the network.
func NewMLP(sizes []int, act Activation, rng *rand.Rand) (*MLP, error) {
	if len(sizes) < 2 {
		return nil, fmt.Errorf("model: MLP needs at least input and output sizes, got %v", sizes)
	}
	for i, s := range sizes {
		if s <= 0 {
			return nil, fmt.Errorf("model: MLP layer size %d is %d, want > 0", i, s)
		}
	}
	if !act.valid() {
		return nil, fmt.Errorf("model: MLP: invalid activation %v", act)
	}
	if rng == nil {
		return nil, errors.New("model: MLP: nil random source")
	}
	m := &MLP{sizes: append([]int(nil), sizes...), act: act}
	nl := len(sizes) - 1
	for l := range nl {
		in, out := sizes[l], sizes[l+1]
		w := NewParam(fmt.Sprintf("mlp.l%d.w", l), in, out)
		b := NewParam(fmt.Sprintf("mlp.l%d.b", l), out)
		std := math.Sqrt(2 / float64(in+out))
		if act == ActGELU && l < nl-1 {
			std = math.Sqrt(2 / float64(in))
		}
		for i := range w.Value {
			w.Value[i] = std * rng.NormFloat64()
		}
		m.w = append(m.w, w)
		m.b = append(m.b, b)
		m.params = append(m.params, w, b)
		m.nparam += len(w.Value) + len(b.Value)
	}
	return m, nil
}

// Sizes returns the layer widths, input first.
func (m *MLP) Sizes() []int { return append([]int(nil), m.sizes...) }

// Activation returns the nonlinearity between layers.
func (m *MLP) Activation() Activation { return m.act }

// In returns the number of input features per point.
func (m *MLP) In() int { return m.sizes[0] }

// Out returns the number of outputs per point.
func (m *MLP) Out() int { return m.sizes[len(m.sizes)-1] }

// Params returns the weights and biases, layer by layer, weight first.
func (m *MLP) Params() []*Param { return m.params }

// mlpChunks returns the chunk size and count for p points.
func mlpChunks(p int) (size, n int) {
	size = max(mlpMinChunkPoints, (p+mlpMaxChunks-1)/mlpMaxChunks)
	return size, (p + size - 1) / size
}

// mlpParallel calls f(c) for c in [0, n) on up to GOMAXPROCS goroutines.
// Work items must write disjoint memory; the order in which they run
// must not matter.
func mlpParallel(n int, f func(c int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for c := range n {
			f(c)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				c := int(next.Add(1)) - 1
				if c >= n {
					return
				}
				f(c)
			}
		})
	}
	wg.Wait()
}

// mlpGrow returns s resliced to n, reallocating only when it is too short.
func mlpGrow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// Forward returns the P×Out outputs for the P×In inputs x and caches what
// Backward needs. x is copied, so the caller may reuse it.
func (m *MLP) Forward(x []float64) ([]float64, error) {
	in := m.In()
	if len(x) == 0 || len(x)%in != 0 {
		return nil, fmt.Errorf("model: MLP forward: input length %d is not a positive multiple of %d features", len(x), in)
	}
	p := len(x) / in
	nl := len(m.w)
	m.p = p
	m.x = mlpGrow(m.x, len(x))
	copy(m.x, x)
	if m.z == nil {
		m.z = make([][]float64, nl-1)
		m.y = make([][]float64, nl-1)
	}
	for l := range nl - 1 {
		m.z[l] = mlpGrow(m.z[l], p*m.sizes[l+1])
		m.y[l] = mlpGrow(m.y[l], p*m.sizes[l+1])
	}
	out := make([]float64, p*m.Out())
	size, n := mlpChunks(p)
	mlpParallel(n, func(c int) {
		lo, hi := c*size, min((c+1)*size, p)
		a := m.x
		for l := range nl {
			din, dout := m.sizes[l], m.sizes[l+1]
			z := out
			if l < nl-1 {
				z = m.z[l]
			}
			mlpDense(z[lo*dout:hi*dout], a[lo*din:hi*din], m.w[l].Value, m.b[l].Value, din, dout)
			if l < nl-1 {
				y := m.y[l]
				for i := lo * dout; i < hi*dout; i++ {
					y[i] = m.act.apply(z[i])
				}
				a = y
			}
		}
	})
	return out, nil
}

// mlpDense sets z = a·W + b for the rows of a (each din wide).
func mlpDense(z, a, w, b []float64, din, dout int) {
	rows := len(a) / din
	for r := range rows {
		zr := z[r*dout : (r+1)*dout]
		copy(zr, b)
		for i, ai := range a[r*din : (r+1)*din] {
			wi := w[i*dout : (i+1)*dout]
			for o, wio := range wi {
				zr[o] += ai * wio
			}
		}
	}
}

// Backward takes dy = ∂L/∂output (P×Out) of the last Forward, adds ∂L/∂θ
// to the gradients of Params and returns ∂L/∂x (P×In).
func (m *MLP) Backward(dy []float64) ([]float64, error) {
	if m.x == nil {
		return nil, errors.New("model: MLP backward called before forward")
	}
	p := m.p
	if len(dy) != p*m.Out() {
		return nil, fmt.Errorf("model: MLP backward: cotangent length %d, want %d (%d points × %d outputs)", len(dy), p*m.Out(), p, m.Out())
	}
	nl := len(m.w)
	size, n := mlpChunks(p)
	for len(m.partial) < n {
		m.partial = append(m.partial, make([]float64, m.nparam))
	}
	// Offsets of each parameter in a chunk's gradient buffer, in
	// Params order.
	off := make([]int, len(m.params)+1)
	for i, q := range m.params {
		off[i+1] = off[i] + len(q.Value)
	}
	widest := 0
	for _, s := range m.sizes {
		widest = max(widest, s)
	}
	dx := make([]float64, p*m.In())
	mlpParallel(n, func(c int) {
		lo, hi := c*size, min((c+1)*size, p)
		g := m.partial[c]
		clear(g)
		// delta holds ∂L/∂z of the current layer for the chunk's
		// rows, prev that of the layer below.
		rows := hi - lo
		delta := make([]float64, rows*widest)
		prev := make([]float64, rows*widest)
		copy(delta, dy[lo*m.Out():hi*m.Out()])
		for l := nl - 1; l >= 0; l-- {
			din, dout := m.sizes[l], m.sizes[l+1]
			a := m.x
			if l > 0 {
				a = m.y[l-1]
			}
			a = a[lo*din : hi*din]
			d := delta[:rows*dout]
			gw := g[off[2*l]:off[2*l+1]]
			gb := g[off[2*l+1]:off[2*l+2]]
			w := m.w[l].Value
			dst := prev[:rows*din]
			if l == 0 {
				dst = dx[lo*din : hi*din]
			}
			for r := range rows {
				dr := d[r*dout : (r+1)*dout]
				ar := a[r*din : (r+1)*din]
				for o, v := range dr {
					gb[o] += v
				}
				for i, ai := range ar {
					gwi := gw[i*dout : (i+1)*dout]
					wi := w[i*dout : (i+1)*dout]
					s := 0.0
					for o, v := range dr {
						gwi[o] += ai * v
						s += wi[o] * v
					}
					dst[r*din+i] = s
				}
			}
			if l > 0 {
				z := m.z[l-1][lo*din : hi*din]
				y := m.y[l-1][lo*din : hi*din]
				for i := range dst {
					dst[i] *= m.act.grad(z[i], y[i])
				}
				delta, prev = prev, delta
			}
		}
	})
	// Sum the chunks in order: the one place where floating-point
	// addition order could depend on scheduling, so it is fixed here.
	for i, q := range m.params {
		for c := range n {
			src := m.partial[c][off[i]:off[i+1]]
			for k, v := range src {
				q.Grad[k] += v
			}
		}
	}
	return dx, nil
}
