package simulate

import "math"

// host is the pool of cores that clients and servers share when they run
// on one machine (Config.HostCores). The cores are shared as an operating
// system shares them among runnable threads: processor sharing, each of
// the n running jobs progressing at min(1, cores/n) of a core. A job is a
// request's overhead on the way in or out, a device call on the host, or
// background work.
//
// All running jobs progress at the same rate, so the host keeps one
// virtual clock v, the work each running job has done since the start,
// and the jobs in a heap by the value of v at which they finish; only the
// first one's finish is scheduled, and rescheduled (under a new token)
// whenever a job starts or finishes, since either changes the rate.
type host struct {
	cores    float64
	v        float64    // virtual time: work per running job so far
	at       float64    // simulated time v was brought up to
	jobs     eventQueue // running jobs: t = v at which they finish, a = job
	token    int32      // the current finish event; older ones are stale
	busy     float64    // core-seconds worked so far
	busyBase float64    // busy at the start of the measured window
	handling bool       // finishes are being handled: reschedule once, after
}

// Host jobs: id<<2 | kind.
const (
	jobSend       = 0 // request id: the CPU work of its overhead on the way in
	jobReply      = 1 // request id: the same on the way out
	jobBackground = 2 // no id: BackgroundCPU of one request
	jobCall       = 3 // device id: its current call (DeviceOnHost)
)

// hostSlack absorbs rounding in the virtual clock: a job within it of its
// work is done.
const hostSlack = 1e-12

func (h *host) rate() float64 {
	n := float64(len(h.jobs.ev))
	if n <= h.cores {
		return 1
	}
	return h.cores / n
}

// advance brings the virtual clock up to now.
func (m *sim) hostAdvance() {
	h := &m.host
	if n := float64(len(h.jobs.ev)); n > 0 {
		h.v += (m.now - h.at) * h.rate()
		h.busy += (m.now - h.at) * min(n, h.cores)
	}
	h.at = m.now
}

// hostSchedule schedules the first finish at the current rate.
func (m *sim) hostSchedule() {
	h := &m.host
	h.token++
	if len(h.jobs.ev) == 0 {
		return
	}
	left := math.Max(h.jobs.ev[0].t-h.v, 0)
	m.q.push(m.now+left/h.rate(), evCPUDone, h.token, 0)
}

// cpuSubmit starts host job x of work seconds of CPU.
func (m *sim) cpuSubmit(x int32, work float64) {
	m.hostAdvance()
	m.host.jobs.push(m.host.v+work, 0, x, 0)
	if !m.host.handling {
		m.hostSchedule()
	}
}

// cpuDone handles the jobs that have finished by now, if token is the
// host's current one.
func (m *sim) cpuDone(token int32) {
	h := &m.host
	if token != h.token {
		return
	}
	m.hostAdvance()
	h.handling = true
	for len(h.jobs.ev) > 0 && h.jobs.ev[0].t <= h.v+hostSlack {
		m.jobDone(h.jobs.pop().a)
	}
	h.handling = false
	m.hostSchedule()
}

func (m *sim) jobDone(x int32) {
	id, kind := x>>2, x&3
	switch kind {
	case jobBackground:
	case jobCall:
		m.deviceDone(id)
	default:
		// What is left of the half trip beyond its CPU work is waiting.
		ev := evArrive
		if kind == jobReply {
			ev = evRespond
		}
		if h := m.reqs[id].holds; kind == jobReply && h > 0 {
			m.reqs[id].holds = 0
			m.deviceRelease(h - 1)
		}
		if w := m.reqs[id].half - m.reqs[id].cpu; w > 0 {
			m.q.push(m.now+w, ev, id, 0)
		} else if kind == jobSend {
			m.arrive(id)
		} else {
			m.respond(id)
		}
	}
}
