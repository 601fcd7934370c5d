package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
)

// FNOConfig sizes a Fourier neural operator.
type FNOConfig struct {
	// Grid is the extent of each axis, (t, x) or (t, x, y).
	Grid []int
	// In is the number of input channels per grid point, e.g. (t, x, u0).
	In int
	// Width is the number of channels inside the Fourier layers.
	Width int
	// Layers is the number of Fourier layers.
	Layers int
	// Modes is the number of kept frequencies per axis; see SpectralConv.
	Modes []int
	// Hidden is the width of the projection's hidden layer.
	Hidden int
	// Out is the number of basis functions per grid point.
	Out int
	// ActivateLast applies a GELU to the output, as the paper's
	// hard-constraint configurations (activate_last_layer) do.
	ActivateLast bool
}

// FNO is the Fourier neural operator that produces the basis functions:
//
//	h_0 = Lift(x)                                  pointwise In → Width
//	h_l = σ(K_l h_{l−1} + S_l h_{l−1}), l = 1..L   σ = GELU, none for l = L
//	y   = P_2 GELU(P_1 h_L)                        pointwise Width → Hidden → Out
//
// and a final GELU on y if ActivateLast. K_l is a SpectralConv and S_l a
// pointwise linear skip with bias. The input is laid out [grid..., In] and
// the output [grid..., Out], row-major with the channels of one grid point
// contiguous.
//
// Initialisation follows the reference code: spectral weights as in
// NewSpectralConv, and pointwise weights and biases uniform on
// ±1/√fan_in, the default of Equinox's Linear and Conv.
//
// Pointwise layers run in parallel over fixed chunks of grid points, and
// their weight gradients are summed over the chunks in chunk order, so the
// results are bitwise identical for any GOMAXPROCS. An FNO keeps the
// activations of its last Forward for Backward, about 2·Layers·points·Width
// floats (2 GiB for the NS network on 64³), and so must not be used
// concurrently.
type FNO struct {
	cfg      FNOConfig
	points   int
	lift     *fnoDense
	spectral []*SpectralConv
	skip     []*fnoDense
	proj     *fnoDense
	out      *fnoDense

	// Pre-activations of the last Forward, for the GELU derivatives.
	pre     [][]float64 // of the Fourier layers that have a GELU
	preProj []float64
	preOut  []float64 // only with ActivateLast
	done    bool
}

// NewFNO returns an FNO with the given sizes, its weights drawn from rng.
func NewFNO(cfg FNOConfig, rng *rand.Rand) (*FNO, error) {
	if rng == nil {
		return nil, fmt.Errorf("model: fno: nil random source")
	}
	if len(cfg.Grid) < 2 || len(cfg.Grid) > 3 {
		return nil, fmt.Errorf("model: fno: %d grid axes, want 2 or 3", len(cfg.Grid))
	}
	for _, s := range []struct {
		name string
		v    int
	}{{"In", cfg.In}, {"Width", cfg.Width}, {"Layers", cfg.Layers}, {"Hidden", cfg.Hidden}, {"Out", cfg.Out}} {
		if s.v <= 0 {
			return nil, fmt.Errorf("model: fno: %s is %d, want positive", s.name, s.v)
		}
	}
	cfg.Grid = append([]int(nil), cfg.Grid...)
	cfg.Modes = append([]int(nil), cfg.Modes...)
	f := &FNO{cfg: cfg, points: 1}
	for _, n := range cfg.Grid {
		f.points *= n
	}
	f.lift = newFNODense("lift", cfg.In, cfg.Width, rng)
	for l := range cfg.Layers {
		name := fmt.Sprintf("fourier%d", l)
		k, err := NewSpectralConv(name+".spectral", cfg.Grid, cfg.Width, cfg.Width, cfg.Modes, rng)
		if err != nil {
			return nil, fmt.Errorf("model: fno: layer %d: %w", l, err)
		}
		f.spectral = append(f.spectral, k)
		f.skip = append(f.skip, newFNODense(name+".skip", cfg.Width, cfg.Width, rng))
	}
	f.proj = newFNODense("proj0", cfg.Width, cfg.Hidden, rng)
	f.out = newFNODense("proj1", cfg.Hidden, cfg.Out, rng)
	return f, nil
}

