// The REST client of the consoles: JSON in and out, the session cookie,
// and the contract's error shape turned into an ApiError.

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || (status === 0 ? "network" : "internal");
    this.field = e.field || "";
    this.body = body;
  }
}

// serverOffset is the server clock minus ours (ms), from the Date header,
// so that countdowns to server times (offer expiry) are right on a
// machine whose clock is off.
export let serverOffset = 0;

export async function api(method, path, body, headers = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? headers : { ...headers, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { error: { code: "network", message: "network" } });
  }
  const date = Date.parse(res.headers.get("Date") || "");
  if (!Number.isNaN(date)) serverOffset = date - Date.now();
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export async function currentUser() {
  try {
    return (await api("GET", "/v1/sessions/current")).user;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

// requireUser returns the logged-in user if their role is one of roles;
// otherwise it sends the browser to the login page, which comes back here.
export async function requireUser(roles) {
  const user = await currentUser().catch(() => null);
  if (!user || !roles.includes(user.role)) {
    location.replace("/?next=" + encodeURIComponent(location.pathname + location.search));
    return new Promise(() => {}); // the page is going away
  }
  return user;
}

export async function logout() {
  await api("DELETE", "/v1/sessions/current").catch(() => {});
  location.assign("/");
}
