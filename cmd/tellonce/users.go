package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"

	"tellonce/auth"
	"tellonce/directory"
)

// users runs "tellonce users reset-password NAME": on the server, against
// the database, so an admin who lost their password (or every admin)
// can get back in. The new password comes from TELLONCE_NEW_PASSWORD, or
// is generated and printed once; the user's sessions end, and with them
// their open sockets on every running server.
func users(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", "", "database: a postgres:// URL or an SQLite file path (TELLONCE_DB, DATABASE_URL)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: tellonce users reset-password [--db …] NAME

Sets a new password for user NAME directly in the database and ends the
user's sessions. The password is TELLONCE_NEW_PASSWORD when set, else one
is generated and printed once.

`)
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "reset-password" {
		fs.Usage()
		return errors.New(`users: want "reset-password NAME"`)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("users reset-password: want exactly one user name")
	}
	name := fs.Arg(0)
	db, err := openFlagged(ctx, *dsn, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	password, generated := getenv("TELLONCE_NEW_PASSWORD"), false
	if password == "" {
		if password, err = newPassword(); err != nil {
			return err
		}
		generated = true
	}
	if err := directory.CheckPassword(password); err != nil {
		return fmt.Errorf("TELLONCE_NEW_PASSWORD: %w", err)
	}
	hash, err := auth.DefaultHasher().Hash(password)
	if err != nil {
		return err
	}
	dir := directory.NewStore(db, nil)
	if _, err := dir.UpdateUser(ctx, name, directory.UserPatch{}, hash, nil); err != nil {
		if errors.Is(err, directory.ErrNotFound) {
			return fmt.Errorf("users reset-password: no user %q", name)
		}
		return err
	}
	if generated {
		fmt.Fprintf(stdout, "The password of %q is now: %s\nThis is shown once; their sessions have ended.\n", name, password)
	} else {
		fmt.Fprintf(stdout, "The password of %q is now the one from TELLONCE_NEW_PASSWORD; their sessions have ended.\n", name)
	}
	return nil
}

// newPassword is 120 random bits, printable.
func newPassword() (string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
