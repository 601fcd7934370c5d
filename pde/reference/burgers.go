package reference

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/integrate/quad"
)

// Burgers returns the exact solution of the viscous Burgers problem
//
//	u_t + u u_x = ν u_xx,  x ∈ [−1, 1], t ≥ 0,
//	u(0, x) = −sin(πx),    u(t, −1) = u(t, 1) = 0,
//
// on the tensor grid t × x, row-major with t slowest:
// u[i*len(x)+j] = u(t[i], x[j]).
//
// The solution is the Cole–Hopf one of Basdevant et al. (1986). With
// u = −2ν φ_x/φ the problem becomes φ_t = ν φ_xx with φ(0, x) = f(x),
//
//	f(y) = exp(−cos(πy) / (2πν)),
//
// which is 2-periodic and even, so that the heat kernel gives
//
//	       ∫ sin(π(x−η)) f(x−η) exp(−η²/(4νt)) dη
//	u = − ────────────────────────────────────────
//	             ∫ f(x−η) exp(−η²/(4νt)) dη
//
// over η ∈ ℝ. At x = ±1 the numerator's integrand is odd in η, which is why
// the boundary values vanish for every t. Both integrals are evaluated by
// adaptive composite Gauss–Legendre quadrature on the exponent
// E(η) = −cos(π(x−η))/(2πν) − η²/(4νt), shifted by its maximum so that
// nothing overflows however small ν is; see burgersQuadrature for the panel
// layout and the error control. The quotient is accurate to about
// 1e-15·(1 + 1/(2πν)) absolute: the shift itself is exact, but exp(E) is
// rounded relative to |E| ≤ 1/(2πν) + η²/(4νt).
//
// The cost per point grows like √(t/ν) once the heat kernel is wider than
// the period (the quadrature covers every period the kernel reaches), so
// very long times at large ν are slow; the solution has decayed like
// exp(−νπ²t) there anyway.
//
// Burgers returns an error if ν is not positive and finite, if a time is
// negative or not finite, or if a position lies outside [−1, 1]. The points
// are evaluated concurrently, one goroutine per processor.
func Burgers(t, x []float64, nu float64) ([]float64, error) {
	return defaultBurgersQuadrature().grid(t, x, nu)
}

// burgersQuadrature holds the settings of the Cole–Hopf quadrature. The
// tests vary them to show that the default result is converged.
type burgersQuadrature struct {
	// order is the number of Gauss–Legendre nodes per panel.
	order int
	// rtol bounds the step-doubling error estimate of both integrals
	// relative to the denominator, summed over panels. Because the accepted
	// value is the finer of the two (whose error is 2^(2·order) times
	// smaller for an analytic integrand) the actual error is far below rtol.
	rtol float64
	// cut drops the η where E is more than cut below its maximum: their
	// weight relative to the peak is below exp(−cut).
	cut float64
	// maxDepth caps the bisections of one panel; reaching it is an error.
	maxDepth int
}

// burgersEpsilon is the float64 machine epsilon, 2⁻⁵².
const burgersEpsilon = 0x1p-52

func defaultBurgersQuadrature() burgersQuadrature {
	return burgersQuadrature{order: 16, rtol: 1e-13, cut: 50, maxDepth: 40}
}

