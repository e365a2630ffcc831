package plots

import (
	"os"
	"testing"
)

// outDir is a temporary directory, or $PLOTS_KEEP/name to look at the
// figures after the test.
func outDir(t *testing.T, name string) string {
	t.Helper()
	if keep := os.Getenv("PLOTS_KEEP"); keep != "" {
		d := keep + "/" + name
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func TestReportFixture(t *testing.T) {
	recs := loadFixture(t)
	sum, err := Report(recs, fixtureSpec(), outDir(t, "fixture"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", sum.Notes)
}
