// Earnings over time as an inline SVG bar chart: one bar per period, empty periods shown.

import { formatMoney } from "./words.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 260;
const MARGIN = { top: 16, right: 12, bottom: 44, left: 72 };
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

function niceCeiling(value) {
  if (value <= 0) return 0;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * magnitude >= value);
  return step * magnitude;
}

export function drawChart(container, series, period, currency) {
  const high = niceCeiling(Math.max(0, ...series.map((p) => p.amountMinor)));
  const low = -niceCeiling(-Math.min(0, ...series.map((p) => p.amountMinor)));
  const span = high - low || 1;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  // With nothing earned the zero line sits at the bottom.
  const y = (amount) =>
    high === low ? MARGIN.top + plotHeight : MARGIN.top + ((high - amount) / span) * plotHeight;
  const band = plotWidth / series.length;
  const total = series.reduce((sum, p) => sum + p.amountMinor, 0);
  const money = (amountMinor) => formatMoney({ amountMinor, currency });

  const svg = element("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
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
        `${periodLabel(series[series.length - 1].start, period)}.`,
    ),
  );
  const ticks = high === low ? 0 : 4;
  for (let i = 0; i <= ticks; i++) {
    const amount = ticks ? low + (span * i) / ticks : 0;
    svg.append(
      element("line", { class: "grid", x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(amount), y2: y(amount) }),
      element("text", { x: MARGIN.left - 6, y: y(amount) + 4, "text-anchor": "end" }, money(Math.round(amount))),
    );
  }
  const labelEvery = Math.ceil(series.length / 8);
  series.forEach((point, i) => {
    const x = MARGIN.left + i * band;
    const top = y(Math.max(0, point.amountMinor));
    const height = Math.abs(y(point.amountMinor) - y(0));
    const bar = element("rect", {
      class: point.amountMinor < 0 ? "bar negative" : "bar",
      x: x + band * 0.15,
      y: top,
      width: band * 0.7,
      height: Math.max(height, point.amountMinor === 0 ? 0 : 1),
      "data-period": point.start.toISOString(),
      "data-amount-minor": point.amountMinor,
    });
    bar.append(element("title", {}, `${periodLabel(point.start, period)}: ${money(point.amountMinor)}`));
    svg.append(bar);
    if (i % labelEvery === 0) {
      svg.append(
        element(
          "text",
          { x: x + band / 2, y: HEIGHT - MARGIN.bottom + 18, "text-anchor": "middle" },
          periodLabel(point.start, period),
        ),
      );
    }
  });
  svg.append(element("line", { class: "axis", x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(0), y2: y(0) }));
  if (series.every((point) => point.amountMinor === 0)) {
    svg.append(
      element(
        "text",
        { x: MARGIN.left + plotWidth / 2, y: MARGIN.top + plotHeight / 2, "text-anchor": "middle" },
        "No sales in these periods yet",
      ),
    );
  }
  container.replaceChildren(svg);
}
