package web

import (
	"errors"
	"fmt"
	"net/http"

	"tellonce/auth"
	"tellonce/cases"
	"tellonce/directory"
)

func forbiddenField(field, message string) error {
	return errorf(http.StatusForbidden, codeForbidden, field, message)
}

// supervisorMayGrant checks what a supervisor puts into a user of their
// agency: only agents and supervisors, neither the pii nor the export
// permission, and only queues of their own agency.
func supervisorMayGrant(p auth.Principal, role string, pii, export bool, ms []directory.Membership) error {
	if isAdmin(p) {
		return nil
	}
	if role != directory.RoleAgent && role != directory.RoleSupervisor {
		return forbiddenField("role", "a supervisor manages agents and supervisors only")
	}
	if pii {
		return forbiddenField("pii", "only an admin grants the pii permission")
	}
	if export {
		return forbiddenField("export", "only an admin grants or withdraws the export permission")
	}
	for i, m := range ms {
		if directory.AgencyOfQueue(m.Queue) != p.Agency {
			return forbiddenField(fmt.Sprintf("queues[%d].queue", i), "a supervisor assigns queues of their own agency only")
		}
	}
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !isAdmin(p) && p.Role != directory.RoleSupervisor {
		s.writeError(w, r, errForbidden)
		return
	}
	var req directory.UserCreate
	if err := s.readBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !isAdmin(p) && req.Agency != p.Agency {
		s.writeError(w, r, forbiddenField("agency", "a supervisor creates users of their own agency only"))
		return
	}
	// Validate before hashing: a bad request should not cost a hash.
	if err := req.Validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := supervisorMayGrant(p, req.Role, req.PII, req.Export, req.Queues); err != nil {
		s.writeError(w, r, err)
		return
	}
	hash, err := s.hasher.Hash(req.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.dir.CreateUser(r.Context(), req, hash)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.routeUser(r, u)
	writeJSON(w, http.StatusCreated, u)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	f := directory.UserFilter{Agency: r.URL.Query().Get("agency"), Role: r.URL.Query().Get("role")}
	switch f.Role {
	case "", directory.RoleAdmin, directory.RoleSupervisor, directory.RoleAgent, directory.RoleGateway:
	default:
		s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "role", "must be admin, supervisor, agent or gateway"))
		return
	}
	if !isAdmin(p) {
		if f.Agency == "" {
			f.Agency = p.Agency
		}
		if !canManage(p, f.Agency) {
			s.writeError(w, r, errForbidden)
			return
		}
	}
	pg, err := parsePage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	us, more, err := s.dir.ListUsers(r.Context(), f, pg)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list(w, us, more, func(u directory.User) string { return u.Username })
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !mayLookUpUser(p, r.PathValue("username")) {
		s.writeError(w, r, errForbidden)
		return
	}
	u, err := s.dir.GetUser(r.Context(), r.PathValue("username"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !canReadUser(p, u) {
		s.writeError(w, r, errForbidden)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !mayLookUpUser(p, r.PathValue("username")) {
		s.writeError(w, r, errForbidden)
		return
	}
	var req directory.UserPatch
	if err := s.readBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	hash := ""
	if req.Password != nil {
		if err := directory.CheckPassword(*req.Password); err != nil {
			s.writeError(w, r, err)
			return
		}
		h, err := s.hasher.Hash(*req.Password)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		hash = h
	}
	signOut := "" // why the user's sockets must close, if what they were opened with changed
	u, err := s.dir.UpdateUser(r.Context(), r.PathValue("username"), req, hash, func(before, after directory.User) error {
		if err := mayPatchUser(p, req, before, after); err != nil {
			return err
		}
		switch {
		case hash != "":
			signOut = "password changed"
		case before.Role != after.Role || before.Agency != after.Agency || before.PII != after.PII || before.Export != after.Export:
			signOut = "user changed"
		}
		if before.Role == directory.RoleAgent && after.Role != directory.RoleAgent {
			return s.unrouteAgent(before.Username)
		}
		return nil
	})
	if err != nil {
		s.restoreAgent(r, r.PathValue("username"))
		s.writeError(w, r, err)
		return
	}
	s.sessions.ForgetUser(u.Username) // role, agency or permissions may have changed
	if signOut != "" {
		s.hub.SignOut(u.Username, signOut)
	}
	s.routeUser(r, u)
	writeJSON(w, http.StatusOK, u)
}

// unrouteAgent takes an agent out of the router before their account
// stops being an agent's; it refuses while they hold contacts.
func (s *Server) unrouteAgent(username string) error {
	err := s.board.UnrouteAgent(username)
	if errors.Is(err, cases.ErrConflict) {
		return errorf(http.StatusConflict, codeConflict, "", username+" is handling contacts: try again when they are done")
	}
	return err
}

// restoreAgent gives the router back an agent whose directory change
// failed after unrouteAgent (a no-op for anyone else).
func (s *Server) restoreAgent(r *http.Request, username string) {
	if err := s.board.RestoreAgent(r.Context(), username); err != nil {
		s.log.ErrorContext(r.Context(), "router out of step with the directory", "user", username, "err", err)
	}
}

// routeUser passes a committed user change to the router; see routeQueue.
func (s *Server) routeUser(r *http.Request, u directory.User) {
	if err := s.board.SyncUser(r.Context(), u); err != nil {
		s.log.ErrorContext(r.Context(), "router out of step with the directory", "user", u.Username, "err", err)
	}
}

// mayPatchUser: admins change anyone; supervisors change the agents and
// supervisors of their agency within supervisorMayGrant; an agent may
// change only their own name and password (mayLookUpUser keeps gateways out).
func mayPatchUser(p auth.Principal, req directory.UserPatch, before, after directory.User) error {
	if isAdmin(p) {
		return nil
	}
	manages := canManage(p, before.Agency) && before.Agency != "" &&
		(before.Role == directory.RoleAgent || before.Role == directory.RoleSupervisor)
	if manages {
		if req.PII != nil && *req.PII != before.PII {
			return forbiddenField("pii", "only an admin grants the pii permission")
		}
		if req.Export != nil && *req.Export != before.Export {
			return forbiddenField("export", "only an admin grants or withdraws the export permission")
		}
		// Only the queues the patch sets are checked: memberships an admin
		// gave in another agency's queues do not lock the user's other fields.
		var ms []directory.Membership
		if req.Queues != nil {
			ms = after.Queues
		}
		return supervisorMayGrant(p, after.Role, false, false, ms)
	}
	if p.Username != before.Username {
		return errForbidden
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"role", req.Role != nil}, {"skills", req.Skills != nil}, {"queues", req.Queues != nil},
		{"max_chats", req.MaxChats != nil}, {"pii", req.PII != nil}, {"export", req.Export != nil}, {"sip_uri", req.SIPURI != nil},
	} {
		if f.set {
			return forbiddenField(f.name, "you may change only your own name and password")
		}
	}
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !mayLookUpUser(p, r.PathValue("username")) {
		s.writeError(w, r, errForbidden)
		return
	}
	err := s.dir.DeleteUser(r.Context(), r.PathValue("username"), func(u directory.User) error {
		if u.Username == p.Username {
			return errorf(http.StatusConflict, codeConflict, "", "you cannot delete your own account")
		}
		if !isAdmin(p) && (!canManage(p, u.Agency) || u.Agency == "" || (u.Role != directory.RoleAgent && u.Role != directory.RoleSupervisor)) {
			return errForbidden
		}
		if u.Role == directory.RoleAgent {
			return s.unrouteAgent(u.Username)
		}
		return nil
	})
	if err != nil {
		s.restoreAgent(r, r.PathValue("username"))
		s.writeError(w, r, err)
		return
	}
	s.sessions.ForgetUser(r.PathValue("username"))
	s.hub.SignOut(r.PathValue("username"), "user deleted")
	w.WriteHeader(http.StatusNoContent)
}
