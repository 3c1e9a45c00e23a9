// Keyboard shortcuts of the queue and the case page, and the queue's select-all box.
// j/k move the selection, Enter opens, x ticks, a assigns to me, r replies, c closes,
// ? shows the help. Nothing fires while the person types in a field.
(function () {
  "use strict";

  var help = document.getElementById("shortcut-help");
  var rows = Array.prototype.slice.call(document.querySelectorAll("table.cases tr.case-row"));
  var current = -1;

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function select(index) {
    if (!rows.length) return;
    index = Math.max(0, Math.min(rows.length - 1, index));
    if (current >= 0) {
      rows[current].classList.remove("selected");
      rows[current].removeAttribute("aria-selected");
    }
    current = index;
    rows[current].classList.add("selected");
    rows[current].setAttribute("aria-selected", "true");
    rows[current].scrollIntoView({ block: "nearest" });
  }

  function selectedRow() {
    return current >= 0 ? rows[current] : null;
  }

  function toggleHelp(show) {
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
    if (!help.hidden) help.querySelector(".shortcut-help-close").focus();
  }

  function focusField(selector) {
    var field = document.querySelector(selector);
    if (!field) return false;
    field.scrollIntoView({ block: "center" });
    field.focus();
    return true;
  }

  function assignToMe() {
    var form = document.getElementById("assign-me");
    if (!form) return;
    if (rows.length) {  // the queue: the selected case
      var row = selectedRow();
      if (!row) return;
      var ticked = document.createElement("input");
      ticked.type = "hidden";
      ticked.name = "case_id";
      ticked.value = row.getAttribute("data-id");
      form.appendChild(ticked);
    }
    form.submit();
  }

  function tick(row) {
    var box = row && row.querySelector("input[name=case_id]");
    if (box) box.checked = !box.checked;
    return box;
  }

  var actions = {
    j: function () { select(current + 1); },
    k: function () { select(current < 0 ? 0 : current - 1); },
    Enter: function () {
      var row = selectedRow();
      var link = row && row.querySelector("td.case-id a");
      if (link) window.location.href = link.href;
    },
    x: function () { tick(selectedRow()); showTicked(); },
    a: assignToMe,
    r: function () { focusField("#reply textarea[name=body]"); },
    c: function () {
      if (focusField("#close textarea[name=resolution]")) return;
      var box = selectedRow() && selectedRow().querySelector("input[name=case_id]");
      if (box) box.checked = true;
      showTicked();
      focusField("#bulk-resolution");
    },
    "?": function () { toggleHelp(); },
  };

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      if (help && !help.hidden) toggleHelp(false);
      else if (typing(event.target)) event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (typing(event.target)) return;
    if (help && !help.hidden && event.key !== "?") return;
    if (event.key === "Enter" && event.target.closest && event.target.closest("a, button")) return;
    var action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });

  rows.forEach(function (row, index) {
    row.addEventListener("click", function () { select(index); });
  });

  // Select-all: the table's header box (and the phone's, above the cards) tick the page.
  var alls = Array.prototype.slice.call(document.querySelectorAll("input.select-all"));
  var boxes = Array.prototype.slice.call(document.querySelectorAll("table.cases input[name=case_id]"));
  function showTicked() {
    var ticked = boxes.filter(function (b) { return b.checked; }).length;
    alls.forEach(function (all) {
      all.checked = ticked > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    });
  }
  alls.forEach(function (all) {
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
      showTicked();
    });
  });
  boxes.forEach(function (box) { box.addEventListener("change", showTicked); });

  Array.prototype.forEach.call(document.querySelectorAll(".shortcut-help-open"), function (button) {
    button.addEventListener("click", function () { toggleHelp(true); });
  });
  if (help) {
    help.querySelector(".shortcut-help-close").addEventListener("click", function () { toggleHelp(false); });
    help.addEventListener("click", function (event) { if (event.target === help) toggleHelp(false); });
  }
}());
