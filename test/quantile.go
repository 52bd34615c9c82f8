package test

import (
	"slices"
	"time"
)

// Medians and quantiles of every figure the suite prints (the soak's report, test/bench
// and test/figures) have one definition: the nearest rank. The q-quantile of n values
// is the k-th smallest of them, k = ⌈q·n⌉ (at least 1), so it is always a value that was
// measured, never an average of two. The median is the 0.5-quantile: of an even number
// of values, the lower of the two in the middle. q = 1 is the maximum.

// QuantileIndex is the position (0-based) of the q-quantile by nearest rank among n
// values sorted in ascending order, or -1 if n is 0. It picks the trial whose figure is
// the quantile, where Quantile gives only the figure.
func QuantileIndex(n int, q float64) int {
	if n <= 0 {
		return -1
	}
	// ⌈q·n⌉ - 1, tolerating a floating-point error of up to 10⁻⁶ in q·n either way
	// (0.95·20 must give the 19th value, not the 20th).
	i := int(q*float64(n)+0.999999) - 1
	return min(max(i, 0), n-1)
}

// Quantile is the q-quantile of ds by nearest rank; 0 if ds is empty. ds is not
// modified.
func Quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[QuantileIndex(len(s), q)]
}

// Median is Quantile(ds, 0.5): the lower middle value of an even number of values.
func Median(ds []time.Duration) time.Duration { return Quantile(ds, 0.5) }
