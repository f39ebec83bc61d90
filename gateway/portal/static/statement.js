// A creator's statement for a period: each sale, refund and payout with the price, the
// platform's fee, the net each co-creator got and their own amount, a refund's reason,
// what they were owed when it opened and closed, and the same rows as CSV for a
// spreadsheet or an accountant (the columns of the lab client's
// `assent.statements.statement_csv`), and as a PDF the gateway lays out with the lab
// client's own code, so it says what the SDK's PDF says.

import { download, expect, graphql } from "./api.js";
import { $, cell } from "./dom.js";
import { netParts, refundCell } from "./earnings.js";
import { STATEMENT } from "./queries.js";
import { currencyDigits, formatDate, formatMoney, useNames } from "./words.js";

const CSV_HEADER = [
  "date", "kind", "work", "buyer", "uses", "price", "platform fee", "net after fee", "share %",
  "your amount", "currency", "licence or reference", "refund reason",
];

let csvUrl = null;
// The period on show, which the PDF is of: the same as the table and the CSV beside it.
let shown = { since: "", until: "" };

// A day's start in the creator's time zone, as the API's DateTime wants it.
function startOf(value) {
  return value ? new Date(`${value}T00:00:00`).toISOString() : null;
}

// The same moment with the creator's own offset kept, so the PDF names the days they chose.
function localStartOf(value) {
  if (!value) return null;
  const minutes = -new Date(`${value}T00:00:00`).getTimezoneOffset();
  const sign = minutes < 0 ? "-" : "+";
  const hours = String(Math.floor(Math.abs(minutes) / 60)).padStart(2, "0");
  return `${value}T00:00:00${sign}${hours}:${String(Math.abs(minutes) % 60).padStart(2, "0")}`;
}

function units({ amountMinor, currency }) {
  const digits = currencyDigits(currency);
  return (Number(amountMinor) / 10 ** digits).toFixed(digits);
}

function csvField(value) {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function events(statement) {
  const sales = statement.lines.map((line) => ({ at: line.recordedAt, line }));
  const payouts = statement.payouts.map((payout) => ({ at: payout.recordedAt, payout }));
  return [...sales, ...payouts].sort((a, b) => a.at.localeCompare(b.at));
}

function csvOf(statement) {
  const rows = [CSV_HEADER];
  for (const { at, line, payout } of events(statement)) {
    if (line) {
      rows.push([
        at, line.kind.toLowerCase(), line.title, line.buyerName, line.uses.join(" ").toLowerCase(),
        units(line.price), units(line.platformFee), units(line.net), `${line.basisPoints / 100}`,
        units(line.amount), line.amount.currency, line.licenceId, line.refundExplanation ?? "",
      ]);
    } else {
      const paid = { ...payout.amount, amountMinor: -Number(payout.amount.amountMinor) };
      rows.push([
        at, "payout", "", "", "", "", "", "", "", units(paid), paid.currency, payout.reference, "",
      ]);
    }
  }
  for (const [label, owed] of [["opening balance", statement.opening], ["closing balance", statement.closing]]) {
    for (const money of owed) {
      rows.push(["", label, "", "", "", "", "", "", "", units(money), money.currency, "", ""]);
    }
  }
  return rows.map((row) => row.map(csvField).join(",")).join("\r\n") + "\r\n";
}

export async function showStatement() {
  const since = $("statement-since").value;
  const until = $("statement-until").value;
  const variables = { since: startOf(since), until: startOf(until) };
  const statement = expect((await graphql(STATEMENT, variables)).earnings, "Earnings");
  const opened = statement.opening.map(formatMoney).join(", ") || formatMoney({ amountMinor: 0, currency: "EUR" });
  const closed = statement.closing.map(formatMoney).join(", ") || formatMoney({ amountMinor: 0, currency: "EUR" });
  $("statement-balances").textContent =
    `Owed to you ${since ? `on ${since}` : "before your first sale"}: ${opened}. ` +
    `${until ? `On ${until}` : "Now"}: ${closed}.`;
  $("statement-table").tBodies[0].replaceChildren(
    ...events(statement).map(({ at, line, payout }) => {
      const row = document.createElement("tr");
      if (line) {
        row.append(
          cell(formatDate(at)),
          refundCell(line),
          cell(`${line.title}, to ${line.buyerName} (${useNames(line.uses)})`),
          cell(formatMoney(line.price)),
          cell(formatMoney(line.platformFee)),
          netParts(line),
          cell(formatMoney(line.amount)),
        );
      } else {
        const paid = { ...payout.amount, amountMinor: -Number(payout.amount.amountMinor) };
        row.append(
          cell(formatDate(at)),
          cell(Number(payout.amount.amountMinor) < 0 ? "Payout returned" : "Payout"),
          cell(payout.reference),
          cell(""),
          cell(""),
          cell(""),
          cell(formatMoney(paid)),
        );
      }
      return row;
    }),
  );
  if (csvUrl) URL.revokeObjectURL(csvUrl);
  csvUrl = URL.createObjectURL(new Blob([csvOf(statement)], { type: "text/csv" }));
  $("statement-csv").href = csvUrl;
  $("statement-csv").download = `statement-${since || "start"}-${until || "now"}.csv`;
  shown = { since, until };
  $("statement").hidden = false;
}

// The PDF of the period on show, saved as the browser saves any download.
export async function downloadStatementPdf() {
  const { blob, name } = await download("statement.pdf", {
    since: localStartOf(shown.since),
    until: localStartOf(shown.until),
  });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  // Once the click has handed the file to the browser's download.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
