// Package maconfig converts a Model Analyzer profile config (the YAML of
// `model-analyzer profile -f config.yaml`) into an iaasbench scenario,
// field by field as Model Analyzer's docs (config.md, config_search.md)
// define them, and lists each field it could not convert with the reason.
package maconfig

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/iaasbench/iaasbench/modelconfig"
	"github.com/iaasbench/iaasbench/scenarios"
)

// Options steer a conversion.
type Options struct {
	// Model picks one of profile_models; empty means the only one.
	Model string
	// Target is the scenario's target kind (embedded, remote, local);
	// empty derives it from triton_launch_mode.
	Target string
	// EmulatedGPUProfile, for an embedded target, gives the embedded
	// server one emulated GPU following that device profile (Model
	// Analyzer profiles on GPUs).
	EmulatedGPUProfile string
}

// Skipped is one field of the Model Analyzer config left out, and why.
type Skipped struct {
	Field string
	Line  int
	Why   string
}

func (s Skipped) String() string {
	return fmt.Sprintf("line %d: %s: %s", s.Line, s.Field, s.Why)
}

// Result is a converted scenario.
type Result struct {
	YAML    []byte   // the scenario, parsed and checked
	Model   string   // the model converted
	Models  []string // every model of profile_models
	Skipped []Skipped
}

// Model Analyzer's defaults (config_defaults.py) that a conversion
// writes out.
const (
	defaultMinConcurrency   = 1
	defaultMaxConcurrency   = 1024
	defaultMinInstances     = 1
	defaultMaxInstances     = 5
	defaultMinModelBatch    = 1
	defaultMaxModelBatch    = 128
	defaultGRPCEndpoint     = "localhost:8001"
	defaultMetricsURL       = "http://localhost:8002/metrics"
	defaultObjectiveTag     = "perf_throughput"
	outputSettingReason     = "an output setting of Model Analyzer's; iaasbench writes its own results file and report"
	serverFlagsReason       = "flags of a tritonserver that Model Analyzer launches; iaasbench passes none"
	searchHeuristicReason   = "a setting of Model Analyzer's own search; iaasbench's adaptive search has its own budget (search.budget_points)"
	perfAnalyzerOwnedReason = "iaasbench's load generator sets this itself"
)

// converter holds the conversion's state.
type converter struct {
	file    string
	skipped []Skipped
	opts    Options

	global map[string]*yaml.Node // top-level keys
	model  map[string]*yaml.Node // the profiled model's keys
	prefix string                // "profile_models.NAME."
	keyAt  map[string]int        // field path → line
}

func (c *converter) skip(field string, n *yaml.Node, format string, args ...any) {
	line := c.keyAt[field]
	if line == 0 && n != nil {
		line = n.Line
	}
	c.skipped = append(c.skipped, Skipped{Field: field, Line: line, Why: fmt.Sprintf(format, args...)})
}

func (c *converter) errorf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return fmt.Errorf("%s:%d: %s", c.file, line, fmt.Sprintf(format, args...))
}

// Convert reads a Model Analyzer profile config. file names it in
// errors and in the scenario's description.
func Convert(data []byte, file string, opts Options) (*Result, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	root := deref(&doc)
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a Model Analyzer config (want a mapping with profile_models)", file)
	}
	c := &converter{file: file, opts: opts, global: map[string]*yaml.Node{}, model: map[string]*yaml.Node{}, keyAt: map[string]int{}}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		c.global[k.Value] = deref(root.Content[i+1])
		c.keyAt[k.Value] = k.Line
	}
	models, err := c.profileModels()
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, m := range models {
		res.Models = append(res.Models, m.name)
	}
	var chosen *profileModel
	switch {
	case opts.Model != "":
		for i := range models {
			if models[i].name == opts.Model {
				chosen = &models[i]
			}
		}
		if chosen == nil {
			return nil, fmt.Errorf("%s: no model %q in profile_models (have: %s)", file, opts.Model, strings.Join(res.Models, ", "))
		}
	case len(models) == 1:
		chosen = &models[0]
	default:
		return nil, fmt.Errorf("%s: profile_models lists %d models (%s): a scenario sweeps one; pick it with --model", file, len(models), strings.Join(res.Models, ", "))
	}
	res.Model = chosen.name
	c.prefix = "profile_models." + chosen.name + "."
	for _, m := range models {
		if m.name != chosen.name {
			c.skip("profile_models."+m.name, m.key, "another model: convert it with --model %s", m.name)
		}
	}
	if chosen.spec != nil {
		for i := 0; i+1 < len(chosen.spec.Content); i += 2 {
			k := chosen.spec.Content[i]
			c.model[k.Value] = deref(chosen.spec.Content[i+1])
			c.keyAt["profile_models."+chosen.name+"."+k.Value] = k.Line
		}
	}
	out, err := c.scenario(chosen.name)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encode scenario: %w", err)
	}
	_ = enc.Close()
	if _, err := scenarios.Parse(buf.Bytes(), chosen.name+".yaml"); err != nil {
		return nil, fmt.Errorf("%s: the converted scenario does not check:\n%w\n--- scenario ---\n%s", file, err, buf.String())
	}
	res.YAML = buf.Bytes()
	slices.SortStableFunc(c.skipped, func(a, b Skipped) int { return a.Line - b.Line })
	res.Skipped = c.skipped
	return res, nil
}

