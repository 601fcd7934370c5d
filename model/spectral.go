package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/hcmoe/hcmoe/fft"
)

// SpectralConv is the spectral convolution of a Fourier neural operator on a
// periodic grid of one to fft.MaxDims axes (in hcmoe: (t, x) or (t, x, y)).
// It maps a field of In channels to a field of Out channels by
//
//	y_o = irfftn( Σ_c W[k, c, o] · rfftn(x_c)[k]  for kept k, 0 elsewhere ),
//
// with one complex weight per kept frequency k, input channel c and output
// channel o.
//
// # Layouts
//
// Fields are row-major [grid..., channels]: grid-point-major with the
// channels of one point contiguous, the points × features layout of the
// pointwise layers, so that x[p*In+c] is channel c at flattened grid point p.
//
// The kept frequencies are the lowest Modes[a] per axis. Along the last axis,
// whose real FFT stores only the non-negative half, they are k = 0..Modes[d-1]-1.
// Along every other axis they are both corners, k = 0..Modes[a]-1 and
// k = n_a-Modes[a]..n_a-1 (the negative frequencies −Modes[a]..−1), as in the
// reference FNO: 2 corners in 2-D, 4 in 3-D. The kept block therefore has
// extents K_a = 2·Modes[a] for a < d−1 and K_{d−1} = Modes[d−1], listed in
// that order: index j_a < Modes[a] is frequency j_a, index j_a ≥ Modes[a] is
// frequency n_a − 2·Modes[a] + j_a.
//
// Weight has shape [K_0, ..., K_{d−1}, In, Out, 2], row-major, the last axis
// holding the real and imaginary parts of the complex weight.
//
// # Adjoint
//
// Write X_c = rfftn(x_c) and Z_o = Σ_c W X_c on the kept modes. The inverse
// real transform of a half spectrum Z of N = Π n_a points is, exactly as the
// fft package (and any irfft) evaluates it,
//
//	y[j] = (1/N) Σ_{k in half} c_k Re(Z[k] e^{+iθ_k·j}),
//
// where c_k = 1 when the last-axis frequency is 0 or, for an even last
// extent, the Nyquist frequency n/2, and c_k = 2 otherwise: every other bin
// stands for itself and its unstored conjugate twin. The imaginary parts that
// Re discards at those bins are the ones irfft ignores. Taking ⟨y, dy⟩ and
// D_o = rfftn(dy_o) gives, with real and imaginary parts as the two real
// coordinates of each complex number,
//
//	∂L/∂Z_o[k] = (c_k/N) D_o[k],
//	∂L/∂W[k,c,o] = (c_k/N) conj(X_c[k]) D_o[k],
//	∂L/∂X_c[k] = Σ_o conj(W[k,c,o]) (c_k/N) D_o[k].
//
// The adjoint of rfftn maps H to dx[j] = Σ_k Re(H[k] e^{+iθ_k·j}), which is
// N·irfftn(H/c_k); the factors c_k/N cancel, so the input cotangent is simply
//
//	dx_c = irfftn( Σ_o conj(W[k,c,o]) D_o[k] ).
//
// Only the weight gradient carries the weight c_k/N, which is why the adjoint
// of irfft is not rfft: the interior frequencies of the last axis count twice.
//
// # Concurrency
//
// The transforms run in parallel over channels and the mode mixing over kept
// frequencies. Every output element is computed by one goroutine in a fixed
// order, so results are bitwise identical for any GOMAXPROCS. A SpectralConv
// keeps the state of its last Forward for Backward and so must not be used
// concurrently.
type SpectralConv struct {
	In, Out int
	// Weight holds the complex weights; see the type documentation for its
	// layout.
	Weight *Param

	grid  []int
	modes []int
	n     int // grid points, Π grid

	// kept[m] is the flat index into the half spectrum of kept mode m, in
	// the order of Weight's mode axes; scale[m] is c_k/N for that mode.
	kept  []int
	scale []float64

	workers []spectralWorker

	// xk holds the kept input modes of the last Forward, [mode][In]: all
	// that Backward needs, a small fraction of the input.
	xk []complex128
	zk []complex128 // mixed modes, [mode][Out]; reused for the dy modes
	hk []complex128 // input-cotangent modes, [mode][In]
}

