// Package reference solves the PDEs of package pde classically, for ground truth and datasets.
package reference
