package expert_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/expert"
	"github.com/hcmoe/hcmoe/internal/testproblem"
	"github.com/hcmoe/hcmoe/transport"
)

// expertBin is the cmd/expert binary built once for the package's tests:
// the integration tests run real expert processes against real servers.
var expertBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hcmoe-expert-test")
	if err != nil {
		panic(err)
	}
	expertBin = filepath.Join(dir, "expert")
	build := exec.Command("go", "build", "-o", expertBin, "github.com/hcmoe/hcmoe/cmd/expert")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building cmd/expert:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startExpert runs an expert process; it is killed when the test ends.
func startExpert(t *testing.T, url, id string, extra ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(expertBin, append([]string{"-nats", url, "-id", id}, extra...)...)
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("expert %s log:\n%s", id, logs.String())
		}
	})
	return cmd
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func waitExperts(t *testing.T, nc *nats.Conn, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if got, err := expert.WaitFor(ctx, nc, n); err != nil {
		t.Fatalf("%d of %d experts up: %v", got, n, err)
	}
}

func newClient(t *testing.T, nc *nats.Conn) *expert.Client {
	t.Helper()
	c, err := expert.NewClient(nc, transport.Options{}, transport.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// request is a diffusion-sorption solve of the benchmark's shape, smaller.
func request(key string, interior int) *transport.SolveRequest {
	p := testproblem.DiffusionSorption(interior, 4, 4, 7)
	return &transport.SolveRequest{Key: key, Problem: p, Keep: true,
		Settings: constraint.Settings{GradTol: 1e-10, MaxIter: 60}}
}

func sameFloats(t *testing.T, what string, a, b []float64) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: lengths %d and %d", what, len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("%s[%d]: %v over NATS, %v in process", what, i, a[i], b[i])
		}
	}
}

