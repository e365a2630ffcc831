package telemetry

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Sample is one line of the Prometheus text exposition format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParseText parses the Prometheus text exposition format (version 0.0.4),
// as served by Triton's /metrics: lines `name{label="v",...} value
// [timestamp]`; blank lines and # comments (HELP, TYPE) are skipped, the
// timestamp is checked and dropped. Errors name the line.
func ParseText(r io.Reader) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		s, err := parseLine(text)
		if err != nil {
			return out, fmt.Errorf("metrics line %d: %w", line, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("reading metrics: %w", err)
	}
	return out, nil
}

// Find returns the first sample called name whose labels include every
// pair of match.
func Find(samples []Sample, name string, match map[string]string) (Sample, bool) {
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		ok := true
		for k, v := range match {
			if s.Labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			return s, true
		}
	}
	return Sample{}, false
}

func isNameChar(c byte, first bool) bool {
	return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

func parseLine(text string) (Sample, error) {
	i := 0
	for i < len(text) && isNameChar(text[i], i == 0) {
		i++
	}
	if i == 0 {
		return Sample{}, fmt.Errorf("%q: no metric name", text)
	}
	s := Sample{Name: text[:i]}
	rest := strings.TrimLeft(text[i:], " \t")
	if strings.HasPrefix(rest, "{") {
		labels, n, err := parseLabels(rest)
		if err != nil {
			return Sample{}, fmt.Errorf("metric %s: %w", s.Name, err)
		}
		s.Labels = labels
		rest = rest[n:]
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 || len(fields) > 2 {
		return Sample{}, fmt.Errorf("metric %s: want `value [timestamp]` after the name, got %q", s.Name, rest)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return Sample{}, fmt.Errorf("metric %s: value: %w", s.Name, err)
	}
	s.Value = v
	if len(fields) == 2 {
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return Sample{}, fmt.Errorf("metric %s: timestamp: %w", s.Name, err)
		}
	}
	return s, nil
}

// parseLabels parses `{k="v",...}` at the start of text and returns the
// labels and the length consumed.
func parseLabels(text string) (map[string]string, int, error) {
	labels := map[string]string{}
	i := 1 // past '{'
	skipSpace := func() {
		for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
			i++
		}
	}
	for {
		skipSpace()
		if i >= len(text) {
			return nil, 0, fmt.Errorf("unterminated label set")
		}
		if text[i] == '}' {
			return labels, i + 1, nil
		}
		start := i
		for i < len(text) && isNameChar(text[i], i == start) && text[i] != ':' {
			i++
		}
		if i == start {
			return nil, 0, fmt.Errorf("bad label name at %q", text[start:])
		}
		name := text[start:i]
		skipSpace()
		if i >= len(text) || text[i] != '=' {
			return nil, 0, fmt.Errorf("label %s: want '='", name)
		}
		i++
		skipSpace()
		if i >= len(text) || text[i] != '"' {
			return nil, 0, fmt.Errorf("label %s: want a quoted value", name)
		}
		i++
		var b strings.Builder
		for {
			if i >= len(text) {
				return nil, 0, fmt.Errorf("label %s: unterminated value", name)
			}
			c := text[i]
			if c == '"' {
				i++
				break
			}
			if c == '\\' && i+1 < len(text) {
				i++
				switch text[i] {
				case 'n':
					b.WriteByte('\n')
				case '\\', '"':
					b.WriteByte(text[i])
				default:
					return nil, 0, fmt.Errorf("label %s: bad escape \\%c", name, text[i])
				}
				i++
				continue
			}
			b.WriteByte(c)
			i++
		}
		if _, dup := labels[name]; dup {
			return nil, 0, fmt.Errorf("label %s repeated", name)
		}
		labels[name] = b.String()
		skipSpace()
		if i < len(text) && text[i] == ',' {
			i++
			continue
		}
		skipSpace()
		if i >= len(text) || text[i] != '}' {
			return nil, 0, fmt.Errorf("label %s: want ',' or '}' after the value", name)
		}
	}
}
