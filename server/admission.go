package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// Admission of inference requests into the in-flight budget (inflight.go).
//
// grpc-go (v1.85) reads a message's whole body off the stream before the
// service handler runs, and tells nobody its length beforehand: its
// buffer pool sees the body one HTTP/2 frame (16 KiB) at a time. So the
// server reads inference messages itself: the handlers of ModelInfer and
// ModelStreamInfer take the stream's transport
// (grpc.ServerTransportStreamFromContext), read the 5-byte length prefix,
// reserve room for the message in the budget, and only then read the body.
// A unary request that does not fit is refused with RESOURCE_EXHAUSTED
// having read nothing of its body; a request on a stream waits for room,
// since the stream's HTTP/2 flow control then holds the client back.
//
// Until its body is read, a stream holds at most its HTTP/2 window of
// unread data (InitialWindowSize: a fixed window, so grpc-go does not grow
// it). InTapHandle refuses new ModelInfer streams while the budget is
// exhausted, before the stream exists. Other methods are small (the
// model-control API's limits are in limits.go) and go through grpc-go's
// own reading, bounded by MaxRecvMsgSize.
//
// ModelInfer stays a unary method (its handler is replaced, so unary
// interceptors still run); ModelStreamInfer's stream handler is replaced
// (stream interceptors still run around it).

const (
	// maxInferMessage bounds one inference message, as grpc-go's
	// MaxRecvMsgSize bounds others.
	maxInferMessage = 256 << 20
	// maxControlMessage bounds every other message (configs, statistics
	// requests, health checks).
	maxControlMessage = 4 << 20
	// readChunk is how much of a body is taken off the transport at once
	// and copied into the request's buffer; the frames are freed as it goes.
	readChunk = 1 << 20
)

// messageReader is what grpc-go's server transport stream offers for
// reading messages directly (*transport.ServerStream in v1.85). When a
// future grpc-go no longer offers it, the server falls back to grpc-go's
// own reading and accounts for bodies after they are read
// (TestInferenceReadsOwnMessages catches that).
type messageReader interface {
	ReadMessageHeader(header []byte) error
	Read(n int) (mem.BufferSlice, error)
	RecvCompress() string
}

// serviceDesc is the generated service with ModelInfer and
// ModelStreamInfer read through the budget.
func (s *Server) serviceDesc() *grpc.ServiceDesc {
	d := pb.GRPCInferenceService_ServiceDesc
	d.Methods = append([]grpc.MethodDesc{}, d.Methods...)
	for i := range d.Methods {
		if d.Methods[i].MethodName == "ModelInfer" {
			d.Methods[i].Handler = s.modelInferHandler
		}
	}
	d.Streams = append([]grpc.StreamDesc{}, d.Streams...)
	for i := range d.Streams {
		if d.Streams[i].StreamName == "ModelStreamInfer" {
			d.Streams[i].Handler = s.serveModelStreamInfer
		}
	}
	return &d
}

// tapInference refuses a new ModelInfer call while the budget is
// exhausted: the stream is never created, nothing of its body is kept.
func (s *Server) tapInference(ctx context.Context, info *tap.Info) (context.Context, error) {
	if info.FullMethodName == pb.GRPCInferenceService_ModelInfer_FullMethodName && s.inflight.exhausted() {
		return nil, status.Error(codes.ResourceExhausted, s.inflight.full(0))
	}
	return ctx, nil
}

// modelInferHandler is the generated ModelInfer handler with admission
// before the body is read: instead of dec (grpc-go's reading), it reads
// the message off the transport itself. Unary interceptors run as for any
// method, after the request is read.
//
// The reservation ends when the handler returns; grpc-go then marshals
// and sends the response, whose outputs are not counted while it does.
func (s *Server) modelInferHandler(_ any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	if s.auth != nil {
		// Before the body: a client without the token makes the server
		// read nothing (the interceptor checks again, as for any method).
		if err := s.auth.grpcAllowed(ctx, pb.GRPCInferenceService_ModelInfer_FullMethodName); err != nil {
			return nil, err
		}
	}
	var req *pb.ModelInferRequest
	var held int64
	if mr, ok := grpc.ServerTransportStreamFromContext(ctx).(messageReader); ok {
		var err error
		req, held, err = s.readInferMessage(ctx, mr, false)
		if errors.Is(err, io.EOF) {
			return nil, status.Error(codes.Internal, "grpc: the client sent no request message")
		}
		if err != nil {
			return nil, err
		}
	} else {
		req = &pb.ModelInferRequest{}
		if err := dec(req); err != nil {
			return nil, err
		}
		held = need(int64(inferBytes(req)))
		s.inflight.force(held)
	}
	defer func() { s.inflight.release(held) }()
	handle := func(ctx context.Context, r any) (any, error) {
		resp, err := s.ModelInfer(ctx, r.(*pb.ModelInferRequest))
		if err == nil {
			// Outputs are memory of this request from here on: new
			// requests must leave room for them while it lasts.
			out := int64(outputBytes(resp))
			s.inflight.force(out)
			held += out
		}
		return resp, err
	}
	if interceptor == nil {
		return handle(ctx, req)
	}
	return interceptor(ctx, req, &grpc.UnaryServerInfo{Server: s, FullMethod: pb.GRPCInferenceService_ModelInfer_FullMethodName}, handle)
}

