package measure

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Clients that stop on a failure also end the load: the coordinator must
// report the failure, not a finished load, whichever it sees first.
func TestWaitPrefersFailureOverLoadDone(t *testing.T) {
	boom := errors.New("server gone")
	for i := 0; i < 200; i++ {
		r := &run{epoch: time.Now(), failed: make(chan struct{}), allDone: make(chan struct{})}
		r.failErr = boom
		close(r.failed)
		close(r.allDone)
		c := &coordinator{r: r, ctx: context.Background()}
		if err := c.wait(int64(time.Hour)); !errors.Is(err, boom) {
			t.Fatalf("try %d: wait returned %v with the load failed and done; want the failure", i, err)
		}
	}
}