type profileModel struct {
	name string
	key  *yaml.Node
	spec *yaml.Node // the model's mapping, nil for a bare name
}

// profileModels reads profile_models: a comma-delimited string, a list
// of names, or a mapping of names to model specs.
func (c *converter) profileModels() ([]profileModel, error) {
	n, ok := c.global["profile_models"]
	if !ok || n == nil {
		return nil, fmt.Errorf("%s: no profile_models: nothing to profile", c.file)
	}
	var out []profileModel
	switch n.Kind {
	case yaml.ScalarNode:
		for _, name := range strings.Split(n.Value, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out = append(out, profileModel{name: name, key: n})
			}
		}
	case yaml.SequenceNode:
		for _, e := range n.Content {
			e = deref(e)
			if e.Kind != yaml.ScalarNode {
				return nil, c.errorf(e, "profile_models: want model names, got a %s", kindName(e))
			}
			out = append(out, profileModel{name: e.Value, key: e})
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], deref(n.Content[i+1])
			if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
				v = nil
			} else if v.Kind != yaml.MappingNode {
				return nil, c.errorf(v, "profile_models.%s: want a mapping (parameters, model_config_parameters, ...), got a %s", k.Value, kindName(v))
			}
			out = append(out, profileModel{name: k.Value, key: k, spec: v})
		}
	}
	if len(out) == 0 {
		return nil, c.errorf(n, "profile_models names no model")
	}
	return out, nil
}

// lookup returns a setting from the model's spec, else the global one.
func (c *converter) lookup(key string) (*yaml.Node, string) {
	if v, ok := c.model[key]; ok {
		return v, c.modelField(key)
	}
	if v, ok := c.global[key]; ok {
		return v, key
	}
	return nil, ""
}

func (c *converter) modelField(key string) string { return c.prefix + key }

// scenario builds the scenario's YAML tree.
func (c *converter) scenario(model string) (*yaml.Node, error) {
	root := mapping()
	add(root, "name", scalar(model+"-model-analyzer"))
	add(root, "description", scalar(fmt.Sprintf("Converted from the Model Analyzer profile config %s (model %s) by iaasbench scenarios import --model-analyzer.", c.file, model)))

	target, err := c.target()
	if err != nil {
		return nil, err
	}
	add(root, "target", target)
	work := mapping()
	add(work, "model", scalar(model))
	add(root, "workload", work)

	dims := mapping()
	measure := mapping()
	search := mapping()
	if err := c.load(work, dims); err != nil {
		return nil, err
	}
	if err := c.configSearch(dims, search); err != nil {
		return nil, err
	}
	if v, field := c.lookup("batch_sizes"); v != nil {
		vals, err := c.values(v, field)
		if err != nil {
			return nil, err
		}
		add(dims, "batch_size", vals)
	}
	server := mapping()
	kind := target.Content[1].Value
	if c.cpuOnly() {
		c.skip(c.modelField("cpu_only"), c.model["cpu_only"], "the scenario leaves dimensions.gpus at 0: instances run on the CPU")
	}
	if kind == scenarios.TargetEmbedded && c.opts.EmulatedGPUProfile != "" && !c.cpuOnly() {
		add(dims, "gpus", flowSeq(scalar("1")))
		add(server, "emulated_gpu_profile", scalar(c.opts.EmulatedGPUProfile))
	}
	c.perfAnalyzerFlags(measure, work)
	if len(dims.Content) > 0 {
		add(root, "dimensions", dims)
	}
	if len(server.Content) > 0 {
		add(root, "server", server)
	}
	if len(measure.Content) > 0 {
		add(root, "measure", measure)
	}
	if len(search.Content) > 0 {
		add(root, "search", search)
	}
	costNode, err := c.cost()
	if err != nil {
		return nil, err
	}
	add(root, "cost", costNode)
	c.leftovers()
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root},
		HeadComment: fmt.Sprintf("Converted from %s by iaasbench scenarios import --model-analyzer.\nWhat could not be converted was listed on stderr.", c.file)}, nil
}

