package job

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/hcmoe/hcmoe/config"
	"github.com/hcmoe/hcmoe/npz"
)

const smallHeat = `
seed: 2
pde: {name: heat, params: {kappa: 0.1}, ic: {kind: sine}}
mesh: {t: {min: 0, max: 1, n: 33}, x: {min: 0, max: 1, n: 65}}
experts: {split: [1, 4], points: 600, coupling: schwarz, overlap: 4, sweeps: 40, interface_tol: 1.0e-4}
solver: {ridge: 1.0e-10}
basis: {kind: chebyshev, degrees: [4, 6]}
transport: {local_experts: 2, timeout: 20s}
`

// The whole solve command on the embedded default: an embedded NATS server,
// two in-process experts behind it, Schwarz coupling, and every output file.
func TestSolveEmbedded(t *testing.T) {
	cfg, err := config.Parse([]byte(smallHeat), "small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	dump := filepath.Join(out, "problems")
	m, err := Solve(context.Background(), cfg, Env{Experts: -1, Out: out, Log: zerolog.Nop()}, dump)
	if err != nil {
		t.Fatal(err)
	}
	// With this basis one expert reaches 3e-4 against the exact solution;
	// the coupled experts must too (the bar is 1e-3).
	if float64(m.RelL2) > 1e-3 || m.Sweeps < 2 || !m.Embedded || m.Converged != 4 {
		t.Fatalf("metrics %+v", m)
	}
	var disk map[string]any
	data, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &disk); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"rel_l2", "residual_rms", "residual_max", "experts", "wall_seconds", "sweeps", "interface_mismatch"} {
		if _, ok := disk[k]; !ok {
			t.Errorf("metrics.json lacks %q", k)
		}
	}
	sol, err := npz.ReadFile(filepath.Join(out, "solution.npz"), npz.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"u", "u_ref", "t", "x"} {
		if _, ok := sol[k]; !ok {
			t.Errorf("solution.npz lacks %q", k)
		}
	}
	for _, f := range []string{"prediction.png", "reference.png", "error.png", "problems/expert-0.npz", "problems/expert-3.npz"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestGradCheckEmbedded(t *testing.T) {
	cfg, err := config.Parse([]byte(smallHeat), "small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gc, err := GradCheck(context.Background(), cfg, Env{Experts: -1, Log: zerolog.Nop()}, 2, 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	if gc.MaxRelErr > 1e-5 {
		t.Fatalf("gradcheck %+v", gc)
	}
}

func TestConnectErrors(t *testing.T) {
	cfg, err := config.Parse([]byte(smallHeat), "small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// An embedded server on a random port with no experts of its own can
	// never be reached by any.
	if _, err := Connect(context.Background(), cfg, Env{Experts: 0, Log: zerolog.Nop()}); err == nil || !strings.Contains(err.Error(), "nothing else can reach it") {
		t.Fatalf("embedded with no experts: %v", err)
	}
	cfg.Transport.Timeout = 500e6 // 0.5 s
	if _, err := Connect(context.Background(), cfg, Env{NATSURL: "nats://127.0.0.1:1", Experts: 0, Log: zerolog.Nop()}); err == nil {
		t.Fatal("unreachable server: no error")
	}
}

// gen writes the same bytes whatever the core count, and an interrupted run
// writes nothing.
func TestGenDeterministic(t *testing.T) {
	cases := map[string]string{"heat": smallHeat}
	if extra := genCases(); extra != nil {
		for k, v := range extra {
			cases[k] = v
		}
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(text), name+".yaml")
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			var files [2][]byte
			for i, procs := range []int{1, 2} {
				prev := runtime.GOMAXPROCS(procs)
				path := filepath.Join(dir, fmt.Sprintf("d%d.npz", procs))
				err := Gen(context.Background(), cfg, []byte(text), path, 3, 7, nil)
				runtime.GOMAXPROCS(prev)
				if err != nil {
					t.Fatal(err)
				}
				if files[i], err = os.ReadFile(path); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(files[0], files[1]) {
				t.Fatal("datasets differ between 1 and 2 cores")
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			path := filepath.Join(dir, "cancelled.npz")
			if err := Gen(ctx, cfg, []byte(text), path, 3, 7, nil); err == nil {
				t.Fatal("cancelled gen: no error")
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("cancelled gen left %s", path)
			}
		})
	}
}
