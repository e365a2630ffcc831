package measure

import (
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/iaasbench/iaasbench/client"
)

// Rejections: a server that refuses a request because it is overloaded
// (its queue is full, its memory for requests in flight is taken) has
// answered; that is a measurement of overload, not a failure of the
// measurement. measure counts such requests apart (Measurement.Rejected),
// keeps the load going for the whole window and reports goodput (requests
// that succeeded) beside the load offered. Other errors still stop the
// point after ErrorGrace, or at once when the request itself is wrong.

// Rejection is implemented by errors of other protocols' clients that
// know whether the server refused a request for overload (for KServe v2
// over HTTP: status 503 or 429). errors.As finds it in a chain.
type Rejection interface {
	error
	// Rejected reports whether the server refused the request for
	// overload, and may be retried later.
	Rejected() bool
}

// rejectionMessages are what a stream's in-band error (which carries a
// message, not a code) says when the server refused a request for
// overload: Triton's dynamic batcher, iaasbench's queue and its in-flight
// budget.
var rejectionMessages = []string{
	"exceeds maximum queue size", // Triton: UNAVAILABLE "Exceeds maximum queue size"
	"queue is full",              // iaasbench serve
	"(--max-inflight-bytes)",     // iaasbench serve's in-flight budget
}

// isRejection reports whether err is the server refusing a request for
// overload. conn is the connection the request went over (nil when
// unknown): grpc-go also reports a connection that broke or cannot be
// made as UNAVAILABLE, and only a server that is there can refuse, so
// UNAVAILABLE counts as a rejection only while the connection is up.
// Over HTTP the error itself says (client.HTTPError: 503 or 429).
func isRejection(err error, conn client.Conn) bool {
	if err == nil {
		return false
	}
	var r Rejection
	if errors.As(err, &r) {
		return r.Rejected()
	}
	var re *client.RequestError
	if errors.As(err, &re) {
		msg := strings.ToLower(re.Message)
		for _, m := range rejectionMessages {
			if strings.Contains(msg, m) {
				return true
			}
		}
		return false
	}
	switch status.Code(err) {
	case codes.ResourceExhausted:
		return true
	case codes.Unavailable:
		// Triton answers UNAVAILABLE for a model it does not serve too
		// ("Request for unknown model"): that is not overload.
		if strings.Contains(strings.ToLower(status.Convert(err).Message()), "unknown model") {
			return false
		}
		g, ok := conn.(*client.Client)
		return conn == nil || ok && g.Conn().GetState() == connectivity.Ready
	}
	return false
}
