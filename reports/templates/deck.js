// 会议模式: one slide at a time; ←/→, PageUp/PageDown (a clicker), space, Home/End; F for full screen.
(function () {
  var slides = Array.prototype.slice.call(document.querySelectorAll("section.slide"));
  var at = 0;
  var start = parseInt((location.hash.match(/^#slide-(\d+)$/) || [])[1] || "1", 10) - 1;
  function fit() {
    var k = Math.min(window.innerWidth / 1920, window.innerHeight / 1080);
    slides.forEach(function (s) { s.style.transform = "translate(-50%, -50%) scale(" + k + ")"; });
  }
  function show(i) {
    at = Math.max(0, Math.min(slides.length - 1, i));
    slides.forEach(function (s, j) { s.classList.toggle("current", j === at); });
    document.body.setAttribute("data-current", String(at + 1));
    if (history.replaceState) { history.replaceState(null, "", "#slide-" + (at + 1)); }
  }
  document.addEventListener("keydown", function (e) {
    var next = ["ArrowRight", "PageDown", " ", "ArrowDown", "Enter"];
    var prev = ["ArrowLeft", "PageUp", "ArrowUp", "Backspace"];
    if (next.indexOf(e.key) >= 0) { show(at + 1); e.preventDefault(); }
    else if (prev.indexOf(e.key) >= 0) { show(at - 1); e.preventDefault(); }
    else if (e.key === "Home") { show(0); e.preventDefault(); }
    else if (e.key === "End") { show(slides.length - 1); e.preventDefault(); }
    else if (e.key === "f" || e.key === "F") {
      if (document.fullscreenElement) { document.exitFullscreen(); }
      else if (document.documentElement.requestFullscreen) { document.documentElement.requestFullscreen(); }
    }
  });
  document.addEventListener("click", function (e) { show(e.clientX < window.innerWidth / 3 ? at - 1 : at + 1); });
  window.addEventListener("resize", fit);
  fit();
  show(isNaN(start) ? 0 : start);
})();
