// Package fft computes multi-dimensional discrete Fourier transforms of real
// arrays.
//
// The transforms are built from the one-dimensional real and complex FFTs of
// gonum.org/v1/gonum/dsp/fourier, applied line by line along each axis. Arrays
// are row-major with the last axis fastest, as in C and NumPy. Because the
// input is real, only the half spectrum along the last axis is stored: an
// array of shape (n_0, ..., n_{d-1}) has a spectrum of shape
// (n_0, ..., n_{d-2}, n_{d-1}/2+1), exactly like numpy.fft.rfftn.
//
// The forward transform is unnormalised,
//
//	X[k] = Σ_j x[j] exp(−2πi Σ_a k_a j_a / n_a),
//
// and the inverse carries the factor 1/N, N = Π n_a, so that
// Inverse(Forward(x)) = x.
package fft

import (
	"fmt"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/dsp/fourier"
)

// MaxDims is the largest number of dimensions a Plan supports.
const MaxDims = 3

// serialWork is the spectrum size below which a pass runs on the calling
// goroutine: for small arrays the cost of starting and joining goroutines
// exceeds that of the transform itself.
const serialWork = 1 << 13

// Plan holds the precomputed factorisations and scratch space that transform
// arrays of one shape. NewPlan allocates all of it, so Forward and Inverse
// allocate nothing on the heap when they run serially, and only the few
// bytes that starting goroutines costs when they split a pass.
//
// A Plan is not safe for concurrent use: its scratch space is shared by all
// calls. Use one Plan per goroutine; plans are cheap next to the arrays they
// transform.
type Plan struct {
	shape []int // the real array
	spec  []int // the half spectrum
	n     int   // Π shape
	nSpec int   // Π spec

	// work holds the spectrum during Inverse so that its source is left
	// untouched; it is nil for one-dimensional plans, which need no complex
	// passes.
	work []complex128

	workers []worker
	wg      sync.WaitGroup
	pass    pass // the pass in progress

	// minParallel is the spectrum size from which passes are split between
	// workers: serialWork, or less in tests that exercise the split on
	// arrays small enough to check against a direct DFT.
	minParallel int
}

// worker owns everything one goroutine needs to transform a range of lines:
// gonum's 1-D transforms keep internal scratch, so they cannot be shared.
type worker struct {
	real  *fourier.FFT        // along the last axis
	cmplx []*fourier.CmplxFFT // along axis a < d-1
	line  []complex128        // a strided line gathered contiguously
}

// NewPlan returns a Plan for real arrays of the given shape, with up to
// runtime.GOMAXPROCS(0) worker goroutines. It is NewPlanWorkers(0, shape...).
func NewPlan(shape ...int) (*Plan, error) {
	return NewPlanWorkers(0, shape...)
}

// NewPlanWorkers returns a Plan for real arrays of the given shape that splits
// each pass over at most workers goroutines; workers ≤ 0 selects
// runtime.GOMAXPROCS(0) at the time of the call. The shape must have between
// 1 and MaxDims positive extents.
//
// The number of workers changes the speed only, never the result: every line
// is transformed by the same sequential 1-D code wherever it runs, and no
// value is ever reduced across lines, so the output is bitwise identical for
// any worker count and any GOMAXPROCS.
func NewPlanWorkers(workers int, shape ...int) (*Plan, error) {
	if len(shape) == 0 || len(shape) > MaxDims {
		return nil, fmt.Errorf("fft: %d dimensions, want 1 to %d", len(shape), MaxDims)
	}
	n := 1
	for a, s := range shape {
		if s <= 0 {
			return nil, fmt.Errorf("fft: extent %d of axis %d is not positive", s, a)
		}
		n *= s
	}
	d := len(shape)
	p := &Plan{
		shape:       append([]int(nil), shape...),
		spec:        append([]int(nil), shape...),
		n:           n,
		minParallel: serialWork,
	}
	p.spec[d-1] = shape[d-1]/2 + 1
	p.nSpec = n / shape[d-1] * p.spec[d-1]
	if d > 1 {
		p.work = make([]complex128, p.nSpec)
	}

	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// More workers than the pass with the fewest lines has lines would
	// leave some idle.
	workers = min(workers, p.nSpec/maxLine(p.spec))
	workers = max(workers, 1)

	p.workers = make([]worker, workers)
	for i := range p.workers {
		w := &p.workers[i]
		w.real = fourier.NewFFT(shape[d-1])
		w.cmplx = make([]*fourier.CmplxFFT, d-1)
		for a := range d - 1 {
			w.cmplx[a] = fourier.NewCmplxFFT(shape[a])
		}
		if d > 1 {
			w.line = make([]complex128, maxLine(shape[:d-1]))
		}
	}
	return p, nil
}

// maxLine returns the largest extent in s, or 1 if s is empty.
func maxLine(s []int) int {
	m := 1
	for _, v := range s {
		m = max(m, v)
	}
	return m
}

// Shape returns the shape of the real arrays p transforms.
func (p *Plan) Shape() []int { return append([]int(nil), p.shape...) }

// SpectrumShape returns the shape of the half spectrum: the real shape with
// its last extent n replaced by n/2+1.
func (p *Plan) SpectrumShape() []int { return append([]int(nil), p.spec...) }

// Len returns the number of elements of a real array, Π Shape().
func (p *Plan) Len() int { return p.n }

// SpectrumLen returns the number of elements of a spectrum, Π SpectrumShape().
func (p *Plan) SpectrumLen() int { return p.nSpec }

