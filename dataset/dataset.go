// Package dataset reads the datasets that `coordinator gen` writes: one
// reference trajectory per instance on a grid, with its initial value.
package dataset

import (
	"fmt"

	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/npz"
)

// Dataset holds the trajectories of a gen file.
type Dataset struct {
	U  []float64 // N × grid size: the reference trajectories
	U0 []float64 // N × initial-slice size; nil when the file has no u0
	N  int       // instances
}

// Read reads a gen file and checks that its trajectories live on g.
func Read(path string, g mesh.Grid) (*Dataset, error) {
	arr, err := npz.ReadFile(path, npz.Limits{})
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	u := arr["u"]
	if u == nil || u.Float64 == nil {
		return nil, fmt.Errorf("dataset %s: no float array \"u\" (written by coordinator gen)", path)
	}
	shape := g.Shape()
	ok := len(u.Shape) == len(shape)+1
	for i := 0; ok && i < len(shape); i++ {
		ok = u.Shape[i+1] == shape[i]
	}
	if !ok {
		return nil, fmt.Errorf("dataset %s: u has shape %v, want [count %v] (the config's grid)", path, u.Shape, shape)
	}
	d := &Dataset{U: u.Float64, N: u.Shape[0]}
	if u0 := arr["u0"]; u0 != nil && u0.Float64 != nil {
		d.U0 = u0.Float64
	}
	return d, nil
}

// Initial returns instance i's initial value.
func (d *Dataset) Initial(i int) []float64 {
	n := len(d.U0) / d.N
	return d.U0[i*n : (i+1)*n]
}

// Reference returns instance i's trajectory.
func (d *Dataset) Reference(i int) []float64 {
	n := len(d.U) / d.N
	return d.U[i*n : (i+1)*n]
}