// serveModelStreamInfer is ModelStreamInfer with each message admitted
// before its body is read; a message waits for room rather than being
// refused. A message larger than the whole budget ends the stream with
// RESOURCE_EXHAUSTED.
func (s *Server) serveModelStreamInfer(_ any, stream grpc.ServerStream) error {
	bs := &budgetedStream{ServerStream: stream, srv: s, held: map[string][]int64{}}
	bs.mr, _ = grpc.ServerTransportStreamFromContext(stream.Context()).(messageReader)
	err := s.ModelStreamInfer(bs)
	bs.releaseAll()
	if bs.fatal != nil {
		return bs.fatal
	}
	return err
}

// budgetedStream reads a ModelStreamInfer stream's requests through the
// budget and releases each request's reservation once its response (found
// by id) is sent.
type budgetedStream struct {
	grpc.ServerStream
	srv *Server
	mr  messageReader // nil: grpc-go reads

	mu    sync.Mutex
	held  map[string][]int64 // request id → reservations awaiting their response
	fatal error              // why the stream must end with an error
}

func (b *budgetedStream) Recv() (*pb.ModelInferRequest, error) {
	var req *pb.ModelInferRequest
	var held int64
	if b.mr != nil {
		var err error
		req, held, err = b.srv.readInferMessage(b.Context(), b.mr, true)
		if err != nil {
			if st, ok := status.FromError(err); ok && st.Code() == codes.ResourceExhausted {
				b.mu.Lock()
				b.fatal = err
				b.mu.Unlock()
			}
			return nil, err
		}
	} else {
		req = &pb.ModelInferRequest{}
		if err := b.RecvMsg(req); err != nil {
			return nil, err
		}
		held = need(int64(inferBytes(req)))
		b.srv.inflight.force(held)
	}
	b.mu.Lock()
	b.held[req.GetId()] = append(b.held[req.GetId()], held)
	b.mu.Unlock()
	return req, nil
}

func (b *budgetedStream) Send(m *pb.ModelStreamInferResponse) error {
	out := int64(outputBytes(m.GetInferResponse()))
	b.srv.inflight.force(out)
	err := b.SendMsg(m)
	b.srv.inflight.release(out)
	id := m.GetInferResponse().GetId()
	b.mu.Lock()
	var held int64
	if q := b.held[id]; len(q) > 0 {
		held = q[0]
		if len(q) == 1 {
			delete(b.held, id)
		} else {
			b.held[id] = q[1:]
		}
	}
	b.mu.Unlock()
	b.srv.inflight.release(held)
	return err
}

func (b *budgetedStream) releaseAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, q := range b.held {
		for _, n := range q {
			b.srv.inflight.release(n)
		}
		delete(b.held, id)
	}
}

// readInferMessage reads one ModelInferRequest off a stream: its length
// prefix, then room in the budget (waiting for it, or refusing with
// RESOURCE_EXHAUSTED), then its body. It returns the request and the bytes
// reserved for it, which the caller releases when the request is done.
// io.EOF means the client sent no further message.
func (s *Server) readInferMessage(ctx context.Context, mr messageReader, wait bool) (*pb.ModelInferRequest, int64, error) {
	var hdr [5]byte
	if err := mr.ReadMessageHeader(hdr[:]); err != nil {
		return nil, 0, transportError(err)
	}
	compressed := hdr[0]
	length := int64(binary.BigEndian.Uint32(hdr[1:]))
	if length > maxInferMessage {
		s.inflight.refused.Add(1)
		return nil, 0, status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", length, maxInferMessage)
	}
	n, err := s.admit(ctx, length, wait)
	if err != nil {
		return nil, 0, err
	}
	body, err := readBody(mr, length)
	s.inflight.read.Add(int64(len(body)))
	if err != nil {
		s.inflight.release(n)
		return nil, 0, err
	}
	switch compressed {
	case 0:
	case 1:
		// Decompressed, the message may be larger than reserved: account
		// for the difference once known (bounded by maxInferMessage).
		plain, err := decompress(mr.RecvCompress(), body)
		if err != nil {
			s.inflight.release(n)
			return nil, 0, err
		}
		extra := need(int64(len(plain))) - n
		if extra > 0 {
			s.inflight.force(extra)
			n += extra
		}
		body = plain
	default:
		s.inflight.release(n)
		return nil, 0, status.Errorf(codes.Internal, "grpc: received unexpected payload format %d", compressed)
	}
	req, err := decodeInferRequest(body)
	if err != nil {
		s.inflight.release(n)
		return nil, 0, status.Errorf(codes.Internal, "grpc: error unmarshalling request: %v", err)
	}
	return req, n, nil
}

