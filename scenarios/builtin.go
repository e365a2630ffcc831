package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// builtinFS holds the scenarios shipped with iaasbench.
//
//go:embed builtin/*.yaml
var builtinFS embed.FS

// List returns the names of the built-in scenarios, sorted.
func List() []string {
	entries, err := fs.ReadDir(builtinFS, "builtin")
	if err != nil {
		return nil // cannot happen: the directory is embedded
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") {
			names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
		}
	}
	slices.Sort(names)
	return names
}

// Builtin returns the built-in scenario of that name.
func Builtin(name string) (*Scenario, error) {
	if !slices.Contains(List(), name) {
		return nil, fmt.Errorf("unknown built-in scenario %q (available: %s)", name, strings.Join(List(), ", "))
	}
	file := path.Join("builtin", name+".yaml")
	data, err := builtinFS.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("built-in scenario %s: %w", name, err)
	}
	return Parse(data, file)
}

// Resolve loads nameOrPath as a file when it exists or ends in .yaml or
// .yml, and otherwise as a built-in scenario's name.
func Resolve(nameOrPath string) (*Scenario, error) {
	if fi, err := os.Stat(nameOrPath); (err == nil && !fi.IsDir()) ||
		strings.HasSuffix(nameOrPath, ".yaml") || strings.HasSuffix(nameOrPath, ".yml") {
		return Load(nameOrPath)
	}
	if slices.Contains(List(), nameOrPath) {
		return Builtin(nameOrPath)
	}
	return nil, fmt.Errorf("scenario %q: no such file and no such built-in (available: %s)", nameOrPath, strings.Join(List(), ", "))
}
