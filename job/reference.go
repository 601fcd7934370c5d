package job

import (
	"fmt"

	"github.com/hcmoe/hcmoe/config"
	"github.com/hcmoe/hcmoe/mesh"
)

// referenceSolver returns the instance solver of a family whose reference
// is computed numerically.
func referenceSolver(cfg *config.Config, g mesh.Grid, p map[string]float64) ([]string, string, instanceFunc, error) {
	return nil, "", nil, fmt.Errorf("gen: no reference solver for %s", cfg.PDE.Name)
}
