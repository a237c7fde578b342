// The New machine and Edit pages: rows added and removed in place, the fields each error names marked,
// and "line N" buttons that put the cursor on that line of the profile document.
(function () {
  "use strict";

  const filled = (row) => [...row.querySelectorAll("input")].some((input) => input.value.trim() !== "");

  const changed = (element) => element.dispatchEvent(new Event("change", { bubbles: true }));

  const addRow = (kind, values) => {
    const template = document.querySelector(`template[data-row-template="${kind}"]`);
    const body = document.querySelector(`tbody[data-rows="${kind}"]`);
    if (!template || !body) return null;
    const row = template.content.firstElementChild.cloneNode(true);
    for (const [field, value] of Object.entries(values || {})) {
      const input = row.querySelector(`[data-field="${field}"]`);
      if (input) input.value = value;
    }
    body.appendChild(row);
    return row;
  };

  // A category's sensors fill the rows when its type is chosen, unless the user typed their own.
  const fillSensors = (form, category) => {
    const catalogue = JSON.parse(document.getElementById("category-sensors")?.textContent || "{}");
    const body = form.querySelector('tbody[data-rows="sensor"]');
    const rows = [...body.querySelectorAll("tr[data-row]")];
    const ownRows = rows.some((row) => filled(row) && !row.dataset.fromCategory);
    if (!catalogue[category] || ownRows) return;
    rows.forEach((row) => row.remove());
    for (const sensor of catalogue[category]) addRow("sensor", sensor).dataset.fromCategory = category;
  };

  const showType = (form) => {
    const select = form.querySelector("[data-machine-type]");
    const isNew = select.value === "__new__";
    form.querySelector("[data-new-type]").hidden = !isNew;
    form.querySelector("[data-rul]").hidden = !isNew;
    if (select.value && !isNew) fillSensors(form, select.value);
  };

  // sensors[2].unit → the unit input of the third sensor row that has something in it.
  const fieldFor = (form, path) => {
    let match = path.match(/^sensors\[(\d+)\](?:\.(\w+))?/);
    if (match) {
      const rows = [...form.querySelectorAll('tbody[data-rows="sensor"] tr[data-row]')].filter(filled);
      const row = rows[Number(match[1])];
      return row && (row.querySelector(`[data-field="${match[2]}"]`) || row.querySelector('[data-field="name"]'));
    }
    match = path.match(/^operational_parameters\.(.+)$/);
    if (match) {
      const key = [...form.querySelectorAll('[name="param_key"]')].find((input) => input.value.trim() === match[1]);
      return key && key.closest("tr").querySelector('[data-field="value"]');
    }
    match = path.match(/^rul(?:\.(\w+))?$/);
    if (match) return match[1] ? form.querySelector(`[name="rul_${match[1]}"]`) : form.querySelector("[data-rul]");
    if (path === "machine_type" && form.querySelector("[data-machine-type]").value === "__new__") {
      return form.querySelector('[name="new_type"]');
    }
    if (path === "sensors") return form.querySelector("[data-sensors]");
    return form.querySelector(`[name="${path}"]`);
  };

  const markFields = (form) => {
    form.querySelectorAll(".field-error").forEach((element) => element.classList.remove("field-error"));
    form.querySelectorAll(".field-message").forEach((element) => element.remove());
    const source = document.getElementById("form-error-paths");
    const errors = source ? JSON.parse(source.textContent || "{}") : {};
    for (const [path, messages] of Object.entries(errors || {})) {
      const field = fieldFor(form, path);
      if (!field) continue;
      field.classList.add("field-error");
      const note = document.createElement("div");
      note.className = "field-message form-error";
      note.textContent = `${path}: ${messages.join(" ")}`;
      field.insertAdjacentElement("afterend", note);
    }
  };

  const gotoLine = (line) => {
    const editor = document.querySelector("[data-profile-document]");
    if (!editor) return;
    const lines = editor.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((total, text) => total + text.length + 1, 0);
    const end = start + (lines[line - 1] || "").length;
    editor.focus();
    editor.setSelectionRange(start, end);
    // Scroll the textarea so the line is in view (line height from the computed style).
    const lineHeight = parseFloat(getComputedStyle(editor).lineHeight) || 20;
    editor.scrollTop = Math.max(0, (line - 3) * lineHeight);
  };

  document.addEventListener("click", (event) => {
    const add = event.target.closest("[data-add-row]");
    if (add) {
      const row = addRow(add.dataset.addRow);
      row?.querySelector("input")?.focus();
    }
    const remove = event.target.closest("[data-remove-row]");
    if (remove) {
      const row = remove.closest("tr");
      const form = row.closest("form");
      row.remove();
      if (form) changed(form);
    }
    const goto = event.target.closest("[data-goto-line]");
    if (goto) gotoLine(Number(goto.dataset.gotoLine));
  });

  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-machine-type]")) showType(event.target.closest("form"));
    // A row the user edits is theirs now, not the category's.
    if (event.target.closest("tr[data-row]")) delete event.target.closest("tr[data-row]").dataset.fromCategory;
  });

  document.addEventListener("htmx:afterSettle", (event) => {
    const form = document.getElementById("machine-form");
    if (form && event.target.id === "form-check") markFields(form);
  });

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("machine-form");
    if (form) markFields(form);
  });
})();