// spectralWorker is what one goroutine needs to transform one channel: the
// fft.Plan is not safe for concurrent use, so each worker owns one.
type spectralWorker struct {
	plan *fft.Plan
	line []float64    // one channel, gathered from the interleaved field
	spec []complex128 // forward spectrum
	// sparse is the inverse transform's source. Only the kept modes are ever
	// written, and each use overwrites all of them, so the rest stays zero
	// without clearing.
	sparse []complex128
}

// NewSpectralConv returns a spectral convolution of the grid, from in to out
// channels, keeping modes[a] frequencies along axis a as described on
// SpectralConv. Each axis but the last needs 2·modes[a] ≤ grid[a], so that
// the two corners do not overlap; the last needs modes ≤ grid/2+1.
//
// The weights are initialised as the reference FNO2D: real and imaginary
// parts independent standard normals, scaled by 1/√((in+out)/2). The name
// prefixes the parameter's name.
func NewSpectralConv(name string, grid []int, in, out int, modes []int, rng *rand.Rand) (*SpectralConv, error) {
	d := len(grid)
	if d == 0 || d > fft.MaxDims {
		return nil, fmt.Errorf("model: spectral conv %s: %d grid axes, want 1 to %d", name, d, fft.MaxDims)
	}
	if len(modes) != d {
		return nil, fmt.Errorf("model: spectral conv %s: %d mode counts for %d grid axes", name, len(modes), d)
	}
	if in <= 0 || out <= 0 {
		return nil, fmt.Errorf("model: spectral conv %s: channels %d→%d, want positive", name, in, out)
	}
	if rng == nil {
		return nil, fmt.Errorf("model: spectral conv %s: nil random source", name)
	}
	n := 1
	keptShape := make([]int, d)
	for a, na := range grid {
		if na <= 0 {
			return nil, fmt.Errorf("model: spectral conv %s: grid extent %d of axis %d is not positive", name, na, a)
		}
		n *= na
		m := modes[a]
		if a < d-1 {
			if m <= 0 || 2*m > na {
				return nil, fmt.Errorf("model: spectral conv %s: %d modes on axis %d of extent %d, want 1 to %d", name, m, a, na, na/2)
			}
			keptShape[a] = 2 * m
		} else {
			if m <= 0 || m > na/2+1 {
				return nil, fmt.Errorf("model: spectral conv %s: %d modes on last axis %d of extent %d, want 1 to %d", name, m, a, na, na/2+1)
			}
			keptShape[a] = m
		}
	}

	s := &SpectralConv{
		In:    in,
		Out:   out,
		grid:  append([]int(nil), grid...),
		modes: append([]int(nil), modes...),
		n:     n,
	}
	s.kept, s.scale = keptModes(grid, modes, keptShape)

	s.Weight = NewParam(name+".weight", append(keptShape, in, out, 2)...)
	std := 1 / math.Sqrt(float64(in+out)/2)
	for i := range s.Weight.Value {
		s.Weight.Value[i] = std * rng.NormFloat64()
	}
	// Build one worker now so that a bad grid fails here rather than in
	// Forward.
	if err := s.ensureWorkers(1); err != nil {
		return nil, fmt.Errorf("model: spectral conv %s: %w", name, err)
	}
	return s, nil
}

