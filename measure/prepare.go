package measure

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/workload"
)

// target is one server: its connections and what it says of the model.
type target struct {
	addr    string
	conns   []client.Conn // one shared, or one per client
	control client.Conn   // statistics and checks, off the load's connections
}

// plan is what the load needs, prepared before any request is timed:
// connections, the inputs (made once) and the request templates.
type plan struct {
	targets []*target
	// streams are the request templates (inputs and raw contents, shared
	// read-only by every slot's requests) of each data stream: client k
	// takes stream k mod len, and its requests cycle through the
	// stream's templates in order.
	streams [][]*pb.ModelInferRequest
	// expect is what the templates' responses must hold (see inputSet);
	// nil: nothing is checked, and the load does not look at responses.
	expect    [][]*expectation
	inputData *results.InputData // what the templates were read from; nil: generated
	rows      int                // inferences per request
	shapes    string             // for messages
	// streamIDs: requests carry their slot's id (streams match responses
	// by it).
	streamIDs bool

	closeOnce sync.Once
}

func (p *plan) close() {
	p.closeLoad()
	for _, t := range p.targets {
		if t.control != nil {
			_ = t.control.Close()
		}
	}
}

// closeLoad closes the load's connections, failing the calls in flight.
func (p *plan) closeLoad() {
	p.closeOnce.Do(func() {
		for _, t := range p.targets {
			for _, c := range t.conns {
				_ = c.Close()
			}
		}
	})
}

// conn returns client i's connection.
func (p *plan) conn(i int) client.Conn {
	t := p.targets[i%len(p.targets)]
	if len(t.conns) == 1 {
		return t.conns[0]
	}
	return t.conns[i/len(p.targets)]
}

// prepare connects to every server, checks that the model is ready there,
// builds the inputs from its metadata and sends one request to each
// server, so that a wrong model, shape or address fails before measuring.
func prepare(ctx context.Context, o *Options) (*plan, error) {
	p := &plan{}
	fail := func(err error) (*plan, error) {
		p.close()
		return nil, err
	}
	for i, addr := range o.Addrs {
		t := &target{addr: addr}
		p.targets = append(p.targets, t)
		control := o.Conn
		control.MaxConns = 2 // statistics beside a check
		c, err := client.Connect(addr, control)
		if err != nil {
			return fail(err)
		}
		t.addr = c.Addr()
		t.control = c
		clients := (o.Clients - i + len(o.Addrs) - 1) / len(o.Addrs) // clients i, i+len, ...
		n := max(clients, 1)
		load := o.Conn
		// An HTTP/1.1 connection carries one request at a time: keep as
		// many alive as the pool's clients have in flight.
		load.MaxConns = o.Concurrency
		if o.SharedConnection {
			n, load.MaxConns = 1, max(clients, 1)*o.Concurrency
		}
		for k := 0; k < n; k++ {
			c, err := client.Connect(addr, load)
			if err != nil {
				return fail(err)
			}
			t.conns = append(t.conns, c)
		}
	}
	for _, t := range p.targets {
		if err := checkServer(ctx, t.control, o); err != nil {
			return fail(err)
		}
	}
	c0 := p.targets[0].control
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	md, err := c0.ModelMetadata(cctx, o.Model, o.Version)
	if err != nil {
		if c := status.Code(err); c == codes.Unauthenticated || c == codes.PermissionDenied {
			return fail(fmt.Errorf("model %q: %w%s", o.Model, err, credentialHint(o)))
		}
		return fail(fmt.Errorf("model %q: %w", o.Model, err))
	}
	// max_batch_size comes from the config; a server without the model
	// configuration extension leaves it to the metadata's -1 first dim.
	batching := len(md.GetInputs()) > 0 && len(md.GetInputs()[0].GetShape()) > 0 && md.GetInputs()[0].GetShape()[0] == -1
	maxBatch := int64(math.MaxInt32)
	if cfg, err := c0.ModelConfig(cctx, o.Model, o.Version); err == nil && cfg != nil {
		batching = cfg.GetMaxBatchSize() > 0
		if batching {
			maxBatch = int64(cfg.GetMaxBatchSize())
		}
	}
	if !batching && o.BatchSize != 1 {
		return fail(fmt.Errorf("model %q does not batch (max_batch_size 0): batch size must be 1, got %d", o.Model, o.BatchSize))
	}
	if int64(o.BatchSize) > maxBatch {
		return fail(fmt.Errorf("model %q: batch size %d above its max_batch_size %d", o.Model, o.BatchSize, maxBatch))
	}
	p.rows = 1
	if batching {
		p.rows = o.BatchSize
	}
	set, err := buildInputs(o, md, batching)
	if err != nil {
		return fail(err)
	}
	p.streams, p.shapes, p.inputData, p.expect = set.streams, set.desc, set.record, set.expect
	p.streamIDs = o.RPC == workload.RPCStream
	for _, t := range p.targets {
		if err := preflight(ctx, t, p, o); err != nil {
			return fail(err)
		}
	}
	return p, nil
}