func (c *converter) cpuOnly() bool {
	v, _ := c.lookup("cpu_only")
	return v != nil && v.Value == "true"
}

// target maps triton_launch_mode (remote: the endpoints; local: the
// repository and binary) unless Options.Target says otherwise.
func (c *converter) target() (*yaml.Node, error) {
	mode := "local"
	if v, ok := c.global["triton_launch_mode"]; ok {
		mode = v.Value
	}
	kind := c.opts.Target
	if kind == "" {
		switch mode {
		case "remote":
			kind = scenarios.TargetRemote
		case "local":
			kind = scenarios.TargetLocal
		default:
			kind = scenarios.TargetLocal
			c.skip("triton_launch_mode", c.global["triton_launch_mode"], "%q has no iaasbench equivalent: the scenario runs tritonserver itself (target kind local); use --target remote to drive a running server, --target embedded for the embedded one", mode)
		}
	} else if _, ok := c.global["triton_launch_mode"]; ok {
		c.skip("triton_launch_mode", c.global["triton_launch_mode"], "replaced by --target %s", kind)
	}
	t := mapping()
	add(t, "kind", scalar(kind))
	repo := c.global["model_repository"]
	switch kind {
	case scenarios.TargetRemote:
		grpc := defaultGRPCEndpoint
		if v, ok := c.global["triton_grpc_endpoint"]; ok {
			grpc = v.Value
		}
		metrics := defaultMetricsURL
		if v, ok := c.global["triton_metrics_url"]; ok {
			metrics = v.Value
		}
		add(t, "urls", flowSeq(scalar(grpc)))
		add(t, "metrics_urls", flowSeq(scalar(metrics)))
		if repo != nil {
			c.skip("model_repository", repo, "a remote server loads its own repository")
		}
	case scenarios.TargetLocal:
		if repo == nil {
			return nil, fmt.Errorf("%s: target local needs model_repository", c.file)
		}
		add(t, "repo", scalar(repo.Value))
		if v, ok := c.global["triton_server_path"]; ok {
			add(t, "tritonserver", scalar(v.Value))
		}
	case scenarios.TargetEmbedded:
		if repo != nil {
			c.skip("model_repository", repo, "the embedded server serves its built-in models (set target.repo to a repository in Triton's layout that it can run)")
		}
	default:
		return nil, fmt.Errorf("--target %q: want embedded, remote or local", kind)
	}
	for _, k := range []string{"triton_grpc_endpoint", "triton_metrics_url", "triton_server_path"} {
		if v, ok := c.global[k]; ok && kind != scenarios.TargetRemote && kind != scenarios.TargetLocal {
			c.skip(k, v, "not used by target kind %s", kind)
		} else if ok && kind == scenarios.TargetLocal && k != "triton_server_path" {
			c.skip(k, v, "a local target starts its own tritonserver")
		} else if ok && kind == scenarios.TargetRemote && k == "triton_server_path" {
			c.skip(k, v, "a remote target starts nothing")
		}
	}
	if v, ok := c.global["client_protocol"]; ok && v.Value != "grpc" {
		c.skip("client_protocol", v, "%q: the scenario drives the server over gRPC", v.Value)
	}
	return t, nil
}

