package client

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// Stream is a bidirectional ModelStreamInfer session. Send and Recv may
// run on different goroutines (one sender, one receiver).
type Stream struct {
	s      grpc.BidiStreamingClient[pb.ModelInferRequest, pb.ModelStreamInferResponse]
	cancel context.CancelFunc
	sendMu sync.Mutex
}

// OpenStream opens a stream; Close ends it.
func (c *Client) OpenStream(ctx context.Context) (*Stream, error) {
	ctx, cancel := context.WithCancel(ctx)
	s, err := c.rpc.ModelStreamInfer(ctx)
	if err != nil {
		cancel()
		return nil, wrap("open stream", c.addr, err)
	}
	return &Stream{s: s, cancel: cancel}, nil
}

// Send sends a request on the stream.
func (s *Stream) Send(req *pb.ModelInferRequest) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.s.Send(req)
}

// Recv receives the next response. A server-side error for one request
// comes back as an error naming it (the stream stays usable); a transport
// error ends the stream.
func (s *Stream) Recv() (*pb.ModelInferResponse, error) {
	m, err := s.s.Recv()
	if err != nil {
		return nil, err
	}
	if m.GetErrorMessage() != "" {
		return m.GetInferResponse(), &RequestError{ID: m.GetInferResponse().GetId(), Message: m.GetErrorMessage()}
	}
	return m.GetInferResponse(), nil
}

// RecvInto receives the next response into a caller-owned message.
func (s *Stream) RecvInto(m *pb.ModelStreamInferResponse) error {
	m.Reset()
	if err := s.s.RecvMsg(m); err != nil {
		return err
	}
	if m.GetErrorMessage() != "" {
		return &RequestError{ID: m.GetInferResponse().GetId(), Message: m.GetErrorMessage()}
	}
	return nil
}

// Close closes the sending side and cancels the stream.
func (s *Stream) Close() error {
	s.sendMu.Lock()
	err := s.s.CloseSend()
	s.sendMu.Unlock()
	s.cancel()
	return err
}

// RequestError is a per-request failure reported inside a stream.
type RequestError struct {
	ID      string
	Message string
}

func (e *RequestError) Error() string {
	if e.ID == "" {
		return e.Message
	}
	return fmt.Sprintf("request %s: %s", e.ID, e.Message)
}

// Sequence sends the requests of one stateful sequence over a stream,
// setting start on the first and end on the last, and waits for each
// response in turn.
type Sequence struct {
	stream  *Stream
	id      int64
	started bool
}

// NewSequence starts a sequence with correlation id on the stream.
func (s *Stream) NewSequence(id int64) *Sequence { return &Sequence{stream: s, id: id} }

// Step sends one request of the sequence (end marks the last) and returns
// its response.
func (q *Sequence) Step(req *pb.ModelInferRequest, end bool) (*pb.ModelInferResponse, error) {
	SetSequence(req, q.id, !q.started, end)
	q.started = true
	if err := q.stream.Send(req); err != nil {
		return nil, err
	}
	return q.stream.Recv()
}
