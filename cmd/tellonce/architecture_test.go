package main

import (
	"bufio"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestImportsFollowTheArchitecture holds every package of the module to
// the import table of docs/architecture.md: a package may import only the
// packages of ours its row lists, and every package has a row. Test files
// are left out: a test may reach wherever it needs to.
func TestImportsFollowTheArchitecture(t *testing.T) {
	root := filepath.Join("..", "..")
	allowed := readImportTable(t, filepath.Join(root, "docs", "architecture.md"))
	imports := moduleImports(t, root)
	if len(imports) < 10 {
		t.Fatalf("found only %d packages under %s; the walk is broken", len(imports), root)
	}
	for pkg, deps := range imports {
		may, ok := allowed[pkg]
		if !ok {
			t.Errorf("package %s has no row in docs/architecture.md's import table", pkg)
			continue
		}
		for _, d := range deps {
			if !slices.Contains(may, d) {
				t.Errorf("%s imports %s, which docs/architecture.md does not allow: change the design there first", pkg, d)
			}
		}
	}
}

// readImportTable reads the table between <!-- imports --> and
// <!-- /imports -->: "| `pkg` | `a`, `b` |", or "—" for none.
func readImportTable(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "<!-- imports -->":
			in = true
			continue
		case line == "<!-- /imports -->":
			in = false
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 2 {
			t.Fatalf("import table row %q: want two cells", line)
		}
		pkg := strings.Trim(strings.TrimSpace(cells[0]), "`")
		out[pkg] = []string{}
		for _, d := range strings.Split(cells[1], ",") {
			if d = strings.Trim(strings.TrimSpace(d), "`"); d != "" && d != "—" {
				out[pkg] = append(out[pkg], d)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s has no import table", path)
	}
	return out
}

// moduleImports maps each package directory of the module (relative, "/"
// separated) to the module's packages its non-test files import.
func moduleImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	const module = "tellonce/"
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "node_modules", "test-output", "bin", "data":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		if _, ok := out[pkg]; !ok {
			out[pkg] = []string{}
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if dep, ok := strings.CutPrefix(p, module); ok && !slices.Contains(out[pkg], dep) {
				out[pkg] = append(out[pkg], dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAdaptersReachTheRouterOnlyThroughTheSwitchboard: the HTTP API and
// the sockets apply every request through package switchboard, which
// waits for durability and maps errors once; an adapter that imported
// router could skip both. This holds whatever the import table says.
func TestAdaptersReachTheRouterOnlyThroughTheSwitchboard(t *testing.T) {
	imports := moduleImports(t, filepath.Join("..", ".."))
	for _, adapter := range []string{"web", "agents"} {
		deps, ok := imports[adapter]
		if !ok {
			t.Fatalf("package %s not found; the walk is broken", adapter)
		}
		if slices.Contains(deps, "router") {
			t.Errorf("%s imports router: apply requests and read live state through switchboard", adapter)
		}
		if !slices.Contains(deps, "switchboard") {
			t.Errorf("%s does not import switchboard; the check no longer sees the adapter", adapter)
		}
	}
}
