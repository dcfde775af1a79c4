package engine

import (
	"errors"
	"testing"
)

// TestTransitions covers every ordered pair of statuses, for plain jobs and
// children and for array parents.
func TestTransitions(t *testing.T) {
	const (
		S = StatusSubmitted
		P = StatusPending
		R = StatusRunnable
		T = StatusStarting
		U = StatusRunning
		K = StatusSucceeded
		F = StatusFailed
	)
	legal := map[[2]Status]bool{
		{S, P}: true, {S, R}: true, {S, F}: true,
		{P, R}: true, {P, F}: true,
		{R, T}: true, {R, F}: true,
		{T, U}: true, {T, R}: true, {T, F}: true,
		{U, K}: true, {U, R}: true, {U, F}: true,
	}
	parent := map[[2]Status]bool{
		{S, P}: true, {S, F}: true, {P, K}: true, {P, F}: true,
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			t.Run(string(from)+"->"+string(to), func(t *testing.T) {
				if got, want := CanTransition(from, to), legal[[2]Status{from, to}]; got != want {
					t.Errorf("CanTransition = %v, want %v", got, want)
				}
				if got, want := CanTransitionParent(from, to), parent[[2]Status{from, to}]; got != want {
					t.Errorf("CanTransitionParent = %v, want %v", got, want)
				}
				checkErr(t, Transition(from, to), from, to, false, legal[[2]Status{from, to}])
				checkErr(t, TransitionParent(from, to), from, to, true, parent[[2]Status{from, to}])
			})
		}
	}
	for _, s := range Statuses {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
		if s.Terminal() != (s == K || s == F) {
			t.Errorf("%s.Terminal() = %v", s, s.Terminal())
		}
	}
	if Status("DONE").Valid() || CanTransition("DONE", F) {
		t.Error("unknown status accepted")
	}
}

// checkErr: a legal change is nil, an illegal one a *TransitionError naming
// both statuses.
func checkErr(t *testing.T, err error, from, to Status, parent, legal bool) {
	t.Helper()
	if legal {
		if err != nil {
			t.Errorf("legal change: %v", err)
		}
		return
	}
	var te *TransitionError
	if !errors.As(err, &te) {
		t.Fatalf("illegal change: err = %v, want a *TransitionError", err)
	}
	if te.From != from || te.To != to || te.Parent != parent {
		t.Errorf("TransitionError = %+v, want %s -> %s parent=%v", te, from, to, parent)
	}
}
