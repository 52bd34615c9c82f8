package test

import (
	"slices"
	"testing"
	"time"
)

// Quantiles by nearest rank: the ⌈q·n⌉-th smallest value, a value that was measured.
// Pure; runs without root.
func TestQuantile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		var out []time.Duration
		for _, v := range vs {
			out = append(out, time.Duration(v)*time.Millisecond)
		}
		return out
	}
	ramp := func(n int) []time.Duration { // 1 ms … n ms, in reverse order
		var out []time.Duration
		for i := n; i >= 1; i-- {
			out = append(out, time.Duration(i)*time.Millisecond)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one value", ms(7), 0.5, 7 * time.Millisecond},
		{"odd count: the middle", ms(30, 10, 20), 0.5, 20 * time.Millisecond},
		{"even count: the lower middle, not an average", ms(40, 10, 30, 20), 0.5, 20 * time.Millisecond},
		{"two values: the smaller", ms(900, 100), 0.5, 100 * time.Millisecond},
		{"p95 of 20 is the 19th", ramp(20), 0.95, 19 * time.Millisecond},
		{"p95 of 10 is the maximum", ramp(10), 0.95, 10 * time.Millisecond},
		{"p95 of 100 is the 95th", ramp(100), 0.95, 95 * time.Millisecond},
		{"q=1 is the maximum", ms(5, 50, 500), 1, 500 * time.Millisecond},
		{"q=0 is the minimum", ms(5, 50, 500), 0, 5 * time.Millisecond},
	} {
		if got := Quantile(tc.ds, tc.q); got != tc.want {
			t.Errorf("%s: Quantile(%v, %v) = %v, want %v", tc.name, tc.ds, tc.q, got, tc.want)
		}
	}

	in := ms(40, 10, 30, 20)
	if got := Median(in); got != 20*time.Millisecond {
		t.Errorf("Median(%v) = %v, want 20ms", in, got)
	}
	if !slices.Equal(in, ms(40, 10, 30, 20)) {
		t.Errorf("Median reordered its input: %v", in)
	}

	// QuantileIndex is what Quantile picks: the bench shows the trial at the median.
	for n := 1; n <= 100; n++ {
		if got, want := QuantileIndex(n, 0.5), (n+1)/2-1; got != want {
			t.Errorf("QuantileIndex(%d, 0.5) = %d, want %d", n, got, want)
		}
	}
	if got := QuantileIndex(0, 0.5); got != -1 {
		t.Errorf("QuantileIndex(0, 0.5) = %d, want -1", got)
	}
}

func TestCheckFailoverMedian(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	if err := CheckFailoverMedian("lan", ms(800, 900, 5000)); err != nil {
		t.Errorf("one slow trial of three: %v", err)
	}
	if err := CheckFailoverMedian("lan", ms(3100, 3200, 900)); err == nil {
		t.Error("a lan median of 3.1 s passed")
	}
	if err := CheckFailoverMedian("fast", ms(1100, 1200)); err == nil {
		t.Error("a fast median of 1.1 s passed")
	}
	if err := CheckFailoverMedian("wan", ms(9000)); err != nil {
		t.Errorf("wan has no target: %v", err)
	}
}
