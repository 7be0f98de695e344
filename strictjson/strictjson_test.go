package strictjson

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

type inner struct {
	Name string `json:"name"`
}

type Embedded struct {
	WrapupS int `json:"wrapup_s"`
}

type request struct {
	Embedded
	Name    string            `json:"name"`
	Members []inner           `json:"members"`
	Labels  map[string]string `json:"labels"`
	Raw     json.RawMessage   `json:"raw"`
	At      time.Time         `json:"at"`
	Hidden  string            `json:"-"`
	Plain   string
}

var requestType = reflect.TypeFor[request]()

func TestCheck(t *testing.T) {
	cases := []struct {
		name, body, field, msg string
	}{
		{"valid", `{"name":"a","members":[{"name":"b"}],"labels":{"x":"y"},"wrapup_s":3,"Plain":"p"}`, "", ""},
		{"duplicate key", `{"name":"a","name":"b"}`, "name", "twice"},
		{"duplicate nested", `{"members":[{"name":"a"},{"name":"b","name":"c"}]}`, "members[1].name", "twice"},
		{"duplicate in a map", `{"labels":{"x":"1","x":"2"}}`, "labels.x", "twice"},
		{"duplicate in raw", `{"raw":{"a":1,"a":2}}`, "raw.a", "twice"},
		{"wrong case", `{"Name":"a"}`, "Name", `did you mean "name"`},
		{"wrong case nested", `{"members":[{"NAME":"a"}]}`, "members[0].NAME", `"name"`},
		{"wrong case embedded", `{"Wrapup_S":1}`, "Wrapup_S", `"wrapup_s"`},
		{"wrong case untagged", `{"plain":"p"}`, "plain", `"Plain"`},
		{"map keys keep their case", `{"labels":{"Name":"1","name":"2"}}`, "", ""},
		{"invalid UTF-8 value", "{\"name\":\"a\xffb\"}", "name", "UTF-8"},
		{"invalid UTF-8 in a list", "{\"members\":[{\"name\":\"\xc3\"}]}", "members[0].name", "UTF-8"},
		{"invalid UTF-8 key", "{\"n\xffame\":1}", "", "key"},
		{"lone surrogate", `{"name":"\ud800"}`, "name", "UTF-8"},
		{"a pair of surrogates is fine", `{"name":"\ud83d\ude00"}`, "", ""},
		{"a written replacement character is fine", `{"name":"\ufffd and ` + "\uFFFD" + `"}`, "", ""},
		{"malformed is left to the decoder", `{"name":`, "", ""},
		{"unknown fields are left to the decoder", `{"zzz":1}`, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check([]byte(tc.body), requestType)
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("Check(%s) = %v; want nil", tc.body, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check(%s) = nil; want an error on %q", tc.body, tc.field)
			}
			if err.Field != tc.field || !strings.Contains(err.Message, tc.msg) {
				t.Fatalf("Check(%s) = field %q, %q; want field %q and a message with %q", tc.body, err.Field, err.Message, tc.field, tc.msg)
			}
		})
	}
}

func TestCheckWithoutAType(t *testing.T) {
	if err := Check([]byte(`{"Name":1,"name":2}`), nil); err != nil {
		t.Fatalf("keys differing in case are two keys without a type: %v", err)
	}
	if err := Check([]byte(`{"a":{"b":1,"b":1}}`), nil); err == nil || err.Field != "a.b" {
		t.Fatalf("duplicate without a type: %v", err)
	}
}

// FuzzCheck: Check never panics, and anything it passes that is valid JSON
// decodes to the same value as the raw bytes with invalid UTF-8 absent.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`{"name":"a"}`, `{"name":"a","name":"b"}`, `{"Name":"a"}`, "{\"name\":\"\xff\"}",
		`{"members":[{"name":"x"}],"labels":{"a":"b"}}`, `{"name":"\ud800"}`, `[1,2,{"a":[]}]`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Check(data, requestType)
		if err != nil {
			if err.Message == "" || !utf8.ValidString(err.Message) {
				t.Fatalf("error without a readable message: %q", err.Message)
			}
			return
		}
		if !json.Valid(data) {
			return
		}
		// Passed and well formed: no string of it may have been changed
		// by the decoder's replacement of bad text.
		if !utf8.Valid(data) {
			t.Fatalf("Check passed invalid UTF-8: %q", data)
		}
		var v any
		if json.Unmarshal(data, &v) == nil {
			if strings.Count(string(mustMarshal(t, v)), "\uFFFD") > strings.Count(string(data), "\uFFFD")+strings.Count(strings.ToLower(string(data)), `\ufffd`) {
				t.Fatalf("Check passed text the decoder replaced: %q", data)
			}
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