// keptModes lists the flat half-spectrum index and the adjoint weight c_k/N
// of every kept mode, in the row-major order of keptShape.
func keptModes(grid, modes, keptShape []int) (kept []int, scale []float64) {
	d := len(grid)
	spec := append([]int(nil), grid...)
	spec[d-1] = grid[d-1]/2 + 1
	n := 1
	count := 1
	for a := range grid {
		n *= grid[a]
		count *= keptShape[a]
	}
	nLast := grid[d-1]
	kept = make([]int, count)
	scale = make([]float64, count)
	idx := make([]int, d) // multi-index into keptShape
	for m := range count {
		flat := 0
		for a := range d {
			f := idx[a]
			if a < d-1 && f >= modes[a] {
				f = grid[a] - 2*modes[a] + f
			}
			flat = flat*spec[a] + f
		}
		kept[m] = flat
		c := 2.0
		if k := idx[d-1]; k == 0 || (nLast%2 == 0 && k == nLast/2) {
			c = 1
		}
		scale[m] = c / float64(n)
		for a := d - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < keptShape[a] {
				break
			}
			idx[a] = 0
		}
	}
	return kept, scale
}

// ensureWorkers makes sure at least nw workers exist. Plans are serial: the
// parallelism is over channels, which is coarser and needs no joins inside
// a transform.
func (s *SpectralConv) ensureWorkers(nw int) error {
	for len(s.workers) < nw {
		p, err := fft.NewPlanWorkers(1, s.grid...)
		if err != nil {
			return fmt.Errorf("fft plan for grid %v: %w", s.grid, err)
		}
		s.workers = append(s.workers, spectralWorker{
			plan:   p,
			line:   make([]float64, p.Len()),
			spec:   make([]complex128, p.SpectrumLen()),
			sparse: make([]complex128, p.SpectrumLen()),
		})
	}
	return nil
}

// Grid returns the grid the convolution acts on.
func (s *SpectralConv) Grid() []int { return append([]int(nil), s.grid...) }

// Modes returns the kept frequencies per axis.
func (s *SpectralConv) Modes() []int { return append([]int(nil), s.modes...) }

// Params returns the weight.
func (s *SpectralConv) Params() []*Param { return []*Param{s.Weight} }

// Forward returns the convolution of the field x, laid out [grid..., In],
// as a new field [grid..., Out].
func (s *SpectralConv) Forward(x []float64) ([]float64, error) {
	if want := s.n * s.In; len(x) != want {
		return nil, fmt.Errorf("model: spectral conv %s forward: input length %d, want %d (grid %v × %d channels)",
			s.Weight.Name, len(x), want, s.grid, s.In)
	}
	nm := len(s.kept)
	s.xk = growComplex(s.xk, nm*s.In)
	s.zk = growComplex(s.zk, nm*s.Out)

	if err := s.channels(s.In, func(w *spectralWorker, c int) {
		gatherChannel(w.line, x, c, s.In)
		w.plan.Forward(w.spec, w.line)
		for m, k := range s.kept {
			s.xk[m*s.In+c] = w.spec[k]
		}
	}); err != nil {
		return nil, err
	}

	wv := s.Weight.Value
	spectralParallel(nm, func(_, m int) {
		z := s.zk[m*s.Out : (m+1)*s.Out]
		clear(z)
		for c := range s.In {
			xc := s.xk[m*s.In+c]
			row := wv[(m*s.In+c)*s.Out*2 : (m*s.In+c+1)*s.Out*2]
			for o := range z {
				z[o] += complex(row[2*o], row[2*o+1]) * xc
			}
		}
	})

	y := make([]float64, s.n*s.Out)
	if err := s.channels(s.Out, func(w *spectralWorker, o int) {
		for m, k := range s.kept {
			w.sparse[k] = s.zk[m*s.Out+o]
		}
		w.plan.Inverse(w.line, w.sparse)
		scatterChannel(y, w.line, o, s.Out)
	}); err != nil {
		return nil, err
	}
	return y, nil
}

