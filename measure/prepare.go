package measure

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// target is one server: its connections and what it says of the model.
type target struct {
	addr    string
	conns   []*client.Client // one shared, or one per client
	control *client.Client   // statistics and checks, off the load's connections
}

// plan is what the load needs, prepared before any request is timed:
// connections, the inputs (made once) and a template request.
type plan struct {
	targets  []*target
	template *pb.ModelInferRequest // inputs and raw contents, shared read-only by every slot's request
	rows     int                   // inferences per request
	shapes   string                // for messages

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
func (p *plan) conn(i int) *client.Client {
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
		c, err := client.Dial(addr)
		if err != nil {
			return fail(err)
		}
		t.control = c
		n := 1
		if !o.SharedConnection {
			n = (o.Clients - i + len(o.Addrs) - 1) / len(o.Addrs) // clients i, i+len, ...
		}
		for k := 0; k < max(n, 1); k++ {
			c, err := client.Dial(addr)
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
	tmpl, desc, err := buildInputs(o, md, batching)
	if err != nil {
		return fail(err)
	}
	p.template, p.shapes = tmpl, desc
	for _, t := range p.targets {
		if err := preflight(ctx, t, p, o); err != nil {
			return fail(err)
		}
	}
	return p, nil
}

// checkServer fails with a clear message when the server is unreachable
// or the model is not ready there.
func checkServer(ctx context.Context, c *client.Client, o *Options) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Live(cctx); err != nil {
		return fmt.Errorf("server unreachable: %w", err)
	}
	ready, err := c.ModelReady(cctx, o.Model, o.Version)
	if err != nil {
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

// buildInputs makes every input once: random FP32 values (other types
// zero bytes) of the metadata's shape with the batch dimension set to the
// batch size, variable dimensions set from Shapes, or for sequences to
// fs/r.
func buildInputs(o *Options, md *pb.ModelMetadataResponse, batching bool) (*pb.ModelInferRequest, string, error) {
	req := &pb.ModelInferRequest{ModelName: o.Model, ModelVersion: o.Version}
	rng := rand.New(rand.NewPCG(o.Seed, 0x1aa5))
	var desc []string
	if len(md.GetInputs()) == 0 {
		return nil, "", fmt.Errorf("model %q has no inputs in its metadata", o.Model)
	}
	for _, in := range md.GetInputs() {
		meta := in.GetShape()
		shape := make([]int64, 0, len(meta))
		dims := meta
		if batching {
			if len(meta) == 0 {
				return nil, "", fmt.Errorf("model %q input %q: batching model with an empty shape", o.Model, in.GetName())
			}
			shape = append(shape, int64(o.BatchSize))
			dims = meta[1:]
		}
		override, hasOverride := o.Shapes[in.GetName()]
		if hasOverride && len(override) != len(dims) {
			return nil, "", fmt.Errorf("model %q input %q: shape override %v has %d dims, the model's %v has %d (without batch)",
				o.Model, in.GetName(), override, len(override), dims, len(dims))
		}
		for k, d := range dims {
			switch {
			case hasOverride:
				if override[k] <= 0 || (d >= 0 && d != override[k]) {
					return nil, "", fmt.Errorf("model %q input %q: shape override %v does not fit the model's %v", o.Model, in.GetName(), override, dims)
				}
				d = override[k]
			case d < 0 && o.Sequence:
				d = o.updateSamples()
			case d < 0:
				return nil, "", fmt.Errorf("model %q input %q has variable shape %v: give its shape (Shapes / --shape %s:...)", o.Model, in.GetName(), dims, in.GetName())
			}
			shape = append(shape, d)
		}
		size, err := elementSize(in.GetDatatype())
		if err != nil {
			return nil, "", fmt.Errorf("model %q input %q: %w", o.Model, in.GetName(), err)
		}
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		if n*int64(size) > 1<<30 {
			return nil, "", fmt.Errorf("model %q input %q: shape %v is %d bytes, more than 1 GiB", o.Model, in.GetName(), shape, n*int64(size))
		}
		var raw []byte
		if in.GetDatatype() == "FP32" {
			v := make([]float32, n)
			for i := range v {
				v[i] = rng.Float32()
			}
			raw = client.EncodeFP32(v)
		} else {
			raw = make([]byte, n*int64(size))
		}
		req.Inputs = append(req.Inputs, &pb.ModelInferRequest_InferInputTensor{Name: in.GetName(), Datatype: in.GetDatatype(), Shape: shape})
		req.RawInputContents = append(req.RawInputContents, raw)
		desc = append(desc, fmt.Sprintf("%s %s%v", in.GetName(), in.GetDatatype(), shape))
	}
	return req, strings.Join(desc, ", "), nil
}

func elementSize(dt string) (int, error) {
	switch dt {
	case "BOOL", "INT8", "UINT8":
		return 1, nil
	case "INT16", "UINT16", "FP16", "BF16":
		return 2, nil
	case "INT32", "UINT32", "FP32":
		return 4, nil
	case "INT64", "UINT64", "FP64":
		return 8, nil
	}
	return 0, fmt.Errorf("datatype %q is not supported by the load generator", dt)
}

// newRequest returns a request of its own for one slot: the template's
// tensors (shared, never written), an id and, for sequences, parameters
// whose flags the slot flips in place.
func (p *plan) newRequest(id int, seq *seqFlags) *pb.ModelInferRequest {
	t := p.template
	req := &pb.ModelInferRequest{
		ModelName:        t.ModelName,
		ModelVersion:     t.ModelVersion,
		Id:               strconv.Itoa(id),
		Inputs:           t.Inputs,
		RawInputContents: t.RawInputContents,
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
// stateful models) and turns a rejection into an error naming the model
// and the shapes sent.
func preflight(ctx context.Context, t *target, p *plan, o *Options) error {
	var seq *seqFlags
	if o.Sequence {
		seq = newSeqFlags(o.SequenceIDBase) // below every client's id
		seq.set(true, true)
	}
	req := p.newRequest(0, seq)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp := &pb.ModelInferResponse{}
	if err := t.conns[0].InferInto(cctx, req, resp); err != nil {
		if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument {
			return fmt.Errorf("model %q at %s rejected a request of %s: %s", o.Model, t.addr, p.shapes, st.Message())
		}
		return fmt.Errorf("first request to model %q at %s (inputs %s): %w", o.Model, t.addr, p.shapes, err)
	}
	return nil
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
