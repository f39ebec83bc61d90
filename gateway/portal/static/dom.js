// The page's elements, and the small pieces every part of the portal writes with.

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
