package agents

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// protocolDoc is the protocol reference whose frame indexes this test
// holds to the code.
const protocolDoc = "../docs/protocol.md"

// frameSockets maps the section comments of frames.go to the sockets whose
// clients get the frames declared under them.
var frameSockets = map[string][]string{
	"Frames to any client.": {"agent", "citizen", "gateway"},
	"Frames to agents.":     {"agent"},
	"Frames to citizens.":   {"citizen"},
	"Frames to gateways.":   {"gateway"},
}

// frameFields is frame type → its top-level fields besides type (and the
// client's id), sorted.
type frameFields map[string][]string

// TestProtocolDocListsEveryFrame keeps docs/protocol.md honest: each
// socket's frame index there, in each direction, must list exactly the
// frame types the code accepts (the decode specs) and sends (the frame
// structs of frames.go, by the type values the package builds them with),
// each with exactly its top-level fields.
func TestProtocolDocListsEveryFrame(t *testing.T) {
	doc := readFrameIndexes(t, protocolDoc)
	code := map[string]frameFields{
		"agent in":   specFields(agentSpecs),
		"citizen in": specFields(citizenSpecs),
		"gateway in": specFields(gatewaySpecs),
	}
	for socket, frames := range sentFrames(t) {
		code[socket+" out"] = frames
	}
	for _, index := range []string{"agent in", "agent out", "citizen in", "citizen out", "gateway in", "gateway out"} {
		socket, dir, _ := strings.Cut(index, " ")
		what := socket + " frames to the server"
		if dir == "out" {
			what = "server frames to " + socket + "s"
		}
		listed, ok := doc[index]
		if !ok {
			t.Errorf("%s has no frame index %q (a line <!-- frame index: %s --> before a table of the %s)",
				protocolDoc, index, index, what)
			continue
		}
		for typ, fields := range code[index] {
			got, ok := listed[typ]
			switch {
			case !ok:
				t.Errorf("%s does not list %s %q: add it to the %q frame index and describe it", protocolDoc, what, typ, index)
			case !slices.Equal(got, fields):
				t.Errorf("%s lists the %s %q with fields %v; the code has %v", protocolDoc, what, typ, got, fields)
			}
		}
		for typ := range listed {
			if _, ok := code[index][typ]; !ok {
				t.Errorf("%s lists %s %q, which the code does not have", protocolDoc, what, typ)
			}
		}
	}
}

