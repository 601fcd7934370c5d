package transport

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Compression selects how Marshal compresses a payload. The zero value is
// CompressZstd.
type Compression uint8

const (
	// CompressZstd compresses best of the three; the default.
	CompressZstd Compression = iota
	// CompressS2 is several times faster than zstd at a lower ratio; it
	// suits links fast enough that zstd would be the bottleneck.
	CompressS2
	// CompressNone stores the payload as is.
	CompressNone
)

// Compression bytes on the wire. They differ from the Compression values so
// that the zero Options can mean zstd while the zero byte means none.
const (
	wireNone byte = iota
	wireZstd
	wireS2
)

var compressionNames = [...]string{"zstd", "s2", "none"}

func (c Compression) String() string {
	if int(c) < len(compressionNames) {
		return compressionNames[c]
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// ParseCompression maps "zstd", "s2" or "none" to a Compression.
func ParseCompression(s string) (Compression, error) {
	for i, n := range compressionNames {
		if s == n {
			return Compression(i), nil
		}
	}
	return 0, fmt.Errorf("transport: unknown compression %q (want zstd, s2 or none)", s)
}

// MarshalText implements encoding.TextMarshaler, for configuration files.
func (c Compression) MarshalText() ([]byte, error) {
	if _, err := c.wire(); err != nil {
		return nil, err
	}
	return []byte(c.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Compression) UnmarshalText(b []byte) error {
	v, err := ParseCompression(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

func (c Compression) wire() (byte, error) {
	switch c {
	case CompressZstd:
		return wireZstd, nil
	case CompressS2:
		return wireS2, nil
	case CompressNone:
		return wireNone, nil
	}
	return 0, fmt.Errorf("transport: unknown compression %v", c)
}

// encoder returns the shared zstd encoder, creating it on first use.
// EncodeAll and DecodeAll are safe for concurrent use, so one of each
// serves every goroutine of the codec.
func (c *Codec) encoder() (*zstd.Encoder, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.enc == nil {
		// The frame checksum already covers the payload, so zstd's own
		// content checksum would only cost time.
		level := c.opts.Level
		if level == 0 {
			level = 3
		}
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(c.concurrency), zstd.WithEncoderCRC(false),
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)))
		if err != nil {
			return nil, fmt.Errorf("transport: zstd encoder: %w", err)
		}
		c.enc = enc
	}
	return c.enc, nil
}

func (c *Codec) decoder() (*zstd.Decoder, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.dec == nil {
		// With the cap limit, DecodeAll never writes past cap(dst), which
		// Unmarshal sets to the declared length: a payload cannot
		// decompress to more than the frame admits to, whatever its zstd
		// header says.
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(c.concurrency), zstd.WithDecodeAllCapLimit(true))
		if err != nil {
			return nil, fmt.Errorf("transport: zstd decoder: %w", err)
		}
		c.dec = dec
	}
	return c.dec, nil
}

// compress appends the compressed src to dst.
func (c *Codec) compress(dst, src []byte, comp byte) ([]byte, error) {
	switch comp {
	case wireZstd:
		enc, err := c.encoder()
		if err != nil {
			return nil, err
		}
		return enc.EncodeAll(src, dst), nil
	case wireS2:
		n := s2.MaxEncodedLen(len(src))
		if n < 0 {
			return nil, fmt.Errorf("transport: s2: %w: payload of %d bytes", ErrTooLarge, len(src))
		}
		if cap(dst) < n {
			dst = make([]byte, n)
		}
		return s2.Encode(dst[:n], src), nil
	}
	return nil, fmt.Errorf("transport: compression byte %d", comp)
}

// decompress decodes src into dst, whose capacity is the declared length:
// the result must fill it exactly.
func (c *Codec) decompress(dst, src []byte, comp byte) ([]byte, error) {
	want := cap(dst)
	var out []byte
	switch comp {
	case wireZstd:
		dec, err := c.decoder()
		if err != nil {
			return nil, err
		}
		out, err = dec.DecodeAll(src, dst)
		if err != nil {
			if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
				return nil, fmt.Errorf("%w: zstd payload longer than the declared %d bytes", ErrCorrupt, want)
			}
			return nil, fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
		}
	case wireS2:
		// s2 states its decoded length up front; checking it first keeps
		// s2 from allocating what the frame did not declare.
		n, err := s2.DecodedLen(src)
		if err != nil {
			return nil, fmt.Errorf("%w: s2: %w", ErrCorrupt, err)
		}
		if n != want {
			return nil, fmt.Errorf("%w: s2 payload of %d bytes, declared %d", ErrCorrupt, n, want)
		}
		out, err = s2.Decode(dst[:want], src)
		if err != nil {
			return nil, fmt.Errorf("%w: s2: %w", ErrCorrupt, err)
		}
	default:
		return nil, fmt.Errorf("%w: compression byte %d", ErrCorrupt, comp)
	}
	if len(out) != want {
		return nil, fmt.Errorf("%w: payload decompresses to %d bytes, declared %d", ErrCorrupt, len(out), want)
	}
	return out, nil
}

func (c *Codec) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}
