package constraint

import (
	"fmt"
	"strings"
)

// enumName is the String of the small enums of this package.
func enumName(names []string, v int, typ string) string {
	if v >= 0 && v < len(names) {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, v)
}

// parseEnum maps a name back to its enum value.
func parseEnum[T ~int](names []string, s, what string) (T, error) {
	for i, n := range names {
		if s == n {
			return T(i), nil
		}
	}
	return 0, fmt.Errorf("constraint: unknown %s %q (want %s)", what, s, strings.Join(names, ", "))
}