// Config returns the sizes f was built with.
func (f *FNO) Config() FNOConfig {
	c := f.cfg
	c.Grid = append([]int(nil), c.Grid...)
	c.Modes = append([]int(nil), c.Modes...)
	return c
}

// Params lists the parameters: lift weight and bias; per Fourier layer the
// spectral weight, skip weight and skip bias; then the two projections'
// weights and biases.
func (f *FNO) Params() []*Param {
	ps := []*Param{f.lift.w, f.lift.b}
	for l := range f.spectral {
		ps = append(ps, f.spectral[l].Weight, f.skip[l].w, f.skip[l].b)
	}
	return append(ps, f.proj.w, f.proj.b, f.out.w, f.out.b)
}

// Forward maps the input field x, [grid..., In], to the basis, [grid..., Out].
func (f *FNO) Forward(x []float64) ([]float64, error) {
	if want := f.points * f.cfg.In; len(x) != want {
		return nil, fmt.Errorf("model: fno forward: input length %d, want %d (grid %v × %d channels)",
			len(x), want, f.cfg.Grid, f.cfg.In)
	}
	f.done = false
	h := f.lift.forward(x, f.points)
	f.pre = f.pre[:0]
	for l, k := range f.spectral {
		v, err := k.Forward(h)
		if err != nil {
			return nil, fmt.Errorf("model: fno forward: layer %d: %w", l, err)
		}
		f.skip[l].forwardAdd(v, h, f.points)
		if l < len(f.spectral)-1 {
			f.pre = append(f.pre, v)
			h = fnoGELU(v)
		} else {
			h = v
		}
	}
	f.preProj = f.proj.forward(h, f.points)
	y := f.out.forward(fnoGELU(f.preProj), f.points)
	if f.cfg.ActivateLast {
		f.preOut = y
		y = fnoGELU(y)
	}
	f.done = true
	return y, nil
}

// Backward takes ∂L/∂y of the last Forward, [grid..., Out], adds ∂L/∂θ to
// every Param.Grad and returns ∂L/∂x, [grid..., In].
func (f *FNO) Backward(dy []float64) ([]float64, error) {
	if !f.done {
		return nil, fmt.Errorf("model: fno backward: no forward pass to differentiate")
	}
	if want := f.points * f.cfg.Out; len(dy) != want {
		return nil, fmt.Errorf("model: fno backward: cotangent length %d, want %d (grid %v × %d channels)",
			len(dy), want, f.cfg.Grid, f.cfg.Out)
	}
	g := append([]float64(nil), dy...) // the caller's slice is not ours to scale
	if f.cfg.ActivateLast {
		fnoGELUBackward(g, f.preOut)
	}
	g = f.out.backward(g, f.points)
	fnoGELUBackward(g, f.preProj)
	g = f.proj.backward(g, f.points)
	for l := len(f.spectral) - 1; l >= 0; l-- {
		if l < len(f.spectral)-1 {
			fnoGELUBackward(g, f.pre[l])
		}
		gk, err := f.spectral[l].Backward(g)
		if err != nil {
			return nil, fmt.Errorf("model: fno backward: layer %d: %w", l, err)
		}
		gs := f.skip[l].backward(g, f.points)
		for i, v := range gk {
			gs[i] += v
		}
		g = gs
	}
	return f.lift.backward(g, f.points), nil
}

// fnoChunk is the number of grid points a pointwise layer handles as one
// unit of parallel work. It is fixed, not derived from GOMAXPROCS, because
// the weight gradients are summed per chunk and then over chunks: the
// chunking decides the rounding, so it must not depend on the machine.
const fnoChunk = 1024

// fnoDense is a pointwise linear layer y[p] = x[p]·W + b, W of shape
// [in, out], applied to every grid point p of a points × in field.
type fnoDense struct {
	in, out int
	w, b    *Param
	x       []float64 // input of the last forward
	partial []float64 // per-chunk gradients, [chunk][in·out + out]
}

