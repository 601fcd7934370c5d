package job

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/hcmoe/hcmoe/config"
	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/npz"
	"github.com/hcmoe/hcmoe/pde/reference"
)

// Version is written into datasets and results.
const Version = "0.1.0"

// instance is one generated trajectory: the field on the grid, its
// parameter values (in the order of the dataset's param_names) and its
// initial value on the first time slice.
type instance struct {
	u      []float64
	params []float64
}

// instanceFunc solves instance i with its own generator.
type instanceFunc func(ctx context.Context, i int, rng *rand.Rand) (instance, error)

// Gen runs `coordinator gen`: count instances of the configured PDE family,
// each solved by the reference solver, written to out as one .npz:
//
//	u            [count, nt, nx]   the reference trajectories
//	t, x         the axes
//	param_names  names of the per-instance parameters; params [count, P]
//	u0           [count, nx]       the initial values
//	meta_config, meta_seed, meta_solver, meta_version
//
// Instances run in parallel on every core, each with a generator seeded by
// (seed, index), so the file has the same bytes whatever the core count.
// The file is written only when every instance is done, atomically: an
// interrupted run leaves no file that looks complete.
func Gen(ctx context.Context, cfg *config.Config, configText []byte, out string, count int, seed uint64, progress io.Writer) error {
	if count < 1 {
		return fmt.Errorf("gen: -n %d: want at least one instance", count)
	}
	g, err := cfg.Grid()
	if err != nil {
		return err
	}
	names, solver, solve, err := instanceSolver(cfg, g)
	if err != nil {
		return err
	}
	results := make([]instance, count)
	errs := make([]error, count)
	next := make(chan int)
	var done sync.WaitGroup
	var mu sync.Mutex
	finished := 0
	start := time.Now()
	workers := min(runtime.GOMAXPROCS(0), count)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range workers {
		done.Add(1)
		go func() {
			defer done.Done()
			for i := range next {
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				results[i], errs[i] = solve(ctx, i, rng)
				if errs[i] != nil {
					errs[i] = fmt.Errorf("gen: instance %d: %w", i, errs[i])
					cancel()
				}
				mu.Lock()
				finished++
				if progress != nil {
					el := time.Since(start)
					eta := time.Duration(float64(el) / float64(finished) * float64(count-finished))
					fmt.Fprintf(progress, "\rgen %s: %d/%d instances, %s elapsed, ETA %s   ", cfg.PDE.Name, finished, count, el.Round(time.Second), eta.Round(time.Second))
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range count {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	done.Wait()
	if progress != nil {
		fmt.Fprintln(progress)
	}
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gen: interrupted, nothing written: %w", err)
	}
	shape := append([]int{count}, g.Shape()...)
	size := g.Size()
	nx := g.Axes[len(g.Axes)-1].N
	if g.Dims() == 3 {
		nx = g.Axes[1].N * g.Axes[2].N
	}
	u := make([]float64, count*size)
	u0 := make([]float64, count*nx)
	params := make([]float64, count*len(names))
	for i, r := range results {
		copy(u[i*size:], r.u)
		copy(u0[i*nx:], r.u[:nx])
		copy(params[i*len(names):], r.params)
	}
	axisNames := []string{"t", "x", "y"}
	return npz.WriteFile(out, true, func(w *npz.Writer) error {
		if err := w.Float64("u", shape, u); err != nil {
			return err
		}
		for a, ax := range g.Axes {
			pts := ax.Points()
			if err := w.Float64(axisNames[a], []int{len(pts)}, pts); err != nil {
				return err
			}
		}
		u0shape := append([]int{count}, g.Shape()[1:]...)
		steps := []func() error{
			func() error { return w.Float64("u0", u0shape, u0) },
			func() error { return w.Strings("param_names", names) },
			func() error { return w.Float64("params", []int{count, len(names)}, params) },
			func() error { return w.Strings("meta_config", []string{string(configText)}) },
			func() error { return w.Int64("meta_seed", nil, []int64{int64(seed)}) },
			func() error { return w.Strings("meta_solver", []string{solver}) },
			func() error { return w.Strings("meta_version", []string{Version}) },
		}
		for _, s := range steps {
			if err := s(); err != nil {
				return err
			}
		}
		return nil
	})
}

// ProgressWriter returns stderr when it is a terminal, else nil: a
// progress line is for people, not for logs.
func ProgressWriter() io.Writer {
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return os.Stderr
	}
	return nil
}

// instanceSolver returns the per-instance parameter names, the solver's
// name and the function that solves one instance of the configured family.
func instanceSolver(cfg *config.Config, g mesh.Grid) ([]string, string, instanceFunc, error) {
	eq, err := cfg.Equation()
	if err != nil {
		return nil, "", nil, err
	}
	p := eq.Params()
	t, x := g.Axes[0].Points(), g.Axes[1].Points()
	switch cfg.PDE.Name {
	case "heat":
		a, k := cfg.PDE.IC.Amplitude, cfg.PDE.IC.K
		return []string{"kappa", "amplitude", "k"}, "exact: A exp(−κk²π²t) sin(kπx)",
			func(context.Context, int, *rand.Rand) (instance, error) {
				return instance{u: reference.Heat(t, x, p["kappa"], a, k), params: []float64{p["kappa"], a, k}}, nil
			}, nil
	default:
		return referenceSolver(cfg, g, p)
	}
}
