/* Accessibility repairs for markup that Dash's own components render, kept current as pages change:
   - radio and check lists are a radiogroup / group of native inputs named by their visible label (Dash marks them
     a listbox of options wrapping the inputs: a listbox without a name, with interactive controls nested inside);
   - a dropdown is reached with Tab on its labelled button (Dash puts a hidden, unnamed input in the tab order that
     passes focus on to the button);
   - a file upload's input is named by the text of its drop zone;
   - a date picker's outer box is a plain box (Dash gives it popup attributes without a role; its text input,
     named by the field's label, is what the keyboard and screen readers use);
   - a box that scrolls sideways can be reached with the keyboard;
   - the phone navigation's toggle opens and closes the menu (components/shell.py). */
(function () {
  "use strict";

  function set(el, name, value) {
    if (el.getAttribute(name) !== value) { el.setAttribute(name, value); }
  }

  function drop(el, name) {
    if (el.hasAttribute(name)) { el.removeAttribute(name); }
  }

  function labelFor(el) {
    /* The visible label of a control: <label for=id>, else the .control-label just before it. */
    var label = el.id ? document.querySelector('label[for="' + CSS.escape(el.id) + '"]') : null;
    if (!label) {
      var prev = el.previousElementSibling;
      if (prev && prev.classList.contains("control-label")) { label = prev; }
    }
    if (label && !label.id) { label.id = (el.id || "control") + "-label"; }
    return label;
  }

  function repairOptionLists(root) {
    root.querySelectorAll(".dash-radioitems, .dash-checklist").forEach(function (list) {
      set(list, "role", list.classList.contains("dash-radioitems") ? "radiogroup" : "group");
      var label = labelFor(list);
      if (label) { set(list, "aria-labelledby", label.id); }
      list.querySelectorAll(".dash-options-list-option").forEach(function (option) {
        drop(option, "role");
        drop(option, "aria-selected");
      });
    });
  }

  function repairDropdowns(root) {
    root.querySelectorAll(".dash-dropdown-wrapper").forEach(function (wrapper) {
      var proxy = wrapper.querySelector(":scope > .dash-dropdown-focus-target");
      var button = wrapper.querySelector(":scope > button.dash-dropdown");
      if (!proxy || !button) { return; }
      set(proxy, "tabindex", "-1");
      if (!button.disabled) { set(button, "tabindex", "0"); }
    });
  }

  function repairUploads(root) {
    root.querySelectorAll('input[type="file"]').forEach(function (input) {
      if (input.labels && input.labels.length) { return; }
      var zone = input.parentElement;
      var text = zone ? zone.textContent.trim() : "";
      set(input, "aria-label", text || "Choose a file");
    });
  }

  function repairDatePickers(root) {
    root.querySelectorAll(".dash-datepicker-input-wrapper:not([role])").forEach(function (box) {
      drop(box, "aria-haspopup");
      drop(box, "aria-expanded");
      drop(box, "aria-labelledby");
    });
  }

  function repairScrollBoxes(root) {
    /* A box that scrolls sideways (a wide table or code block on a phone) takes keyboard focus, so arrow keys
       can scroll it. */
    root.querySelectorAll(".table-scroll, pre").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        set(box, "tabindex", "0");
      } else if (box.getAttribute("tabindex") === "0") {
        drop(box, "tabindex");
      }
    });
  }

  function repair() {
    observer.disconnect();  // our own attribute changes are not news
    repairOptionLists(document);
    repairDropdowns(document);
    repairUploads(document);
    repairDatePickers(document);
    repairScrollBoxes(document);
    observer.observe(document.body, {childList: true, subtree: true, attributes: true,
                                     attributeFilter: ["role", "aria-selected", "tabindex", "aria-expanded",
                                                       "aria-haspopup"]});
  }

  var pending = false;
  var observer = new MutationObserver(function () {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; repair(); });
  });

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest ? event.target.closest(".nav-toggle") : null;
    if (toggle) {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      var nav = document.getElementById(toggle.getAttribute("aria-controls"));
      if (nav) { nav.classList.toggle("app-nav-open", open); }
      return;
    }
    var link = event.target.closest ? event.target.closest(".app-nav-open .nav-link") : null;
    if (link) { closeNav(); }  // a chosen page closes the phone menu
  });

  function closeNav() {
    document.querySelectorAll('.nav-toggle[aria-expanded="true"]').forEach(function (toggle) {
      toggle.setAttribute("aria-expanded", "false");
      var nav = document.getElementById(toggle.getAttribute("aria-controls"));
      if (nav) { nav.classList.remove("app-nav-open"); }
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && document.querySelector(".app-nav-open")) {
      closeNav();
      var toggle = document.querySelector(".nav-toggle");
      if (toggle) { toggle.focus(); }
    }
  });

  window.addEventListener("resize", function () { window.requestAnimationFrame(repair); });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", repair);
  } else {
    repair();
  }
})();
