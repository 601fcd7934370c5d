package reference

import "math"

// Heat returns the exact solution
//
//	u(t, x) = A · exp(−κ k² π² t) · sin(kπx)
//
// of u_t = κ u_xx on the tensor grid t × x, row-major with t slowest:
// u[i*len(x)+j] = u(t[i], x[j]). For integer k it vanishes at x = 0 and
// x = 1, so it solves the heat problem of package pde (u = 0 at both ends)
// with the initial value A·sin(kπx).
//
// Heat does not validate its arguments: it is a closed form, and NaN or
// infinite inputs propagate into the result as IEEE arithmetic dictates.
func Heat(t, x []float64, kappa, amplitude, k float64) []float64 {
	u := make([]float64, len(t)*len(x))
	// The spatial factor is shared by every time row, so it is computed
	// once; the rows then only scale it.
	s := make([]float64, len(x))
	for j, xj := range x {
		s[j] = math.Sin(k * math.Pi * xj)
	}
	rate := kappa * k * k * math.Pi * math.Pi
	for i, ti := range t {
		a := amplitude * math.Exp(-rate*ti)
		row := u[i*len(x) : (i+1)*len(x)]
		for j := range row {
			row[j] = a * s[j]
		}
	}
	return u
}