// checkServer fails with a clear message when the server is unreachable,
// refuses our credentials, or does not have the model ready.
func checkServer(ctx context.Context, c client.Conn, o *Options) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Live(cctx); err != nil {
		switch status.Code(err) {
		case codes.Unauthenticated, codes.PermissionDenied:
			return fmt.Errorf("server refused the request: %w%s", err, credentialHint(o))
		case codes.Unknown, codes.Unavailable, codes.DeadlineExceeded:
			if msg := err.Error(); strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:") || strings.Contains(msg, "handshake") {
				return fmt.Errorf("TLS with the server failed: %w", err)
			}
			return fmt.Errorf("server unreachable: %w", err)
		}
		return fmt.Errorf("server live check failed: %w", err)
	}
	ready, err := c.ModelReady(cctx, o.Model, o.Version)
	if err != nil {
		if c := status.Code(err); c == codes.Unauthenticated || c == codes.PermissionDenied {
			return fmt.Errorf("%w%s", err, credentialHint(o))
		}
		return err
	}
	if !ready {
		loaded := "unknown"
		if idx, err := c.Index(cctx); err == nil {
			var names []string
			for _, m := range idx {
				if m.GetState() == "READY" {
					names = append(names, m.GetName())
				}
			}
			loaded = strings.Join(names, ", ")
		}
		v := ""
		if o.Version != "" {
			v = " version " + o.Version
		}
		return fmt.Errorf("model %q%s is not ready at %s (ready models: %s)", o.Model, v, c.Addr(), loaded)
	}
	return nil
}

// stream returns client i's data stream: its request templates.
func (p *plan) stream(i int) []*pb.ModelInferRequest {
	return p.streams[i%len(p.streams)]
}

// expectation is what the response to template k of client i's stream
// must hold; nil when nothing is checked.
func (p *plan) expectation(i, k int) *expectation {
	if p.expect == nil {
		return nil
	}
	return p.expect[i%len(p.expect)][k]
}

// newRequests returns one request of its own per template of client i's
// stream for one slot (see newRequest).
func (p *plan) newRequests(i, id int, seq *seqFlags) []*pb.ModelInferRequest {
	tmpls := p.stream(i)
	reqs := make([]*pb.ModelInferRequest, len(tmpls))
	for k, t := range tmpls {
		reqs[k] = p.newRequest(t, id, seq)
	}
	return reqs
}

// newRequest returns a request of its own for one slot: the template's
// tensors (shared, never written), an id and, for sequences, parameters
// whose flags the slot flips in place (shared by all the slot's
// requests).
func (p *plan) newRequest(t *pb.ModelInferRequest, id int, seq *seqFlags) *pb.ModelInferRequest {
	req := &pb.ModelInferRequest{
		ModelName:        t.ModelName,
		ModelVersion:     t.ModelVersion,
		Inputs:           t.Inputs,
		RawInputContents: t.RawInputContents,
	}
	if p.streamIDs {
		// A stream's responses are matched to slots by id; a unary call
		// needs none, and without one every slot's request is the same
		// (HTTP sends one shared body).
		req.Id = strconv.Itoa(id)
	}
	if seq != nil {
		seq.attach(req)
	}
	return req
}

