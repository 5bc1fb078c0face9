// Rubric editor behaviours. Loaded with defer on the rubric pages; no inline script anywhere.
(function () {
  "use strict";

  // A stale save answers 409 (conflict) and a refused value 422 (field errors): both carry the
  // message the author must see, so htmx swaps them like successes instead of dropping them.
  if (window.htmx) {
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "409", swap: true, error: false },
      { code: "422", swap: true, error: false },
      { code: "[45]..", swap: false, error: true }
    ];
  }

  // Drag to reorder: only the handle is draggable, so text in the fields can still be selected
  // with the mouse; the whole card follows it.
  var dragged = null;

  function criterionOf(el) {
    return el && el.closest ? el.closest("#criteria > li.criterion") : null;
  }

  document.addEventListener("dragstart", function (event) {
    var handle = event.target.closest && event.target.closest(".drag-handle");
    var item = criterionOf(handle);
    if (!item) { return; }
    dragged = item;
    item.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.getAttribute("data-id"));
    if (event.dataTransfer.setDragImage) { event.dataTransfer.setDragImage(item, 16, 16); }
  });

  document.addEventListener("dragover", function (event) {
    var target = criterionOf(event.target);
    if (!dragged || !target || target === dragged) { return; }
    event.preventDefault();
    document.querySelectorAll("#criteria > li.drop-target").forEach(function (el) {
      el.classList.remove("drop-target");
    });
    target.classList.add("drop-target");
  });

  document.addEventListener("drop", function (event) {
    var target = criterionOf(event.target);
    if (!dragged || !target || target === dragged) { return; }
    event.preventDefault();
    var list = target.parentNode;
    var items = Array.prototype.slice.call(list.children);
    var after = items.indexOf(dragged) < items.indexOf(target);
    list.insertBefore(dragged, after ? target.nextSibling : target);
    var order = Array.prototype.map.call(list.querySelectorAll(":scope > li.criterion"), function (el) {
      return el.getAttribute("data-id");
    });
    var form = document.getElementById(list.getAttribute("data-reorder-form"));
    if (form && window.htmx) {
      form.querySelector("[name=order]").value = order.join(",");
      window.htmx.trigger(form, "reorder");
    }
  });

  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
    document.querySelectorAll("#criteria > li.drop-target").forEach(function (el) {
      el.classList.remove("drop-target");
    });
  });
})();
