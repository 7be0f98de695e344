package auth_test

import (
	"context"
	"testing"

	"tellonce/auth"
	"tellonce/sql/sqltest"
)

func TestContactTokens(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ctx := context.Background()
		a, err := auth.LoadContactTokens(ctx, b.DB)
		if err != nil {
			t.Fatal(err)
		}
		// A second server of the same deployment shares the key.
		a2, err := auth.LoadContactTokens(ctx, b.DB)
		if err != nil {
			t.Fatal(err)
		}
		tok := a.Token("ct-1")
		if !a2.Valid("ct-1", tok) {
			t.Error("a token made by one server is refused by another of the same database")
		}
		for name, tt := range map[string]struct{ id, token string }{
			"other contact": {"ct-2", tok},
			"empty":         {"ct-1", ""},
			"not base64":    {"ct-1", "***"},
			"truncated":     {"ct-1", tok[:len(tok)-2]},
		} {
			if a.Valid(tt.id, tt.token) {
				t.Errorf("Valid(%s) = true; want false", name)
			}
		}
		other := auth.NewContactTokens([]byte("another deployment's key 0123456"))
		if other.Valid("ct-1", tok) {
			t.Error("a token of another key is accepted")
		}
	})
}
