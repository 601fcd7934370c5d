package transport

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Embedded starts a NATS server inside this process, listening on loopback
// on a free port, for the default single-command setup and for tests.
// maxPayload ≤ 0 keeps the server's default (1 MiB). Shut it down with
// Shutdown and WaitForShutdown.
func Embedded(maxPayload int32) (*server.Server, error) {
	opts := &server.Options{
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: maxPayload,
	}
	return startServer(opts)
}

// EmbeddedAt is Embedded on a given loopback port, so that a test can stop
// a server and start another where clients will reconnect.
func EmbeddedAt(port int, maxPayload int32) (*server.Server, error) {
	return startServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true, MaxPayload: maxPayload})
}

func startServer(opts *server.Options) (*server.Server, error) {
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("transport: embedded NATS server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("transport: embedded NATS server not ready after 10 s")
	}
	return ns, nil
}
