// Package mesh provides the structured space-time grids, finite-difference
// term operators, block partitions and point sampling used by the hcmoe
// hard-constraint solver.
//
// A Grid is a tensor product of Axes stored in the order (t, x[, y]): axis 0
// is time and is never periodic, the remaining axes are space. Grid values
// are addressed by a row-major flat index with the last axis varying fastest.
//
// Grid functions are handled as fields: a field with cols columns is a
// row-major Size()×cols matrix stored in a []float64 whose row r holds the
// values of cols grid functions at grid point r. A network that outputs N
// basis functions gives a field with N columns, and a term operator such as
// ∂/∂x maps all N basis functions at once. Keeping the columns contiguous
// lets the operators run their inner loops over long contiguous rows.
//
// An Operator is a linear map on fields. Derivative builds first and second
// derivative operators along one axis with second (FD2) or fourth (FD4)
// order finite differences. Every Operator has an exact adjoint,
// ApplyTranspose, so that cotangents of term matrices can be pulled back to
// the basis functions.
//
// A Partition splits a Grid into a lattice of Blocks, one per expert. The
// sampling functions pick the collocation points of a block: interior points
// drawn without replacement, the points of the initial slice, and the points
// on the global boundary faces of the space axes. All point sets are returned
// as sorted global flat indices.
package mesh