// load maps Model Analyzer's concurrency (perf_analyzer's
// --concurrency-range: requests in flight) onto clients with one request
// each, and request_rate onto an open loop of one client at that rate.
func (c *converter) load(work, dims *yaml.Node) error {
	params := c.model["parameters"]
	get := func(key string) (*yaml.Node, string) {
		if params != nil && params.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(params.Content); i += 2 {
				if params.Content[i].Value == key {
					return deref(params.Content[i+1]), c.modelField("parameters") + "." + key
				}
			}
		}
		if v, ok := c.global[key]; ok {
			return v, key
		}
		return nil, ""
	}
	if params != nil && params.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(params.Content); i += 2 {
			switch k := params.Content[i].Value; k {
			case "concurrency", "request_rate", "batch_sizes":
			default:
				c.skip(c.modelField("parameters")+"."+k, params.Content[i], "not a Model Analyzer parameter (concurrency, request_rate, batch_sizes)")
			}
		}
		for i := 0; i+1 < len(params.Content); i += 2 {
			if params.Content[i].Value == "batch_sizes" {
				c.model["batch_sizes"] = deref(params.Content[i+1])
			}
		}
	}
	if rr, field := get("request_rate"); rr != nil {
		vals, err := c.values(rr, field)
		if err != nil {
			return err
		}
		add(work, "mode", scalar("open"))
		add(dims, "clients", scalar("1"))
		add(dims, "rate", vals)
		if cc, cf := get("concurrency"); cc != nil {
			c.skip(cf, cc, "request_rate is given: Model Analyzer then drives by request rate, not concurrency")
		}
		return nil
	}
	if cc, field := get("concurrency"); cc != nil {
		vals, err := c.values(cc, field)
		if err != nil {
			return err
		}
		add(dims, "clients", vals)
		return nil
	}
	if c.searchDisabled() {
		return nil // Model Analyzer uses concurrency 1: the default
	}
	lo := c.intSetting("run_config_search_min_concurrency", defaultMinConcurrency)
	hi := c.intSetting("run_config_search_max_concurrency", defaultMaxConcurrency)
	add(dims, "clients", geometric(lo, hi))
	return nil
}

func (c *converter) searchDisabled() bool {
	v, ok := c.global["run_config_search_disable"]
	return ok && strings.EqualFold(v.Value, "true")
}

func (c *converter) intSetting(key string, def int) int {
	v, ok := c.global[key]
	if !ok {
		return def
	}
	i, err := strconv.Atoi(v.Value)
	if err != nil {
		c.skip(key, v, "want an integer, got %q: Model Analyzer's default %d used", v.Value, def)
		return def
	}
	return i
}

// configSearch maps model_config_parameters (manual search) or, without
// them, Model Analyzer's automatic brute search: instance counts,
// max_batch_size doubling, dynamic batching on.
func (c *converter) configSearch(dims, search *yaml.Node) error {
	if v, ok := c.global["run_config_search_mode"]; ok {
		switch v.Value {
		case "brute":
		case "quick", "optuna":
			add(search, "strategy", scalar(scenarios.StrategyAdaptive))
			c.skip("run_config_search_mode", v, "%s: mapped to iaasbench's adaptive search, which picks points by expected improvement on fitted cost surfaces, not by Model Analyzer's %s", v.Value, v.Value)
		default:
			c.skip("run_config_search_mode", v, "unknown mode %q", v.Value)
		}
	}
	if mcp, ok := c.model["model_config_parameters"]; ok {
		if _, err := modelconfig.Expand(mcp); err != nil {
			var e *modelconfig.Error
			if errors.As(err, &e) {
				return fmt.Errorf("%s:%d: %smodel_config_parameters.%s: %s", c.file, e.Line, c.prefix, e.Field, e.Msg)
			}
			return fmt.Errorf("%s: model_config_parameters: %w", c.file, err)
		}
		add(dims, "model_config", clone(mcp))
		return nil
	}
	if c.searchDisabled() {
		return nil
	}
	lo := c.intSetting("run_config_search_min_instance_count", defaultMinInstances)
	hi := c.intSetting("run_config_search_max_instance_count", defaultMaxInstances)
	inst := mapping()
	add(inst, "from", scalar(strconv.Itoa(lo)))
	add(inst, "to", scalar(strconv.Itoa(hi)))
	add(inst, "step", scalar("1"))
	inst.Style = yaml.FlowStyle
	add(dims, "instances", inst)
	mlo := c.intSetting("run_config_search_min_model_batch_size", defaultMinModelBatch)
	mhi := c.intSetting("run_config_search_max_model_batch_size", defaultMaxModelBatch)
	mc := mapping()
	var sizes []*yaml.Node
	for b := mlo; b <= mhi; b *= 2 {
		sizes = append(sizes, scalar(strconv.Itoa(b)))
		if b <= 0 {
			break
		}
	}
	add(mc, "max_batch_size", flowSeq(sizes...))
	add(mc, "dynamic_batching", &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle})
	add(dims, "model_config", mc)
	return nil
}