// Backward takes ∂L/∂y of the last Forward, laid out [grid..., Out], adds
// ∂L/∂W to Weight.Grad and returns ∂L/∂x, laid out [grid..., In]. See the
// type documentation for the derivation.
func (s *SpectralConv) Backward(dy []float64) ([]float64, error) {
	if s.xk == nil {
		return nil, fmt.Errorf("model: spectral conv %s backward: no forward pass to differentiate", s.Weight.Name)
	}
	if want := s.n * s.Out; len(dy) != want {
		return nil, fmt.Errorf("model: spectral conv %s backward: cotangent length %d, want %d (grid %v × %d channels)",
			s.Weight.Name, len(dy), want, s.grid, s.Out)
	}
	nm := len(s.kept)
	dk := s.zk // the mixed modes are not needed any more
	s.hk = growComplex(s.hk, nm*s.In)

	if err := s.channels(s.Out, func(w *spectralWorker, o int) {
		gatherChannel(w.line, dy, o, s.Out)
		w.plan.Forward(w.spec, w.line)
		for m, k := range s.kept {
			dk[m*s.Out+o] = w.spec[k]
		}
	}); err != nil {
		return nil, err
	}

	wv, wg := s.Weight.Value, s.Weight.Grad
	spectralParallel(nm, func(_, m int) {
		d := dk[m*s.Out : (m+1)*s.Out]
		for c := range s.In {
			xc := complex(s.scale[m], 0) * cmplxConj(s.xk[m*s.In+c])
			lo, hi := (m*s.In+c)*s.Out*2, (m*s.In+c+1)*s.Out*2
			row, grow := wv[lo:hi], wg[lo:hi]
			var h complex128
			for o, do := range d {
				g := xc * do
				grow[2*o] += real(g)
				grow[2*o+1] += imag(g)
				h += complex(row[2*o], -row[2*o+1]) * do
			}
			s.hk[m*s.In+c] = h
		}
	})

	dx := make([]float64, s.n*s.In)
	if err := s.channels(s.In, func(w *spectralWorker, c int) {
		for m, k := range s.kept {
			w.sparse[k] = s.hk[m*s.In+c]
		}
		w.plan.Inverse(w.line, w.sparse)
		scatterChannel(dx, w.line, c, s.In)
	}); err != nil {
		return nil, err
	}
	return dx, nil
}

// channels calls fn for every channel in [0, count), each worker handling a
// contiguous range with its own plan and buffers.
func (s *SpectralConv) channels(count int, fn func(w *spectralWorker, c int)) error {
	nw := min(runtime.GOMAXPROCS(0), count)
	if err := s.ensureWorkers(nw); err != nil {
		return fmt.Errorf("model: spectral conv %s: %w", s.Weight.Name, err)
	}
	spectralParallelN(nw, count, func(wi, c int) { fn(&s.workers[wi], c) })
	return nil
}

// gatherChannel copies channel c of the interleaved field f, of stride
// channels per point, into line.
func gatherChannel(line, f []float64, c, stride int) {
	for p := range line {
		line[p] = f[p*stride+c]
	}
}

// scatterChannel copies line into channel c of the interleaved field f.
func scatterChannel(f, line []float64, c, stride int) {
	for p, v := range line {
		f[p*stride+c] = v
	}
}

func cmplxConj(z complex128) complex128 { return complex(real(z), -imag(z)) }

// growComplex returns buf resized to n, reusing its storage when it can.
func growComplex(buf []complex128, n int) []complex128 {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]complex128, n)
}

// spectralParallel calls fn(worker, i) for every i in [0, n) on up to
// GOMAXPROCS goroutines.
func spectralParallel(n int, fn func(worker, i int)) {
	spectralParallelN(min(runtime.GOMAXPROCS(0), n), n, fn)
}

// spectralParallelN calls fn(worker, i) for every i in [0, n), worker w
// taking the contiguous range [w·n/nw, (w+1)·n/nw). Which worker handles an
// index never changes what is computed for it, so callers whose indices
// write disjoint outputs are deterministic.
func spectralParallelN(nw, n int, fn func(worker, i int)) {
	if nw <= 1 {
		for i := range n {
			fn(0, i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range nw {
		lo, hi := w*n/nw, (w+1)*n/nw
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				fn(w, i)
			}
		})
	}
	wg.Wait()
}