// The same problem solved in this process and by an expert process over
// NATS gives the same ω and the same cotangents, bit for bit.
func checkIdentical(t *testing.T, url string) {
	nc := connect(t, url)
	startExpert(t, url, "e1")
	startExpert(t, url, "e2")
	waitExperts(t, nc, 2)
	c := newClient(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	req := request("same/0", 3000)
	local := expert.NewHandler("local", expert.CacheLimits{})
	want, err := local.Solve(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Solve(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got.Expert != "e1" && got.Expert != "e2" {
		t.Fatalf("reply from %q", got.Expert)
	}
	sameFloats(t, "ω", got.Result.Omega, want.Result.Omega)
	if got.Result.Status != want.Result.Status || got.Result.Iterations != want.Result.Iterations {
		t.Fatalf("status %v/%d iterations over NATS, %v/%d in process", got.Result.Status, got.Result.Iterations, want.Result.Status, want.Result.Iterations)
	}
	bw := &transport.BackwardRequest{Key: req.Key, OmegaBar: want.Result.Omega, Settings: constraint.BackwardSettings{AllowUnconverged: true}}
	wb, err := local.Backward(ctx, bw)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := c.Backward(ctx, got.Expert, bw)
	if err != nil {
		t.Fatal(err)
	}
	sameFloats(t, "v", gb.Cotangents.V, wb.Cotangents.V)
	sameFloats(t, "α", gb.Cotangents.Blocks[0].Alpha[2], wb.Cotangents.Blocks[0].Alpha[2])

	// A backward addressed to an instance that does not exist is a lost
	// forward, which the router answers by resending.
	if _, err := c.Backward(ctx, "nobody", bw); !isLost(err) {
		t.Fatalf("backward on a missing instance: %v", err)
	}
}

func isLost(err error) bool {
	return err != nil && strings.Contains(err.Error(), expert.ErrCacheMiss.Error())
}

func TestIdenticalEmbedded(t *testing.T) {
	ns, err := transport.Embedded(0)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	checkIdentical(t, ns.ClientURL())
}

// The same against the nats-server binary that .ci/run installs.
func TestIdenticalNatsServerBinary(t *testing.T) {
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("nats-server not on PATH (apt-get install nats-server); the embedded server is tested above")
	}
	port := freePort(t)
	srv := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if nc, err := nats.Connect(url); err == nil {
			nc.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nats-server did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkIdentical(t, url)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// A server whose max_payload is smaller than one problem: requests and
// replies travel in chunks and the answer is the same.
func TestSmallMaxPayload(t *testing.T) {
	ns, err := transport.Embedded(64 << 10)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	url := ns.ClientURL()
	nc := connect(t, url)
	startExpert(t, url, "small-1")
	startExpert(t, url, "small-2")
	waitExperts(t, nc, 2)
	c := newClient(t, nc)
	req := request("small/0", 6000)
	frame, err := transport.Marshal(req, transport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(frame) <= int(nc.MaxPayload()) {
		t.Fatalf("request of %d bytes fits in max_payload %d: the test needs a bigger one", len(frame), nc.MaxPayload())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got, err := c.Solve(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want, err := expert.NewHandler("local", expert.CacheLimits{}).Solve(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	sameFloats(t, "ω", got.Result.Omega, want.Result.Omega)
	// The backward reply (a few floats per row) exceeds 64 KiB as well.
	bw := &transport.BackwardRequest{Key: req.Key, OmegaBar: want.Result.Omega, Settings: constraint.BackwardSettings{AllowUnconverged: true}}
	if _, err := c.Backward(ctx, got.Expert, bw); err != nil {
		t.Fatal(err)
	}
}

// An expert killed mid-request: the call times out and the retry, on a
// fresh expert, completes with the same answer.
func TestExpertKilledMidRequest(t *testing.T) {
	ns, err := transport.Embedded(0)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	url := ns.ClientURL()
	nc := connect(t, url)
	victim := startExpert(t, url, "victim")
	waitExperts(t, nc, 1)
	c := newClient(t, nc)
	req := request("kill/0", 20000)
	req.Settings = constraint.Settings{GradTol: 1e-14, StepTol: 1e-16, CostTol: 1e-18, MaxIter: 400}

	done := make(chan error, 1)
	var rep *transport.SolveReply
	go func() {
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
			rep, err = c.Solve(ctx, req)
			cancel()
			if err == nil {
				break
			}
		}
		done <- err
	}()
	// The solve takes about a second here (281 LM steps to rounding level):
	// the victim dies well inside it, after it has taken the request.
	time.Sleep(150 * time.Millisecond)
	victim.Process.Kill()
	startExpert(t, url, "rescuer")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("no expert completed the request: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the request neither completed nor failed")
	}
	if rep.Expert != "rescuer" {
		t.Fatalf("answered by %q; the victim was killed before it could answer (solve too fast?)", rep.Expert)
	}
}

// The NATS server restarts mid-run: clients and experts reconnect, and the
// run completes (the lost request is retried once the server is back).
func TestServerRestart(t *testing.T) {
	port := freePort(t)
	ns, err := transport.EmbeddedAt(port, 0)
	if err != nil {
		t.Fatal(err)
	}
	url := ns.ClientURL()
	nc := connect(t, url)
	startExpert(t, url, "r1")
	waitExperts(t, nc, 1)
	c := newClient(t, nc)
	req := request("restart/0", 20000)
	req.Settings = constraint.Settings{GradTol: 1e-14, StepTol: 1e-16, CostTol: 1e-18, MaxIter: 400}

	done := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(45 * time.Second)
		var err error
		for time.Now().Before(deadline) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err = c.Solve(ctx, req)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	ns.Shutdown()
	ns.WaitForShutdown()
	time.Sleep(500 * time.Millisecond)
	ns2, err := transport.EmbeddedAt(port, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ns2.Shutdown()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run did not complete after the restart: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the run neither completed nor failed within its deadline")
	}
}

// The HTTP side of a running expert: health, readiness and metrics.
func TestHTTPEndpoints(t *testing.T) {
	ns, err := transport.Embedded(0)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	port := freePort(t)
	url := ns.ClientURL()
	nc := connect(t, url)
	startExpert(t, url, "h1", "-http", fmt.Sprintf("127.0.0.1:%d", port))
	waitExperts(t, nc, 1)
	c := newClient(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Solve(ctx, request("http/0", 500)); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": `hcmoe_expert_requests_total{op="solve"} 1`} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("%s: %d %q (%v), want %q", path, resp.StatusCode, body, err, want)
		}
	}
}