// values converts one of Model Analyzer's <range|list|comma-delimited>
// values into ours, checking it.
func (c *converter) values(n *yaml.Node, field string) (*yaml.Node, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, ",") {
			var out []*yaml.Node
			for _, p := range strings.Split(n.Value, ",") {
				p = strings.TrimSpace(p)
				if _, err := strconv.ParseFloat(p, 64); err != nil {
					return nil, c.errorf(n, "%s: %q is not a number", field, p)
				}
				out = append(out, scalar(p))
			}
			return flowSeq(out...), nil
		}
		if _, err := strconv.ParseFloat(n.Value, 64); err != nil {
			return nil, c.errorf(n, "%s: want a number, a list or {start, stop, step}, got %q", field, n.Value)
		}
		return flowSeq(scalar(n.Value)), nil
	case yaml.SequenceNode:
		out := flowSeq()
		for _, e := range n.Content {
			e = deref(e)
			if _, err := strconv.ParseFloat(e.Value, 64); e.Kind != yaml.ScalarNode || err != nil {
				return nil, c.errorf(e, "%s: want numbers", field)
			}
			out.Content = append(out.Content, scalar(e.Value))
		}
		return out, nil
	case yaml.MappingNode:
		r := mapping()
		r.Style = yaml.FlowStyle
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, deref(n.Content[i+1])
			switch k {
			case "start", "stop", "step":
				add(r, k, scalar(v.Value))
			default:
				return nil, c.errorf(n.Content[i], "%s: a range has start, stop and step, not %q", field, k)
			}
		}
		return r, nil
	}
	return nil, c.errorf(n, "%s: want a number, a list or a range", field)
}

// perfAnalyzerFlags maps the flags that have a measure setting here.
func (c *converter) perfAnalyzerFlags(measure, work *yaml.Node) {
	flags := map[string]*yaml.Node{}
	fieldOf := map[string]string{}
	var order []string
	for _, src := range []struct {
		n     *yaml.Node
		field string
	}{{c.global["perf_analyzer_flags"], "perf_analyzer_flags"}, {c.model["perf_analyzer_flags"], c.modelField("perf_analyzer_flags")}} {
		if src.n == nil || src.n.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(src.n.Content); i += 2 {
			k := src.n.Content[i].Value
			if _, seen := flags[k]; !seen {
				order = append(order, k)
			}
			flags[k] = deref(src.n.Content[i+1]) // the model's override the global ones
			fieldOf[k] = src.field + "." + k
			c.keyAt[fieldOf[k]] = src.n.Content[i].Line
		}
	}
	for _, k := range order {
		v, field := flags[k], fieldOf[k]
		switch k {
		case "measurement-interval":
			ms, err := strconv.ParseFloat(v.Value, 64)
			if err != nil || ms <= 0 {
				c.skip(field, v, "want milliseconds, got %q", v.Value)
				continue
			}
			add(measure, "window", scalar(strconv.FormatFloat(ms, 'g', -1, 64)+"ms"))
		case "stability-percentage":
			pct, err := strconv.ParseFloat(v.Value, 64)
			if err != nil || pct <= 0 || pct > 100 {
				c.skip(field, v, "want a percentage, got %q", v.Value)
				continue
			}
			add(measure, "stability_tolerance", scalar(strconv.FormatFloat(pct/100, 'g', -1, 64)))
		case "max-trials":
			add(measure, "max_windows", scalar(v.Value))
		case "streaming":
			if v.Value == "true" {
				add(work, "rpc", scalar("stream"))
			}
		case "percentile":
			c.skip(field, v, "the stability check here uses throughput and p99; every percentile is recorded (p50..p999) and constraints can name any of them")
		case "measurement-mode", "measurement-request-count":
			c.skip(field, v, "measurement windows here are time windows (measure.window); a fixed count of requests is measure.requests")
		case "concurrency-range", "request-rate-range", "batch-size", "model-name", "service-kind", "protocol", "url", "triton-server-directory", "model-repository":
			c.skip(field, v, "%s (Model Analyzer overrides it too)", perfAnalyzerOwnedReason)
		case "shape", "input-data", "string-length", "string-data":
			c.skip(field, v, "input data: the scenario's model declares its own shapes and iaasbench sends generated data")
		default:
			c.skip(field, v, "no equivalent measure setting")
		}
	}
}

