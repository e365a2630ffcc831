package measure

import (
	"strings"
	"testing"
	"time"
)

// Every value given is used: zero warm-up is none (not the default), the
// default comes from DefaultOptions, and a negative warm-up is refused.
func TestWarmupIsUsedAsGiven(t *testing.T) {
	o := DefaultOptions()
	o.Addrs, o.Model = []string{"127.0.0.1:1"}, "m"
	got, err := o.withDefaults()
	if err != nil || got.Warmup != time.Second {
		t.Fatalf("DefaultOptions: warm-up %v, %v; want 1s", got.Warmup, err)
	}
	o.Warmup = 0
	if got, err = o.withDefaults(); err != nil || got.Warmup != 0 {
		t.Fatalf("warm-up 0: %v, %v; want none", got.Warmup, err)
	}
	o.Warmup = -time.Millisecond
	if _, err = o.withDefaults(); err == nil || !strings.Contains(err.Error(), "warm-up") {
		t.Fatalf("negative warm-up: %v", err)
	}
}
