// A creator's earnings: the chart by period, the table by work, and a work's licences.
// A co-creator sees the same, for their own share. A line shows its price, the
// platform's fee and each co-creator's net; a refund says why, in the marketplace's words.

import { expect, graphql } from "./api.js";
import { drawChart, periodLabel, periodSeries } from "./chart.js";
import { $, cell } from "./dom.js";
import { EARNINGS } from "./queries.js";
import { formatDate, formatMoney, formatShare, useNames } from "./words.js";

// The last answer, kept so that a work's page lists its licences without asking again.
let earnings = null;

export function forgetEarnings() {
  earnings = null;
}

// Loads the earnings; `workId` names the open work, whose licences are listed again.
export async function loadEarnings(workId = null) {
  const period = $("earnings-period").value;
  earnings = expect((await graphql(EARNINGS, { period })).earnings, "Earnings");
  const currencies = [
    ...new Set([...earnings.byPeriod, ...earnings.byWork].map((p) => p.amount.currency)),
  ];
  const select = $("earnings-currency");
  const chosen = currencies.includes(select.value) ? select.value : currencies[0] ?? "EUR";
  select.replaceChildren(
    ...(currencies.length ? currencies : ["EUR"]).map((code) => new Option(code, code)),
  );
  select.value = chosen;
  renderEarnings();
  if (workId) renderLicences(workId);
}

export function renderEarnings() {
  const period = $("earnings-period").value;
  const currency = $("earnings-currency").value;
  const series = periodSeries(earnings.byPeriod, period, currency);
  drawChart($("earnings-chart"), series, period, currency);
  const total = series.reduce((sum, point) => sum + point.amountMinor, 0);
  $("earnings-caption").textContent =
    `Your share of sales per ${period.toLowerCase()}, after the platform fee and refunds: ` +
    `${formatMoney({ amountMinor: total, currency })} in the periods shown.`;
  const owed = earnings.owed.filter((money) => Number(money.amountMinor) !== 0);
  $("earnings-owed").textContent = owed.length
    ? `Earned and not yet paid out: ${owed.map(formatMoney).join(", ")}.`
    : "Nothing is owed to you right now.";
  const periods = $("earnings-periods").tBodies[0];
  periods.replaceChildren(
    ...series.map((point) => {
      const row = document.createElement("tr");
      row.append(
        cell(periodLabel(point.start, period)),
        cell(formatMoney({ amountMinor: point.amountMinor, currency })),
      );
      return row;
    }),
  );
  const byWork = $("earnings-by-work").tBodies[0];
  byWork.replaceChildren(
    ...earnings.byWork.map((work) => {
      const row = document.createElement("tr");
      row.append(cell(work.title), cell(String(work.licences)), cell(formatMoney(work.amount)));
      return row;
    }),
  );
}

// "Sale", or "Refund" with the reason beneath it.
export function refundCell(line) {
  const td = cell(line.kind === "REFUND" ? "Refund" : line.kind === "SALE" ? "Sale" : line.kind);
  if (line.refundExplanation) {
    const why = document.createElement("span");
    why.className = "refund-reason";
    why.textContent = line.refundExplanation;
    td.append(why);
  }
  return td;
}

// The line's net after the fee, and each co-creator's part of it, one per line.
export function netParts(line) {
  const td = document.createElement("td");
  const list = document.createElement("ul");
  list.className = "money-parts";
  const parts = line.coCreators.length > 1 ? line.coCreators : [];
  const total = document.createElement("li");
  total.textContent = parts.length ? `${formatMoney(line.net)} in all:` : formatMoney(line.net);
  list.append(total);
  for (const part of parts) {
    const item = document.createElement("li");
    item.textContent = `${part.creatorName} (${formatShare(part.basisPoints)}): ${formatMoney(part.amount)}`;
    list.append(item);
  }
  td.append(list);
  return td;
}

export function renderLicences(workId) {
  const lines = (earnings?.lines ?? []).filter((line) => line.workId === workId);
  const body = $("licences-table").tBodies[0];
  body.replaceChildren();
  for (const line of lines) {
    const row = document.createElement("tr");
    const licence = cell(line.licenceId);
    licence.className = "hash";
    row.append(
      cell(line.buyerName),
      cell(useNames(line.uses)),
      cell(formatMoney(line.price)),
      cell(formatMoney(line.platformFee)),
      netParts(line),
      cell(formatMoney(line.amount)),
      refundCell(line),
      cell(formatDate(line.recordedAt)),
      licence,
    );
    body.append(row);
  }
  $("licences-table").hidden = lines.length === 0;
  $("licences-empty").hidden = lines.length > 0;
}
