package store

import (
	"errors"
	"testing"
	"time"
)

func asg(index uint64, node string, lease time.Duration) Assignment {
	return Assignment{Index: index, Node: node, Incarnation: node + "#1", Lease: lease, Delta: lease / 4, Lifetime: 2 * time.Second}
}

func TestOwnershipWaits(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		name string
		do   func(o *Ownership) error
		wait time.Duration
	}{
		{"first assignment owes nothing", func(o *Ownership) error { return o.Assign("g", asg(3, "A", ms(120))) }, 0},
		{"a replaced live assignment is owed", func(o *Ownership) error {
			o.Assign("g", asg(3, "A", ms(120)))
			return o.Assign("g", asg(5, "B", ms(200)))
		}, ms(150)},
		{"a held release of the previous: at once", func(o *Ownership) error {
			o.Assign("g", asg(3, "A", ms(120)))
			o.End("g", Release{Node: "A", Incarnation: "A#1", AssignIndex: 3, Held: true})
			return o.Assign("g", asg(5, "B", ms(200)))
		}, 0},
		{"an unheld release saves nothing", func(o *Ownership) error {
			o.Assign("g", asg(3, "A", ms(120)))
			o.End("g", Release{Node: "A", Incarnation: "A#1", AssignIndex: 3, Held: false})
			return o.Assign("g", asg(5, "B", ms(200)))
		}, ms(150)},
		{"a chain owes its longest lease", func(o *Ownership) error {
			o.Assign("g", asg(3, "D", ms(500)))
			o.Assign("g", asg(5, "E", ms(120)))
			return o.Assign("g", asg(7, "C", ms(120)))
		}, ms(625)},
		{"a held release ends the chain", func(o *Ownership) error {
			o.Assign("g", asg(3, "D", ms(500)))
			o.Assign("g", asg(5, "E", ms(120)))
			o.End("g", Release{Node: "E", Incarnation: "E#1", AssignIndex: 5, Held: true})
			return o.Assign("g", asg(7, "C", ms(120)))
		}, 0},
		{"a late held release of the replaced assignment frees the current one", func(o *Ownership) error {
			o.Assign("g", asg(3, "A", ms(120)))
			o.Assign("g", asg(5, "B", ms(120)))
			return o.End("g", Release{Node: "A", Incarnation: "A#1", AssignIndex: 3, Held: true})
		}, 0},
		{"strict fencing owes the lease, the lifetime and the kernel's slack", func(o *Ownership) error {
			a := asg(3, "A", ms(120))
			a.Strict = true
			o.Assign("g", a)
			return o.Assign("g", asg(5, "B", ms(120)))
		}, ms(120) + asg(3, "A", ms(120)).Delta + 2*time.Second + KernelExpirySlack},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o Ownership
			if err := tc.do(&o); err != nil {
				t.Fatal(err)
			}
			if got := o.Group("g").Wait; got != tc.wait {
				t.Errorf("W(g) = %v, want %v", got, tc.wait)
			}
		})
	}
}

func TestOwnershipRejects(t *testing.T) {
	var o Ownership
	o.Assign("g", asg(3, "A", time.Second))
	o.Assign("g", asg(5, "B", time.Second))
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"an assignment out of order", o.Clone().Assign("g", asg(4, "C", time.Second))},
		{"a release of a group never assigned", o.Clone().End("h", Release{Node: "A", Incarnation: "A#1", AssignIndex: 3})},
		{"a release of an assignment two back", func() error {
			c := o.Clone()
			c.Assign("g", asg(7, "C", time.Second))
			return c.End("g", Release{Node: "A", Incarnation: "A#1", AssignIndex: 3, Held: true})
		}()},
		{"a release by another incarnation", o.Clone().End("g", Release{Node: "B", Incarnation: "B#2", AssignIndex: 5, Held: true})},
		{"a second release of the same assignment", func() error {
			c := o.Clone()
			c.End("g", Release{Node: "B", Incarnation: "B#1", AssignIndex: 5})
			return c.End("g", Release{Node: "B", Incarnation: "B#1", AssignIndex: 5, Held: true})
		}()},
	} {
		if !errors.Is(tc.err, ErrRejected) {
			t.Errorf("%s: %v, want ErrRejected", tc.name, tc.err)
		}
	}
	// The rejected records changed nothing.
	if s := o.Group("g"); s.Current.Index != 5 || s.Ended || s.Previous.Index != 3 || s.PreviousEnded {
		t.Errorf("state after rejections: %+v", s)
	}
}
