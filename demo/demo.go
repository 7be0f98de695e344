// Package demo seeds a believable set of agencies, queues and people so a
// newcomer can try tellonce with one command. It is idempotent: what
// already exists is left as it is.
package demo

import (
	"context"
	"errors"
	"fmt"

	"tellonce/auth"
	"tellonce/directory"
)

// Password is every demo account's password. Demo data is for trying
// tellonce on one machine, never for a real service.
const Password = "tellonce-demo"

// Login is one demo account, to print for the person trying it out.
type Login struct {
	Username, Role, Agency, Name string
}

type queueSeed struct {
	slug, name string
	kind       string // "" is a service queue
	channels   []string
	skills     map[string]int
	overflow   []directory.OverflowRule
}

type agencySeed struct {
	id, name, desc string
	queues         []queueSeed
	agents         []agentSeed
}

type agentSeed struct {
	username, name string
	skills         map[string]int
	queues         []string
}

// Citizens' lines take calls and chats, and offer a callback once the
// estimated wait passes callbackAfterS; interpreters join calls and chats.
var (
	lines        = []string{"voice", "chat", "callback"}
	interpreting = []string{"voice", "chat"}
)

const callbackAfterS = 120

func seeds() []agencySeed {
	en := map[string]int{"lang:en": 3}
	return []agencySeed{
		{
			id: "gov110", name: "정부민원안내콜센터 110", desc: "국민권익위원회 · 모든 정부 민원의 첫 창구 (Government Call Center 110)",
			queues: []queueSeed{
				{slug: "general", name: "일반 민원 상담", channels: lines},
				{slug: "english", name: "English consultation", channels: lines, skills: en},
			},
			agents: []agentSeed{
				{"kim.minji", "김민지", map[string]int{"lang:ko": 5}, []string{"gov110.general"}},
				{"lee.junho", "이준호", map[string]int{"lang:ko": 5, "lang:en": 4}, []string{"gov110.general", "gov110.english"}},
				{"park.seoyeon", "박서연", map[string]int{"lang:ko": 5}, []string{"gov110.general"}},
			},
		},
		{
			id: "kdca1339", name: "질병관리청 콜센터 1339", desc: "감염병 신고·예방접종 상담 (KDCA 1339)",
			queues: []queueSeed{
				{slug: "vaccination", name: "예방접종 상담", channels: lines,
					overflow: []directory.OverflowRule{{AfterS: 120, To: "gov110.general"}}},
				{slug: "infection", name: "감염병 신고·상담", channels: lines},
				{slug: "english", name: "Infectious disease (English)", channels: lines, skills: en},
			},
			agents: []agentSeed{
				{"choi.yuna", "최유나", map[string]int{"lang:ko": 5, "topic:health": 5}, []string{"kdca1339.vaccination", "kdca1339.infection"}},
				{"jung.hyunwoo", "정현우", map[string]int{"lang:ko": 5, "lang:en": 3}, []string{"kdca1339.infection", "kdca1339.english"}},
			},
		},
		{
			id: "nts126", name: "국세청 세미래 콜센터 126", desc: "세금 신고·납부·연말정산 상담 (National Tax Service 126)",
			queues: []queueSeed{
				{slug: "year-end", name: "연말정산 상담", channels: lines, skills: map[string]int{"topic:tax": 3}},
				{slug: "general", name: "일반 세무 상담", channels: lines},
				{slug: "english", name: "Tax consultation (English)", channels: lines, skills: en},
			},
			agents: []agentSeed{
				{"han.jiwon", "한지원", map[string]int{"lang:ko": 5, "topic:tax": 5}, []string{"nts126.year-end", "nts126.general"}},
				{"yoon.taeyang", "윤태양", map[string]int{"lang:ko": 5, "topic:tax": 4, "lang:en": 4}, []string{"nts126.general", "nts126.english"}},
			},
		},
		{
			id: "hikorea1345", name: "외국인종합안내센터 1345", desc: "체류·비자·외국인 생활 안내, 20개 언어 (Immigration Contact Center 1345)",
			queues: []queueSeed{
				{slug: "korean", name: "체류 상담 (한국어)", channels: lines},
				{slug: "english", name: "Stay and visa (English)", channels: lines, skills: en},
				{slug: "chinese", name: "居留咨询 (中文)", channels: lines, skills: map[string]int{"lang:zh": 3}},
				{slug: "vietnamese", name: "Tư vấn lưu trú (Tiếng Việt)", channels: lines, skills: map[string]int{"lang:vi": 3}},
			},
			agents: []agentSeed{
				{"kang.sora", "강소라", map[string]int{"lang:ko": 5, "lang:en": 5}, []string{"hikorea1345.korean", "hikorea1345.english"}},
				{"wang.lei", "왕레이", map[string]int{"lang:ko": 4, "lang:zh": 5}, []string{"hikorea1345.chinese", "hikorea1345.korean"}},
				{"nguyen.lan", "응우옌 란", map[string]int{"lang:ko": 4, "lang:vi": 5}, []string{"hikorea1345.vietnamese"}},
			},
		},
		{
			id: "interp", name: "통역지원센터", desc: "상담 중 영어·중국어·베트남어 통역 연결, 상담사 전용 (Interpreting Centre)",
			queues: []queueSeed{
				{slug: "languages", name: "통역 연결 (Interpreters)", kind: directory.KindInterpreter, channels: interpreting},
			},
			agents: []agentSeed{
				{"choi.olivia", "최올리비아", map[string]int{"lang:ko": 5, "lang:en": 5}, []string{"interp.languages"}},
				{"liu.yang", "류양", map[string]int{"lang:ko": 4, "lang:zh": 5, "lang:en": 3}, []string{"interp.languages"}},
				{"tran.mai", "쩐마이", map[string]int{"lang:ko": 4, "lang:vi": 5}, []string{"interp.languages"}},
			},
		},
	}
}

