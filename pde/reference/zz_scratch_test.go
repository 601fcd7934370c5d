package reference

import (
	"context"
	"fmt"
	"math"
	"testing"
)

func TestScratchSorption(t *testing.T) {
	for _, b := range []SorptionBoundary{GhostPDEBench, GhostFace} {
		for _, T := range []float64{50, 500} {
			o := SorptionOptions{Cells: 2048, T: T, Snapshots: 2, RTol: 1e-10, ATol: 1e-12, Boundary: b}
			ref, _, _, _, err := DiffusionSorption(context.Background(), 0.1, o)
			if err != nil {
				t.Fatal(err)
			}
			ref = ref[2048:]
			prev := 0.0
			for _, n := range []int{16, 32, 64, 128, 256, 512} {
				o.Cells = n
				u, _, _, _, err := DiffusionSorption(context.Background(), 0.1, o)
				if err != nil {
					t.Fatal(err)
				}
				u = u[n:]
				r := 2048 / n
				var e, e1 float64
				for i := range n {
					var avg float64
					for j := range r {
						avg += ref[i*r+j]
					}
					avg /= float64(r)
					e = math.Max(e, math.Abs(u[i]-avg))
					e1 += math.Abs(u[i]-avg) / float64(n)
				}
				fmt.Printf("%v T=%g N=%d max err %.3g order %.3f   L1 %.3g\n", b, T, n, e, math.Log2(prev/e), e1)
				prev = e
			}
		}
	}
}