func (q burgersQuadrature) grid(t, x []float64, nu float64) ([]float64, error) {
	if !(nu > 0) || math.IsInf(nu, 1) {
		return nil, fmt.Errorf("reference: Burgers: viscosity must be positive and finite, got %v", nu)
	}
	for i, ti := range t {
		if !(ti >= 0) || math.IsInf(ti, 1) {
			return nil, fmt.Errorf("reference: Burgers: t[%d] = %v, want a finite time ≥ 0", i, ti)
		}
	}
	for j, xj := range x {
		if !(xj >= -1 && xj <= 1) {
			return nil, fmt.Errorf("reference: Burgers: x[%d] = %v lies outside [−1, 1]", j, xj)
		}
	}
	u := make([]float64, len(t)*len(x))
	if len(u) == 0 {
		return u, nil
	}
	nodes := make([]float64, q.order)
	weights := make([]float64, q.order)
	quad.Legendre{}.FixedLocations(nodes, weights, -1, 1)

	// Rows (times) are handed out one at a time: the cost of a point grows
	// with t, so a static split would leave the early-time workers idle.
	var (
		next    atomic.Int64
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	workers := min(runtime.GOMAXPROCS(0), len(t))
	for range workers {
		wg.Go(func() {
			ev := burgersEval{q: q, nu: nu, nodes: nodes, weights: weights}
			for {
				i := int(next.Add(1)) - 1
				if i >= len(t) {
					return
				}
				row := u[i*len(x) : (i+1)*len(x)]
				for j, xj := range x {
					v, err := ev.at(xj, t[i])
					if err != nil {
						errOnce.Do(func() { first = err })
						next.Store(int64(len(t))) // stop the other workers early
						return
					}
					row[j] = v
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return u, nil
}

// burgersEval evaluates the Cole–Hopf quotient at single points. It holds
// per-goroutine scratch space and is not safe for concurrent use.
type burgersEval struct {
	q              burgersQuadrature
	nu             float64
	nodes, weights []float64 // Gauss–Legendre rule on [−1, 1]
	e              []float64 // E on the scan grid
	pn, pd         []float64 // one-rule integrals per scan panel

	// The point being evaluated and the shift of its exponent.
	x, a, s2, shift float64
}

// at returns u(t, x).
//
// The integrand exp(E(η) − S) is entire, so Gauss–Legendre converges
// exponentially on panels over which E changes by O(1) in curvature. The
// panels come from a scan grid of spacing h = √(2/B), where
// B = π²/(2πν) + 2/(4νt) bounds |E”|: on such a panel E exceeds the larger
// of its end values by at most B·h²/8 = 1/4. That gives, without any
// search, (i) a shift S (the largest grid value) within 1/4 of the true
// maximum, so exp(E − S) ≤ e^{1/4} never overflows and the peak never
// underflows, and (ii) a rigorous test for dropping a panel whose end
// values are both below S − cut − 1/4. The scan covers |η| ≤ L with
// L² = 4νt·(2a + cut), a = 1/(2πν): beyond it E < −a − cut ≤ E(0) − cut.
func (ev *burgersEval) at(x, t float64) (float64, error) {
	if t == 0 {
		return -math.Sin(math.Pi * x), nil
	}
	q := ev.q
	ev.x = x
	ev.a = 1 / (2 * math.Pi * ev.nu)
	ev.s2 = 4 * ev.nu * t
	bound := ev.a*math.Pi*math.Pi + 2/ev.s2
	h := math.Sqrt(2 / bound)
	l := math.Sqrt(ev.s2 * (2*ev.a + q.cut))
	n := max(int(math.Ceil(2*l/h)), 1)
	h = 2 * l / float64(n)
	if cap(ev.e) < n+1 {
		ev.e = make([]float64, n+1)
		ev.pn = make([]float64, n)
		ev.pd = make([]float64, n)
	}
	e, pn, pd := ev.e[:n+1], ev.pn[:n], ev.pd[:n]
	ev.shift = math.Inf(-1)
	for j := range e {
		e[j] = ev.exponent(-l + float64(j)*h)
		ev.shift = max(ev.shift, e[j])
	}

	// First pass: one rule per kept panel, for the scale of the
	// denominator that the tolerance is relative to.
	floor := ev.shift - q.cut - 0.25
	var kept int
	var denScale float64
	for j := range n {
		if max(e[j], e[j+1]) < floor {
			continue
		}
		kept++
		pn[j], pd[j] = ev.rule(-l+float64(j)*h, -l+float64(j+1)*h)
		denScale += pd[j]
	}
	if kept == 0 || !(denScale > 0) {
		return 0, fmt.Errorf("reference: Burgers: no quadrature mass at t = %v, x = %v (ν = %v)", t, x, ev.nu)
	}
	tol := q.rtol * denScale / float64(kept)
	var num, den float64
	for j := range n {
		if max(e[j], e[j+1]) < floor {
			continue
		}
		lo, hi := -l+float64(j)*h, -l+float64(j+1)*h
		sn, sd, ok := ev.adapt(lo, hi, pn[j], pd[j], tol, q.maxDepth)
		if !ok {
			return 0, fmt.Errorf("reference: Burgers: quadrature did not reach %g on [%v, %v] at t = %v, x = %v (ν = %v)",
				q.rtol, lo, hi, t, x, ev.nu)
		}
		num += sn
		den += sd
	}
	return -num / den, nil
}

// exponent returns E(η) = −a·cos(π(x−η)) − η²/(4νt).
func (ev *burgersEval) exponent(eta float64) float64 {
	return -ev.a*math.Cos(math.Pi*(ev.x-eta)) - eta*eta/ev.s2
}

// rule applies the Gauss–Legendre rule on [lo, hi] to both integrands.
func (ev *burgersEval) rule(lo, hi float64) (num, den float64) {
	mid, half := (lo+hi)/2, (hi-lo)/2
	for k, z := range ev.nodes {
		eta := mid + half*z
		s, c := math.Sincos(math.Pi * (ev.x - eta))
		g := ev.weights[k] * math.Exp(-ev.a*c-eta*eta/ev.s2-ev.shift)
		num += s * g
		den += g
	}
	return num * half, den * half
}

// adapt refines [lo, hi], whose one-rule values are (num, den), by step
// doubling until the two halves agree with the whole to within tol. It
// returns the sum of the halves, the more accurate of the two estimates.
//
// A difference at the rounding level of the panel's own integral is
// accepted whatever tol is, since halving cannot reduce it. That level is
// set by the exponent, not by the sums: exp(E − S) carries a relative
// error of about (|E| + |S|)·ε ≤ (2a + cut)·ε, which differs between the
// nodes of the whole panel and those of its halves.
func (ev *burgersEval) adapt(lo, hi, num, den, tol float64, depth int) (float64, float64, bool) {
	mid := (lo + hi) / 2
	ln, ld := ev.rule(lo, mid)
	rn, rd := ev.rule(mid, hi)
	sn, sd := ln+rn, ld+rd
	noise := 4 * (2*ev.a + ev.q.cut + 1) * burgersEpsilon * sd
	if d := math.Abs(sn-num) + math.Abs(sd-den); d <= tol || d <= noise {
		return sn, sd, true
	}
	if depth == 0 {
		return sn, sd, false
	}
	an, ad, aok := ev.adapt(lo, mid, ln, ld, tol/2, depth-1)
	bn, bd, bok := ev.adapt(mid, hi, rn, rd, tol/2, depth-1)
	return an + bn, ad + bd, aok && bok
}