// Workers returns the largest number of goroutines a pass runs on.
func (p *Plan) Workers() int { return len(p.workers) }

// lengthPanic reports arrays of the wrong length. A length mismatch is a
// programming error, so Forward and Inverse panic, as gonum's own transforms
// do.
func lengthPanic(op string, gotDst, wantDst, gotSrc, wantSrc int) {
	panic(fmt.Sprintf("fft: %s: dst length %d, src length %d; plan wants %d and %d",
		op, gotDst, gotSrc, wantDst, wantSrc))
}

// passKind selects what a pass does to each line.
type passKind int

const (
	realForward passKind = iota
	realInverse
	complexForward
	complexInverse
)

// pass describes the transform of every line along one axis. It lives in the
// Plan rather than in a closure so that a serial pass allocates nothing.
type pass struct {
	kind       passKind
	axis       int
	rdst, rsrc []float64
	cdst, csrc []complex128
}

// Forward stores in dst the half spectrum of the real array src (see the
// package documentation for the convention). len(src) must be Len() and
// len(dst) SpectrumLen(), or Forward panics. src is not modified; dst and src
// must not overlap.
func (p *Plan) Forward(dst []complex128, src []float64) {
	if len(src) != p.n || len(dst) != p.nSpec {
		lengthPanic("Forward", len(dst), p.nSpec, len(src), p.n)
	}
	d := len(p.shape)
	// Real transforms of the rows along the last axis go straight into dst;
	// the other axes are then transformed in place, last to first.
	p.run(pass{kind: realForward, axis: d - 1, cdst: dst, rsrc: src})
	for a := d - 2; a >= 0; a-- {
		p.run(pass{kind: complexForward, axis: a, cdst: dst, csrc: dst})
	}
}

// Inverse stores in dst the real array whose half spectrum is src, scaled by
// 1/Len() so that Inverse undoes Forward. len(src) must be SpectrumLen() and
// len(dst) Len(), or Inverse panics. src is not modified.
//
// As with any inverse real transform, src is taken to be half of a
// Hermitian-symmetric spectrum: the imaginary parts that the symmetry forces
// to zero (at the zero frequency and, for an even last extent, the Nyquist
// frequency of the last axis, once the other axes are transformed) are
// ignored.
func (p *Plan) Inverse(dst []float64, src []complex128) {
	if len(src) != p.nSpec || len(dst) != p.n {
		lengthPanic("Inverse", len(dst), p.n, len(src), p.nSpec)
	}
	d := len(p.shape)
	// The first complex pass reads src and writes the scratch spectrum, so
	// src survives without a copy.
	rows := src
	for a := range d - 1 {
		p.run(pass{kind: complexInverse, axis: a, cdst: p.work, csrc: rows})
		rows = p.work
	}
	p.run(pass{kind: realInverse, axis: d - 1, rdst: dst, csrc: rows})
}

// run executes the pass q over its lines, split into contiguous ranges, one
// per worker, or on the calling goroutine when the array is too small for
// splitting to pay.
func (p *Plan) run(q pass) {
	p.pass = q
	// Drop the references to the caller's arrays when done, so that an idle
	// Plan does not keep them alive.
	defer func() { p.pass = pass{} }()

	lines := p.nSpec / p.spec[q.axis]
	if q.kind == realForward || q.kind == realInverse {
		lines = p.n / p.shape[q.axis]
	}
	nw := min(len(p.workers), lines)
	if nw == 1 || p.nSpec < p.minParallel {
		p.lines(&p.workers[0], 0, lines)
		return
	}
	p.wg.Add(nw)
	for i := range nw {
		go p.worker(i, i*lines/nw, (i+1)*lines/nw)
	}
	p.wg.Wait()
}

func (p *Plan) worker(i, lo, hi int) {
	defer p.wg.Done()
	p.lines(&p.workers[i], lo, hi)
}

// lines transforms lines [lo, hi) of the current pass with the 1-D
// transforms of w.
func (p *Plan) lines(w *worker, lo, hi int) {
	q := &p.pass
	switch q.kind {
	case realForward:
		n, m := p.shape[q.axis], p.spec[q.axis]
		for r := lo; r < hi; r++ {
			w.real.Coefficients(q.cdst[r*m:(r+1)*m], q.rsrc[r*n:(r+1)*n])
		}
	case realInverse:
		n, m := p.shape[q.axis], p.spec[q.axis]
		scale := 1 / float64(p.n)
		for r := lo; r < hi; r++ {
			out := q.rdst[r*n : (r+1)*n]
			w.real.Sequence(out, q.csrc[r*m:(r+1)*m])
			for i := range out {
				out[i] *= scale
			}
		}
	case complexForward, complexInverse:
		length := p.spec[q.axis]
		stride := 1
		for _, s := range p.spec[q.axis+1:] {
			stride *= s
		}
		t := w.cmplx[q.axis]
		buf := w.line[:length]
		for l := lo; l < hi; l++ {
			// Line l runs along the axis at a fixed position in the axes
			// before it (outer) and after it (inner).
			outer, inner := l/stride, l%stride
			base := outer*length*stride + inner
			for i := range buf {
				buf[i] = q.csrc[base+i*stride]
			}
			if q.kind == complexInverse {
				t.Sequence(buf, buf)
			} else {
				t.Coefficients(buf, buf)
			}
			for i, v := range buf {
				q.cdst[base+i*stride] = v
			}
		}
	}
}
