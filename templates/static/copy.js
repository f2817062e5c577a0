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
