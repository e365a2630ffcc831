package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// checkGolden compares got with the golden file at path, or rewrites it
// under -update (go test ./cmd/iaasbench -run Golden -update).
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended):\n--- got ---\n%s--- want ---\n%s", path, got, want)
	}
}

// helpPaths are every command and sub-command; TestHelpGolden checks that
// each top-level command is among them.
var helpPaths = [][]string{
	{},
	{"serve"}, {"measure"}, {"sweep"}, {"agent"}, {"profile"}, {"report"},
	{"simulate"}, {"cost"}, {"version"},
	{"scenarios"}, {"scenarios", "list"}, {"scenarios", "show"}, {"scenarios", "check"}, {"scenarios", "import"},
	{"results"}, {"results", "ls"}, {"results", "show"}, {"results", "csv"},
	{"gate"}, {"gate", "run"},
	{"k8s"}, {"k8s", "manifests"},
}

// Every command and sub-command answers -h and --help with exit status
// 0 and its help on stdout, nothing on stderr; the texts are golden files
// in testdata/help.
func TestHelpGolden(t *testing.T) {
	covered := map[string]bool{}
	for _, p := range helpPaths {
		if len(p) > 0 {
			covered[p[0]] = true
		}
	}
	var missing []string
	for name := range commands() {
		if !covered[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("commands without a help test: %v (add them to helpPaths)", missing)
	}
	for _, p := range helpPaths {
		name := strings.Join(p, "-")
		if name == "" {
			name = "iaasbench"
		}
		t.Run(name, func(t *testing.T) {
			var first string
			for _, flagName := range []string{"-h", "--help"} {
				var out, errOut bytes.Buffer
				rc := run(append(append([]string(nil), p...), flagName), &out, &errOut)
				if rc != 0 || errOut.Len() > 0 {
					t.Fatalf("%s %s: exit %d, stderr %q", name, flagName, rc, errOut.String())
				}
				if !strings.HasPrefix(out.String(), "usage: iaasbench") {
					t.Fatalf("%s %s: help does not start with a usage line:\n%s", name, flagName, out.String())
				}
				if first == "" {
					first = out.String()
				} else if out.String() != first {
					t.Errorf("-h and --help differ")
				}
			}
			checkGolden(t, filepath.Join("testdata", "help", name+".golden"), first)
		})
	}
}
