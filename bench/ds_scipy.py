#!/usr/bin/env python3
"""Solve one PDEBench diffusion-sorption trajectory with SciPy's solve_ivp.

The peer of reference.DiffusionSorption: the same finite-volume right-hand
side as PDEBench's sim_diff_sorp.py (N cells on [0, 1], ghost values
c[-1] = 1 and c[N] = D (c[N-2] - c[N-1]) / dx), with the retardation R(u) of
package pde (the smooth positive floor q(u) = (u + sqrt(u^2 + eps^2)) / 2 in
place of PDEBench's u + 1e-6), integrated by solve_ivp's BDF method with the
tridiagonal Jacobian pattern given as jac_sparsity, so that SciPy builds the
Jacobian from 3 grouped finite differences instead of N.

Prints one JSON object: seconds (wall time of solve_ivp alone, best of
--repeat), nfev, njev, nlu, status, x, t and u (snapshots x cells, row-major).

usage: ds_scipy.py [--c 0.1] [--cells 1024] [--snapshots 101] [--T 500]
                   [--rtol 1e-6] [--atol 1e-8] [--repeat 1]
"""
import argparse
import json
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp
from scipy.sparse import diags

# The defaults of package pde (PDEBench's physical constants, eps = 1e-6).
D, POROSITY, RHO_S, K_F, N_F, EPS = 5e-4, 0.29, 2880.0, 3.5e-4, 0.874, 1e-6


def retardation(u):
    """R(u) = 1 + (1-phi)/phi rho_s k_f n_f q(u)^(n_f-1), as pde.DiffusionSorption."""
    s = np.hypot(u, EPS)
    # For u < 0 the same value without cancellation, as in package pde.
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(u >= 0, (u + s) / 2, EPS * EPS / (2 * (s - u)))
    q = np.maximum(q, np.finfo(float).tiny)
    return 1 + (1 - POROSITY) / POROSITY * RHO_S * K_F * N_F * q ** (N_F - 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--c", type=float, default=0.1, help="constant initial value")
    ap.add_argument("--cells", type=int, default=1024)
    ap.add_argument("--snapshots", type=int, default=101)
    ap.add_argument("--T", type=float, default=500.0)
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--atol", type=float, default=1e-8)
    ap.add_argument("--repeat", type=int, default=1, help="runs; the fastest counts")
    args = ap.parse_args()

    n = args.cells
    dx = 1.0 / n
    x = np.linspace(dx / 2, 1 - dx / 2, n)
    t_eval = np.linspace(0, args.T, args.snapshots)
    inv = D / dx ** 2

    def rhs(_t, c):
        lap = np.empty_like(c)
        lap[1:-1] = c[:-2] - 2 * c[1:-1] + c[2:]
        lap[0] = 1.0 - 2 * c[0] + c[1]  # left ghost: Dirichlet value 1
        ghost = D * (c[-2] - c[-1]) / dx  # right ghost, as PDEBench
        lap[-1] = c[-2] - 2 * c[-1] + ghost
        return inv / retardation(c) * lap

    pattern = diags([np.ones(n - 1), np.ones(n), np.ones(n - 1)], [-1, 0, 1], format="csc")
    u0 = np.full(n, args.c)

    best, sol = np.inf, None
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        sol = solve_ivp(rhs, (0, args.T), u0, method="BDF", t_eval=t_eval,
                        rtol=args.rtol, atol=args.atol, jac_sparsity=pattern)
        best = min(best, time.perf_counter() - start)
    if sol.status != 0:
        print(f"ds_scipy: solve_ivp failed: {sol.message}", file=sys.stderr)
        sys.exit(1)
    json.dump({
        "seconds": best,
        "nfev": int(sol.nfev),
        "njev": int(sol.njev),
        "nlu": int(sol.nlu),
        "status": int(sol.status),
        "x": x.tolist(),
        "t": sol.t.tolist(),
        "u": sol.y.T.ravel().tolist(),
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
