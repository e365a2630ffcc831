package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// help is what a command says about itself on -h: a usage line, a
// sentence or two, examples, and then its flags (from the flag set), one
// line each. Longer explanations belong in docs/, linked from about.
type help struct {
	usage    string   // after "usage: iaasbench "
	about    string   // what the command does; may span lines
	examples []string // full command lines
	after    string   // printed after the flags (e.g. exit codes)
	// aliases are other names of flags (perf_analyzer's -m for --model):
	// short name → long name; help prints the two on one line.
	aliases map[string]string
}

// write prints the help; fs may be nil for commands without flags.
func (h help) write(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: iaasbench %s\n", h.usage)
	if h.about != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(h.about, "\n"))
	}
	if len(h.examples) > 0 {
		fmt.Fprintln(w, "\nexamples:")
		for _, e := range h.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	if fs != nil {
		var n int
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nflags:")
			writeFlags(w, fs, h.aliases)
		}
	}
	if h.after != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(h.after, "\n"))
	}
}

// writeFlags lists the flags one line each: [-a, ]--name TYPE, the usage
// and a default that is not the zero value.
func writeFlags(w io.Writer, fs *flag.FlagSet, aliases map[string]string) {
	short := map[string]string{}
	for s, l := range aliases {
		short[l] = s
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := aliases[f.Name]; ok {
			return
		}
		typ, usage := flag.UnquoteUsage(f)
		name := "-" + f.Name
		if len(f.Name) > 1 {
			name = "--" + f.Name
		}
		if s, ok := short[f.Name]; ok {
			name = "-" + s + ", " + name
		}
		if typ != "" {
			name += " " + typ
		}
		if d := f.DefValue; d != "" && d != "0" && d != "false" && d != "0s" && d != "[]" && d != "map[]" {
			usage += fmt.Sprintf(" (default %s)", d)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	})
	_ = tw.Flush()
}

// cmdFlags is a command's flag set with its help.
type cmdFlags struct {
	*flag.FlagSet
	help help
}

// newCmdFlags makes the flag set of `iaasbench name`. Errors and help are
// the caller's to print (see parse), so the flag package prints nothing.
func newCmdFlags(name string, h help) *cmdFlags {
	fs := flag.NewFlagSet("iaasbench "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &cmdFlags{FlagSet: fs, help: h}
}

// parse parses args and returns the positional arguments, which may come
// before, between or after the flags ("--" ends the flags). On -h or
// --help it writes the help to out and returns flag.ErrHelp, which main
// turns into exit status 0.
func (c *cmdFlags) parse(args []string, out io.Writer) ([]string, error) {
	for s, l := range c.help.aliases {
		if f := c.Lookup(l); f != nil && c.Lookup(s) == nil {
			c.Var(f.Value, s, "same as --"+l)
		}
	}
	var pos []string
	for {
		err := c.FlagSet.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c.help.write(out, c.FlagSet)
			return nil, flag.ErrHelp
		}
		if err != nil {
			return nil, fmt.Errorf("%w (%s -h for help)", err, c.Name())
		}
		rest := c.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at "--" and at the first positional argument; only
		// the latter has more flags after it.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseFlagsOnly is parse for commands that take flags only.
func (c *cmdFlags) parseFlagsOnly(args []string, out io.Writer) error {
	pos, err := c.parse(args, out)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected arguments %q (%s -h for help)", pos, c.Name())
	}
	return nil
}

// subcommand is one verb of a command with sub-commands (results ls,
// scenarios show, ...).
type subcommand struct {
	name    string
	summary string
	run     func(args []string, out io.Writer) error
}

// dispatch runs the sub-command args[0] names, def when args is empty or
// starts with a flag other than -h, and answers -h itself with the list.
func dispatch(cmd string, h help, subs []subcommand, def string, args []string, out io.Writer) error {
	name := def
	switch {
	case len(args) > 0 && isHelp(args[0]):
		writeGroupHelp(out, h, subs)
		return flag.ErrHelp
	case len(args) > 0 && !strings.HasPrefix(args[0], "-"):
		name, args = args[0], args[1:]
	}
	for _, s := range subs {
		if s.name == name {
			return s.run(args, out)
		}
	}
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	if name == "" {
		return fmt.Errorf("need a sub-command: %s (iaasbench %s -h for help)", strings.Join(names, ", "), cmd)
	}
	return fmt.Errorf("unknown sub-command %q: want %s (iaasbench %s -h for help)", name, strings.Join(names, ", "), cmd)
}

func writeGroupHelp(w io.Writer, h help, subs []subcommand) {
	writeList(w, h, "sub-commands", subs)
	if h.after != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(h.after, "\n"))
	}
}

// writeList writes h (without its after) and then the list of commands
// under title.
func writeList(w io.Writer, h help, title string, subs []subcommand) {
	h.after = ""
	h.write(w, nil)
	fmt.Fprintf(w, "\n%s:\n", title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range subs {
		fmt.Fprintf(tw, "  %s\t%s\n", s.name, s.summary)
	}
	_ = tw.Flush()
}

func isHelp(a string) bool {
	return a == "-h" || a == "--help" || a == "-help" || a == "help"
}
