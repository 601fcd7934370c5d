package npz

import (
	"errors"
	"fmt"
)

// The .npy header is a Python literal that NumPy reads with
// ast.literal_eval. pyParser accepts the subset that headers use:
// strings without escapes, integers (with the "L" suffix of Python 2),
// True, False, None, tuples, lists and dicts. Lists and nested tuples
// only occur in structured dtypes, which are parsed so that they can be
// rejected as unsupported rather than as malformed.

type pyKind uint8

const (
	pyStr pyKind = iota + 1
	pyInt
	pyBool
	pyNone
	pyTuple
	pyList
	pyDict
)

type pyValue struct {
	kind  pyKind
	str   string    // pyStr: the text; pyInt: the digits, with any '-'
	b     bool      // pyBool
	items []pyValue // pyTuple, pyList; pyDict: keys and values alternating
}

// maxPyDepth bounds nesting, well above what any dtype needs.
const maxPyDepth = 32

type pyParser struct {
	s     []byte
	pos   int
	depth int
}

// parse parses the whole input as one value surrounded by white space.
func (p *pyParser) parse() (pyValue, error) {
	v, err := p.value()
	if err != nil {
		return pyValue{}, err
	}
	p.space()
	if p.pos != len(p.s) {
		return pyValue{}, p.errorf("trailing text")
	}
	return v, nil
}

func (p *pyParser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *pyParser) space() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			p.pos++
		default:
			return
		}
	}
}

func (p *pyParser) value() (pyValue, error) {
	p.space()
	if p.pos == len(p.s) {
		return pyValue{}, p.errorf("unexpected end")
	}
	switch c := p.s[p.pos]; {
	case c == '\'' || c == '"':
		return p.string(c)
	case c == '-' || ('0' <= c && c <= '9'):
		return p.integer()
	case c == '(':
		return p.sequence(pyTuple, ')')
	case c == '[':
		return p.sequence(pyList, ']')
	case c == '{':
		return p.sequence(pyDict, '}')
	case 'A' <= c && c <= 'Z':
		start := p.pos
		for p.pos < len(p.s) && isIdent(p.s[p.pos]) {
			p.pos++
		}
		switch name := string(p.s[start:p.pos]); name {
		case "True", "False":
			return pyValue{kind: pyBool, b: name == "True"}, nil
		case "None":
			return pyValue{kind: pyNone}, nil
		default:
			return pyValue{}, p.errorf("unknown name %q", name)
		}
	default:
		return pyValue{}, p.errorf("unexpected %q", c)
	}
}

func isIdent(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func (p *pyParser) string(quote byte) (pyValue, error) {
	p.pos++
	start := p.pos
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case quote:
			p.pos++
			return pyValue{kind: pyStr, str: string(p.s[start : p.pos-1])}, nil
		case '\\':
			return pyValue{}, p.errorf("escape in string")
		case '\n':
			return pyValue{}, p.errorf("newline in string")
		}
		p.pos++
	}
	return pyValue{}, p.errorf("unterminated string")
}

func (p *pyParser) integer() (pyValue, error) {
	start := p.pos
	if p.s[p.pos] == '-' {
		p.pos++
	}
	digits := p.pos
	for p.pos < len(p.s) && '0' <= p.s[p.pos] && p.s[p.pos] <= '9' {
		p.pos++
	}
	if p.pos == digits {
		return pyValue{}, p.errorf("bad number")
	}
	v := pyValue{kind: pyInt, str: string(p.s[start:p.pos])}
	if p.pos < len(p.s) && (p.s[p.pos] == 'L' || p.s[p.pos] == 'l') {
		p.pos++
	}
	if p.pos < len(p.s) && isIdent(p.s[p.pos]) {
		return pyValue{}, p.errorf("bad number")
	}
	return v, nil
}

// sequence parses a tuple, list or dict after its opening bracket. As in
// Python, "(x)" is x itself and only "(x,)" is a 1-tuple.
func (p *pyParser) sequence(kind pyKind, closer byte) (pyValue, error) {
	if p.depth++; p.depth > maxPyDepth {
		return pyValue{}, errors.New("nested too deeply")
	}
	defer func() { p.depth-- }()
	p.pos++
	v := pyValue{kind: kind}
	comma := false
	for {
		p.space()
		if p.pos < len(p.s) && p.s[p.pos] == closer {
			p.pos++
			if kind == pyTuple && len(v.items) == 1 && !comma {
				return v.items[0], nil
			}
			return v, nil
		}
		item, err := p.value()
		if err != nil {
			return pyValue{}, err
		}
		v.items = append(v.items, item)
		if kind == pyDict {
			p.space()
			if p.pos == len(p.s) || p.s[p.pos] != ':' {
				return pyValue{}, p.errorf("missing ':' in dict")
			}
			p.pos++
			if item, err = p.value(); err != nil {
				return pyValue{}, err
			}
			v.items = append(v.items, item)
		}
		p.space()
		comma = false
		switch {
		case p.pos < len(p.s) && p.s[p.pos] == ',':
			p.pos++
			comma = true
		case p.pos < len(p.s) && p.s[p.pos] == closer:
		default:
			return pyValue{}, p.errorf("expected ',' or %q", closer)
		}
	}
}
