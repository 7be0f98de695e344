// A small SVG line chart, drawn here rather than vendored: the wallboard
// needs lines over one day and nothing more. Each series gets a colour
// and its own dash pattern, so that lines differ without colour too.
import { h } from "/static/ui.js";

const NS = "http://www.w3.org/2000/svg";
export const styles = [
  { color: "#0b57d0", dash: "" },
  { color: "#a8201a", dash: "8 4" },
  { color: "#17663a", dash: "2 4" },
  { color: "#7a5200", dash: "12 4 2 4" },
  { color: "#5b3f99", dash: "4 2" },
];

function el(tag, attrs) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// draw renders series [{name, points: [[ms, value]…]}] over [from, to]
// with the y axis from 0 to yMax (or the data's maximum), and fills the
// legend list with the last value of each line. ticks, when given, are
// the x axis's labels as [[ms, text]…] (by default every third hour);
// with total, the legend says each line's sum instead of its last value.
export function draw(svg, legend, series, { from, to, yMax, unit = "", label, ticks, total = false }) {
  const W = 600, H = 220, L = 40, R = 10, T = 10, B = 24;
  svg.replaceChildren();
  // Counts get whole-number grid lines: the top is a multiple of four.
  const top = yMax || Math.max(4, Math.ceil(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p[1]))) / 4) * 4);
  const x = (ms) => L + ((ms - from) / Math.max(1, to - from)) * (W - L - R);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    svg.append(el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#d0d5dd", "stroke-width": 1 }));
    const tx = el("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#4a5360" });
    tx.textContent = Number.isInteger(v) ? v : v.toFixed(1);
    svg.append(tx);
  }
  const hours = [];
  for (let hr = Math.ceil(from / 3600000); hr * 3600000 <= to; hr += 3) hours.push([hr * 3600000, new Date(hr * 3600000).getHours() + ":00"]);
  for (const [ms, text] of ticks || hours) {
    const tx = el("text", { x: x(ms), y: H - 6, "text-anchor": "middle", "font-size": 11, fill: "#4a5360" });
    tx.textContent = text;
    svg.append(tx);
  }
  const summary = [];
  legend.replaceChildren();
  series.forEach((s, i) => {
    const st = styles[i % styles.length];
    if (s.points.length) {
      const d = s.points.map(([t, v], j) => `${j ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      svg.append(el("path", { d, fill: "none", stroke: st.color, "stroke-width": 2.5, "stroke-dasharray": st.dash, "vector-effect": "non-scaling-stroke" }));
      const [lt, lv] = s.points[s.points.length - 1];
      svg.append(el("circle", { cx: x(lt), cy: y(lv), r: 4, fill: st.color }));
    }
    const last = !s.points.length ? null : total ? s.points.reduce((n, p) => n + p[1], 0) : s.points[s.points.length - 1][1];
    const text = `${s.name}: ${last === null ? "—" : Math.round(last) + unit}`;
    summary.push(text);
    const swatch = el("svg", { class: "swatch", viewBox: "0 0 30 6", "aria-hidden": "true" });
    swatch.append(el("line", { x1: 0, x2: 30, y1: 3, y2: 3, stroke: st.color, "stroke-width": 3, "stroke-dasharray": st.dash }));
    legend.append(h("li", null, swatch, text));
  });
  svg.setAttribute("aria-label", `${label}. ${summary.join(", ")}`);
}
