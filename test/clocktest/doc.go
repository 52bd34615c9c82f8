// Package clocktest is a clock that moves only when a test moves it, for the unit
// tests of the packages that take an injected clock (election, vip). It imports
// nothing of raftvip, so any package's tests can use it; it is not part of the agent.
package clocktest
