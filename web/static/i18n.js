// One message catalogue per language; Korean is the default.
export const messages = {
  ko: {
    tagline: "공공 상담 통합 연결",
    language: "언어",
    "login.title": "로그인",
    "login.username": "아이디",
    "login.password": "비밀번호",
    "login.submit": "로그인",
    "login.failed": "아이디 또는 비밀번호가 맞지 않습니다.",
    "login.limited": "시도가 너무 많습니다. 잠시 후 다시 시도하세요.",
    "login.missing": "아이디와 비밀번호를 입력하세요.",
    "error.network": "서버에 연결할 수 없습니다.",
    "me.title": "로그인 정보",
    "me.name": "이름",
    "me.username": "아이디",
    "me.role": "역할",
    "me.agency": "기관",
    "me.logout": "로그아웃",
    "me.central": "중앙 (전체 기관)",
    "role.admin": "관리자",
    "role.supervisor": "상담 관리자",
    "role.agent": "상담사",
    "role.gateway": "전화 게이트웨이",
  },
  en: {
    tagline: "One line to every public call centre",
    language: "Language",
    "login.title": "Log in",
    "login.username": "User name",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.failed": "Wrong user name or password.",
    "login.limited": "Too many attempts. Please wait and try again.",
    "login.missing": "Enter your user name and password.",
    "error.network": "Cannot reach the server.",
    "me.title": "Signed in",
    "me.name": "Name",
    "me.username": "User name",
    "me.role": "Role",
    "me.agency": "Agency",
    "me.logout": "Log out",
    "me.central": "Central (all agencies)",
    "role.admin": "Administrator",
    "role.supervisor": "Supervisor",
    "role.agent": "Agent",
    "role.gateway": "Telephony gateway",
  },
};

export function currentLang() {
  const saved = localStorage.getItem("tellonce.lang");
  return saved && messages[saved] ? saved : "ko";
}

export function t(key) {
  const lang = currentLang();
  return (messages[lang] && messages[lang][key]) || messages.ko[key] || key;
}

// apply translates every element that names a message with data-i18n.
export function apply(root = document) {
  document.documentElement.lang = currentLang();
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
}

export function setLang(lang) {
  if (messages[lang]) localStorage.setItem("tellonce.lang", lang);
  apply();
}
