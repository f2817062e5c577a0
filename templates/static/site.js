// The one script of the site: progressive enhancement only, every page works without it.

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

// "复制为 Markdown": progressive enhancement. Without JavaScript the Markdown is in a
// <details> box to select by hand; with it, one button copies it to the clipboard.
(function () {
  "use strict";
  var buttons = document.querySelectorAll("button.copy-md");
  Array.prototype.forEach.call(buttons, function (btn) {
    var src = document.getElementById(btn.getAttribute("data-copy"));
    var status = btn.parentNode.querySelector(".copy-status");
    if (!src) { return; }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var text = src.value;
      var done = function () { if (status) { status.textContent = "已复制"; } };
      var fallback = function () {
        src.closest("details").open = true;
        src.focus();
        src.select();
        try { document.execCommand("copy"); done(); }
        catch (e) { if (status) { status.textContent = "请按 Ctrl+C 复制"; } }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
  });
})();