// cost maps constraints, objectives and the shorthands latency_budget
// and min_throughput; the prices are examples, since Model Analyzer has
// none.
func (c *converter) cost() (*yaml.Node, error) {
	node := mapping()
	prices := mapping()
	gh := mapping()
	gh.Style = yaml.FlowStyle
	add(gh, "default", scalar("0.4"))
	add(gh, "emulated", scalar("0.4"))
	add(prices, "gpu_hour", gh)
	add(prices, "node_hour", scalar("0.2"))
	prices.Content[0].HeadComment = "EXAMPLE prices (Model Analyzer has none): edit before trusting any dollar figure."
	add(node, "prices", prices)

	var cons []*yaml.Node
	conNode, field := c.lookup("constraints")
	if conNode != nil {
		if conNode.Kind != yaml.MappingNode {
			return nil, c.errorf(conNode, "%s: want a mapping such as {perf_latency_p99: {max: 100}}", field)
		}
		for i := 0; i+1 < len(conNode.Content); i += 2 {
			fig, b := conNode.Content[i].Value, deref(conNode.Content[i+1])
			if b.Kind != yaml.MappingNode {
				return nil, c.errorf(b, "%s.%s: want {min: X} or {max: Y}", field, fig)
			}
			for j := 0; j+1 < len(b.Content); j += 2 {
				op := map[string]string{"min": ">=", "max": "<="}[b.Content[j].Value]
				if op == "" {
					return nil, c.errorf(b.Content[j], "%s.%s: want min or max, got %q", field, fig, b.Content[j].Value)
				}
				cons = append(cons, scalar(fmt.Sprintf("%s %s %s", fig, op, deref(b.Content[j+1]).Value)))
			}
		}
	}
	if v, ok := c.global["latency_budget"]; ok {
		cons = append(cons, scalar("perf_latency_p99 <= "+v.Value))
	}
	if v, ok := c.global["min_throughput"]; ok {
		cons = append(cons, scalar("perf_throughput >= "+v.Value))
	}
	if len(cons) > 0 {
		add(node, "constraints", flowSeq(cons...))
	}
	obj, field := c.lookup("objectives")
	objectives := mapping()
	switch {
	case obj == nil:
		add(objectives, defaultObjectiveTag, scalar("10"))
		objectives.Content[0].LineComment = "Model Analyzer's default objective"
	case obj.Kind == yaml.SequenceNode:
		for _, e := range obj.Content {
			add(objectives, deref(e).Value, scalar("1"))
		}
	case obj.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(obj.Content); i += 2 {
			add(objectives, obj.Content[i].Value, scalar(deref(obj.Content[i+1]).Value))
		}
	case obj.Kind == yaml.ScalarNode:
		add(objectives, obj.Value, scalar("1"))
	default:
		return nil, c.errorf(obj, "%s: want a list or a mapping of weights", field)
	}
	add(node, "objectives", objectives)
	return node, nil
}

