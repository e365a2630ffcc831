// Package modelrepo reads Triton model repositories: the built-in models
// compiled into the binary, or a directory in Triton's layout
// (<model>/config.pbtxt, <model>/<version>/). It parses configs and picks
// versions; what a server can run of them is the server's to check.
package modelrepo

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/prototext"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

//go:embed builtin
var builtinFS embed.FS

// Repository is a model repository in Triton's layout:
// <root>/<model>/config.pbtxt and <root>/<model>/<version>/….
type Repository struct {
	fsys fs.FS
	name string // shown in errors: the directory, or "built-in repository"
}

// Builtin is the repository of the talk's models compiled into
// the binary.
func Builtin() Repository {
	sub, _ := fs.Sub(builtinFS, "builtin")
	return Repository{fsys: sub, name: "built-in repository"}
}

// Dir reads a model repository from a directory.
func Dir(dir string) (Repository, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return Repository{}, fmt.Errorf("model repository: %w", err)
	}
	if !st.IsDir() {
		return Repository{}, fmt.Errorf("model repository %s is not a directory", dir)
	}
	return Repository{fsys: os.DirFS(dir), name: dir}, nil
}

// Models lists the model directories (those with a config.pbtxt).
func (r Repository) Models() ([]string, error) {
	ents, err := fs.ReadDir(r.fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.name, err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if _, err := fs.Stat(r.fsys, path.Join(e.Name(), "config.pbtxt")); err == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Config reads and checks <model>/config.pbtxt. Parse errors name the file
// and line, as prototext reports them.
func (r Repository) Config(model string) (*pb.ModelConfig, []int64, error) {
	file := path.Join(model, "config.pbtxt")
	where := r.name + "/" + file
	data, err := fs.ReadFile(r.fsys, file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("model %q not found in %s", model, r.name)
		}
		return nil, nil, fmt.Errorf("read %s: %w", where, err)
	}
	cfg := &pb.ModelConfig{}
	if err := prototext.Unmarshal(data, cfg); err != nil {
		return nil, nil, fmt.Errorf("%s: %s", where, strings.TrimPrefix(err.Error(), "proto: "))
	}
	if cfg.Name == "" {
		cfg.Name = model
	}
	if cfg.Name != model {
		return nil, nil, fmt.Errorf("%s: name %q does not match its directory %q", where, cfg.Name, model)
	}
	versions, err := r.versions(model)
	if err != nil {
		return nil, nil, err
	}
	if len(versions) == 0 {
		return nil, nil, fmt.Errorf("%s/%s: no version directories (want e.g. %s/1/)", r.name, model, model)
	}
	return cfg, selectVersions(cfg, versions), nil
}

func (r Repository) versions(model string) ([]int64, error) {
	ents, err := fs.ReadDir(r.fsys, model)
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", r.name, model, err)
	}
	var vs []int64
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if v, err := strconv.ParseInt(e.Name(), 10, 64); err == nil && v > 0 {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	return vs, nil
}

// selectVersions applies the config's version policy (default: latest 1).
func selectVersions(cfg *pb.ModelConfig, avail []int64) []int64 {
	pol := cfg.GetVersionPolicy()
	switch {
	case pol.GetAll() != nil:
		return avail
	case pol.GetSpecific() != nil:
		var out []int64
		for _, v := range pol.GetSpecific().GetVersions() {
			for _, a := range avail {
				if a == v {
					out = append(out, v)
				}
			}
		}
		return out
	default:
		n := int(pol.GetLatest().GetNumVersions())
		if n <= 0 {
			n = 1
		}
		if n > len(avail) {
			n = len(avail)
		}
		return avail[len(avail)-n:]
	}
}
