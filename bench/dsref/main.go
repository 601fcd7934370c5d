// Command dsref compares reference.DiffusionSorption with SciPy's
// solve_ivp(method="BDF") on one PDEBench diffusion-sorption trajectory:
// the same finite-volume right-hand side, the same R(u), 1024 cells and
// 101 snapshots on [0, 500] by default.
//
//	go run ./bench/dsref [-python /usr/bin/python3] [-c 0.1] [-rtol 1e-6] [-atol 1e-8] [-repeat 3]
//
// Run it from the repository root (it calls bench/ds_scipy.py). It prints
// the best-of-repeat wall time of our solver at its default tolerances and
// at SciPy's, SciPy's time, the ratios, and the max abs differences: ours
// against SciPy, and each run against a tight reference (ours at RTol
// 1e-12), so that a speed-up is never bought with accuracy. PDEBench's
// own generator (explicit RK45) takes about 60 s per trajectory.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/hcmoe/hcmoe/pde/reference"
)

type scipyResult struct {
	Seconds float64   `json:"seconds"`
	Nfev    int       `json:"nfev"`
	Njev    int       `json:"njev"`
	Nlu     int       `json:"nlu"`
	X       []float64 `json:"x"`
	T       []float64 `json:"t"`
	U       []float64 `json:"u"`
}

type run struct {
	name    string
	seconds float64
	u       []float64
	work    string
}

func main() {
	python := flag.String("python", "/usr/bin/python3", "Python with numpy and scipy")
	c := flag.Float64("c", 0.1, "constant initial value")
	cells := flag.Int("cells", reference.DefaultSorptionCells, "finite volumes")
	snaps := flag.Int("snapshots", reference.DefaultSorptionSnapshots, "snapshots on [0, T]")
	tEnd := flag.Float64("T", reference.DefaultSorptionT, "final time")
	rtol := flag.Float64("rtol", 1e-6, "SciPy's rtol (and ours in the matched run)")
	atol := flag.Float64("atol", 1e-8, "SciPy's atol (and ours in the matched run)")
	repeat := flag.Int("repeat", 3, "runs per solver; the fastest counts")
	flag.Parse()
	log.SetFlags(0)

	base := reference.SorptionOptions{Cells: *cells, T: *tEnd, Snapshots: *snaps}
	ours := func(name string, rt, at float64) run {
		o := base
		o.RTol, o.ATol = rt, at
		best := math.Inf(1)
		var u []float64
		var stats reference.SorptionStats
		for range max(1, *repeat) {
			start := time.Now()
			var err error
			u, _, _, stats, err = reference.DiffusionSorption(context.Background(), *c, o)
			if err != nil {
				log.Fatal(err)
			}
			best = math.Min(best, time.Since(start).Seconds())
		}
		return run{name, best, u, fmt.Sprintf("%d steps, %d Newton iterations", stats.Steps, stats.NewtonIters)}
	}

	ref := ours("reference (ours, RTol 1e-12)", 1e-12, 1e-14)
	def := ours(fmt.Sprintf("ours, default RTol %g ATol %g", reference.DefaultSorptionRTol, reference.DefaultSorptionATol),
		reference.DefaultSorptionRTol, reference.DefaultSorptionATol)
	matched := ours(fmt.Sprintf("ours, RTol %g ATol %g", *rtol, *atol), *rtol, *atol)

	script := filepath.Join("bench", "ds_scipy.py")
	out, err := exec.Command(*python, script,
		"--c", fmt.Sprint(*c), "--cells", fmt.Sprint(*cells), "--snapshots", fmt.Sprint(*snaps),
		"--T", fmt.Sprint(*tEnd), "--rtol", fmt.Sprint(*rtol), "--atol", fmt.Sprint(*atol),
		"--repeat", fmt.Sprint(*repeat)).Output()
	if err != nil {
		log.Fatalf("scipy: %v (run from the repository root; needs python3-scipy)", err)
	}
	var sr scipyResult
	if err := json.Unmarshal(out, &sr); err != nil {
		log.Fatalf("scipy output: %v", err)
	}
	if len(sr.U) != len(ref.u) {
		log.Fatalf("scipy returned %d values, want %d", len(sr.U), len(ref.u))
	}
	sp := run{fmt.Sprintf("scipy BDF, rtol %g atol %g", *rtol, *atol), sr.Seconds, sr.U,
		fmt.Sprintf("%d f-evals, %d Jacobians (3 f-evals each), %d LU", sr.Nfev, sr.Njev, sr.Nlu)}

	fmt.Printf("diffusion-sorption, c = %g, %d cells × %d snapshots on [0, %g], best of %d\n\n", *c, *cells, *snaps, *tEnd, *repeat)
	fmt.Printf("%-36s %9s %14s  %s\n", "solver", "seconds", "max|u − ref|", "work")
	for _, r := range []run{def, matched, sp} {
		fmt.Printf("%-36s %9.4f %14.3g  %s\n", r.name, r.seconds, maxAbsDiff(r.u, ref.u), r.work)
	}
	fmt.Printf("\nSciPy / ours (default tolerances):  %.2f×\n", sp.seconds/def.seconds)
	fmt.Printf("SciPy / ours (SciPy's tolerances):  %.2f×\n", sp.seconds/matched.seconds)
	fmt.Printf("max |ours (default) − SciPy|:       %.3g\n", maxAbsDiff(def.u, sp.u))
	fmt.Printf("max |ours (matched) − SciPy|:       %.3g\n", maxAbsDiff(matched.u, sp.u))
}

func maxAbsDiff(a, b []float64) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}
