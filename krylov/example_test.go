package krylov_test

import (
	"fmt"

	"github.com/hcmoe/hcmoe/krylov"
	"gonum.org/v1/gonum/mat"
)

// ExampleCG solves the 1-D Poisson equation −u″ = 1 with zero boundary
// values, discretized by finite differences, without forming the matrix.
func ExampleCG() {
	laplacian := krylov.Func(func(dst, x []float64) {
		n := len(x)
		for i := range dst {
			dst[i] = 2 * x[i]
			if i > 0 {
				dst[i] -= x[i-1]
			}
			if i < n-1 {
				dst[i] -= x[i+1]
			}
		}
	})
	b := []float64{1, 1, 1, 1}
	x := make([]float64, len(b))
	res, err := krylov.CG(laplacian, b, x, krylov.Settings{RelTol: 1e-12})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%v after %d iterations\n", res.Reason, res.Iterations)
	fmt.Printf("u = %.6f\n", x)

	// Output:
	// Converged after 2 iterations
	// u = [2.000000 3.000000 3.000000 2.000000]
}

// ExampleLSQR fits a straight line y = c₀ + c₁t to four points, once as
// plain least squares and once with the damping of a Levenberg–Marquardt
// step, which shrinks the coefficients toward zero.
func ExampleLSQR() {
	design := mat.NewDense(4, 2, []float64{
		1, 0,
		1, 1,
		1, 2,
		1, 3,
	})
	y := []float64{1.1, 2.9, 5.1, 6.9}
	for _, damp := range []float64{0, 1} {
		c := make([]float64, 2)
		res, err := krylov.LSQR(krylov.NewDense(design), y, c, krylov.Settings{RelTol: 1e-12, Damp: damp})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("damp=%v: %v, c = %.4f, ‖r̄‖ = %.4f\n", damp, res.Reason, c, res.ResidualNorm)
	}

	// Output:
	// damp=0: Converged, c = [1.0600 1.9600], ‖r̄‖ = 0.1789
	// damp=1: Converged, c = [0.9538 1.8718], ‖r̄‖ = 2.1707
}

// ExampleGMRES shows the error returned for invalid input, which wraps a
// sentinel that errors.Is recognizes.
func ExampleGMRES() {
	a := krylov.NewDense(mat.NewDense(2, 2, []float64{4, 1, 2, 3}))
	_, err := krylov.GMRES(a, []float64{1, 2}, make([]float64, 3), krylov.Settings{})
	fmt.Println(err)

	// Output:
	// krylov: dimension mismatch: GMRES needs a square operator but len(b)=2, len(x)=3
}