func specFields(specs frameSpec) frameFields {
	out := frameFields{}
	for typ, fields := range specs {
		out[typ] = sorted(fields)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

var (
	indexMarker = regexp.MustCompile(`^<!-- frame index: (\w+ (?:in|out)) -->$`)
	backticked  = regexp.MustCompile("`([^`]+)`")
)

// readFrameIndexes reads the frame index tables of the doc: after a line
// <!-- frame index: <socket> <in|out> -->, a table whose first column holds
// one frame type and whose second column its fields, each in backticks ("—"
// for none).
func readFrameIndexes(t *testing.T, path string) map[string]frameFields {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]frameFields{}
	index, rows := "", 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := indexMarker.FindStringSubmatch(line); m != nil {
			if _, dup := out[m[1]]; dup {
				t.Errorf("%s: frame index %q appears twice", path, m[1])
			}
			index, rows = m[1], 0
			out[index] = frameFields{}
			continue
		}
		if index == "" {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if rows > 0 || line != "" {
				index = "" // the table has ended
			}
			continue
		}
		rows++
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if rows <= 2 { // the header and the separator
			continue
		}
		if len(cells) < 2 {
			t.Errorf("%s: frame index %q: row %q has no fields column", path, index, line)
			continue
		}
		names := backticked.FindAllStringSubmatch(cells[0], -1)
		if len(names) != 1 {
			t.Errorf("%s: frame index %q: row %q must name one frame type in backticks", path, index, line)
			continue
		}
		fields := []string{}
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			fields = append(fields, m[1])
		}
		if _, dup := out[index][names[0][1]]; dup {
			t.Errorf("%s: frame index %q lists %q twice", path, index, names[0][1])
		}
		out[index][names[0][1]] = sorted(fields)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// frameStruct is a server frame's Go type: the sockets it goes to and its
// JSON fields.
type frameStruct struct {
	sockets []string
	fields  []string
}

// sentFrames reads the package's source: the frame structs of frames.go
// (structs with a Type field), filed under their section comment, and the
// type values every composite literal of them sets. It returns, by
// socket, the frame types sent with their fields.
func sentFrames(t *testing.T) map[string]frameFields {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	var framesFile *ast.File
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		if name == "frames.go" {
			framesFile = f
		}
	}
	if framesFile == nil {
		t.Fatal("no frames.go in package agents")
	}

	type section struct {
		pos     token.Pos
		sockets []string
	}
	var sections []section
	for _, cg := range framesFile.Comments {
		if sockets, ok := frameSockets[strings.TrimSpace(cg.Text())]; ok {
			sections = append(sections, section{cg.Pos(), sockets})
		}
	}
	if len(sections) != len(frameSockets) {
		t.Fatalf("frames.go has %d of the %d section comments of frameSockets", len(sections), len(frameSockets))
	}

	structs := map[string]*frameStruct{}
	for _, decl := range framesFile.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			var fields []string
			isFrame := false
			for _, f := range st.Fields.List {
				name := jsonName(f)
				if name == "type" {
					isFrame = true
				} else if name != "" {
					fields = append(fields, name)
				}
			}
			if !isFrame {
				continue // a part of a frame, such as agentJSON
			}
			var sockets []string
			for _, s := range sections {
				if s.pos < ts.Pos() {
					sockets = s.sockets
				}
			}
			if sockets == nil {
				t.Errorf("frames.go: frame struct %s comes before any section comment of frameSockets", ts.Name.Name)
				continue
			}
			structs[ts.Name.Name] = &frameStruct{sockets: sockets, fields: sorted(fields)}
		}
	}

	out := map[string]frameFields{}
	built := map[string]bool{}
	for _, file := range files {
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				lit, ok := n.(*ast.CompositeLit)
				if !ok {
					return true
				}
				id, ok := lit.Type.(*ast.Ident)
				if !ok || structs[id.Name] == nil || len(lit.Elts) == 0 {
					return true // not a frame, or a zero value that is never sent
				}
				fs := structs[id.Name]
				types := frameTypes(fn, lit)
				if len(types) == 0 {
					t.Errorf("%s: %s built without a type this test can read: set Type to a string literal, or to a variable assigned string literals",
						fset.Position(lit.Pos()), id.Name)
				}
				built[id.Name] = true
				for _, typ := range types {
					for _, socket := range fs.sockets {
						if out[socket] == nil {
							out[socket] = frameFields{}
						}
						out[socket][typ] = sorted(append(out[socket][typ], fs.fields...))
						out[socket][typ] = slices.Compact(out[socket][typ])
					}
				}
				return true
			})
		}
	}
	for name := range structs {
		if !built[name] {
			t.Errorf("frames.go: frame struct %s is never built in package agents; remove it or send it", name)
		}
	}
	return out
}

// jsonName is a struct field's JSON name ("" for none).
func jsonName(f *ast.Field) string {
	if f.Tag == nil {
		return ""
	}
	tag, err := strconv.Unquote(f.Tag.Value)
	if err != nil {
		return ""
	}
	name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// frameTypes is the type values a frame literal in fn sets: its Type
// string literal, or the string literals fn assigns to the variable it
// names.
func frameTypes(fn *ast.FuncDecl, lit *ast.CompositeLit) []string {
	for _, elt := range lit.Elts {
		kv, ok := elt.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		if key, ok := kv.Key.(*ast.Ident); !ok || key.Name != "Type" {
			continue
		}
		switch v := kv.Value.(type) {
		case *ast.BasicLit:
			if s, err := strconv.Unquote(v.Value); err == nil && v.Kind == token.STRING {
				return []string{s}
			}
		case *ast.Ident:
			return assignedStrings(fn, v.Name)
		}
	}
	return nil
}

// assignedStrings lists the string literals fn assigns to the variable
// name.
func assignedStrings(fn *ast.FuncDecl, name string) []string {
	var out []string
	ast.Inspect(fn, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != len(as.Rhs) {
			return true
		}
		for i, lhs := range as.Lhs {
			id, ok := lhs.(*ast.Ident)
			if !ok || id.Name != name {
				continue
			}
			if bl, ok := as.Rhs[i].(*ast.BasicLit); ok && bl.Kind == token.STRING {
				if s, err := strconv.Unquote(bl.Value); err == nil {
					out = append(out, s)
				}
			}
		}
		return true
	})
	return out
}
