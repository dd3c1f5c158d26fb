// heapdiff --html: draws the flame graph of the change from the JSON in #flame-data with
// d3-flame-graph. Everything else on the page is static HTML written by heapdiff.
(function () {
  "use strict";
  const dataElement = document.getElementById("flame-data");
  const chartElement = document.getElementById("chart");
  if (!dataElement || !chartElement) return;  // nothing changed: no flame graph
  const data = JSON.parse(dataElement.textContent);
  const rows = data.rows;  // [short function, function, file:line, module+offset, inlined]

  function formatBytes(n, signed) {
    const sign = n < 0 ? "-" : signed && n > 0 ? "+" : "";
    const m = Math.abs(n);
    if (m < 1024) return sign + m + " B";
    if (m < 1048576) return sign + (m / 1024).toFixed(1) + " KiB";
    if (m < 1073741824) return sign + (m / 1048576).toFixed(1) + " MiB";
    return sign + (m / 1073741824).toFixed(2) + " GiB";
  }
  function formatCount(n) { return (n > 0 ? "+" : "") + n; }
  function nameOf(node) {
    const d = node.data;
    if (d.m) return "[" + d.m + " narrower call" + (d.m === 1 ? "" : "s") + "]";
    if (d.r < 0) return "all changes";
    return rows[d.r][0];
  }
  // Search matches the function (short and full), file:line and module.
  function searchText(node) {
    const d = node.data;
    return d.r < 0 ? nameOf(node) : rows[d.r].slice(0, 4).join(" ");
  }
  const rootWidth = data.tree.v || 1;
  function colour(node) {
    const d = node.data;
    if (node.highlight) return "#e600e6";
    if (d.b === 0) return "hsl(0, 0%, 80%)";
    // Strength from the node's net change relative to the whole change: a small node that
    // grew is pale, the node that holds most of the growth is saturated.
    const share = Math.min(1, Math.sqrt(Math.abs(d.b) / rootWidth));
    const lightness = 88 - 38 * share;
    return d.b > 0 ? "hsl(4, 80%, " + lightness + "%)" : "hsl(215, 75%, " + lightness + "%)";
  }

  const tooltipElement = document.getElementById("tooltip");
  function escapeHtml(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  }
  function tooltipHtml(node) {
    const d = node.data;
    const grew = (d.v + d.b) / 2, shrank = (d.v - d.b) / 2;
    let html = "";
    if (d.r >= 0) {
      const r = rows[d.r];
      html += '<div class="t-fn">' + escapeHtml(r[0]) + (r[4] ? " [inlined]" : "") + "</div>";
      // The full demangled name can run to pages of template arguments: a few lines of it.
      if (r[1] && r[1] !== r[0]) html += '<div class="t-full">' + escapeHtml(r[1]) + "</div>";
      if (r[2]) html += '<div class="t-loc">' + escapeHtml(r[2]) + "</div>";
      html += '<div class="t-mod">' + escapeHtml(r[3]) + "</div>";
    } else {
      html += '<div class="t-fn">' + escapeHtml(nameOf(node)) + "</div>";
    }
    html += "<div>Δ live <b>" + formatBytes(d.b, true) + "</b>, " + formatCount(d.o) + " objects</div>";
    if (shrank > 0 && grew > 0) {
      html += "<div>grew " + formatBytes(grew) + ", shrank " + formatBytes(shrank) + "</div>";
    }
    html += "<div>" + d.k + " stack" + (d.k === 1 ? "" : "s") +
      (d.s ? "; the site of an allocation" : "") + "</div>";
    return html;
  }
  function tooltip() {}
  tooltip.show = function (event, node) {
    tooltipElement.innerHTML = tooltipHtml(node);
    tooltipElement.style.display = "block";
    const width = tooltipElement.offsetWidth, height = tooltipElement.offsetHeight;
    let left = event.pageX + 12, top = event.pageY + 12;
    if (left + width > window.scrollX + window.innerWidth) left = Math.max(4, event.pageX - width - 12);
    if (top + height > window.scrollY + window.innerHeight) top = Math.max(4, event.pageY - height - 12);
    tooltipElement.style.left = left + "px";
    tooltipElement.style.top = top + "px";
  };
  tooltip.hide = function () { tooltipElement.style.display = "none"; };

  const details = document.getElementById("details");
  const chart = flamegraph.default()
    .width(Math.max(600, chartElement.clientWidth))
    .cellHeight(18)
    .inverted(true)
    .sort(false)  // heapdiff wrote the children widest first
    .minFrameSize(1)
    .transitionDuration(250)
    .getName(nameOf)
    .setColorMapper(colour)
    .tooltip(tooltip)
    .setSearchMatch((node, term) => {
      if (!term) return false;
      try { return new RegExp(term, "i").test(searchText(node)); } catch (e) { return false; }
    })
    .setSearchHandler((results, sum, total) => {
      details.textContent = results.length + " matching calls, " + formatBytes(sum) + " of " +
        formatBytes(total) + " changed";
    })
    .setDetailsHandler(() => {});
  // Outline the sites so the eye finds where the program asked for memory; d3-flame-graph
  // resets each frame's class on every redraw (zoom, search), so this runs after each.
  function markSites() {
    d3.select(chartElement).selectAll("g.frame").classed("site", (node) => !!node.data.s);
  }
  chart.onClick(markSites);
  d3.select(chartElement).datum(data.tree).call(chart);
  markSites();

  const search = document.getElementById("search");
  search.addEventListener("input", () => {
    if (search.value) chart.search(search.value); else { chart.clear(); details.textContent = ""; }
    markSites();
  });
  document.getElementById("reset").addEventListener("click", () => chart.resetZoom());
  // For tests and for people poking at the page from the console.
  window.heapdiffReport = { chart: chart, data: data };
})();
