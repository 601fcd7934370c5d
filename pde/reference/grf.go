package reference

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/hcmoe/hcmoe/fft"
)

// GRF returns a sample of a stationary Gaussian random field on the n×n grid
// of the periodic unit square, laid out as in NavierStokes, for use as an
// initial vorticity. The field has the periodic covariance kernel
//
//	K(d) = exp(−(sin²(π d_x) + sin²(π d_y)) / (2ℓ²)),   ℓ = lengthScale,
//
// of unit variance, conditioned on a zero spatial mean: the mean mode is
// removed, since a periodic vorticity has zero integral. The covariance of
// the sample is therefore
//
//	E[w(x) w(x+d)] = K(d) − K̄,
//
// with K̄ the average of K over the grid lags, and its pointwise variance is
// 1 − K̄ (about 0.51 for ℓ = 0.8).
//
// The sample is exact, not an approximation. The covariance matrix of a
// stationary field on a periodic grid is block circulant, so the Fourier
// transform diagonalises it, with eigenvalues λ_k given by the transform of
// K sampled on the grid. GRF transforms n² independent standard normals
// drawn from rng, scales mode k by √λ_k and transforms back. Eigenvalues
// that rounding makes slightly negative are clamped to zero (the kernel is
// positive definite, so they are zero in exact arithmetic).
//
// GRF draws exactly n² values with rng.NormFloat64, in row-major order, so
// a seeded rng gives a reproducible sample. It panics if n is not positive,
// lengthScale is not a finite positive value or rng is nil.
func GRF(n int, lengthScale float64, rng *rand.Rand) []float64 {
	switch {
	case n <= 0:
		panic(fmt.Sprintf("reference: GRF: n = %d must be positive", n))
	case !(lengthScale > 0) || math.IsInf(lengthScale, 1):
		panic(fmt.Sprintf("reference: GRF: length scale %v must be finite and positive", lengthScale))
	case rng == nil:
		panic("reference: GRF: nil rng")
	}
	plan, err := fft.NewPlanWorkers(1, n, n)
	if err != nil {
		// Unreachable for n > 0; kept so that a change in package fft
		// cannot go unnoticed.
		panic(fmt.Sprintf("reference: GRF: %v", err))
	}
	scale := grfSqrtEigenvalues(plan, n, lengthScale)

	w := make([]float64, n*n)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	spec := make([]complex128, plan.SpectrumLen())
	plan.Forward(spec, w)
	for i, s := range scale {
		spec[i] *= complex(s, 0)
	}
	plan.Inverse(w, spec)
	return w
}

// grfSqrtEigenvalues returns √λ_k for the half spectrum of the periodic kernel
// of GRF on the n×n grid, with the mean mode set to zero.
func grfSqrtEigenvalues(plan *fft.Plan, n int, lengthScale float64) []float64 {
	// K is separable, K(d) = c(d_x)·c(d_y); the product is formed on the
	// grid so that the spectrum comes from one plain 2-D transform.
	c := make([]float64, n)
	for i := range c {
		s := math.Sin(math.Pi * float64(i) / float64(n))
		c[i] = math.Exp(-s * s / (2 * lengthScale * lengthScale))
	}
	k := make([]float64, n*n)
	for i := range n {
		for j := range n {
			k[i*n+j] = c[i] * c[j]
		}
	}
	spec := make([]complex128, plan.SpectrumLen())
	plan.Forward(spec, k)
	scale := make([]float64, len(spec))
	// K is real and even, so its spectrum is real; the imaginary parts are
	// rounding and are dropped.
	for i, v := range spec[1:] {
		scale[i+1] = math.Sqrt(max(real(v), 0))
	}
	return scale
}
