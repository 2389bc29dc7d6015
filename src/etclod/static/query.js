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
  new MutationObserver(label).observe(element, { childList: true, subtree: true });
  document.querySelectorAll("a.example").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var tab = yasgui.getTab();
      tab.setQuery(link.getAttribute("data-query"));
      tab.query();
    });
  });
})();
