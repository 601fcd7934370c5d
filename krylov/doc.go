// Package krylov provides matrix-free Krylov subspace solvers for linear
// systems and linear least-squares problems.
//
// The solvers never see a matrix: they only apply a linear map through the
// Operator interface (and its transpose through TransposeOperator), so the
// caller is free to represent A as a dense or sparse matrix, as a product of
// factors such as JᵀJ+μI, or as a finite-difference Jacobian-vector product.
//
// The package provides four methods:
//
//   - CG, preconditioned conjugate gradients, for symmetric positive
//     definite A;
//   - MINRES, preconditioned minimum residual, for symmetric, possibly
//     indefinite, A;
//   - GMRES, restarted generalized minimum residual GMRES(m) with right
//     preconditioning, for general square A;
//   - LSQR, the Paige–Saunders method for min ‖Ax−b‖² + d²‖x‖² with
//     rectangular A of any rank.
//
// All four share the calling convention
//
//	res, err := Method(a, b, x, settings)
//
// where x holds the initial guess on entry (all zeros is a good default) and
// the approximate solution on return. The error is non-nil only for invalid
// input, and then wraps one of the sentinel errors ErrNilOperator,
// ErrDimension, ErrNonFinite or ErrSettings so that it can be tested with
// errors.Is. Every other outcome, including failure to converge and
// breakdown of the iteration, is reported through Result.Reason; x is
// always left holding the last iterate that was computed from finite
// values, so a caller may use it even when the solve did not converge.
//
// The solvers allocate their work vectors once per call and do not allocate
// inside the iteration. They keep no state between calls and are safe for
// concurrent use provided the operators passed to them are.
//
// References:
//
//   - M. R. Hestenes and E. Stiefel, Methods of conjugate gradients for
//     solving linear systems, J. Res. Nat. Bur. Standards 49 (1952).
//   - C. C. Paige and M. A. Saunders, Solution of sparse indefinite systems
//     of linear equations, SIAM J. Numer. Anal. 12 (1975).
//   - Y. Saad and M. H. Schultz, GMRES: a generalized minimal residual
//     algorithm for solving nonsymmetric linear systems, SIAM J. Sci. Stat.
//     Comput. 7 (1986).
//   - C. C. Paige and M. A. Saunders, LSQR: an algorithm for sparse linear
//     equations and sparse least squares, ACM Trans. Math. Softw. 8 (1982).
package krylov // import "github.com/hcmoe/hcmoe/krylov"
