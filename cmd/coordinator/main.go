// Command coordinator runs hcmoe jobs.
//
//	coordinator solve     -config F [-out DIR] [-nats URL] [-experts N] [-dump-problems DIR] [-listen PORT] [-min-experts K]
//	coordinator gradcheck -config F [-nats URL] [-experts N] [-directions K] [-step H]
//	coordinator gen       -config F -out FILE.npz [-n COUNT] [-seed S]
//	coordinator train     -config F -out DIR [-resume] [-nats URL] [-experts N]
//	coordinator eval      -config F -checkpoint C -out DIR
//
// With no NATS URL (flag or transport.nats_url) it starts an embedded NATS
// server on loopback and transport.local_experts in-process experts behind
// it, so one command runs on a bare machine. With -nats URL -experts 0 it
// uses the external server and its experts.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/hcmoe/hcmoe/config"
	"github.com/hcmoe/hcmoe/job"
)

const usage = `usage: coordinator COMMAND [flags]

commands:
  solve      solve one instance with an analytic basis; writes metrics.json, solution.npz, PNGs
  gradcheck  check the implicit backward through the experts against finite differences
  gen        write a dataset of reference solutions (.npz)
  train      train a basis network through the experts (or soft); checkpoints, -resume
  eval       test-set rel L2, residual and timing of a checkpoint

run "coordinator COMMAND -h" for the flags of a command`

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "coordinator:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return errors.New("no command")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	cfgPath := fs.String("config", "", "YAML config (required)")
	natsURL := fs.String("nats", "", "external NATS server URL (default: transport.nats_url, else an embedded server)")
	experts := fs.Int("experts", -1, "in-process experts to start (default: transport.local_experts)")
	jsonLogs := fs.Bool("json-logs", false, "log JSON lines even on a terminal")
	listen := fs.Int("listen", 0, "loopback port for the embedded NATS server, for expert processes started separately (default: a free port)")
	minExperts := fs.Int("min-experts", 1, "experts that must answer before work starts")
	// load parses the flags, reads the config and builds the environment;
	// out (read after parsing, nil for none) defaults to output.dir.
	load := func(outFlag *string) (*config.Config, job.Env, error) {
		if err := parse(fs, args, cfgPath); err != nil {
			return nil, job.Env{}, err
		}
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return nil, job.Env{}, err
		}
		var out string
		if outFlag != nil {
			out = *outFlag
		}
		if out == "" {
			out = cfg.Output.Dir
		}
		return cfg, job.Env{NATSURL: *natsURL, Experts: *experts, Out: out, Log: logger(*jsonLogs), Listen: *listen, MinExperts: *minExperts}, nil
	}
	switch cmd {
	case "solve":
		out := fs.String("out", "", "output directory (default: output.dir of the config)")
		dump := fs.String("dump-problems", "", "write each expert's problem file to this directory")
		ckpt := fs.String("checkpoint", "", "solve with the basis of a trained network (train section of the config)")
		cfg, env, err := load(out)
		if err != nil {
			return err
		}
		env.Checkpoint = *ckpt
		m, err := job.Solve(ctx, cfg, env, *dump)
		if err != nil {
			return err
		}
		return printJSON(m)
	case "gradcheck":
		dirs := fs.Int("directions", 3, "random directions to check")
		step := fs.Float64("step", 1e-7, "central-difference step along each direction")
		cfg, env, err := load(nil)
		if err != nil {
			return err
		}
		gc, err := job.GradCheck(ctx, cfg, env, *dirs, *step)
		if err != nil {
			return err
		}
		return printJSON(gc)
	case "gen":
		out := fs.String("out", "", "dataset file to write (.npz; required)")
		n := fs.Int("n", 16, "number of instances")
		seed := fs.Uint64("seed", 0, "seed of the instance draws (default: the config's seed)")
		if err := parse(fs, args, cfgPath); err != nil {
			return err
		}
		if *out == "" {
			return errors.New("gen: -out FILE.npz is required")
		}
		text, err := os.ReadFile(*cfgPath)
		if err != nil {
			return err
		}
		cfg, err := config.Parse(text, *cfgPath)
		if err != nil {
			return err
		}
		s := cfg.Seed
		if *seed != 0 {
			s = *seed
		}
		start := time.Now()
		if err := job.Gen(ctx, cfg, text, *out, *n, s, job.ProgressWriter()); err != nil {
			return err
		}
		return printJSON(map[string]any{"out": *out, "instances": *n, "seed": s, "seconds": time.Since(start).Seconds()})
	case "train":
		out := fs.String("out", "", "run directory: train.jsonl and checkpoint.npz (default: output.dir)")
		resume := fs.Bool("resume", false, "continue from the run directory's checkpoint")
		cfg, env, err := load(out)
		if err != nil {
			return err
		}
		start := time.Now()
		if err := job.Train(ctx, cfg, env, *resume); err != nil {
			return err
		}
		return printJSON(map[string]any{"out": env.Out, "checkpoint": env.Out + "/checkpoint.npz", "seconds": time.Since(start).Seconds()})
	case "eval":
		out := fs.String("out", "", "output directory (default: output.dir)")
		ckpt := fs.String("checkpoint", "", "checkpoint written by train (required)")
		cfg, env, err := load(out)
		if err != nil {
			return err
		}
		if *ckpt == "" {
			return errors.New("eval: -checkpoint is required")
		}
		m, err := job.Eval(ctx, cfg, env, *ckpt)
		if err != nil {
			return err
		}
		return printJSON(m)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(os.Stderr, usage)
		return nil
	default:
		fmt.Fprintln(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func parse(fs *flag.FlagSet, args []string, cfgPath *string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	if *cfgPath == "" {
		return fmt.Errorf("%s: -config is required", fs.Name())
	}
	return nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// logger logs human-readable lines on a terminal and JSON otherwise, to
// stderr so that stdout carries only the command's JSON result.
func logger(json bool) zerolog.Logger {
	if fi, err := os.Stderr.Stat(); !json && err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}).With().Timestamp().Logger().Level(zerolog.InfoLevel)
	}
	return zerolog.New(os.Stderr).With().Timestamp().Logger().Level(zerolog.InfoLevel)
}
