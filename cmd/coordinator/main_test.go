package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOutDir runs a small solve through the command line: -out must win
// over output.dir, and output.dir is the default without it.
func TestOutDir(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "heat.yaml")
	text := `seed: 1
pde: {name: heat, params: {kappa: 0.1}, ic: {kind: sine, amplitude: 1, k: 1}}
mesh:
  t: {min: 0, max: 1, n: 9}
  x: {min: 0, max: 1, n: 17}
experts: {split: [1, 1], points: 60, ic_bc: local, coupling: none}
basis: {kind: chebyshev, degrees: [2, 3]}
transport: {local_experts: 1}
output: {dir: ` + filepath.Join(dir, "default-out") + `}
`
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	os.Stdout = devnull
	defer func() { os.Stdout = stdout }()

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-out", filepath.Join(dir, "flag-out")}, filepath.Join(dir, "flag-out")},
		{nil, filepath.Join(dir, "default-out")},
	} {
		args := append([]string{"solve", "-config", cfg, "-json-logs"}, tc.args...)
		if err := run(args); err != nil {
			t.Fatalf("run %v: %v", args, err)
		}
		if _, err := os.Stat(filepath.Join(tc.want, "metrics.json")); err != nil {
			t.Errorf("run %v: %v", args, err)
		}
	}
}
