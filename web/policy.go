package web

import (
	"encoding/base64"
	"net/http"
	"strconv"

	"tellonce/auth"
	"tellonce/directory"
)

// The role rules of the directory, in one place:
//   - admin: everything, every agency;
//   - supervisor: reads and manages its own agency's queues and users;
//   - agent: reads its own profile and its agency's queues;
//   - gateway: nothing in the directory (a machine account).

func isAdmin(p auth.Principal) bool { return p.Role == directory.RoleAdmin }

// canReadDirectory: every person may see the list of agencies; machines not.
func canReadDirectory(p auth.Principal) bool { return p.Role != directory.RoleGateway }

// canManage: may create, change and delete queues and users of agency.
func canManage(p auth.Principal, agency string) bool {
	return isAdmin(p) || (p.Role == directory.RoleSupervisor && p.Agency == agency)
}

// canReadQueuesOf: may read the queues of agency.
func canReadQueuesOf(p auth.Principal, agency string) bool {
	if isAdmin(p) {
		return true
	}
	return (p.Role == directory.RoleSupervisor || p.Role == directory.RoleAgent) && p.Agency == agency
}

// canReadUser: may read the profile of u.
func canReadUser(p auth.Principal, u directory.User) bool {
	return isAdmin(p) || p.Role != directory.RoleGateway && p.Username == u.Username ||
		canManage(p, u.Agency) && u.Agency != ""
}

// mayLookUpUser is asked before a user record is looked up: admins and
// supervisors go on (the record decides), agents only to their own, and
// gateways nowhere. Refusing first keeps user names from leaking through
// 404-versus-403, and spares a hash for a password change that is refused.
func mayLookUpUser(p auth.Principal, username string) bool {
	switch p.Role {
	case directory.RoleAdmin, directory.RoleSupervisor:
		return true
	case directory.RoleAgent:
		return p.Username == username
	}
	return false
}

// parsePage reads ?limit= and ?cursor= of a list request.
func parsePage(r *http.Request) (directory.Page, error) {
	var p directory.Page
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return p, errorf(http.StatusBadRequest, codeValidation, "limit", "must be a whole number from 1 to 500")
		}
		p.Limit = n
	}
	if v := r.URL.Query().Get("cursor"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(b) > 200 {
			return p, errorf(http.StatusBadRequest, codeValidation, "cursor", "is not a cursor this server gave out")
		}
		p.After = string(b)
	}
	return p, nil
}

// list answers with the contract's list shape.
func list[T any](w http.ResponseWriter, items []T, more bool, last func(T) string) {
	next := ""
	if more && len(items) > 0 {
		next = base64.RawURLEncoding.EncodeToString([]byte(last(items[len(items)-1])))
	}
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}
