// Command pod measures the POD baseline on diffusion-sorption: 16 proper
// orthogonal modes of 30 training trajectories, solved by the hard
// constraint on unseen instances with one expert, with four independent
// experts (replicated and local initial/boundary rows), and with four
// Schwarz-coupled experts. Run from the repository root:
//
//	go run ./bench/pod [-config F] [-train 30] [-test 5] [-modes 16] [-quick]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/hcmoe/hcmoe/config"
	"github.com/hcmoe/hcmoe/job"
	"github.com/hcmoe/hcmoe/npz"
)

func main() {
	train := flag.Int("train", 30, "training trajectories")
	test := flag.Int("test", 5, "unseen test instances")
	modes := flag.Int("modes", 16, "POD modes")
	cfgPath := flag.String("config", "configs/diffusion-sorption-pod.yaml", "config")
	quick := flag.Bool("quick", false, "one expert and the paper's [1,4] only (no Schwarz)")
	flag.Parse()
	log.SetFlags(0)
	ctx := context.Background()
	text, err := os.ReadFile(*cfgPath)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "hcmoe-pod")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	base, err := config.Load(*cfgPath)
	if err != nil {
		log.Fatal(err)
	}
	// The basis is POD whatever the config's basis section says, so that
	// the training configs (whose basis is the network) compare too.
	trainPath := filepath.Join(dir, "train.npz")
	if err := job.Gen(ctx, base, text, trainPath, *train, 1, nil); err != nil {
		log.Fatal(err)
	}
	testPath := filepath.Join(dir, "test.npz")
	if err := job.Gen(ctx, base, text, testPath, *test, 2, nil); err != nil {
		log.Fatal(err)
	}
	arr, err := npz.ReadFile(testPath, npz.Limits{})
	if err != nil {
		log.Fatal(err)
	}
	cs := make([]float64, *test)
	for i := range cs {
		cs[i] = arr["params"].Float64[i*len(arr["param_names"].Strings)] // c is the first parameter
	}

	variants := []struct {
		name     string
		split    []int
		icbc     string
		coupling string
	}{
		{"one expert", []int{1, 1}, "replicate", "none"},
		{"[1,4] independent, replicated rows (paper)", []int{1, 4}, "replicate", "none"},
		{"[1,4] independent, local rows", []int{1, 4}, "local", "none"},
		{"[1,4] Schwarz, overlap 6", []int{1, 4}, "local", "schwarz"},
	}
	if *quick {
		variants = variants[:2]
	}
	fmt.Printf("POD basis: %d modes of %d trajectories at %d×%d; %d unseen instances\n", *modes, *train, base.Mesh.T.N, base.Mesh.X.N, *test)
	for _, v := range variants {
		var errs []float64
		secs := 0.0
		for _, c := range cs {
			cfg := *base
			cfg.PDE.IC.C = &c
			cfg.Basis.Kind, cfg.Basis.Data, cfg.Basis.N = "pod", trainPath, *modes
			cfg.Experts.Split = v.split
			cfg.Experts.ICBC = v.icbc
			cfg.Experts.Coupling = v.coupling
			cfg.Experts.Overlap = 6
			cfg.Experts.Sweeps = 30
			cfg.Experts.InterfaceTol = 1e-4
			cfg.Transport.LocalExperts = 4
			if err := cfg.Validate(); err != nil {
				log.Fatal(err)
			}
			m, err := job.Solve(ctx, &cfg, job.Env{Experts: -1, Out: filepath.Join(dir, "out"), Log: zerolog.Nop()}, "")
			if err != nil {
				log.Fatal(err)
			}
			errs = append(errs, float64(m.RelL2))
			secs += m.WallSeconds
		}
		mean, std := meanStd(errs)
		fmt.Printf("%-45s rel L2 %6.2f ± %5.2f %%   (%.2f s per instance)\n", v.name, 100*mean, 100*std, secs/float64(len(cs)))
	}
}

func meanStd(v []float64) (float64, float64) {
	m := 0.0
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	s := 0.0
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return m, math.Sqrt(s / float64(len(v)))
}
