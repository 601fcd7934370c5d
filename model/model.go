// Package model holds the basis networks of hcmoe with hand-written backward
// passes (Go has no maintained automatic differentiation), their optimizers
// and learning-rate schedules, and checkpoints.
//
// A network maps one instance's input field to N basis functions on the
// grid. Every layer caches what its backward pass needs during Forward;
// Backward takes the cotangent of the output, accumulates the parameter
// gradients into Param.Grad and returns the cotangent of the input. All
// arithmetic is float64.
package model

import (
	"fmt"
	"math"
)

// Param is a trainable array and its gradient, both row-major with Shape.
type Param struct {
	Name  string
	Shape []int
	Value []float64
	Grad  []float64
}

// NewParam returns a zero parameter of the given shape.
func NewParam(name string, shape ...int) *Param {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return &Param{Name: name, Shape: append([]int(nil), shape...), Value: make([]float64, n), Grad: make([]float64, n)}
}

// Network is a differentiable map with parameters.
type Network interface {
	// Params lists the trainable parameters, in a fixed order.
	Params() []*Param
	// Forward computes the output for input x, keeping what Backward needs.
	Forward(x []float64) ([]float64, error)
	// Backward takes ∂L/∂output of the last Forward, adds ∂L/∂θ to every
	// Param.Grad and returns ∂L/∂x.
	Backward(dy []float64) ([]float64, error)
}

// ZeroGrad clears the gradients of ps.
func ZeroGrad(ps []*Param) {
	for _, p := range ps {
		clear(p.Grad)
	}
}

// CheckFinite returns an error naming the first parameter whose value or
// gradient holds a NaN or an infinity.
func CheckFinite(ps []*Param) error {
	for _, p := range ps {
		for i, v := range p.Value {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("model: parameter %s[%d] is %v", p.Name, i, v)
			}
		}
		for i, v := range p.Grad {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("model: gradient of %s[%d] is %v", p.Name, i, v)
			}
		}
	}
	return nil
}

// GELU is the Gaussian error linear unit x·Φ(x), in its exact erf form.
func GELU(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

// GELUGrad is dGELU/dx = Φ(x) + x·φ(x).
func GELUGrad(x float64) float64 {
	return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-0.5*x*x)/math.Sqrt(2*math.Pi)
}