// admit reserves room in the budget for a request of length bytes on the
// wire, before any of its body is read: at once or refused with
// RESOURCE_EXHAUSTED, or (wait) once room is made. It returns the bytes
// reserved, which the caller releases (s.inflight.release) when the
// request and its response are done. A request that could never fit is
// refused either way. Any transport that knows a body's length first
// (HTTP's Content-Length) admits through here.
func (s *Server) admit(ctx context.Context, length int64, wait bool) (int64, error) {
	n := need(length)
	switch {
	case s.inflight.limit > 0 && n > s.inflight.limit:
		return 0, status.Error(codes.ResourceExhausted, s.inflight.tooLarge(length))
	case wait:
		if err := s.inflight.wait(ctx, n); err != nil {
			return 0, status.FromContextError(err).Err()
		}
	case !s.inflight.tryReserve(n):
		return 0, status.Error(codes.ResourceExhausted, s.inflight.full(length))
	}
	return n, nil
}

// readBody reads a message body of n bytes into one buffer, taking the
// frames off the transport a chunk at a time and freeing them as it goes.
func readBody(mr messageReader, n int64) ([]byte, error) {
	body := make([]byte, n)
	for off := int64(0); off < n; {
		k := min(n-off, readChunk)
		data, err := mr.Read(int(k))
		if err != nil {
			return body[:off], transportError(err)
		}
		off += int64(data.CopyTo(body[off:]))
		data.Free()
	}
	return body, nil
}

// decompress undoes grpc message compression, bounded by maxInferMessage.
func decompress(name string, body []byte) ([]byte, error) {
	c := encoding.GetCompressor(name)
	if c == nil {
		return nil, status.Errorf(codes.Internal, "grpc: compressed message but no decompressor for grpc-encoding %q", name)
	}
	r, err := c.Decompress(bytes.NewReader(body))
	if err != nil {
		return nil, status.Errorf(codes.Internal, "grpc: failed to decompress the message: %v", err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(io.LimitReader(r, maxInferMessage+1)); err != nil {
		return nil, status.Errorf(codes.Internal, "grpc: failed to decompress the message: %v", err)
	}
	if out.Len() > maxInferMessage {
		return nil, status.Errorf(codes.ResourceExhausted, "grpc: received message after decompression larger than max %d", maxInferMessage)
	}
	return out.Bytes(), nil
}

// transportError turns what the transport returns into what a handler
// returns, as grpc-go's own reading does.
func transportError(err error) error {
	switch {
	case err == io.EOF:
		return io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return status.Error(codes.Internal, io.ErrUnexpectedEOF.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unavailable, fmt.Sprintf("reading the request: %v", err))
}

// inferBytes is the size of a request's tensors on the wire.
func inferBytes(req *pb.ModelInferRequest) int {
	n := 0
	for _, b := range req.GetRawInputContents() {
		n += len(b)
	}
	for _, in := range req.GetInputs() {
		n += contentsBytes(in.GetContents())
	}
	return n
}

// outputBytes is the size of a response's tensors.
func outputBytes(resp *pb.ModelInferResponse) int {
	n := 0
	for _, b := range resp.GetRawOutputContents() {
		n += len(b)
	}
	for _, o := range resp.GetOutputs() {
		n += contentsBytes(o.GetContents())
	}
	return n
}

func contentsBytes(c *pb.InferTensorContents) int {
	if c == nil {
		return 0
	}
	n := 4*len(c.GetFp32Contents()) + 4*len(c.GetIntContents()) + 8*len(c.GetInt64Contents()) +
		4*len(c.GetUintContents()) + 8*len(c.GetUint64Contents()) + 8*len(c.GetFp64Contents()) + len(c.GetBoolContents())
	for _, b := range c.GetBytesContents() {
		n += len(b)
	}
	return n
}
