package job

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/hcmoe/hcmoe/config"
	"github.com/hcmoe/hcmoe/model"
)

// BenchmarkTrainStep times one optimizer step of
// configs/diffusion-sorption-small.yaml (batch 2) and its one-expert and
// soft variants, on the embedded default (NATS and in-process experts):
// the goal is under one second. PI-HC-MoE against PI-HC with four
// times the points (points=1200) is the paper's speed-up at equal total
// sampled points.
func BenchmarkTrainStep(b *testing.B) {
	for _, bc := range []struct {
		name   string
		points int // 0 keeps the config's
	}{{"diffusion-sorption-small", 0}, {"diffusion-sorption-small-hc", 0}, {"diffusion-sorption-small-hc", 1200}, {"diffusion-sorption-small-sc", 0}} {
		name := bc.name
		label := name
		if bc.points > 0 {
			label = fmt.Sprintf("%s/points=%d", name, bc.points)
		}
		b.Run(label, func(b *testing.B) {
			text, err := os.ReadFile(filepath.Join("..", "configs", name+".yaml"))
			if err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			data := filepath.Join(dir, "train.npz")
			src := strings.Replace(string(text), "../out/ds-small/train.npz", data, 1)
			cfg, err := config.Parse([]byte(src), name+".yaml")
			if err != nil {
				b.Fatal(err)
			}
			if bc.points > 0 {
				cfg.Experts.Points = bc.points
			}
			ctx := context.Background()
			if err := Gen(ctx, cfg, []byte(src), data, 4, 1, nil); err != nil {
				b.Fatal(err)
			}
			ds, err := LoadDataset(data, cfg)
			if err != nil {
				b.Fatal(err)
			}
			net, err := newNetwork(cfg, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				b.Fatal(err)
			}
			tr, closeExperts, err := newTrainer(ctx, cfg, Env{Experts: -1, Log: zerolog.Nop()}, net)
			if err != nil {
				b.Fatal(err)
			}
			defer closeExperts()
			tr.SkipUnconverged = true
			opt := model.NewAdam()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				model.ZeroGrad(net.Params())
				for k := range cfg.Train.Batch {
					if _, _, err := tr.Gradient(ctx, ds.Initial((i+k)%ds.N), 0.5, fmt.Sprint("b", k)); err != nil {
						b.Fatal(err)
					}
				}
				model.ClipGlobalNorm(net.Params(), 1)
				if err := opt.Step(net.Params(), 1e-3); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
