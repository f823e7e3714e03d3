package benchsuite

import (
	"fmt"
	"time"
)

// Dur formats nanoseconds with three significant digits: "412 µs", "1.23 ms".
func Dur(ns float64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.3g s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.3g ms", float64(d)/1e6)
	case d >= time.Microsecond:
		return fmt.Sprintf("%.3g µs", float64(d)/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

// Ratio formats a ratio as "0.91×".
func Ratio(r float64) string { return fmt.Sprintf("%.2f×", r) }

// Num formats a count without decimals.
func Num(v float64) string { return fmt.Sprintf("%.0f", v) }
