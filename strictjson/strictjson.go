// Package strictjson refuses what encoding/json lets through silently in
// client input: an object with the same key twice (the last one wins),
// a key that matches a field only when case is ignored ("Name" for
// "name"), and strings that are not valid UTF-8 (replaced by U+FFFD,
// lone surrogate escapes included). The decoder still does the decoding;
// Check runs before it and names the field it refuses.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is one refused field. Field is the path of the offending key or
// value: object keys joined by dots, list positions in brackets
// ("members[2].name"); empty for the top-level value itself.
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Check scans the first JSON value of data. t, when not nil, is the Go
// type the value will be decoded into: object keys of struct types must
// then match their field's JSON name exactly. Check reports nothing about
// malformed JSON: the decoder that follows reports that, with its offset.
func Check(data []byte, t reflect.Type) *Error {
	c := &checker{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	c.dec.UseNumber()
	err, _ := c.value("", t)
	return err
}

type checker struct {
	data []byte
	dec  *json.Decoder
}

// token reads the next token and the raw bytes it came from (with any
// separators before it, which are ASCII). ok is false on malformed input.
func (c *checker) token() (tok json.Token, raw []byte, ok bool) {
	start := c.dec.InputOffset()
	tok, err := c.dec.Token()
	if err != nil {
		return nil, nil, false
	}
	return tok, c.data[start:c.dec.InputOffset()], true
}

// value checks one value at path. stop is true when the scan cannot go on
// (malformed input) or has found its error.
func (c *checker) value(path string, t reflect.Type) (err *Error, stop bool) {
	tok, raw, ok := c.token()
	if !ok {
		return nil, true
	}
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			return c.object(path, t)
		}
		return c.array(path, t)
	case string:
		if !validString(raw, v) {
			return &Error{Field: path, Message: "is not valid UTF-8 text"}, true
		}
	}
	return nil, false
}

func (c *checker) object(path string, t reflect.Type) (*Error, bool) {
	t = deref(t)
	var fields map[string]reflect.Type
	if t != nil && t.Kind() == reflect.Struct {
		fields = structFields(t)
	}
	seen := map[string]struct{}{}
	for c.dec.More() {
		tok, raw, ok := c.token()
		if !ok {
			return nil, true
		}
		key, _ := tok.(string)
		if !validString(raw, key) {
			return &Error{Field: path, Message: "has a key that is not valid UTF-8 text"}, true
		}
		child := join(path, key)
		if _, dup := seen[key]; dup {
			return &Error{Field: child, Message: "appears twice in the same object"}, true
		}
		seen[key] = struct{}{}
		var ft reflect.Type
		switch {
		case fields != nil:
			if f, ok := fields[key]; ok {
				ft = f
			} else if name := foldMatch(fields, key); name != "" {
				return &Error{Field: child, Message: fmt.Sprintf("is not a known field: names are case-sensitive; did you mean %q?", name)}, true
			}
		case t != nil && t.Kind() == reflect.Map:
			ft = t.Elem()
		}
		if err, stop := c.value(child, ft); stop {
			return err, true
		}
	}
	if _, _, ok := c.token(); !ok { // the closing brace
		return nil, true
	}
	return nil, false
}

func (c *checker) array(path string, t reflect.Type) (*Error, bool) {
	t = deref(t)
	var et reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		et = t.Elem()
	}
	for i := 0; c.dec.More(); i++ {
		if err, stop := c.value(path+"["+strconv.Itoa(i)+"]", et); stop {
			return err, true
		}
	}
	if _, _, ok := c.token(); !ok {
		return nil, true
	}
	return nil, false
}

// validString reports whether raw, the JSON text of the string s, was
// valid: valid UTF-8 bytes, and every U+FFFD in s written as such rather
// than put there by the decoder for a bad byte or a lone surrogate.
func validString(raw []byte, s string) bool {
	if !utf8.Valid(raw) {
		return false
	}
	n := strings.Count(s, "\uFFFD")
	if n == 0 {
		return true
	}
	written := bytes.Count(raw, []byte("\uFFFD")) + bytes.Count(bytes.ToLower(raw), []byte(`\ufffd`))
	return n <= written
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// deref strips pointers; a type that decodes itself is opaque (nil): its
// keys are its own business.
func deref(t reflect.Type) reflect.Type {
	for t != nil {
		if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
			return nil
		}
		if t.Kind() != reflect.Pointer {
			return t
		}
		t = t.Elem()
	}
	return nil
}

// structFields maps the JSON names of t's fields, embedded structs'
// included, to their types, as encoding/json names them.
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, ok := out[name]; !ok {
				out[name] = f.Type
			}
		}
	}
	walk(t)
	return out
}

func foldMatch(fields map[string]reflect.Type, key string) string {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return name
		}
	}
	return ""
}
