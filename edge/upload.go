package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"time"

	"tellonce/recordings"
)

// The edge's recording directory is also its upload spool: a leg's file,
// once finished, is uploaded to the server (PUT
// /v1/contacts/{id}/recordings/{name}) and deleted when the server has
// acknowledged it. A failed upload is tried again with backoff; an edge
// that restarts uploads what its spool still holds. The server makes the
// recording's timeline entry; the recording frame is not sent.

// Upload backoff: from the first retry to the longest wait.
const (
	uploadRetryMin = time.Second
	uploadRetryMax = 5 * time.Minute
)

type uploader struct {
	api   *api
	store *recordings.Store
	log   *slog.Logger
	wake  chan struct{}
	// retryMin and retryMax bound the wait after a failed pass.
	retryMin, retryMax time.Duration
}

func newUploader(a *api, store *recordings.Store, log *slog.Logger) *uploader {
	return &uploader{api: a, store: store, log: log, wake: make(chan struct{}, 1),
		retryMin: uploadRetryMin, retryMax: uploadRetryMax}
}

// kick says a recording was finished.
func (u *uploader) kick() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Run uploads the spool at start, after every kick, and after a failure
// with backoff, until ctx ends; then it returns nil.
func (u *uploader) Run(ctx context.Context) error {
	backoff := u.retryMin
	for {
		var wait time.Duration // 0: until kicked
		if u.pass(ctx) {
			backoff = u.retryMin
		} else {
			wait, backoff = backoff, min(2*backoff, u.retryMax)
		}
		if !u.sleep(ctx, wait) {
			return nil
		}
	}
}

// sleep waits for a kick, or wait when it is not 0; false when ctx ended.
func (u *uploader) sleep(ctx context.Context, wait time.Duration) bool {
	var retry <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		retry = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-u.wake:
	case <-retry:
	}
	return true
}

// pass uploads every finished recording, oldest first, and says whether
// the spool is empty of what can still be uploaded. It stops at the first
// failure that a retry may cure (the server down, busy, not storing
// recordings yet); a refusal that no retry would change deletes the file.
func (u *uploader) pass(ctx context.Context) bool {
	files, err := u.store.Finished(ctx)
	if err != nil {
		if ctx.Err() == nil {
			u.log.Error("edge: recording spool unreadable", "err", err)
		}
		return false
	}
	for _, rel := range files {
		err := u.put(ctx, rel)
		var ae *apiError
		switch {
		case err == nil:
			u.log.Info("edge: recording uploaded", "file", rel)
		case errors.As(err, &ae) && final(ae.Status):
			// Not found: the case is gone (erased, purged) or was never
			// the gateway's; a bad or conflicting file stays bad.
			u.log.Warn("edge: recording refused by the server; deleted", "file", rel, "status", ae.Status, "err", err)
		default:
			if ctx.Err() == nil {
				u.log.Warn("edge: recording upload failed; will retry", "file", rel, "err", err)
			}
			return false
		}
		if err := u.store.Remove(rel); err != nil {
			u.log.Error("edge: uploaded recording not deleted", "file", rel, "err", err)
		}
	}
	return true
}

// final says a refusal would be repeated for the same file.
func final(status int) bool {
	return status/100 == 4 && status != http.StatusUnauthorized && status != http.StatusRequestTimeout &&
		status != http.StatusTooManyRequests
}

// put uploads one recording, logging in again once on a 401.
func (u *uploader) put(ctx context.Context, rel string) error {
	meta, _, err := recordings.ParseBase(path.Base(rel))
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		tok, err := u.api.bearer(ctx, attempt > 0)
		if err != nil {
			return err
		}
		err = u.putOnce(ctx, tok, meta.ContactID, rel)
		var ae *apiError
		if attempt == 0 && errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && u.api.username != "" {
			continue
		}
		return err
	}
}

func (u *uploader) putOnce(ctx context.Context, token, contactID, rel string) error {
	f, err := u.store.OpenFile(rel)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	target := u.api.base.JoinPath("/v1/contacts", url.PathEscape(contactID), "recordings", path.Base(rel))
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target.String(), f)
	if err != nil {
		return err
	}
	req.ContentLength = st.Size()
	req.Header.Set("Content-Type", "audio/wav")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := u.api.http.Do(req)
	if err != nil {
		return fmt.Errorf("upload %s: %w", rel, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 != 2 {
		return &apiError{Status: res.StatusCode, Body: string(b)}
	}
	return nil
}