// leftovers lists every key not converted.
func (c *converter) leftovers() {
	handled := map[string]bool{
		"profile_models": true, "model_repository": true, "triton_launch_mode": true, "triton_grpc_endpoint": true,
		"triton_metrics_url": true, "triton_server_path": true, "client_protocol": true, "concurrency": true,
		"request_rate": true, "batch_sizes": true, "constraints": true, "objectives": true, "latency_budget": true,
		"min_throughput": true, "perf_analyzer_flags": true, "run_config_search_mode": true, "run_config_search_disable": true,
		"run_config_search_min_concurrency": true, "run_config_search_max_concurrency": true,
		"run_config_search_min_instance_count": true, "run_config_search_max_instance_count": true,
		"run_config_search_min_model_batch_size": true, "run_config_search_max_model_batch_size": true,
	}
	output := []string{"checkpoint_directory", "output_model_repository_path", "override_output_model_repository", "export_path",
		"filename_model_inference", "filename_model_gpu", "filename_server_only", "inference_output_fields", "gpu_output_fields",
		"server_output_fields", "num_configs_per_model", "num_top_model_configs", "skip_summary_reports", "skip_detailed_reports",
		"perf_output", "perf_output_path", "plots", "report_model_configs"}
	server := []string{"triton_server_flags", "triton_server_environment", "triton_docker_image", "triton_docker_mounts",
		"triton_docker_shm_size", "triton_docker_labels", "triton_docker_args", "triton_install_path", "triton_output_path", "triton_http_endpoint"}
	heuristic := []string{"run_config_search_max_binary_search_steps", "run_config_profile_models_concurrently_enable",
		"min_percentage_of_search_space", "max_percentage_of_search_space", "optuna_min_trials", "optuna_max_trials",
		"optuna_early_exit_threshold", "use_concurrency_formula", "concurrency_sweep_disable", "request_rate_search_enable",
		"run_config_search_min_request_rate", "run_config_search_max_request_rate"}
	keys := func(m map[string]*yaml.Node, prefix string) {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		for _, k := range ks {
			field := prefix + k
			switch {
			case handled[k]:
			case slices.Contains(output, k):
				c.skip(field, m[k], outputSettingReason)
			case slices.Contains(server, k):
				c.skip(field, m[k], serverFlagsReason)
			case slices.Contains(heuristic, k):
				c.skip(field, m[k], searchHeuristicReason)
			case k == "parameters" || k == "model_config_parameters" || k == "cpu_only":
			case k == "weighting":
				c.skip(field, m[k], "a weight between models profiled together; a scenario has one model")
			case k == "bls_composing_models" || k == "cpu_only_composing_models":
				c.skip(field, m[k], "composing models are configured through the ensemble's steps here")
			case k == "gpus":
				c.skip(field, m[k], "GPUs are a dimension here (dimensions.gpus) on targets that place them")
			case k == "collect_cpu_metrics" || k == "monitoring_interval" || k == "duration_seconds" || k == "dcgm_disable" || k == "always_report_gpu_metrics":
				c.skip(field, m[k], "telemetry is sampled beside every measurement (NVML, host CPU, the server's metrics)")
			case k == "perf_analyzer_path" || k == "perf_analyzer_timeout" || k == "perf_analyzer_cpu_util" || k == "perf_analyzer_max_auto_adjusts" || k == "client_max_retries" || k == "reload_model_disable":
				c.skip(field, m[k], perfAnalyzerOwnedReason)
			default:
				c.skip(field, m[k], "not a setting iaasbench knows")
			}
		}
	}
	keys(c.global, "")
	keys(c.model, c.prefix)
}

// --- YAML helpers --------------------------------------------------------

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

func scalar(v string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: v}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		n.Tag = "!!int"
		if strings.ContainsAny(v, ".eE") || math.Abs(mustFloat(v)) >= 1<<53 {
			n.Tag = "!!float"
		}
	} else {
		n.Tag = "!!str"
	}
	return n
}

func mustFloat(v string) float64 {
	x, _ := strconv.ParseFloat(v, 64)
	return x
}

func flowSeq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle, Content: items}
}

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

// geometric is {from, to, factor: 2}: Model Analyzer's doubling list.
func geometric(lo, hi int) *yaml.Node {
	r := mapping()
	r.Style = yaml.FlowStyle
	add(r, "from", scalar(strconv.Itoa(lo)))
	add(r, "to", scalar(strconv.Itoa(hi)))
	add(r, "factor", scalar("2"))
	return r
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; i < 16 && n != nil && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode); i++ {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) > 0 {
			n = n.Content[0]
		} else {
			return nil
		}
	}
	return n
}

func clone(n *yaml.Node) *yaml.Node {
	n = deref(n)
	c := *n
	c.Anchor, c.Line, c.Column = "", 0, 0
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, e := range n.Content {
		c.Content[i] = clone(e)
	}
	return &c
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}
