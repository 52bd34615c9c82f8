package election

import (
	"slices"
	"testing"
)

func TestComputeHealth(t *testing.T) {
	// st builds a check state: "pass", "fail" or "unknown".
	st := func(name string, weight int, state string) CheckState {
		return CheckState{Name: name, Weight: weight, Known: state != "unknown", Passing: state == "pass"}
	}
	tests := []struct {
		name    string
		base    int
		states  []CheckState
		want    int
		fault   bool
		failing []string
	}{
		{name: "no checks", base: 100, want: 100},
		{name: "positive weight added while passing", base: 100,
			states: []CheckState{st("a", 20, "pass")}, want: 120},
		{name: "positive weight not added while failing", base: 100,
			states: []CheckState{st("a", 20, "fail")}, want: 100, failing: []string{"a"}},
		{name: "negative weight subtracted while failing", base: 100,
			states: []CheckState{st("a", -50, "fail")}, want: 50, failing: []string{"a"}},
		{name: "negative weight ignored while passing", base: 100,
			states: []CheckState{st("a", -50, "pass")}, want: 100},
		{name: "weight 0 failing is FAULT, priority kept", base: 100,
			states: []CheckState{st("a", 0, "fail")}, want: 100, fault: true, failing: []string{"a"}},
		{name: "weight 0 passing", base: 100,
			states: []CheckState{st("a", 0, "pass")}, want: 100},
		{name: "unknown counts as failing: weight 0", base: 100,
			states: []CheckState{st("a", 0, "unknown")}, want: 100, fault: true, failing: []string{"a"}},
		{name: "unknown counts as failing: negative", base: 100,
			states: []CheckState{st("a", -30, "unknown")}, want: 70, failing: []string{"a"}},
		{name: "unknown counts as failing: positive", base: 100,
			states: []CheckState{st("a", 30, "unknown")}, want: 100, failing: []string{"a"}},
		{name: "not known: a stray Passing flag is ignored", base: 100,
			states: []CheckState{{Name: "a", Weight: 10, Known: false, Passing: true}}, want: 100, failing: []string{"a"}},
		{name: "mixed, failing in config order", base: 100,
			states: []CheckState{
				st("z", -10, "fail"), st("haproxy", 0, "pass"), st("a", 25, "pass"),
				st("m", 0, "fail"), st("b", 5, "fail"), st("c", -20, "pass"),
			},
			want: 115, fault: true, failing: []string{"z", "m", "b"}},
		{name: "clamped to 254", base: 250,
			states: []CheckState{st("a", 253, "pass")}, want: 254},
		{name: "clamped to 1", base: 10,
			states: []CheckState{st("a", -253, "fail"), st("b", -253, "fail")}, want: 1, failing: []string{"a", "b"}},
		{name: "clamped in FAULT too", base: 5,
			states: []CheckState{st("a", -50, "fail"), st("b", 0, "unknown")}, want: 1, fault: true, failing: []string{"a", "b"}},
		{name: "base 254 with a failing negative", base: 254,
			states: []CheckState{st("a", -4, "fail")}, want: 250, failing: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := ComputeHealth(tt.base, tt.states)
			if h.Priority != tt.want || h.Fault != tt.fault || !slices.Equal(h.Failing, tt.failing) {
				t.Fatalf("ComputeHealth = %+v, want priority %d fault %v failing %v", h, tt.want, tt.fault, tt.failing)
			}
		})
	}
}
