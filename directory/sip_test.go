package directory_test

import (
	"strings"
	"testing"

	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// An agent's SIP address is validated, stored, read back, changed and
// removed; other roles keep none.
func TestUserSIPURI(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		e := newEnv(t, b)
		e.agency(t, "gov110")
		e.queue(t, "gov110", "general")
		r := newUserRequest("kim")
		r.SIPURI = "sip:kim.minji@pbx.gov110.go.kr:5060"
		kim := e.user(t, r)
		if kim.SIPURI != r.SIPURI {
			t.Fatalf("created with sip_uri %q", kim.SIPURI)
		}
		got, err := e.s.GetUser(e.ctx, "kim")
		if err != nil || got.SIPURI != r.SIPURI {
			t.Fatalf("GetUser = %q, %v; want %q", got.SIPURI, err, r.SIPURI)
		}
		us, _, err := e.s.ListUsers(e.ctx, directory.UserFilter{}, directory.Page{})
		if err != nil || len(us) != 1 || us[0].SIPURI != r.SIPURI {
			t.Fatalf("ListUsers = %+v, %v", us, err)
		}

		before := e.dump(t, "users")
		for _, bad := range []string{
			"kim@pbx.example", "tel:+821012345678", "sip:pbx.example", "sip:@pbx.example", "sip:kim@",
			"sip:kim@pbx.example:0", "sip:kim@pbx.example:70000", "sip:kim@pbx.example;transport=tcp",
			"sip:kim@-pbx.example", "sip:k im@pbx.example", "sip:kim@pbx.example\n",
			"sip:" + strings.Repeat("k", 250) + "@pbx.example",
		} {
			r := newUserRequest("lee")
			r.SIPURI = bad
			_, err := e.s.CreateUser(e.ctx, r, "hash")
			wantInvalid(t, err, "sip_uri")
			_, err = e.s.UpdateUser(e.ctx, "kim", directory.UserPatch{SIPURI: &bad}, "", nil)
			wantInvalid(t, err, "sip_uri")
		}
		for _, role := range []string{directory.RoleAdmin, directory.RoleGateway} {
			r := directory.UserCreate{Username: "m-" + role, Name: "M", Password: "correct horse", Role: role, SIPURI: "sip:x@pbx.example"}
			_, err := e.s.CreateUser(e.ctx, r, "hash")
			wantInvalid(t, err, "sip_uri")
		}
		// Becoming a gateway with a phone left behind is refused too.
		gw := directory.RoleGateway
		_, err = e.s.UpdateUser(e.ctx, "kim", directory.UserPatch{Role: &gw}, "", nil)
		wantInvalid(t, err, "sip_uri")
		if after := e.dump(t, "users"); after != before {
			t.Fatalf("refused requests changed the users:\n%s\nwas\n%s", after, before)
		}

		for _, good := range []string{"sips:1004@10.0.0.5:5061", "sip:kim@[2001:db8::1]:5060", "sip:kim%20m@pbx", ""} {
			u, err := e.s.UpdateUser(e.ctx, "kim", directory.UserPatch{SIPURI: &good}, "", nil)
			if err != nil || u.SIPURI != good {
				t.Fatalf("UpdateUser(sip_uri %q) = %q, %v", good, u.SIPURI, err)
			}
			if got, _ := e.s.GetUser(e.ctx, "kim"); got.SIPURI != good {
				t.Fatalf("stored sip_uri %q; want %q", got.SIPURI, good)
			}
		}
		sup := newUserRequest("sup")
		sup.Role, sup.SIPURI = directory.RoleSupervisor, "sip:sup@pbx.gov110.go.kr"
		if u := e.user(t, sup); u.SIPURI != sup.SIPURI {
			t.Errorf("supervisor's sip_uri = %q", u.SIPURI)
		}
	})
}
