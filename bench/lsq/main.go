// Command lsq compares constraint.Solve with SciPy's least_squares (MINPACK
// Levenberg–Marquardt, analytic Jacobian) on the same diffusion-sorption-like
// problems, from the same start, in one run.
//
//	go run ./bench/lsq [-python /usr/bin/python3] [-repeat 3] [-tol 1e-8]
//
// Both stop on the same three tolerances (SciPy's ftol, xtol, gtol; our
// CostTol, StepTol and relative GradTol). It prints, per problem size, the
// best-of-repeat wall time of each solver, the final cost ½‖r‖² + ½λ‖ω‖²
// each reached, the speed-up over SciPy, and the time at which our solve
// first reached SciPy's final cost.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/internal/testproblem"
	"github.com/hcmoe/hcmoe/npz"
)

type scipyResult struct {
	Seconds  float64 `json:"seconds"`
	Cost     float64 `json:"cost"`
	Nfev     int     `json:"nfev"`
	Njev     int     `json:"njev"`
	Status   int     `json:"status"`
	GradNorm float64 `json:"grad_norm"`
}

func main() {
	python := flag.String("python", "/usr/bin/python3", "Python with numpy and scipy")
	repeat := flag.Int("repeat", 3, "runs per solver; the fastest counts")
	tol := flag.Float64("tol", 1e-8, "SciPy ftol = xtol = gtol; our relative gradient tolerance")
	keep := flag.String("keep", "", "directory to keep the problem files in (default: a temporary one)")
	flag.Parse()
	log.SetFlags(0)

	dir := *keep
	if dir == "" {
		d, err := os.MkdirTemp("", "hcmoe-lsq")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	script := filepath.Join("bench", "scipy_lsq.py")
	fmt.Printf("%-6s %-8s %10s %6s %16s %10s\n", "N", "solver", "seconds", "iters", "final cost", "ratio")
	for _, d := range []int{4, 8} {
		p := testproblem.DiffusionSorption(20000, d, d, 1)
		x0, err := constraint.StartPoint(p)
		if err != nil {
			log.Fatal(err)
		}
		pf := filepath.Join(dir, fmt.Sprintf("ds-n%d.npz", p.N))
		xf := filepath.Join(dir, fmt.Sprintf("ds-n%d-x0.npz", p.N))
		if err := constraint.WriteProblem(pf, p, false); err != nil {
			log.Fatal(err)
		}
		if err := npz.WriteFile(xf, false, func(w *npz.Writer) error { return w.Float64("x0", []int{p.N}, x0) }); err != nil {
			log.Fatal(err)
		}

		out, err := exec.Command(*python, script, pf, xf, "--tol", fmt.Sprint(*tol), "--repeat", fmt.Sprint(*repeat)).Output()
		if err != nil {
			log.Fatalf("scipy: %v (run from the repository root; needs python3-scipy)", err)
		}
		var sr scipyResult
		if err := json.Unmarshal(out, &sr); err != nil {
			log.Fatalf("scipy output: %v", err)
		}

		// Our solve with SciPy's three tolerances, timing also the moment
		// it first reaches SciPy's final cost: the time to equal quality.
		var best, toPeer time.Duration
		var res *constraint.Result
		for range *repeat {
			var reached time.Duration
			t0 := time.Now()
			set := constraint.Settings{GradTol: *tol, StepTol: *tol, CostTol: *tol, Monitor: func(s constraint.Step) {
				if reached == 0 && s.Accepted && s.Cost <= sr.Cost {
					reached = time.Since(t0)
				}
			}}
			r, err := constraint.Solve(context.Background(), p, set, x0)
			if err != nil {
				log.Fatal(err)
			}
			if el := time.Since(t0); best == 0 || el < best {
				best, res, toPeer = el, r, reached
			}
		}
		fmt.Printf("%-6d %-8s %10.3f %6d %16.10g %10s   (MINPACK status %d, %d jacobians)\n", p.N, "scipy", sr.Seconds, sr.Nfev, sr.Cost, "1.0x", sr.Status, sr.Njev)
		fmt.Printf("%-6d %-8s %10.3f %6d %16.10g %9.1fx   (%v)\n", p.N, "hcmoe", best.Seconds(), res.Iterations, res.Cost, sr.Seconds/best.Seconds(), res.Status)
		if toPeer > 0 {
			fmt.Printf("%-6d %-8s %10.3f %6s %16s %9.1fx   (first reached SciPy's final cost)\n", p.N, "hcmoe", toPeer.Seconds(), "", "", sr.Seconds/toPeer.Seconds())
		}
	}
}
