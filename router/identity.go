package router

import (
	"fmt"
	"strings"

	"tellonce/privacy"
)

// maxIdentityLen bounds an identity key.
const maxIdentityLen = 128

// identityOf is the key a request's one-place rule and case ownership use.
// Without an Identity it is the caller id, with any resident registration
// number masked as it is in the caller id itself: the key is stored too.
func (req EnqueueRequest) identityOf() string {
	if req.Identity != "" {
		return req.Identity
	}
	return "caller:" + privacy.MaskRRN(req.Caller.ID)
}

func checkIdentity(id string) error {
	if len(id) > maxIdentityLen {
		return invalid("identity", "is longer than %d bytes", maxIdentityLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return invalid("identity", "must be printable ASCII without spaces")
		}
	}
	return nil
}

// originOf is the first contact of the chain c belongs to: the citizen's
// own contact, which transfers and second-line callbacks carry on as new
// legs. A citizen's token for that contact follows the chain and nothing
// else.
func originOf(c *contactRow) string {
	if c.Origin != "" {
		return c.Origin
	}
	return c.ID
}

// notYours is the error for an id the caller may not act on: the same
// "not found" as an id that does not exist, so that answers tell nothing
// about other people's contacts, offers and cases.
func notYours(kind, id string) error {
	return fmt.Errorf("%s %s: %w", kind, id, ErrNotFound) // as get* says of a missing row
}

// checkActor accepts "<role>:<name>" with a known role.
func checkActor(actor string) error {
	role, name, ok := strings.Cut(actor, ":")
	switch {
	case !ok || name == "" || len(actor) > 200:
		return invalid("actor", "must be <role>:<name>")
	case role != "agent" && role != "supervisor" && role != "gateway" && role != "admin" && role != "citizen":
		return invalid("actor", "unknown role %q", role)
	}
	return nil
}