// Seed creates the demo directory and returns the demo logins. Existing
// records are kept; hashing is done only for accounts it creates.
func Seed(ctx context.Context, dir *directory.Store, h auth.Hasher) ([]Login, error) {
	hash, err := h.Hash(Password)
	if err != nil {
		return nil, err
	}
	var logins []Login
	for _, a := range seeds() {
		if _, err := dir.CreateAgency(ctx, directory.AgencyCreate{ID: a.id, Name: a.name, Description: a.desc}); err != nil && !errors.Is(err, directory.ErrConflict) {
			return nil, fmt.Errorf("seed agency %s: %w", a.id, err)
		}
	}
	// Queues after every agency, so overflow rules can point anywhere.
	for _, a := range seeds() {
		for _, q := range a.queues {
			if err := seedQueue(ctx, dir, a.id, q); err != nil {
				return nil, err
			}
		}
	}
	for _, a := range seeds() {
		// Supervisors export, as those of a deployment that predates the
		// export permission keep doing; agents do not.
		users := []directory.UserCreate{{Username: "sup." + a.id, Name: a.name + " 관리자", Role: directory.RoleSupervisor, Agency: a.id, Export: true}}
		for _, ag := range a.agents {
			ms := make([]directory.Membership, len(ag.queues))
			for i, q := range ag.queues {
				ms[i] = directory.Membership{Queue: q, Level: 3}
			}
			users = append(users, directory.UserCreate{Username: ag.username, Name: ag.name, Role: directory.RoleAgent, Agency: a.id, Skills: ag.skills, Queues: ms})
		}
		for _, u := range users {
			u.Password = Password
			if _, err := dir.CreateUser(ctx, u, hash); err != nil && !errors.Is(err, directory.ErrConflict) {
				return nil, fmt.Errorf("seed user %s: %w", u.Username, err)
			}
			logins = append(logins, Login{Username: u.Username, Role: u.Role, Agency: u.Agency, Name: u.Name})
		}
	}
	gw := directory.UserCreate{Username: "gateway", Name: "전화 게이트웨이 (demo)", Password: Password, Role: directory.RoleGateway}
	if _, err := dir.CreateUser(ctx, gw, hash); err != nil && !errors.Is(err, directory.ErrConflict) {
		return nil, fmt.Errorf("seed gateway: %w", err)
	}
	logins = append(logins, Login{Username: gw.Username, Role: gw.Role, Name: gw.Name})
	return logins, nil
}

func seedQueue(ctx context.Context, dir *directory.Store, agency string, q queueSeed) error {
	name := q.name
	channels := q.channels
	skills := q.skills
	if skills == nil {
		skills = map[string]int{}
	}
	overflow := q.overflow
	if overflow == nil {
		overflow = []directory.OverflowRule{}
	}
	req := directory.QueueCreate{ID: q.slug, QueueSettings: directory.QueueSettings{
		Name: &name, Channels: &channels, RequiredSkills: &skills, Overflow: &overflow,
	}}
	if q.kind != "" {
		req.Kind = &q.kind // an interpreter queue: not public, no callbacks
	} else {
		after := callbackAfterS
		req.CallbackAfterS = &after
	}
	if _, err := dir.CreateQueue(ctx, agency, req); err != nil && !errors.Is(err, directory.ErrConflict) {
		return fmt.Errorf("seed queue %s.%s: %w", agency, q.slug, err)
	}
	return nil
}