// seqFlags hold a request's sequence parameters so that start and end
// can be set per request without allocating.
type seqFlags struct {
	id         *pb.InferParameter_Int64Param
	start, end *pb.InferParameter_BoolParam
}

func newSeqFlags(id int64) *seqFlags {
	return &seqFlags{
		id:    &pb.InferParameter_Int64Param{Int64Param: id},
		start: &pb.InferParameter_BoolParam{},
		end:   &pb.InferParameter_BoolParam{},
	}
}

func (s *seqFlags) attach(req *pb.ModelInferRequest) {
	req.Parameters = map[string]*pb.InferParameter{
		"sequence_id":    {ParameterChoice: s.id},
		"sequence_start": {ParameterChoice: s.start},
		"sequence_end":   {ParameterChoice: s.end},
	}
}

func (s *seqFlags) set(start, end bool) {
	s.start.BoolParam = start
	s.end.BoolParam = end
}

// preflight sends one request to the server (a one-request sequence for
// stateful models), the first of each data stream, and turns a rejection
// into an error naming the model and the shapes sent.
func preflight(ctx context.Context, t *target, p *plan, o *Options) error {
	for s, stream := range p.streams {
		var seq *seqFlags
		if o.Sequence {
			seq = newSeqFlags(o.SequenceIDBase) // below every client's id
			seq.set(true, true)
		}
		req := p.newRequest(stream[0], 0, seq)
		shapes := p.shapes
		if len(p.streams) > 1 {
			shapes = fmt.Sprintf("%s (stream %d)", p.shapes, s)
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := t.conns[0].Infer(cctx, req)
		cancel()
		if err != nil {
			switch status.Code(err) {
			case codes.InvalidArgument:
				return fmt.Errorf("model %q at %s rejected a request of %s: %s", o.Model, t.addr, shapes, status.Convert(err).Message())
			case codes.Unauthenticated, codes.PermissionDenied:
				return fmt.Errorf("first request to model %q: %w%s", o.Model, err, credentialHint(o))
			}
			return fmt.Errorf("first request to model %q at %s (inputs %s): %w", o.Model, t.addr, shapes, err)
		}
	}
	return nil
}

// credentialHint says which headers were sent (names only) or that none
// were, after a server refused our credentials.
func credentialHint(o *Options) string {
	names := o.Conn.HeaderNames()
	if len(names) == 0 {
		return " (no credentials were sent: pass the token with -H 'Authorization: Bearer <token>', or target.headers in a scenario)"
	}
	return fmt.Sprintf(" (headers sent: %s; values not shown)", strings.Join(names, ", "))
}

// connection is what the measurement records of how it reached the
// servers: never a header's value.
func (p *plan) connection(o *Options) *results.Connection {
	e := p.targets[0].control.Endpoint()
	c := &results.Connection{Protocol: string(e.Protocol), TLS: e.TLS, TLSUnverified: e.TLS && o.Conn.InsecureSkipVerify, Headers: o.Conn.HeaderNames()}
	if e.Protocol == client.HTTP {
		c.Encoding = o.Conn.HTTPEncoding
		if c.Encoding == "" {
			c.Encoding = client.EncodingBinary
		}
	}
	return c
}

// isFatal tells errors after which a client cannot go on (the model or
// request is wrong) from those that may pass (a full queue, a blip).
func isFatal(err error) bool {
	if errors.Is(err, context.Canceled) {
		return true
	}
	switch status.Code(err) {
	case codes.NotFound, codes.InvalidArgument, codes.Unimplemented, codes.PermissionDenied, codes.Unauthenticated, codes.FailedPrecondition:
		return true
	}
	return false
}
