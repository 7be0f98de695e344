package iceservers

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	got, err := Parse(" stun:stun.example:3478, turn:alice:s3:cr@t@turn.example:3478?transport=udp ,,turns:bob:pw@10.0.0.1:5349")
	if err != nil {
		t.Fatal(err)
	}
	want := []Server{
		{URL: "stun:stun.example:3478"},
		{URL: "turn:turn.example:3478?transport=udp", Username: "alice", Credential: "s3:cr@t"},
		{URL: "turns:10.0.0.1:5349", Username: "bob", Credential: "pw"},
	}
	if len(got) != len(want) {
		t.Fatalf("Parse = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("server %d = %+v; want %+v", i, got[i], want[i])
		}
	}
	if none, err := Parse(""); err != nil || len(none) != 0 {
		t.Errorf(`Parse("") = %v, %v`, none, err)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, bad := range []string{
		"stun.example:3478", "http://x", "stun:", "stun:u:p@host", "turn:host:3478",
		"turn:user@host", "turn:u:p@", "stun:host?transport=udp", "turn:u:p@host?x=y", "turn:u:p@/path",
	} {
		_, err := Parse(bad)
		if err == nil {
			t.Errorf("Parse(%q) accepted it", bad)
			continue
		}
		if strings.Contains(err.Error(), ":p@") && strings.Contains(bad, ":p@") {
			t.Errorf("Parse(%q) error shows the password: %v", bad, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"stun:a:1", "turn:u:p@h:3478?transport=tcp", "turns:u:p@h,stun:x", ",", "turn:@@:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		servers, err := Parse(s)
		if err != nil {
			return
		}
		for _, sv := range servers {
			turn := strings.HasPrefix(sv.URL, "turn")
			if turn != (sv.Username != "") || strings.Contains(sv.URL, "@") {
				t.Fatalf("Parse(%q) = %+v", s, sv)
			}
		}
	})
}
