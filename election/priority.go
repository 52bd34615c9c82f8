package election

// Health is what this node's checks make of its base priority.
type Health struct {
	Priority int      // base adjusted by the check weights, clamped to 1..254 (VRRP's range without 0 and 255)
	Fault    bool     // a weight-0 check is failing or has no result yet: not eligible
	Failing  []string // names of the failing (or not yet known) checks, in config order
}

// ComputeHealth applies the check states to base, as keepalived's vrrp_script weights
// do: a positive weight is added while its check passes, a negative weight is added
// (so subtracted) while its check fails, and a failing weight-0 check puts the node in
// FAULT. A check without a result yet counts as failing. The priority is clamped to
// 1..254 and still computed in FAULT, so status can show it.
func ComputeHealth(base int, states []CheckState) Health {
	h := Health{Priority: base}
	for _, s := range states {
		passing := s.Known && s.Passing
		switch {
		case !passing:
			h.Failing = append(h.Failing, s.Name)
			if s.Weight < 0 {
				h.Priority += s.Weight
			}
			if s.Weight == 0 {
				h.Fault = true
			}
		case s.Weight > 0:
			h.Priority += s.Weight
		}
	}
	h.Priority = min(max(h.Priority, 1), 254)
	return h
}