func newFNODense(name string, in, out int, rng *rand.Rand) *fnoDense {
	d := &fnoDense{
		in:  in,
		out: out,
		w:   NewParam(name+".weight", in, out),
		b:   NewParam(name+".bias", out),
	}
	lim := 1 / math.Sqrt(float64(in))
	for i := range d.w.Value {
		d.w.Value[i] = lim * (2*rng.Float64() - 1)
	}
	for i := range d.b.Value {
		d.b.Value[i] = lim * (2*rng.Float64() - 1)
	}
	return d
}

// forward returns x·W + b for a field of the given number of points.
func (d *fnoDense) forward(x []float64, points int) []float64 {
	y := make([]float64, points*d.out)
	d.forwardAdd(y, x, points)
	return y
}

// forwardAdd adds x·W + b to y, so that a skip connection needs no
// temporary field.
func (d *fnoDense) forwardAdd(y, x []float64, points int) {
	d.x = x
	in, out := d.in, d.out
	w, b := d.w.Value, d.b.Value
	fnoChunks(points, func(lo, hi, _ int) {
		for p := lo; p < hi; p++ {
			yp := y[p*out : (p+1)*out]
			for o, bo := range b {
				yp[o] += bo
			}
			for i, xi := range x[p*in : (p+1)*in] {
				for o, wio := range w[i*out : (i+1)*out] {
					yp[o] += xi * wio
				}
			}
		}
	})
}

// backward adds the gradients of W and b for the cotangent dy and returns
// the input cotangent dy·Wᵀ.
func (d *fnoDense) backward(dy []float64, points int) []float64 {
	in, out := d.in, d.out
	w := d.w.Value
	nc := (points + fnoChunk - 1) / fnoChunk
	stride := in*out + out
	if cap(d.partial) < nc*stride {
		d.partial = make([]float64, nc*stride)
	}
	d.partial = d.partial[:nc*stride]
	dx := make([]float64, points*in)
	fnoChunks(points, func(lo, hi, chunk int) {
		gw := d.partial[chunk*stride : chunk*stride+in*out]
		gb := d.partial[chunk*stride+in*out : (chunk+1)*stride]
		clear(gw)
		clear(gb)
		for p := lo; p < hi; p++ {
			dyp := dy[p*out : (p+1)*out]
			xp := d.x[p*in : (p+1)*in]
			dxp := dx[p*in : (p+1)*in]
			for o, v := range dyp {
				gb[o] += v
			}
			for i, xi := range xp {
				row := w[i*out : (i+1)*out]
				grow := gw[i*out : (i+1)*out]
				var s float64
				for o, v := range dyp {
					grow[o] += xi * v
					s += row[o] * v
				}
				dxp[i] = s
			}
		}
	})
	// Summing the chunks in order keeps the result independent of which
	// goroutine computed which chunk.
	gw, gb := d.w.Grad, d.b.Grad
	for c := range nc {
		part := d.partial[c*stride : (c+1)*stride]
		for j, v := range part[:in*out] {
			gw[j] += v
		}
		for j, v := range part[in*out:] {
			gb[j] += v
		}
	}
	return dx
}

// fnoChunks calls fn(lo, hi, chunk) for the fixed chunks of fnoChunk points
// that cover [0, points), on up to GOMAXPROCS goroutines.
func fnoChunks(points int, fn func(lo, hi, chunk int)) {
	nc := (points + fnoChunk - 1) / fnoChunk
	spectralParallelN(min(runtime.GOMAXPROCS(0), nc), nc, func(_, c int) {
		fn(c*fnoChunk, min((c+1)*fnoChunk, points), c)
	})
}

// fnoGELU returns GELU applied to every element of v.
func fnoGELU(v []float64) []float64 {
	h := make([]float64, len(v))
	fnoChunks(len(v), func(lo, hi, _ int) {
		for i := lo; i < hi; i++ {
			h[i] = GELU(v[i])
		}
	})
	return h
}

// fnoGELUBackward multiplies the cotangent g in place by GELU'(pre).
func fnoGELUBackward(g, pre []float64) {
	fnoChunks(len(g), func(lo, hi, _ int) {
		for i := lo; i < hi; i++ {
			g[i] *= GELUGrad(pre[i])
		}
	})
}
