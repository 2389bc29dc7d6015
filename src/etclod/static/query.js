/* The query page: YASGUI on our endpoint, typed values shown as values (a number as a number,
   a text with its language tag), and the example queries run in the editor. */
(function () {
  var element = document.getElementById("yasgui");
  if (!window.Yasgui || !element) { return; }
  var Table = Yasgui.Yasr && Yasgui.Yasr.plugins && Yasgui.Yasr.plugins.table;
  if (Table) {
    Table.prototype.formatLiteral = function (binding) {
      var text = document.createElement("span");
      text.textContent = binding.value;
      var out = text.innerHTML;
      if (binding["xml:lang"]) {
        var tag = document.createElement("span");
        tag.textContent = binding["xml:lang"];
        out = '<span lang="' + tag.innerHTML + '">' + out + '</span> <sup>@' + tag.innerHTML + "</sup>";
      }
      return out;
    };
  }
  // the results table's own words in the page's language (DataTables' language options; the
  // few labels YASGUI writes itself are replaced as they appear)
  var words = {};
  try { words = JSON.parse(element.getAttribute("data-words") || "{}"); } catch (e) { words = {}; }
  if (Table && Table.defaults && Table.defaults.tableConfig) {
    var language = Table.defaults.tableConfig.language || {};
    ["info", "infoEmpty", "emptyTable", "zeroRecords", "lengthMenu"].forEach(function (key) {
      if (words[key]) { language[key] = words[key]; }
    });
    language.infoFiltered = "";
    Table.defaults.tableConfig.language = language;
    Table.defaults.openIriInNewWindow = false;
  }
  function translate() {
    element.querySelectorAll(".yasr .label, .yasr .yasr_btn span, .yasr .pageSizerLabel, .yasr option, .yasr [title], .yasr [aria-label]").forEach(function (node) {
      var text = node.textContent.trim();
      if (node.children.length === 0 && words[text] && node.textContent !== words[text]) { node.textContent = words[text]; }
      if (node.title && words[node.title]) { node.title = words[node.title]; }
      var aria = node.getAttribute("aria-label");
      if (aria && words[aria]) { node.setAttribute("aria-label", words[aria]); }
    });
    element.querySelectorAll(".yasr .yasr_response_chip").forEach(function (node) {
      var match = /^(\d+) results? in ([\d.]+) seconds$/.exec(node.textContent.trim());
      if (match && words.chip) { node.textContent = words.chip.replace("_N_", match[1]).replace("_S_", match[2]); }
    });
    element.querySelectorAll(".yasr input[placeholder]").forEach(function (node) {
      if (words[node.placeholder]) { node.placeholder = words[node.placeholder]; }
    });
  }
  document.getElementById("plain-form").style.display = "none";
  var yasgui = new Yasgui(element, {
    requestConfig: { endpoint: new URL("/sparql", window.location.href).href, method: "POST" },
    copyEndpointOnNewTab: false, persistenceId: null, showSnippetsBar: false,
    yasqe: { value: document.getElementById("query").value, autocompleters: ["variables"] }
  });
  window.etclodYasgui = yasgui;
  // YASGUI's own fields carry no label: name them for screen readers, in the page's language
  function label() {
    element.querySelectorAll(".CodeMirror textarea:not([aria-label])").forEach(function (field) {
      field.setAttribute("aria-label", element.getAttribute("data-editor-label"));
    });
    element.querySelectorAll("input.autocomplete:not([aria-label])").forEach(function (field) {
      field.setAttribute("aria-label", element.getAttribute("data-endpoint-label"));
    });
  }
  label();
  translate();
  new MutationObserver(function () { label(); translate(); }).observe(element, { childList: true, subtree: true });
  document.querySelectorAll("a.example").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var tab = yasgui.getTab();
      tab.setQuery(link.getAttribute("data-query"));
      tab.query();
    });
  });
})();
