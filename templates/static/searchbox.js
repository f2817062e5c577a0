// The search box is a <textarea> (a sentence or a whole meeting note, line breaks kept).
// Progressive enhancement only: Enter submits a one-line query as in any search box
// (Shift+Enter, or a text that already has line breaks, adds a line), and the count of
// characters is shown as the text nears the limit, before the browser's maxlength cuts it.
(function () {
  "use strict";
  var box = document.getElementById("q");
  if (!box || box.tagName !== "TEXTAREA") { return; }
  var form = box.form;
  var count = form.querySelector(".q-count");
  var limit = parseInt(box.getAttribute("maxlength"), 10) || 0;
  var update = function () {
    if (!count || !limit) { return; }
    var n = box.value.length;
    count.textContent = n > 200 ? "　已输入 " + n.toLocaleString() + " / " + limit.toLocaleString() + " 字" : "";
    count.classList.toggle("q-count-full", n >= limit);
  };
  box.addEventListener("input", update);
  box.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && box.value.indexOf("\n") < 0) {
      e.preventDefault();
      if (box.value.trim()) { form.requestSubmit ? form.requestSubmit() : form.submit(); }
    }
  });
  update();
})();
