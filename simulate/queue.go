package simulate

// event is one scheduled happening. It is a small value type kept in a
// slice-based heap so that scheduling allocates nothing once the heap
// has grown to its working size.
type event struct {
	t    float64 // simulated seconds
	seq  uint64  // ties at equal t run in scheduling order: deterministic
	kind uint8
	a, b int32 // kind-specific operands (request, device, server, token)
}

// Event kinds.
const (
	evArrive     uint8 = iota // request a reaches its server
	evDeviceDone              // device a finishes its current call
	evDeadline                // server a's batcher deadline, token b
	evRespond                 // response of request a reaches its client
	evOpenSend                // open loop: client a sends its next request
	evFrame                   // open loop, frames: frame boundary b (all clients)
	evCPUDone                 // the host's first job finishes (if a is the host's current token)
	evMeasure                 // warm-up over: the measured window starts
	evSample                  // telemetry sample
	evEnd                     // the measured window ends
	evRetry                   // closed loop: client a sends again after a rejection
	evDeviceSpin              // device a's call stops waiting and spins on a core for its last b ns (DeviceOnHost)
)

// eventQueue orders events by (t, seq). Most events sit in a binary
// min-heap, written out rather than using container/heap because
// heap.Push takes an interface and would allocate on every event. Events
// scheduled a constant delay after now (the overhead's half trips) arrive
// in time order already, so they skip the heap and wait in a FIFO "delay
// line"; pop takes the earlier of the two heads. At 10,000 streams this
// halves the heap traffic.
type eventQueue struct {
	ev   []event
	seq  uint64
	line []event // ring buffer, times non-decreasing
	lh   int     // head
	ln   int     // length
}

func (q *eventQueue) len() int { return len(q.ev) + q.ln }

func before(a, b *event) bool { return a.t < b.t || (a.t == b.t && a.seq < b.seq) }

// pushLine schedules an event at t, which must not be earlier than any
// event already in the line.
func (q *eventQueue) pushLine(t float64, kind uint8, a, b int32) {
	q.seq++
	if q.ln == len(q.line) {
		nl := make([]event, max(64, 2*len(q.line)))
		for i := 0; i < q.ln; i++ {
			nl[i] = q.line[(q.lh+i)%len(q.line)]
		}
		q.line, q.lh = nl, 0
	}
	q.line[(q.lh+q.ln)%len(q.line)] = event{t: t, seq: q.seq, kind: kind, a: a, b: b}
	q.ln++
}

// next removes and returns the earliest event of heap and line.
func (q *eventQueue) next() event {
	if q.ln > 0 && (len(q.ev) == 0 || before(&q.line[q.lh], &q.ev[0])) {
		e := q.line[q.lh]
		q.lh = (q.lh + 1) % len(q.line)
		q.ln--
		return e
	}
	return q.pop()
}

func (q *eventQueue) less(i, j int) bool { return before(&q.ev[i], &q.ev[j]) }

func (q *eventQueue) push(t float64, kind uint8, a, b int32) {
	q.seq++
	q.ev = append(q.ev, event{t: t, seq: q.seq, kind: kind, a: a, b: b})
	i := len(q.ev) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.ev[i], q.ev[p] = q.ev[p], q.ev[i]
		i = p
	}
}

func (q *eventQueue) pop() event {
	top := q.ev[0]
	n := len(q.ev) - 1
	q.ev[0] = q.ev[n]
	q.ev = q.ev[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			break
		}
		q.ev[i], q.ev[m] = q.ev[m], q.ev[i]
		i = m
	}
	return top
}

// fifo is a growable ring buffer of int32 ids (requests, instances).
type fifo struct {
	buf  []int32
	head int
	n    int
}

func (f *fifo) len() int { return f.n }

func (f *fifo) push(x int32) {
	if f.n == len(f.buf) {
		nb := make([]int32, max(8, 2*len(f.buf)))
		for i := 0; i < f.n; i++ {
			nb[i] = f.buf[(f.head+i)%len(f.buf)]
		}
		f.buf, f.head = nb, 0
	}
	f.buf[(f.head+f.n)%len(f.buf)] = x
	f.n++
}

func (f *fifo) pop() int32 {
	x := f.buf[f.head]
	f.head = (f.head + 1) % len(f.buf)
	f.n--
	return x
}
