// Streams an app's log into #log over Server-Sent Events.
(function () {
  var pre = document.getElementById("log"), state = document.getElementById("log-state");
  if (!pre || !window.EventSource) return;
  var es = new EventSource(pre.dataset.src), max = 1000;
  es.onopen = function () { state.textContent = "Live: new lines appear as the app writes them."; };
  es.onmessage = function (e) {
    var stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(document.createTextNode(e.data + "\n"));
    while (pre.childNodes.length > max) pre.removeChild(pre.firstChild);
    if (stick) pre.scrollTop = pre.scrollHeight;
  };
  es.addEventListener("error", function (e) {
    if (e.data) { state.textContent = e.data; es.close(); }
    else state.textContent = "Disconnected: reconnecting…";
  });
})();
