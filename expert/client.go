package expert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/hcmoe/hcmoe/transport"
)

// RemoteError is an error an expert answered with.
type RemoteError struct {
	Code        string
	Description string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("expert error %s: %s", e.Code, e.Description)
}

// Client calls expert services over NATS. It is safe for concurrent use.
type Client struct {
	nc    *nats.Conn
	codec *transport.Codec
	lim   transport.Limits
}

// NewClient returns a client that encodes requests with o.
func NewClient(nc *nats.Conn, o transport.Options, lim transport.Limits) (*Client, error) {
	codec, err := transport.NewCodec(o)
	if err != nil {
		return nil, err
	}
	return &Client{nc: nc, codec: codec, lim: lim}, nil
}

// Close releases the client's codec; the connection stays open.
func (c *Client) Close() error { return c.codec.Close() }

// Solve sends a solve request to the queue group.
func (c *Client) Solve(ctx context.Context, req *transport.SolveRequest) (*transport.SolveReply, error) {
	m, err := c.call(ctx, SubjectSolve, "solve", req)
	if err != nil {
		return nil, fmt.Errorf("solve %q: %w", req.Key, err)
	}
	rep, ok := m.(*transport.SolveReply)
	if !ok {
		return nil, fmt.Errorf("solve %q: expert answered with a %v", req.Key, m.Kind())
	}
	return rep, nil
}

// Backward sends a backward to the instance that ran the forward, or, with
// instance "", to the queue group (the request must then carry the
// forward). A forward whose instance is gone or no longer holds it is
// reported as ErrCacheMiss.
func (c *Client) Backward(ctx context.Context, instance string, req *transport.BackwardRequest) (*transport.BackwardReply, error) {
	subject := SubjectBackward
	if instance != "" {
		subject = InstanceSubject(instance, "backward")
	}
	m, err := c.call(ctx, subject, "backward", req)
	if err != nil {
		var re *RemoteError
		if instance != "" && (errors.Is(err, nats.ErrNoResponders) || errors.As(err, &re) && re.Code == CodeCacheMiss) {
			return nil, fmt.Errorf("backward %q on %s: %w (%v)", req.Key, instance, ErrCacheMiss, err)
		}
		return nil, fmt.Errorf("backward %q: %w", req.Key, err)
	}
	rep, ok := m.(*transport.BackwardReply)
	if !ok {
		return nil, fmt.Errorf("backward %q: expert answered with a %v", req.Key, m.Kind())
	}
	return rep, nil
}

// call sends one request and waits for its (possibly chunked) reply.
func (c *Client) call(ctx context.Context, subject, op string, req transport.Message) (transport.Message, error) {
	frame, err := c.codec.Marshal(req)
	if err != nil {
		return nil, err
	}
	max := int(c.nc.MaxPayload())
	inbox := c.nc.NewRespInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if len(frame) <= max {
		if err := c.nc.PublishRequest(subject, inbox, frame); err != nil {
			return nil, err
		}
	} else {
		if subject == SubjectSolve || subject == SubjectBackward {
			// Chunks must all reach one instance: claim one first.
			msg, err := c.nc.RequestWithContext(ctx, SubjectClaim, nil)
			if err != nil {
				return nil, fmt.Errorf("claiming an expert for a %d-byte request: %w", len(frame), err)
			}
			if err := remoteError(msg); err != nil {
				return nil, err
			}
			subject = InstanceSubject(string(msg.Data), op)
		}
		parts, err := transport.Split(frame, max)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			if err := c.nc.PublishMsg(&nats.Msg{Subject: subject, Reply: inbox, Data: p}); err != nil {
				return nil, err
			}
		}
	}
	reasm := transport.NewReassembler(transport.ReassemblerLimits{})
	for {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("waiting for %s: %w", subject, err)
		}
		if len(msg.Data) == 0 && msg.Header.Get("Status") == "503" {
			return nil, fmt.Errorf("%s: %w", subject, nats.ErrNoResponders)
		}
		if err := remoteError(msg); err != nil {
			return nil, err
		}
		out, err := reasm.Add(msg.Data, time.Now())
		if err != nil {
			return nil, fmt.Errorf("reply from %s: %w", subject, err)
		}
		if out != nil {
			return c.codec.Unmarshal(out, c.lim)
		}
	}
}

func remoteError(msg *nats.Msg) error {
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		return &RemoteError{Code: code, Description: msg.Header.Get(micro.ErrorHeader)}
	}
	return nil
}

// Count returns the number of expert instances that answer a ping within
// wait.
func Count(ctx context.Context, nc *nats.Conn, wait time.Duration) (int, error) {
	subject, err := micro.ControlSubject(micro.PingVerb, ServiceName, "")
	if err != nil {
		return 0, err
	}
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return 0, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subject, inbox, nil); err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	deadline := time.Now().Add(wait)
	for {
		cctx, cancel := context.WithDeadline(ctx, deadline)
		msg, err := sub.NextMsgWithContext(cctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return len(seen), ctx.Err()
			}
			return len(seen), nil
		}
		var ping micro.Ping
		if json.Unmarshal(msg.Data, &ping) == nil && ping.ID != "" {
			seen[ping.ID] = true
		}
	}
}

// WaitFor blocks until at least n experts answer a ping, or ctx ends.
func WaitFor(ctx context.Context, nc *nats.Conn, n int) (int, error) {
	for {
		got, err := Count(ctx, nc, 250*time.Millisecond)
		if err != nil {
			return got, fmt.Errorf("waiting for %d experts, %d answered: %w", n, got, err)
		}
		if got >= n {
			return got, nil
		}
	}
}
