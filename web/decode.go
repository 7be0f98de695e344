package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"tellonce/strictjson"
)

// decodeJSON reads one JSON object from r into v: unknown fields, trailing
// data, wrong types and bodies over the limit are errors that name the
// field where they can, and so are duplicate keys, keys in the wrong case
// and text that is not valid UTF-8 (strictjson), which encoding/json would
// accept silently.
func decodeJSON(r io.Reader, v any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, codeValidation, "", "the body could not be read")
	}
	if serr := strictjson.Check(data, reflect.TypeOf(v)); serr != nil {
		return errorf(http.StatusBadRequest, codeValidation, serr.Field, serr.Message)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, codeValidation, "", "the body must hold exactly one JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, codeValidation, "", "the body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, codeValidation, "", "the body ends in the middle of the JSON")
	case errors.As(err, &se):
		return errorf(http.StatusBadRequest, codeValidation, "", fmt.Sprintf("malformed JSON at byte %d", se.Offset))
	case errors.As(err, &te):
		field := jsonPath(te.Field)
		if field == "" {
			return errorf(http.StatusBadRequest, codeValidation, "", "the body must be a JSON object")
		}
		return errorf(http.StatusBadRequest, codeValidation, field, fmt.Sprintf("must be %s", jsonKind(te.Type.Kind().String())))
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return errorf(http.StatusBadRequest, codeValidation, name, "is not a known field")
	}
	return errorf(http.StatusBadRequest, codeValidation, "", "malformed JSON: "+msg)
}

// jsonPath turns the path of a type error into the request's field name.
// encoding/json puts the Go type name of an embedded struct into the path
// ("QueueSettings.wrapup_s" for QueueCreate); every JSON name of the API is
// lower case, so segments that start upper case are such names and go.
func jsonPath(path string) string {
	parts := strings.Split(path, ".")
	out := parts[:0]
	for _, p := range parts {
		if p != "" && p[0] >= 'A' && p[0] <= 'Z' {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}

func jsonKind(kind string) string {
	switch kind {
	case "int", "int64", "int32", "uint", "uint8", "uint32", "uint64", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "a list"
	case "map", "struct":
		return "an object"
	case "ptr":
		return "a value of the right type"
	}
	return "of the right type"
}

// readBody decodes the request body under the server's size limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	defer body.Close()
	return decodeJSON(body, v)
}

// decodeBytes is decodeJSON over a byte slice (for tests and fuzzing).
func decodeBytes(b []byte, v any) error { return decodeJSON(bytes.NewReader(b), v) }
