// The page's elements, and the small pieces every part of the portal writes with.

import { RequestFailed } from "./api.js";

export const $ = (id) => document.getElementById(id);

export function say(text) {
  $("status").textContent = text;
}

export function warn(text) {
  $("alert").textContent = text;
}

export function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

// A term and its detail in a <dl>; the detail is text or an element.
export function fact(list, term, detail, className = "") {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.append(detail);
  if (className) dd.className = className;
  list.append(dt, dd);
}

// --- field errors ---------------------------------------------------------------------
//
// Each refused field's message goes right after the field, tied to it by
// aria-describedby, the field marked aria-invalid, and focus moves to the first one, so
// a person (and a screen reader) lands where the change is needed. A form's controls
// name the API fields they stand for in data-field ("terms.territory", or a last part
// such as "email" to match "body.email"); messages arrive in plain words from the
// marketplace, which words each refusal by its code.

function errorFor(control) {
  const id = `${control.id}-error`;
  let note = document.getElementById(id);
  if (!note) {
    note = document.createElement("p");
    note.id = id;
    note.className = "field-error";
    // A group's message under its legend; a field's right after it.
    if (control.tagName === "FIELDSET") control.querySelector("legend").after(note);
    else control.after(note);
  }
  return note;
}

function describedBy(control, id, present) {
  const ids = (control.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
  const kept = ids.filter((other) => other !== id);
  if (present) kept.push(id);
  if (kept.length) control.setAttribute("aria-describedby", kept.join(" "));
  else control.removeAttribute("aria-describedby");
}

function controlFor(form, field) {
  const last = field.split(".").pop();
  const controls = [...form.querySelectorAll("[data-field]")];
  const names = (control) => control.dataset.field.split(/\s+/);
  return (
    controls.find((control) => names(control).includes(field)) ??
    controls.find((control) => names(control).includes(last)) ??
    null
  );
}

export function clearFieldErrors(form) {
  for (const control of form.querySelectorAll("[data-field][aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    describedBy(control, `${control.id}-error`, false);
    document.getElementById(`${control.id}-error`)?.remove();
  }
}

function nameOf(control) {
  const named =
    control.tagName === "FIELDSET"
      ? control.querySelector("legend")
      : document.querySelector(`label[for="${control.id}"]`);
  return named ? named.textContent.trim().replace(/\s+/g, " ") : "";
}

// Places each error beside its control. Returns the summary for the page's alert: each
// placed error with its field's name, then the errors no control of the form took.
export function showFieldErrors(form, fields) {
  clearFieldErrors(form);
  const unplaced = [];
  const placed = [];
  const summary = [];
  for (const error of fields) {
    const control = controlFor(form, error.field);
    if (!control) {
      unplaced.push(error);
      continue;
    }
    const note = errorFor(control);
    note.textContent = note.textContent ? `${note.textContent} ${error.message}` : error.message;
    control.setAttribute("aria-invalid", "true");
    describedBy(control, note.id, true);
    placed.push(control);
    summary.push(`${nameOf(control)}: ${error.message}`);
  }
  const first = placed.sort((a, b) =>
    a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1,
  )[0];
  if (first) {
    const target = first.tagName === "FIELDSET" ? first.querySelector("input, select") : first;
    (target ?? first).focus();
  }
  return { placed: summary, unplaced };
}

// A check the page makes itself, refused like the marketplace refuses a field.
export function refused(field, message) {
  return new RequestFailed(message, [{ field, message, code: "required" }]);
}

// On a narrow screen each data table's row stacks as a card (portal.css), its cells
// labelled with their column's heading; this keeps every row labelled however it is
// filled, by whichever part of the portal fills it.
function labelCells(table) {
  const headings = [...(table.tHead?.rows[0]?.cells ?? [])].map((th) => th.textContent.trim());
  for (const row of table.tBodies[0]?.rows ?? []) {
    [...row.cells].forEach((td, index) => {
      td.dataset.label = headings[index] ?? "";
    });
  }
}

for (const table of document.querySelectorAll("table.data")) {
  labelCells(table);
  new MutationObserver(() => labelCells(table)).observe(table.tBodies[0], { childList: true });
}
