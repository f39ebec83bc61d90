// Earnings over time as an inline SVG bar chart: one bar per period, empty periods shown,
// each labelled with its period and amount. The bars run across, one row per period, so
// every label fits however many periods there are and however narrow the screen; the
// figure's text alternative is its title and description, and the same figures are in
// the table beside it.

import { formatMoney } from "./words.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 480;
const ROW = 26;
const MARGIN = { top: 8, right: 96, bottom: 8, left: 92 };
const SHOWN = { MONTH: 12, DAY: 14 };
const MOST = { MONTH: 60, DAY: 92 };

function element(name, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

// The UTC start of the period holding `moment`, and the one `steps` periods later.
function periodStart(moment, period, steps = 0) {
  const date = new Date(moment);
  return period === "MONTH"
    ? new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + steps, 1))
    : new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + steps));
}

export function periodLabel(start, period) {
  const options =
    period === "MONTH"
      ? { month: "short", year: "numeric", timeZone: "UTC" }
      : { day: "numeric", month: "short", timeZone: "UTC" };
  return new Date(start).toLocaleDateString(undefined, options);
}

// Every period from the first earning (or the last few) to now, with its amount (0 if none).
export function periodSeries(byPeriod, period, currency, now = new Date()) {
  const amounts = new Map();
  for (const point of byPeriod) {
    if (point.amount.currency !== currency) continue;
    const key = periodStart(point.periodStart, period).getTime();
    amounts.set(key, (amounts.get(key) ?? 0) + Number(point.amount.amountMinor));
  }
  const last = periodStart(now, period);
  let first = periodStart(last, period, -(SHOWN[period] - 1));
  for (const key of amounts.keys()) if (key < first.getTime()) first = new Date(key);
  const earliest = periodStart(last, period, -(MOST[period] - 1));
  if (first < earliest) first = earliest;
  const series = [];
  for (let start = first; start <= last; start = periodStart(start, period, 1)) {
    series.push({ start, amountMinor: amounts.get(start.getTime()) ?? 0 });
  }
  return series;
}

export function drawChart(container, series, period, currency) {
  const high = Math.max(0, ...series.map((p) => p.amountMinor));
  const low = Math.min(0, ...series.map((p) => p.amountMinor));
  const span = high - low || 1;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const height = MARGIN.top + series.length * ROW + MARGIN.bottom;
  const x = (amount) => MARGIN.left + ((amount - low) / span) * plotWidth;
  const total = series.reduce((sum, p) => sum + p.amountMinor, 0);
  const money = (amountMinor) => formatMoney({ amountMinor, currency });
  const nothing = series.every((point) => point.amountMinor === 0);

  const svg = element("svg", {
    viewBox: `0 0 ${WIDTH} ${height}`,
    role: "img",
    "aria-labelledby": "earnings-chart-title earnings-chart-desc",
  });
  svg.append(
    element("title", { id: "earnings-chart-title" }, `Earnings per ${period.toLowerCase()}, ${currency}`),
    element(
      "desc",
      { id: "earnings-chart-desc" },
      `${money(total)} in the ${series.length} periods from ` +
        `${periodLabel(series[0].start, period)} to ` +
        `${periodLabel(series[series.length - 1].start, period)}` +
        (nothing
          ? "."
          : `: ${series.map((p) => `${periodLabel(p.start, period)} ${money(p.amountMinor)}`).join("; ")}.`),
    ),
  );
  series.forEach((point, i) => {
    const top = MARGIN.top + i * ROW;
    const middle = top + ROW / 2 + 5;
    const from = x(Math.min(0, point.amountMinor));
    const width = Math.abs(x(point.amountMinor) - x(0));
    const bar = element("rect", {
      class: point.amountMinor < 0 ? "bar negative" : "bar",
      x: from,
      y: top + 4,
      width: Math.max(width, point.amountMinor === 0 ? 0 : 1),
      height: ROW - 8,
      "data-period": point.start.toISOString(),
      "data-amount-minor": point.amountMinor,
    });
    bar.append(element("title", {}, `${periodLabel(point.start, period)}: ${money(point.amountMinor)}`));
    svg.append(
      element("text", { class: "bar-label", x: MARGIN.left - 8, y: middle, "text-anchor": "end" }, periodLabel(point.start, period)),
      bar,
      element("text", { class: "bar-label", x: WIDTH - 4, y: middle, "text-anchor": "end" }, money(point.amountMinor)),
    );
  });
  svg.append(element("line", { class: "axis", x1: x(0), x2: x(0), y1: MARGIN.top, y2: height - MARGIN.bottom }));
  if (nothing) {
    svg.append(
      element(
        "text",
        { class: "bar-label", x: MARGIN.left + 8, y: MARGIN.top + ROW / 2 + 5 },
        "No sales in these periods yet",
      ),
    );
  }
  container.replaceChildren(svg);
}
