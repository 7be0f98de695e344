package iceservers

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const testSecret = "a-long-turn-secret-0123"

// The credential of a known username, computed independently
// (base64 of HMAC-SHA1 with the secret as key, the username as message):
// what coturn's use-auth-secret recomputes.
func TestCredentialKnownVector(t *testing.T) {
	if got, want := Credential([]byte(testSecret), "1767225600:han.jiwon"), "FgK5/2O1XV3slpdbCO0BZUsE7DY="; got != want {
		t.Errorf("Credential = %s; want %s", got, want)
	}
	m, err := NewMinter([]byte(testSecret), 4*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	user, cred := m.Mint("han.jiwon", time.Unix(1767225600, 0).Add(-4*time.Hour))
	if user != "1767225600:han.jiwon" || cred != "FgK5/2O1XV3slpdbCO0BZUsE7DY=" {
		t.Errorf("Mint = %s, %s; want the vector's username and password", user, cred)
	}
}

func TestMinterFillsTURNServersOnly(t *testing.T) {
	m, err := NewMinter([]byte(testSecret), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	servers, err := ParseMinted("stun:turn.example:3478,turn:turn.example:3478?transport=udp,turns:turn.example:5349?transport=tcp")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1767225600, 0)
	got := m.For(servers, "kim", now)
	if got[0].Username != "" || got[0].Credential != "" {
		t.Errorf("the STUN server got credentials: %+v", got[0])
	}
	want := fmt.Sprintf("%d:kim", now.Add(time.Hour).Unix())
	for _, s := range got[1:] {
		if s.Username != want || s.Credential != Credential([]byte(testSecret), want) {
			t.Errorf("%s: %s / %s; want %s and its HMAC", s.URL, s.Username, s.Credential, want)
		}
	}
	if servers[1].Username != "" {
		t.Errorf("For changed its argument: %+v", servers[1])
	}
}

func TestMinterNeverShowsTheSecret(t *testing.T) {
	m, err := NewMinter([]byte(testSecret), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("minter", "m", m)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("minter", "m", m)
	for _, s := range []string{fmt.Sprint(m), fmt.Sprintf("%+v", m), fmt.Sprintf("%v", []*Minter{m}), logs.String()} {
		if strings.Contains(s, testSecret) {
			t.Errorf("the secret shows: %s", s)
		}
	}
}

func TestMinterRefuses(t *testing.T) {
	if _, err := NewMinter([]byte("short"), time.Hour); err == nil || strings.Contains(err.Error(), "short") {
		t.Errorf("a 5-byte secret: %v; want refused without showing it", err)
	}
	for _, ttl := range []time.Duration{0, time.Second, 49 * time.Hour} {
		if _, err := NewMinter([]byte(testSecret), ttl); err == nil {
			t.Errorf("lifetime %s accepted", ttl)
		}
	}
	for _, bad := range []string{"", "stun:a:1", "turn:u:p@turn.example:3478"} {
		if _, err := ParseMinted(bad); err == nil {
			t.Errorf("ParseMinted(%q) accepted it", bad)
		} else if strings.Contains(err.Error(), ":p@") {
			t.Errorf("ParseMinted(%q) shows the password: %v", bad, err)
		}
	}
}
