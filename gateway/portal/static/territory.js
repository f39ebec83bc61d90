// An offer's territory: worldwide, or countries ticked in a list that a few letters
// narrow down. The countries are ISO 3166-1's, as the gateway serves them from the same
// package the catalogue checks territories with, so the list offers nothing it refuses.

import { $ } from "./dom.js";

const COUNTRIES_URL = new URL("countries.json", document.baseURI);
const WORLD = "WORLD";
const names = new Map();
// Codes asked for before the list arrived, ticked once it has.
let wanted = [WORLD];

export function countryName(code) {
  return code === WORLD ? "worldwide" : names.get(code) ?? code;
}

function boxes() {
  return [...$("offer-countries").querySelectorAll("input[type=checkbox]")];
}

function showChoice() {
  const worldwide = $("offer-worldwide").checked;
  $("offer-country-picker").hidden = worldwide;
  const chosen = selectedTerritory().filter((code) => code !== WORLD);
  $("offer-countries-chosen").textContent = worldwide
    ? ""
    : chosen.length
      ? `Chosen: ${chosen.map(countryName).join(", ")}.`
      : "No country chosen yet.";
}

export function selectedTerritory() {
  if ($("offer-worldwide").checked) return [WORLD];
  return boxes()
    .filter((box) => box.checked)
    .map((box) => box.value);
}

export function setTerritory(codes) {
  wanted = codes.length ? codes : [WORLD];
  $("offer-worldwide").checked = wanted.includes(WORLD);
  for (const box of boxes()) box.checked = wanted.includes(box.value);
  $("offer-country-filter").value = "";
  narrow();
  showChoice();
}

function narrow() {
  const typed = $("offer-country-filter").value.trim().toLowerCase();
  let shown = 0;
  for (const row of $("offer-countries").children) {
    const match = !typed || row.dataset.name.includes(typed) || row.dataset.code === typed;
    row.hidden = !match;
    if (match) shown += 1;
  }
  $("offer-countries-count").textContent =
    shown === 1 ? "1 country matches." : `${shown} countries match.`;
}

async function loadCountries() {
  const response = await fetch(COUNTRIES_URL, { cache: "no-cache" });
  if (!response.ok) throw new Error(`the list of countries did not load (${response.status})`);
  const list = $("offer-countries");
  for (const { code, name } of await response.json()) {
    names.set(code, name);
    const row = document.createElement("div");
    row.className = "check";
    row.dataset.name = name.toLowerCase();
    row.dataset.code = code.toLowerCase();
    const box = document.createElement("input");
    box.type = "checkbox";
    box.id = `offer-country-${code}`;
    box.value = code;
    const label = document.createElement("label");
    label.htmlFor = box.id;
    label.textContent = name;
    row.append(box, label);
    list.append(row);
  }
  setTerritory(wanted);
}

$("offer-worldwide").addEventListener("change", () => {
  showChoice();
  if (!$("offer-worldwide").checked) $("offer-country-filter").focus();
});
$("offer-countries").addEventListener("change", showChoice);
$("offer-country-filter").addEventListener("input", narrow);
// Enter in the finder ticks the only country left, rather than submitting the offer.
$("offer-country-filter").addEventListener("keydown", (event) => {
  if (event.key !== "Enter") return;
  event.preventDefault();
  const left = boxes().filter((box) => !box.closest(".check").hidden);
  if (left.length === 1) {
    left[0].checked = true;
    left[0].dispatchEvent(new Event("input", { bubbles: true }));
    showChoice();
  }
});

loadCountries().catch((error) => {
  $("offer-countries-count").textContent = `${error.message}; reload the page to try again.`;
});
