package directory_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// A login's user name is whatever was typed, a password even, and the
// errors of Credentials end up in the log: they never hold it.
func TestCredentialsErrorsDoNotHoldTheTypedName(t *testing.T) {
	b := sqltest.Open(t, "sqlite")
	s := directory.NewStore(b.DB, nil)
	ctx := context.Background()
	const typed = "Pa55w0rd!-typed-as-user"
	_, _, err := s.Credentials(ctx, typed)
	if !errors.Is(err, directory.ErrNotFound) || strings.Contains(err.Error(), typed) {
		t.Errorf("Credentials of an unknown name = %v; want not found, without the name", err)
	}
	b.DB.Close() // every read fails from here
	_, _, err = s.Credentials(ctx, typed)
	if err == nil || errors.Is(err, directory.ErrNotFound) || strings.Contains(err.Error(), typed) {
		t.Errorf("Credentials on a closed database = %v; want its error, without the name", err)
	}
}
