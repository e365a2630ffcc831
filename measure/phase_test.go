package measure

import (
	"context"
	"sync"
	"testing"
)

// Run says each phase it enters, in order: the warm-up, then windows 1,
// 2, … of at most MaxWindows (0 when the length is fixed).
func TestRunSaysItsPhases(t *testing.T) {
	srv := startServer(t)
	for _, fixed := range []bool{false, true} {
		o := quick(srv.Addr(), "mlp")
		if fixed {
			o.Requests = 200
		}
		var mu sync.Mutex
		var got []Phase
		ctx := WithPhases(context.Background(), func(p Phase) {
			mu.Lock()
			got = append(got, p)
			mu.Unlock()
		})
		m, err := Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if len(got) < 2 || !got[0].Warmup {
			t.Fatalf("fixed=%v: phases %v, want the warm-up first and then windows", fixed, got)
		}
		wantMax := o.MaxWindows
		if fixed {
			wantMax = 0
		}
		for i, p := range got[1:] {
			if p.Warmup || p.Window != i+1 || p.MaxWindows != wantMax {
				t.Errorf("fixed=%v: phase %d is %+v, want window %d of %d", fixed, i+1, p, i+1, wantMax)
			}
		}
		if !fixed && len(got)-1 > o.MaxWindows {
			t.Errorf("%d windows said, at most %d run", len(got)-1, o.MaxWindows)
		}
		mu.Unlock()
		if m.Requests == 0 {
			t.Error("nothing measured")
		}
	}
	if s := (Phase{Window: 2, MaxWindows: 10}).String(); s != "window 2/10" {
		t.Errorf("String %q", s)
	}
}
